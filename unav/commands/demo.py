"""`unav demo`: the offline demo (synthetic features, no downloads) from data to metrics and plots."""
from __future__ import annotations

import argparse

from .aliases import add_renamed
from .progress import add_progress_option, show_progress
from .ranges import integer, positive_int, random_seed

EXAMPLES = (
    "unav demo                       # a few minutes on a laptop CPU; results in demo_out/",
    "unav demo --out-dir /tmp/demo --videos 40 --epochs 3",
)

MIN_VIDEOS = 20   # the demo's splits (60/20/20 %) need a train split of at least one batch (8) and a test split


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_renamed(p, "--out-dir", "--out", default="demo_out",
                help="output folder (data, run, predictions, metrics, plots)")
    p.add_argument("--videos", type=integer(MIN_VIDEOS), default=120,
                   help=f"number of synthetic videos (at least {MIN_VIDEOS})")
    p.add_argument("--epochs", type=positive_int, default=None, help="cosine epochs (default: configs/demo.yaml's)")
    p.add_argument("--seed", type=random_seed, default=0, help="seed of the data and the training")
    add_progress_option(p)


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo
    from ..io import check_output_dir

    check_output_dir(args.out_dir, "--out-dir")
    r = run_demo(args.out_dir, num_videos=args.videos, epochs=args.epochs, seed=args.seed,
                 progress=show_progress(args))
    print("\nunav demo — synthetic features, seeded random weights (not the paper's numbers)")
    print(r["table"])
    print(f"shuffled-label baseline avg mAP: {r['metrics']['shuffled_label_baseline_average_mAP'] * 100:.1f}")
    print(f"run dir (checkpoints, metrics.jsonl): {r['run_dir']}")
    print(f"training curves: {r['curves']}")
    print(f"predictions: {r['predictions']}\nmetrics: {r['metrics_path']}")
    print("timelines:\n  " + "\n  ".join(r["timelines"]))
    return 0
