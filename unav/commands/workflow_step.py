"""`unav workflow-step merge-features|subset-annotations …`: the workflow's two glue steps (unav/pipeline/steps.py)."""
from __future__ import annotations

import argparse

EXAMPLES = (
    "unav workflow-step merge-features --parts parts/i3d parts/vggish --out-dir features/ -- ID",
    "unav workflow-step subset-annotations --annotations A.json --features features/ --out subset.json",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("argv", nargs=argparse.REMAINDER, help="merge-features … | subset-annotations … (see --help of each)")


def run(args: argparse.Namespace) -> int:
    from ..pipeline.steps import main

    return main(args.argv)
