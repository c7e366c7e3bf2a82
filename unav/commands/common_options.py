"""Options several commands share, defined once so that a flag means the same everywhere."""
from __future__ import annotations

import argparse

from .aliases import add_renamed


def add_device_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup, several: str | None = None) -> None:
    """--device; `several`: the help of a command that also takes a list of devices."""
    from ..device import DEVICE_CHOICES   # imports torch: only for the commands that have a device

    parser.add_argument("--device", default="auto",
                        help=f"torch device: {DEVICE_CHOICES} (auto: the first GPU if there is one, else the CPU)"
                             + (f"; {several}" if several else ""))


def add_weights_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights-dir", default=None,
                        help="directory of the fetched extractor weights (default: $UNAV_WEIGHTS, then "
                             "~/.cache/unav/weights)")


def add_checkpoint_weights_option(parser: argparse.ArgumentParser) -> None:
    """Which weights of a checkpoint to use; `--weights` meant this here before it meant extractor weights."""
    add_renamed(parser, "--checkpoint-weights", "--weights", choices=("auto", "ema", "model"), default="auto",
                help="weights of the checkpoint: ema, model (the raw weights) or auto (the EMA when present, as the "
                     "paper evaluates)")
