"""Tables and figures of the workflow report (`snakemake --report`): the metrics table, per-class AP table,
and timelines of a few test videos (ground truth vs predictions, as the paper's Fig. 5).

Outputs of `build_report(...)` in `out_dir`:
- `metrics.tsv`: one row per tIoU threshold (mAP in %) and a last row with the average;
- `per_class_ap.tsv`: class, label id, ground-truth events, AP averaged over tIoU (%), best first;
- `failures.tsv`: the videos that gave no features: id, stage, kind (not_found, decode, too_short, …), reason;
- `summary.json`: the headline numbers, the run's best epoch, dropped (failed) videos, the timeline videos;
- `timelines/{id}.png`: one figure per chosen test video.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Mapping

from ..data.annotations import load_annotations
from ..errors import UnavError
from ..io import write_json, write_text


def _read_json(path: str | os.PathLike, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UnavError(f"{what} {path} does not exist") from None
    except (OSError, json.JSONDecodeError) as err:
        raise UnavError(f"{what} {path} is not readable JSON ({err})") from None


def metrics_table(metrics: Mapping[str, Any]) -> str:
    """TSV: `tIoU<TAB>mAP (%)` per threshold, then `average`."""
    thr = metrics.get("tiou_thresholds", [])
    maps = metrics.get("mAP", [])
    if len(thr) != len(maps):
        raise UnavError("metrics: 'tiou_thresholds' and 'mAP' have different lengths")

    def pct(v: float | None) -> str:
        return "" if v is None else f"{100 * v:.2f}"

    lines = ["tIoU\tmAP (%)"] + [f"{t:g}\t{pct(m)}" for t, m in zip(thr, maps)]
    lines.append(f"average\t{pct(metrics.get('average_mAP'))}")
    return "\n".join(lines) + "\n"


def per_class_table(metrics: Mapping[str, Any]) -> str:
    """TSV of per-class AP (averaged over tIoU, %), best first."""
    rows = sorted(((name, e) for name, e in metrics.get("per_class_AP", {}).items()),
                  key=lambda item: (-item[1]["average"], item[0]))
    lines = ["class\tlabel_id\tnum_gt\tAP (%)"]
    lines += [f"{name}\t{e['label_id']}\t{e.get('num_gt', '')}\t{100 * e['average']:.2f}" for name, e in rows]
    return "\n".join(lines) + "\n"


def choose_timeline_videos(database: Mapping[str, Any], split: str, num: int) -> list[str]:
    """The `num` videos of `split` with the most ground-truth events (ties: by id), so the figures show
    overlapping events."""
    cands = [(vid, len(e.get("annotations", []) or [])) for vid, e in database.items()
             if str(e.get("subset", "")).lower() == split.lower()]
    cands.sort(key=lambda c: (-c[1], c[0]))
    return [vid for vid, _ in cands[:max(num, 0)]]


def read_failures(path: str | os.PathLike | None) -> list[dict[str, str]]:
    """Rows of a failures TSV (the workflow's `id, stage, kind, reason`, or the downloads' `id, reason,
    attempts, url`); [] when there is none."""
    if path is None or not Path(path).is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def failures_table(rows: list[dict[str, str]]) -> str:
    """The failed videos as the report shows them: id, stage, kind, reason (one line each)."""
    lines = ["id\tstage\tkind\treason"]
    for r in rows:
        lines.append("\t".join(" ".join(str(r.get(k) or ("download" if k == "stage" else "")).split())
                               for k in ("id", "stage", "kind", "reason")))
    return "\n".join(lines) + "\n"


def build_report(metrics_path: str | os.PathLike, predictions_path: str | os.PathLike,
                 annotations_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                 run_dir: str | os.PathLike | None = None, failures: str | os.PathLike | None = None,
                 split: str = "test", timelines: int = 3, threshold: float = 0.3) -> dict[str, Any]:
    """Write the report files (see the module docstring) and return the summary."""
    from .timeline import plot_prediction_timeline

    metrics = _read_json(metrics_path, "metrics file")
    if not isinstance(metrics, dict):
        raise UnavError(f"metrics file {metrics_path}: expected the JSON object of `unav evaluate`")
    predictions = _read_json(predictions_path, "predictions file")
    results = predictions.get("results") if isinstance(predictions, dict) else None
    if not isinstance(results, dict):
        raise UnavError(f"predictions file {predictions_path}: expected a JSON object with a 'results' mapping "
                        f"(video id -> detections)")
    database = load_annotations(annotations_path).database   # the rules of every command
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "metrics.tsv", metrics_table(metrics))
    write_text(out / "per_class_ap.tsv", per_class_table(metrics))
    dropped = read_failures(failures)
    write_text(out / "failures.tsv", failures_table(dropped))

    tl_dir = out / "timelines"
    tl_dir.mkdir(parents=True, exist_ok=True)
    chosen = choose_timeline_videos(database, split, timelines)
    for vid in chosen:
        entry = database[vid]
        plot_prediction_timeline(tl_dir / f"{vid}.png", vid, float(entry["duration"]), results.get(vid, []),
                                 ground_truth=entry.get("annotations", []) or [], threshold=threshold)

    best = None
    if run_dir is not None and (Path(run_dir) / "metrics.jsonl").is_file():
        history = [json.loads(ln) for ln in (Path(run_dir) / "metrics.jsonl").read_text().splitlines() if ln]
        scored = [r for r in history if "val_average_mAP" in r]
        if scored:
            top = max(scored, key=lambda r: r["val_average_mAP"])
            best = {"epoch": top["epoch"], "val_average_mAP": top["val_average_mAP"]}
    summary = {
        "average_mAP": metrics.get("average_mAP"),
        "mAP": dict(zip((f"{t:g}" for t in metrics.get("tiou_thresholds", [])), metrics.get("mAP", []))),
        "num_videos": metrics.get("num_videos"),
        "num_classes": metrics.get("num_classes"),
        "best_epoch": best,
        "failed_videos": [r.get("id") for r in dropped],
        "failed_by_kind": {k: sum(r.get("kind") == k for r in dropped)
                           for k in sorted({r.get("kind") or "" for r in dropped})},
        "timeline_videos": chosen,
        "threshold": threshold,
    }
    write_json(out / "summary.json", summary)
    return summary
