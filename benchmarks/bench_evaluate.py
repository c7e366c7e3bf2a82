"""Time `evaluate_detections` on the real UnAV-100 test split with 100 synthetic predictions per video.

Usage: python benchmarks/bench_evaluate.py [unav100_annotations.json]
(default: $UNAV_SHARED/data/unav100/unav100_annotations.json). Prints timings and the Table 2 row.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from unav.evaluation.metrics import evaluate_detections, format_table


def synthetic_results(database: dict, split: str = "test", per_video: int = 100, seed: int = 0) -> dict:
    """Per video: jittered copies of its events (half keep the true class), the rest random segments;
    random classes and scores (rounded to 3 decimals, so ties occur)."""
    rng = np.random.default_rng(seed)
    names: dict[int, str] = {}
    for entry in database.values():
        for ann in entry["annotations"]:
            names.setdefault(ann["label_id"], ann["label"])
    label_ids = np.array(sorted(names))
    results: dict[str, list] = {}
    for vid, entry in database.items():
        if entry["subset"].lower() != split:
            continue
        dur = float(entry["duration"])
        anns = entry["annotations"]
        src = rng.integers(0, len(anns), per_video)  # [N] which event each prediction jitters
        seg = np.array([anns[i]["segment"] for i in src], dtype=np.float64)  # [N, 2]
        length = seg[:, 1] - seg[:, 0]
        seg = seg + rng.normal(0, 0.15, (per_video, 2)) * length[:, None]
        rand = rng.random(per_video) < 0.3  # 30 % background segments anywhere in the video
        a = rng.uniform(0, dur, per_video)
        b = a + rng.uniform(0.2, max(dur / 2, 0.3), per_video)
        seg[rand] = np.stack([a, b], 1)[rand]
        seg = np.clip(np.sort(seg, axis=1), 0, dur)
        true_label = np.array([anns[i]["label_id"] for i in src])
        label = np.where(rng.random(per_video) < 0.5, true_label, rng.choice(label_ids, per_video))
        score = np.round(rng.random(per_video), 3)
        results[vid] = [{"segment": [float(s), float(e)], "label": names[int(c)], "label_id": int(c),
                         "score": float(p)} for (s, e), c, p in zip(seg, label, score)]
    return results


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(os.environ.get("UNAV_SHARED", "../shared")) / "data" / "unav100" / "unav100_annotations.json"
    database = json.loads(path.read_text())["database"]
    t0 = time.perf_counter()
    results = synthetic_results(database)
    t_gen = time.perf_counter() - t0
    n_pred = sum(len(v) for v in results.values())
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        metrics = evaluate_detections(database, results, "test")
        times.append(time.perf_counter() - t0)
    print(f"annotations: {path}")
    print(f"videos: {metrics['num_videos']}  predictions: {n_pred}  ground truth: {metrics['num_gt']}  "
          f"(generated in {t_gen:.2f} s)")
    print(f"evaluate_detections (full metrics + breakdowns): best of 3 = {min(times):.3f} s  "
          f"(runs: {', '.join(f'{t:.3f}' for t in times)})")
    print(format_table(metrics))
    for group, rows in metrics["breakdowns"].items():
        for name, entry in rows.items():
            avg = entry["average_mAP"]
            print(f"  {group:15s} {name:7s} avg mAP {'n/a' if avg is None else f'{100 * avg:5.1f}'}  "
                  f"gt {entry['num_gt']}  predictions {entry['num_predictions']}")


if __name__ == "__main__":
    main()
