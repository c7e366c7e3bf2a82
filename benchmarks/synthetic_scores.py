"""What the training benchmarks share: the synthetic data and budget options, and a checkpoint's scores on the
synthetic test split (mAP at 0.5 / 0.7 / 0.9, the average over tIoU 0.1:0.9, and the shuffled-label chance)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_budget_options(ap: argparse.ArgumentParser, videos: int = 120, classes: int = 6, epochs: int = 12,
                       batch: int = 8) -> None:
    ap.add_argument("--videos", type=int, default=videos)
    ap.add_argument("--classes", type=int, default=classes)
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--batch-size", type=int, default=batch)


def test_scores(checkpoint: Path, ann: Path, feats: Path, device: str = "cpu") -> dict[str, float]:
    """Scores of `checkpoint` (its EMA weights where present) on the test split of `feats`. Unlike `unav predict`
    this does not compare the checkpoint's feature settings with the features': bench_precision_map.py measures
    exactly that mismatch."""
    from unav.data.annotations import load_annotations
    from unav.data.dataset import UnavDataset
    from unav.demo import shuffled_label_baseline
    from unav.engine.infer import predict_dataset
    from unav.evaluation.metrics import evaluate_detections
    from unav.model.checkpoint import load_model

    ckpt, model, _ = load_model(checkpoint)
    annotations = load_annotations(ann)
    dataset = UnavDataset(annotations, feats, "test", ckpt["config"], training=False)
    results = predict_dataset(model.to(device), dataset, list(ckpt["classes"]), ckpt["config"], device,
                              progress=False)
    db = annotations.database   # the file's own numbers, as `unav evaluate` uses them
    m = evaluate_detections(db, results, "test")
    at = dict(zip([round(x, 1) for x in m["tiou_thresholds"]], m["mAP"]))
    return {"map50": at[0.5], "map70": at[0.7], "map90": at[0.9], "avg": m["average_mAP"],
            "chance": shuffled_label_baseline(db, results, annotations.classes)}


def last_step(run: Path) -> int:
    """Optimizer steps a `unav train` run took (its metrics.jsonl)."""
    return json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"]
