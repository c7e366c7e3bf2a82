"""`unav predict`: run a checkpoint on a split of an annotation file and write predictions.json."""
from __future__ import annotations

import argparse

from ..io import check_output_file
from .common_options import add_checkpoint_weights_option, add_device_option
from .progress import add_progress_option, show_progress
from .ranges import positive_int

EXAMPLES = (
    "unav predict --checkpoint runs/paper/best.pt --annotations A.json --features feats/ --out predictions.json",
    "unav predict --checkpoint unav100.pt --annotations A.json --features feats/ --split validation "
    "--checkpoint-weights model --out val.json",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="checkpoint of `unav train` or `unav import-checkpoint`")
    p.add_argument("--annotations", required=True, help="UnAV annotation JSON (the split's videos and the classes)")
    p.add_argument("--features", required=True, help="folder of {id}_rgb.npy, {id}_flow.npy, {id}_vggish.npy")
    p.add_argument("--split", default="test", help="subset of the annotation file to predict")
    p.add_argument("--out", required=True, help="predictions.json to write")
    add_device_option(p)
    add_checkpoint_weights_option(p)
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="videos per forward pass (default: the checkpoint's test.batch_size)")
    add_progress_option(p)


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device
    from ..engine.infer import predict_checkpoint

    check_output_file(args.out, "--out")
    resolve_device(args.device, "--device")   # before any work
    summary = predict_checkpoint(args.checkpoint, args.annotations, args.features, args.split, args.out,
                                 device=args.device, weights=args.checkpoint_weights, batch_size=args.batch_size,
                                 progress=show_progress(args))
    print(f"{summary['videos']} videos, {summary['predictions']} predictions ({summary['weights']} weights) "
          f"-> {args.out}")
    return 0
