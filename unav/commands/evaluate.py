"""`unav evaluate`: detection mAP of predictions.json against an annotation file; writes metrics.json and a
per-class AP bar chart."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Mapping

from ..errors import UnavError
from ..io import atomic_path, write_json
from ..metrics import evaluate_detections, format_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotations", required=True, type=Path, help="UnAV-style annotation JSON ({'database': ...})")
    parser.add_argument("--predictions", required=True, type=Path, help="predictions JSON ({'results': ...})")
    parser.add_argument("--split", default="test", help="subset to evaluate (default: test)")
    parser.add_argument("--out", required=True, type=Path, help="metrics.json to write")
    parser.add_argument("--plot", type=Path, default=None,
                        help="per-class AP bar chart (PNG); default: <out stem>_per_class_ap.png beside --out")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the per-class AP chart")


def _read_json(path: Path, key: str) -> Mapping[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UnavError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UnavError(f"{path}: not readable as JSON ({err})") from None
    if not isinstance(data, Mapping) or key not in data:
        raise UnavError(f"{path}: expected a JSON object with a {key!r} field")
    return data[key]


def plot_per_class_ap(metrics: Mapping[str, Any], path: Path) -> None:
    """Bar chart of each class's AP averaged over the tIoU thresholds, best first; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(((v["average"], name) for name, v in metrics["per_class_AP"].items()), reverse=True)
    n = max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.16 * n + 1.5), 4.5))
    ax.bar(range(len(rows)), [100 * ap for ap, _ in rows], color="#3b75af")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([name for _, name in rows], rotation=90, fontsize=6 if n > 30 else 8)
    avg = metrics.get("average_mAP")
    if avg is not None:
        ax.axhline(100 * avg, color="#c44e52", lw=1, ls="--", label=f"mAP (avg. 0.1:0.9) = {100 * avg:.1f}")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_ylabel("AP (%), mean over tIoU 0.1:0.9")
    ax.set_ylim(0, 100)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_title(f"Per-class AP, {metrics.get('split', '')} split ({len(rows)} classes)")
    fig.tight_layout()
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=120)
    finally:
        plt.close(fig)


def run(args: argparse.Namespace) -> int:
    database = _read_json(args.annotations, "database")
    results = _read_json(args.predictions, "results")
    try:
        metrics = evaluate_detections(database, results, split=args.split)
    except UnavError as err:
        source = args.predictions if str(err).startswith("predictions") else args.annotations
        raise UnavError(f"{source}: {err}") from None
    if metrics["num_videos"] == 0:
        raise UnavError(f"{args.annotations}: no video has subset {args.split!r}")
    write_json(args.out, metrics)
    print(format_table(metrics))
    print(f"{metrics['num_videos']} videos, {metrics['num_gt']} events, {metrics['num_classes']} classes, "
          f"{metrics['num_evaluated_predictions']} predictions evaluated "
          f"({metrics['num_ignored_predictions']} ignored) -> {args.out}")
    if not args.no_plot:
        plot = args.plot or args.out.with_name(f"{args.out.stem}_per_class_ap.png")
        plot_per_class_ap(metrics, plot)
        print(f"per-class AP chart -> {plot}")
    return 0
