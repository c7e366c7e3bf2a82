"""`unav trim IN --start S --end E --out OUT.mp4 [--threads N]`: frame-accurate cut of a downloaded video to its
[start, end] window (re-encoded H.264/AAC, audio kept), written atomically. See unav.media.trim."""
from __future__ import annotations

import argparse
from pathlib import Path

from .ranges import number, positive_int

EXAMPLES = (
    "unav trim raw/ID.mp4 --start 12.5 --end 42 --out clips/ID.mp4",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="input video file")
    parser.add_argument("--start", type=number(0), required=True, help="window start in seconds")
    parser.add_argument("--end", type=number(0, low_open=True), required=True,
                        help="window end in seconds (cut to the video's end if it is shorter, with a warning)")
    parser.add_argument("--out", type=Path, required=True, help="output .mp4 (not the input video)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="ffmpeg threads (default: ffmpeg's choice)")


def run(args: argparse.Namespace) -> int:
    from ..media.trim import trim_video

    info = trim_video(args.video, args.out, args.start, args.end, threads=args.threads)
    print(f"{args.out}: {info.duration:.3f} s, {info.width}x{info.height} @ {info.fps:g} fps, "
          f"audio: {'yes' if info.has_audio else 'no'}")
    return 0
