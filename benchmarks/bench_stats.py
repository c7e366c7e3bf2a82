"""Time `unav stats` on an annotation file: load (validated), compute_stats, plot_stats (seconds per stage).

Usage: python benchmarks/bench_stats.py [ANNOTATIONS.json]   (default: $UNAV_SHARED/data/unav100/unav100_annotations.json)
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from unav.data.annotations import load_annotations
from unav.data.stats import compute_stats, plot_stats


def main() -> None:
    default = Path(os.environ.get("UNAV_SHARED", "../shared")) / "data" / "unav100" / "unav100_annotations.json"
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    t0 = time.perf_counter()
    annotations = load_annotations(path)   # the rules of every command
    t1 = time.perf_counter()
    runs = 5
    for _ in range(runs):
        stats = compute_stats(annotations)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        plot_stats(stats, annotations, out)
    t3 = time.perf_counter()
    print(f"{path}: {stats['videos']} videos, {stats['events']} events, {stats['classes']} classes")
    print(f"load           {t1 - t0:7.3f} s")
    print(f"compute_stats  {(t2 - t1) / runs:7.3f} s (mean of {runs})")
    print(f"plot_stats     {t3 - t2:7.3f} s")


if __name__ == "__main__":
    main()
