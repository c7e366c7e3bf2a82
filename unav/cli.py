"""The one entry point: `unav <command> …`. Each command lives in `unav/commands/<name>.py` with
`add_arguments(parser)` and `run(args) -> int`; modules are imported lazily so `unav --help` is fast."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

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
    "workflow-step": ("workflow_step", "workflow glue: merge-features (per-stream parts -> features folder), "
                                        "subset-annotations (videos with features)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unav", description="unav: dense audio-visual event localization (UnAV-100).")
    parser.add_argument("--version", action="version", version=f"unav {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Parse only the global part first, then hand the rest to the command's own parser.
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if argv[0] == "--version":
        print(f"unav {__version__}")
        return 0
    verbose = False
    while argv and argv[0] in ("-v", "--verbose"):
        verbose = True
        argv.pop(0)
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        parser.error(f"unknown command {name!r}; choose from {', '.join(COMMANDS)}")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    module = importlib.import_module(f"unav.commands.{COMMANDS[name][0]}")
    sub = argparse.ArgumentParser(prog=f"unav {name}", description=COMMANDS[name][1])
    module.add_arguments(sub)
    args = sub.parse_args(rest)
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
