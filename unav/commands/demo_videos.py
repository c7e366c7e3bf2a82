"""`unav demo-videos --out-dir DIR [--num 30] [--seed 0] [--size 160x120] [--classes 5] [--min-seconds 8]
[--max-seconds 20] [--workers 2]`: synthetic demo videos with sound, their UnAV annotations, the download list and a
file:// URL template for `unav download` (see unav.media.synthetic_videos)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .aliases import add_renamed
from .ranges import integer, number, random_seed

EXAMPLES = (
    "unav demo-videos --out-dir demo_videos/",
    "unav demo-videos --out-dir clips/ --num 10 --size 320x240 --classes 3 --workers 4",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..media.synthetic_videos import CLASSES

    add_renamed(parser, "--out-dir", "--out", type=Path, required=True,
                help="output folder (videos/, videos.csv, annotations.json)")
    parser.add_argument("--num", type=integer(1, 100000), default=30, help="number of videos")
    parser.add_argument("--seed", type=random_seed, default=0, help="random seed")
    parser.add_argument("--size", default="160x120", help="frame size WIDTHxHEIGHT, even sides of 32..4096 pixels")
    parser.add_argument("--classes", type=integer(1, len(CLASSES)), default=5,
                        help=f"number of event classes, 1..{len(CLASSES)}")
    parser.add_argument("--min-seconds", type=number(4, 3600), default=8.0, help="shortest video in seconds")
    parser.add_argument("--max-seconds", type=number(4, 3600), default=20.0, help="longest video in seconds")
    parser.add_argument("--workers", type=integer(1, 64), default=2, help="videos encoded in parallel")


def run(args: argparse.Namespace) -> int:
    from ..errors import UnavError
    from ..io import check_output_dir
    from ..media.synthetic_videos import make_demo_videos, parse_size

    check_output_dir(args.out_dir, "--out-dir")
    if args.min_seconds > args.max_seconds:
        raise UnavError(f"--min-seconds {args.min_seconds:g} is larger than --max-seconds {args.max_seconds:g}; "
                        f"expected 4 <= min <= max")
    size = parse_size(args.size)
    t0 = time.perf_counter()
    info = make_demo_videos(args.out_dir, num=args.num, seed=args.seed, size=size,
                            num_classes=args.classes, min_s=args.min_seconds, max_s=args.max_seconds,
                            workers=args.workers)
    print(f"{info['num_videos']} synthetic videos in {args.out_dir / 'videos'} ({time.perf_counter() - t0:.1f} s); "
          f"subsets {info['subsets']}")
    print(f"video list: {args.out_dir / 'videos.csv'}; annotations: {args.out_dir / 'annotations.json'}")
    print(f"url template: {info['url_template']}")
    return 0
