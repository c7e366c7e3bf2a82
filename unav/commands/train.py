"""`unav train`: train the localizer on UnAV-style features (torchrun-compatible)."""
from __future__ import annotations

import argparse

from ..errors import UnavError
from ..io import check_output_dir
from .aliases import add_renamed
from .progress import add_progress_option, show_progress
from .ranges import number, positive_int, random_seed

EXAMPLES = (
    "unav train --annotations unav100_annotations.json --features av_features/ --out-dir runs/paper",
    "unav train --config demo.yaml --annotations A.json --features feats/ --out-dir runs/x --epochs 5 --lr 3e-4",
)

# option dest -> the config key it writes (saved in the run's config.yaml, so the run records it)
CONFIG_FLAGS = {"seed": "seed", "device": "train.device", "batch_size": "train.batch_size",
                "epochs": "train.epochs", "lr": "train.lr"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", action="append", default=[],
                   help="YAML override of the paper's defaults.yaml (repeatable; later wins; default: none)")
    p.add_argument("--annotations", required=True, help="UnAV annotation JSON")
    p.add_argument("--features", required=True, help="folder of {id}_rgb.npy, {id}_flow.npy, {id}_vggish.npy")
    add_renamed(p, "--out-dir", "--out", required=True,
                help="run folder (config, metrics log, last.pt, best.pt, curves)")
    p.add_argument("--resume", action="store_true", help="continue from <out-dir>/last.pt exactly where it stopped")
    p.add_argument("--force", action="store_true",
                   help="--out-dir holds a run: move it aside to <out-dir>.old-<time> (never deleted) and start anew")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="dotted config overrides, e.g. train.warmup_epochs=2 (default: none)")
    flags = p.add_argument_group("training settings", "written into the config (and so into the saved config.yaml);"
                                 " they win over --config files and --set")
    defaults = _config_defaults()
    flags.add_argument("--seed", type=random_seed, default=None,
                       help=f"config key seed (default: the config's; defaults.yaml: {defaults['seed']})")
    flags.add_argument("--device", default=None,
                       help=f"auto (the first GPU if any), cpu, cuda or cuda:N; config key train.device (default: "
                            f"the config's; defaults.yaml: {defaults['device']})")
    flags.add_argument("--batch-size", type=positive_int, default=None,
                       help=f"global batch; config key train.batch_size (default: the config's; defaults.yaml: "
                            f"{defaults['batch_size']})")
    flags.add_argument("--epochs", type=positive_int, default=None,
                       help=f"cosine epochs after the warm-up; config key train.epochs (default: the config's; "
                            f"defaults.yaml: {defaults['epochs']})")
    flags.add_argument("--lr", type=number(0, low_open=True), default=None,
                       help=f"peak learning rate; config key train.lr (default: the config's; defaults.yaml: "
                            f"{defaults['lr']:g})")
    add_progress_option(p)


def _config_defaults() -> dict:
    """The packaged defaults of the keys the flags write, for the help (never out of step with the file)."""
    from ..config import DEFAULTS_PATH, load_yaml

    cfg = load_yaml(DEFAULTS_PATH)
    return {dest: _lookup(cfg, key) for dest, key in CONFIG_FLAGS.items()}


def _lookup(cfg: dict, dotted: str):
    for part in dotted.split("."):
        cfg = cfg[part]
    return cfg


def flag_overrides(args: argparse.Namespace) -> dict:
    """The training settings given as flags, as a nested config override."""
    out: dict = {}
    for dest, key in CONFIG_FLAGS.items():
        value = getattr(args, dest)
        if value is None:
            continue
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def run(args: argparse.Namespace) -> int:
    from ..config import deep_merge, load_config, parse_overrides
    from ..data.annotations import load_annotations
    from ..device import resolve_device
    from ..engine.train import prepare_run_dir, train

    if args.resume and args.force:
        raise UnavError("--resume continues the run in --out-dir, --force moves it aside: give one of them")
    check_output_dir(args.out_dir, "--out-dir")
    if args.device is not None:
        resolve_device(args.device, "--device")      # before any work, named as given
    cfg = load_config(args.config, deep_merge(parse_overrides(args.set), flag_overrides(args)))
    resolve_device(cfg["train"]["device"], "train.device")
    ann = load_annotations(args.annotations)
    prepare_run_dir(args.out_dir, resume=args.resume, force=args.force)   # before any work: nothing is overwritten
    result = train(cfg, ann, args.features, args.out_dir, resume=args.resume, progress=show_progress(args))
    best = result["best"]
    if best.get("value") is not None:
        print(f"best {best['metric']} {best['value'] * 100:.2f} at epoch {best['epoch']}; run dir {result['out']}")
    else:
        print(f"trained {result['epochs']} epochs; run dir {result['out']}")
    return 0
