"""The learning check of the training tests: a checkpoint's average mAP on the synthetic test split beside the
same predictions with their labels shuffled (chance)."""
from __future__ import annotations

import json
from pathlib import Path

from unav.data.annotations import load_annotations
from unav.demo import shuffled_label_baseline
from unav.engine.infer import predict_checkpoint
from unav.evaluation.metrics import evaluate_detections


def map_and_chance(checkpoint: Path, ann_path: Path, feats: Path, out: Path) -> tuple[float, float]:
    """(average mAP, shuffled-label average mAP) of `checkpoint`'s predictions on the test split."""
    predict_checkpoint(str(checkpoint), str(ann_path), str(feats), "test", str(out), device="cpu", progress=False)
    results = json.loads(out.read_text())["results"]
    ann = load_annotations(ann_path)
    db = ann.database
    return evaluate_detections(db, results, "test")["average_mAP"], shuffled_label_baseline(db, results, ann.classes)
