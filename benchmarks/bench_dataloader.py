"""Data loading throughput at the paper's widths (2048 visual + 128 audio per row, UnAV-like lengths): batches of
16 per second from the training DataLoader, to compare with the training-step time (loading must not be the
bottleneck). Usage: python benchmarks/bench_dataloader.py [--videos 300] [--workers 0]"""
from __future__ import annotations

import argparse
import tempfile
import time

from unav.config import load_config
from unav.data.annotations import load_annotations
from unav.data.dataset import UnavDataset, collate_fn
from unav.data.synthetic import make_synthetic_dataset


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--videos", type=int, default=300)
    p.add_argument("--workers", type=int, default=0)
    args = p.parse_args()
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        ann_path, feats = make_synthetic_dataset(tmp, num_videos=args.videos, num_classes=100, min_rows=30,
                                                 max_rows=400, splits=(1.0, 0.0))
        cfg = load_config([], {"dataset": {"num_workers": args.workers}})
        ann = load_annotations(ann_path)
        start = time.perf_counter()
        ds = UnavDataset(ann, feats, "train", cfg, training=True)
        preload = time.perf_counter() - start
        loader = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True, drop_last=True,
                                             num_workers=args.workers, collate_fn=collate_fn(cfg, True))
        start = time.perf_counter()
        n = sum(1 for _ in loader)
        dt = time.perf_counter() - start
        print(f"{args.videos} videos: preload {preload:.2f} s; {n} batches of 16 in {dt:.2f} s "
              f"= {dt / n * 1000:.1f} ms per batch ({args.workers} workers)")


if __name__ == "__main__":
    main()
