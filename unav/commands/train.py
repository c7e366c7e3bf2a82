"""`unav train`: train the localizer on UnAV-style features (torchrun-compatible)."""
from __future__ import annotations

import argparse

from ..errors import UnavError
from ..io import check_output_dir


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", action="append", default=[], help="YAML override (repeatable; later wins)")
    p.add_argument("--annotations", required=True, help="UnAV annotation JSON")
    p.add_argument("--features", required=True, help="folder of {id}_rgb.npy, {id}_flow.npy, {id}_vggish.npy")
    p.add_argument("--out", required=True, help="run directory (config, metrics log, last.pt, best.pt, curves)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt exactly where it stopped")
    p.add_argument("--force", action="store_true",
                   help="--out holds a run: move it aside to <out>.old-<time> (never deleted) and start anew")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="dotted overrides, e.g. train.lr=3e-4")


def run(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..data.annotations import load_annotations
    from ..engine.train import prepare_run_dir, train

    if args.resume and args.force:
        raise UnavError("--resume continues the run in --out, --force moves it aside: give one of them")
    check_output_dir(args.out, "--out")
    cfg = load_config(args.config, args.set)
    ann = load_annotations(args.annotations)
    prepare_run_dir(args.out, resume=args.resume, force=args.force)   # before any work: nothing is overwritten
    result = train(cfg, ann, args.features, args.out, resume=args.resume)
    best = result["best"]
    if best.get("value") is not None:
        print(f"best {best['metric']} {best['value'] * 100:.2f} at epoch {best['epoch']}; run dir {result['out']}")
    else:
        print(f"trained {result['epochs']} epochs; run dir {result['out']}")
    return 0
