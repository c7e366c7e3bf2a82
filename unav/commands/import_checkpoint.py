"""`unav import-checkpoint`: official UnAV .pth.tar -> unav checkpoint (strict)."""
from __future__ import annotations

import argparse

EXAMPLES = (
    "unav import-checkpoint unav100_checkpoint.pth.tar --out unav100.pt --annotations unav100_annotations.json",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="official release checkpoint (.pth.tar)")
    p.add_argument("--out", required=True, help="unav checkpoint to write (.pt)")
    p.add_argument("--annotations", help="UnAV annotation JSON giving the class names (label_id order; default: "
                                         "class_0, class_1, …)")
    p.add_argument("--config", action="append", default=[],
                   help="YAML override of the paper config (repeatable; default: none)")


def run(args: argparse.Namespace) -> int:
    from ..data.annotations import load_annotations
    from ..io import check_output_file, save_torch
    from ..model.import_official import import_official

    check_output_file(args.out, "--out")
    classes = load_annotations(args.annotations).classes if args.annotations else None
    ckpt = import_official(args.checkpoint, classes, tuple(args.config))
    save_torch(args.out, ckpt)
    n = sum(v.numel() for v in ckpt["model"].values())
    print(f"imported {len(ckpt['model'])} tensors ({n:,} values; EMA: {'yes' if ckpt['ema'] else 'no'}) -> {args.out}")
    return 0
