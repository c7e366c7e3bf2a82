"""`unav workflow-step STEP …`: the workflow's glue (unav/pipeline/step_cli.py): the shard jobs of the per-video
stages, their collectors, merge-features, subset-annotations."""
from __future__ import annotations

import argparse

EXAMPLES = (
    "unav workflow-step merge-features --parts parts/i3d parts/vggish --out-dir features/ -- ID",
    "unav workflow-step subset-annotations --annotations A.json --features features/ --out subset.json",
    "unav workflow-step shard vggish --manifest shards/vggish/0.tsv --out-dir parts/vggish -- a.mp4 b.mp4",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("argv", nargs=argparse.REMAINDER, help="shard … | collect-downloads … | failures … | merge-features … | subset-annotations … (see --help of each)")


def run(args: argparse.Namespace) -> int:
    from ..pipeline.step_cli import main

    return main(args.argv)
