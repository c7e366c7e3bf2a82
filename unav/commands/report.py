"""`unav report --metrics M --predictions P --annotations A --out-dir DIR [--run RUN] [--failures TSV]
[--split test] [--timelines 3] [--threshold 0.3]`: the tables and timeline figures of the workflow report
(see unav.views.report)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .ranges import integer, number

EXAMPLES = (
    "unav report --metrics metrics.json --predictions predictions.json --annotations A.json --out-dir report/",
    "unav report --metrics m.json --predictions p.json --annotations A.json --out-dir report/ --run runs/x "
    "--timelines 5",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metrics", required=True, type=Path, help="metrics.json of `unav evaluate`")
    parser.add_argument("--predictions", required=True, type=Path, help="predictions.json of `unav predict`")
    parser.add_argument("--annotations", required=True, type=Path, help="the annotation file evaluated against")
    parser.add_argument("--out-dir", required=True, type=Path, help="folder for the tables and figures")
    parser.add_argument("--run", type=Path, default=None, help="training run folder (its metrics.jsonl)")
    parser.add_argument("--failures", type=Path, default=None, help="failures table of the workflow (id, stage, kind, reason) or of the downloads, if any; shown as failures.tsv")
    parser.add_argument("--split", default="test", help="split whose videos are drawn")
    parser.add_argument("--timelines", type=integer(0), default=3, help="number of timeline figures")
    parser.add_argument("--threshold", type=number(0.0, 1.0), default=0.3, help="score threshold of drawn predictions")


def run(args: argparse.Namespace) -> int:
    from ..io import check_output_dir
    from ..views.report import build_report

    check_output_dir(args.out_dir, "--out-dir")
    s = build_report(args.metrics, args.predictions, args.annotations, args.out_dir, run_dir=args.run,
                     failures=args.failures, split=args.split, timelines=args.timelines, threshold=args.threshold)
    avg = s["average_mAP"]
    print(f"average mAP {'n/a' if avg is None else f'{100 * avg:.2f}'}; {len(s['timeline_videos'])} timeline(s), "
          f"{len(s['failed_videos'])} failed video(s) -> {args.out_dir}")
    return 0
