"""The one entry point: `unav <command> …`. Each command lives in `unav/commands/<name>.py` with
`add_arguments(parser)` and `run(args) -> int`; modules are imported lazily so `unav --help` is fast."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from types import ModuleType
from typing import Iterator

from . import __version__
from .errors import UnavError

# command name -> (module under unav.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "train the localizer on UnAV-style features"),
    "predict": ("predict", "run a checkpoint on a split and write predictions.json"),
    "evaluate": ("evaluate", "detection mAP of predictions.json against the annotations"),
    "import-checkpoint": ("import_checkpoint", "convert an official UnAV .pth.tar checkpoint into ours"),
    "demo": ("demo", "offline demo: synthetic features -> train -> predict -> evaluate -> plots"),
    "extract": ("extract", "extract I3D rgb/flow and VGGish features from a video"),
    "flow": ("flow", "compute RAFT optical flow for a video, quantised as I3D consumes it"),
    "weights": ("weights", "fetch, verify and list pretrained extractor weights"),
    "stats": ("stats", "dataset statistics of an annotation file (section 3.3 of the paper)"),
    "detect": ("detect", "run the whole pipeline on your own videos and draw a timeline"),
    "check-inputs": ("check_inputs", "validate a video list / annotation file before any job runs"),
    "download": ("download", "download one video with yt-dlp (retries, rate limit), recording failures"),
    "trim": ("trim", "cut a downloaded video to its [start, end] window with ffmpeg"),
    "demo-videos": ("demo_videos", "generate the synthetic demo videos with sound and their annotations"),
    "report": ("report", "plots and tables for the workflow report (metrics, per-class AP, timelines)"),
    "workflow-step": ("workflow_step", "workflow glue: shard jobs of the per-video stages (shard), their "
                                        "collectors (collect-downloads, failures), merge-features, "
                                        "subset-annotations"),
}


INTERNAL = {"workflow-step"}   # glue the workflow calls: it works, but `unav --help` does not offer it

LOG_LEVELS = {"-v": logging.DEBUG, "--verbose": logging.DEBUG, "-q": logging.WARNING, "--quiet": logging.WARNING}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every command's help: defaults shown where there is one, the examples epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or action.default == [] or "default" in text.lower():
            return text     # no meaningful default, or the help already says it in words
        return super()._get_help_string(action)


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    """-v / -q, accepted before the command name (by `main`) and after it (by each command's parser). No
    default: an action's sub-parser (`weights fetch`) must not undo a -q given before it."""
    parser.add_argument("-v", "--verbose", dest="log_level", action="store_const", const=logging.DEBUG,
                        default=argparse.SUPPRESS, help="debug messages too")
    parser.add_argument("-q", "--quiet", dest="log_level", action="store_const", const=logging.WARNING,
                        default=argparse.SUPPRESS, help="warnings and errors only (and no progress bars)")


def _parser_tree(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """`parser` and the parsers of its sub-commands (`weights fetch`, …), depth first."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parser_tree(child)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unav", description="unav: dense audio-visual event localization (UnAV-100).",
                                     epilog="run `unav COMMAND --help` for a command's options and examples",
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"unav {__version__}")
    add_logging_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if name not in INTERNAL:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def command_parser(name: str) -> tuple[argparse.ArgumentParser, ModuleType]:
    """The parser of `unav NAME` (its options, -v/-q, the examples of its module) and the module."""
    module = importlib.import_module(f"unav.commands.{COMMANDS[name][0]}")
    examples = "\n".join(f"  {line}" for line in module.EXAMPLES)
    parser = argparse.ArgumentParser(prog=f"unav {name}", description=COMMANDS[name][1],
                                     epilog=f"examples:\n{examples}", formatter_class=HelpFormatter)
    module.add_arguments(parser)
    for each in _parser_tree(parser):
        add_logging_options(each)
    return parser, module


def _configure_logging(level: int) -> None:
    """A stderr handler for the process, and `level` for unav's own loggers (third-party ones stay at warnings)."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("unav").setLevel(level)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    level = None
    while argv and argv[0] in LOG_LEVELS:      # -v / -q before the command name
        level = LOG_LEVELS[argv.pop(0)]
    # Parse only the global part first, then hand the rest to the command's own parser.
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if argv[0] == "--version":
        print(f"unav {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        parser.error(f"unknown command {name!r}; choose from {', '.join(c for c in COMMANDS if c not in INTERNAL)}")
    unav_log = logging.getLogger("unav")
    before = unav_log.level
    try:
        _configure_logging(level or logging.INFO)   # before parsing: a deprecated spelling's warning shows
        sub, module = command_parser(name)
        args = sub.parse_args(rest, namespace=argparse.Namespace(log_level=level))
        _configure_logging(args.log_level or logging.INFO)
        return _run(name, module, args)
    finally:
        unav_log.setLevel(before)   # leave logging as found for callers that embed main (tests)


def _run(name: str, module: ModuleType, args: argparse.Namespace) -> int:
    try:
        return int(module.run(args) or 0)
    except UnavError as err:
        print(f"unav {name}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        # The user's file system said no (a folder where a file was expected, a full disk, no permission):
        # name the file and the reason; commands check the common cases earlier with a more specific message.
        files = " -> ".join(str(f) for f in (err.filename, err.filename2) if f)
        print(f"unav {name}: error: {files + ': ' if files else ''}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"unav {name}: interrupted; finished outputs are complete, rerun to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
