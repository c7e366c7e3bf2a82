"""`unav evaluate`: detection mAP of predictions.json against an annotation file; writes metrics.json and a
per-class AP bar chart.

Both inputs are checked before anything is written: the annotation file by unav.data.annotations, every
prediction against it (unav.evaluation.metrics: its videos, label_ids and labels). --out and --plot must be file paths."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Mapping

from ..data.annotations import SUBSETS, load_annotations
from ..errors import UnavError
from ..io import check_output_file, write_json
from ..evaluation.metrics import evaluate_detections, format_table

EXAMPLES = (
    "unav evaluate --annotations A.json --predictions predictions.json --out metrics.json",
    "unav evaluate --annotations A.json --predictions val.json --split validation --out val_metrics.json --no-plot",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotations", required=True, type=Path, help="UnAV-style annotation JSON ({'database': ...})")
    parser.add_argument("--predictions", required=True, type=Path, help="predictions JSON ({'results': ...})")
    parser.add_argument("--split", default="test", help="subset to evaluate")
    parser.add_argument("--out", required=True, type=Path, help="metrics.json to write")
    parser.add_argument("--plot", type=Path, default=None,
                        help="per-class AP bar chart (PNG); default: <out stem>_per_class_ap.png beside --out")
    parser.add_argument("--no-plot", action="store_true", help="do not draw the per-class AP chart")


EXPECTED = "expected the predictions JSON of `unav predict` ({\"results\": {video id: [detections]}})"


def read_predictions(path: Path) -> Any:
    """The `results` of a predictions file; UnavError names the file and what it should be."""
    if path.is_dir():
        raise UnavError(f"predictions file {path} is a folder; {EXPECTED}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnavError(f"predictions file {path} does not exist; {EXPECTED}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UnavError(f"predictions file {path} cannot be read ({err}); {EXPECTED}") from None
    if not text.strip():
        raise UnavError(f"predictions file {path} is empty; {EXPECTED}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UnavError(f"predictions file {path} is not valid JSON ({err}); {EXPECTED}") from None
    if not isinstance(data, Mapping) or "results" not in data:
        got = type(data).__name__ if not isinstance(data, Mapping) else "an object without 'results'"
        raise UnavError(f"predictions file {path}: {EXPECTED}, got {got}")
    return data["results"]


def _outputs(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """--out and the chart's path, refused before anything is read or written when they cannot be files."""
    out = check_output_file(args.out, "--out")
    if args.no_plot:
        return out, None
    plot = check_output_file(args.plot or out.with_name(f"{out.stem}_per_class_ap.png"), "--plot")
    if plot.resolve() == out.resolve():
        raise UnavError(f"--plot {plot} is the --out file; give the chart its own path")
    return out, plot



def run(args: argparse.Namespace) -> int:
    out, plot = _outputs(args)
    if args.split.lower() not in SUBSETS:
        raise UnavError(f"--split {args.split!r}: expected one of {', '.join(SUBSETS)}")
    annotations = load_annotations(args.annotations)
    results = read_predictions(args.predictions)
    metrics = evaluate_detections(annotations, results, split=args.split, predictions_source=str(args.predictions))
    if metrics["num_videos"] == 0:
        raise UnavError(f"annotation file {args.annotations}: no video has subset {args.split!r} "
                        f"(subsets present: {', '.join(annotations.subsets) or 'none'})")
    write_json(out, metrics)
    print(format_table(metrics))
    print(f"{metrics['num_videos']} videos, {metrics['num_gt']} events, {metrics['num_classes']} classes, "
          f"{metrics['num_evaluated_predictions']} predictions evaluated "
          f"({metrics['num_ignored_predictions']} ignored) -> {out}")
    if plot is not None:
        from ..views.plots import plot_per_class_ap

        plot_per_class_ap(metrics, plot)
        print(f"per-class AP chart -> {plot}")
    return 0
