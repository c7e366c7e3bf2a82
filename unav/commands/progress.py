"""Whether a command draws progress bars: one rule for every long command. Bars are for a person at a
terminal, so they are off when stderr is not one (Snakemake logs, pipes), with `--no-progress`, and with -q."""
from __future__ import annotations

import argparse
import logging
import sys


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars (they are off anyway when stderr is not a terminal, and with -q)")


def show_progress(args: argparse.Namespace) -> bool:
    quiet = (getattr(args, "log_level", None) or logging.INFO) >= logging.WARNING
    return not getattr(args, "no_progress", False) and not quiet and sys.stderr.isatty()
