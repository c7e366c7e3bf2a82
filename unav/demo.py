"""The offline demo: synthetic features -> train -> predict -> evaluate -> plots, on a laptop CPU in minutes.
Everything it writes is stamped as synthetic (no pretrained weights, no real videos)."""
from __future__ import annotations

import json
import random
from pathlib import Path

from .config import CONFIG_DIR, load_config
from .data.annotations import load_annotations
from .engine.infer import predict_checkpoint
from .io import write_json
from .evaluation.metrics import evaluate_detections, format_table
from .views.timeline import plot_prediction_timeline
from .engine.train import train


def shuffled_label_baseline(database: dict, results: dict, classes: list[str], seed: int = 0) -> float:
    """Average mAP of the same predictions with their labels permuted at random (chance level)."""
    rng = random.Random(seed)
    shuffled = {}
    for vid, entries in results.items():
        shuffled[vid] = []
        for e in entries:
            k = rng.randrange(len(classes))
            shuffled[vid].append({**e, "label": classes[k], "label_id": k})
    return evaluate_detections(database, shuffled, split="test")["average_mAP"]


def run_demo(out: str | Path, num_videos: int = 120, epochs: int | None = None, seed: int = 0,
             overrides: dict | None = None, progress: bool = True) -> dict:
    from .data.synthetic import make_synthetic_dataset

    out = Path(out)
    ann_path, feat_dir = make_synthetic_dataset(out / "data", num_videos=num_videos, seed=seed)
    extra = {"seed": seed, **(overrides or {})}
    if epochs is not None:
        extra.setdefault("train", {})["epochs"] = epochs
    cfg = load_config([CONFIG_DIR / "demo.yaml"], extra)
    ann = load_annotations(ann_path)
    run_dir = out / "run"
    train(cfg, ann, feat_dir, run_dir, resume=True, progress=progress)
    pred_path = out / "predictions.json"
    predict_checkpoint(str(run_dir / "best.pt"), str(ann_path), str(feat_dir), "test", str(pred_path), device="cpu",
                       progress=progress)
    results = json.loads(pred_path.read_text())["results"]
    database = ann.database   # the file's own numbers, as `unav evaluate` uses them
    metrics = evaluate_detections(database, results, split="test")
    metrics["shuffled_label_baseline_average_mAP"] = shuffled_label_baseline(database, results, ann.classes, seed)
    metrics["data"] = "synthetic features (unav demo), random extractor weights: not comparable to the paper"
    write_json(out / "metrics.json", metrics)
    plots = []
    for vid in ann.split("test")[:3]:
        gt = database[vid]["annotations"]
        plots.append(str(plot_prediction_timeline(out / "timelines" / f"{vid}.png", vid, database[vid]["duration"],
                                                  results.get(vid, []), ground_truth=gt, classes=ann.classes)))
    return {"metrics": metrics, "table": format_table(metrics), "run_dir": str(run_dir),
            "predictions": str(pred_path), "metrics_path": str(out / "metrics.json"),
            "curves": str(run_dir / "training_curves.png"), "timelines": plots}
