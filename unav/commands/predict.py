"""`unav predict`: run a checkpoint on a split of an annotation file and write predictions.json."""
from __future__ import annotations

import argparse

from ..io import check_output_file
from .ranges import positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--annotations", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--out", required=True, help="predictions.json")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (auto: the first GPU if any)")
    p.add_argument("--weights", default="auto", choices=["auto", "ema", "model"],
                   help="which weights of the checkpoint (auto: the EMA when present, as the paper evaluates)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="videos per forward pass (default: the checkpoint's test.batch_size)")


def run(args: argparse.Namespace) -> int:
    from ..engine.infer import predict_checkpoint

    from ..device import resolve_device

    check_output_file(args.out, "--out")
    resolve_device(args.device, "--device")   # before any work
    summary = predict_checkpoint(args.checkpoint, args.annotations, args.features, args.split, args.out,
                                 device=args.device, weights=args.weights, batch_size=args.batch_size)
    print(f"{summary['videos']} videos, {summary['predictions']} predictions ({summary['weights']} weights) "
          f"-> {args.out}")
    return 0
