"""`unav detect VIDEO_OR_URL… --checkpoint CKPT`: events.json, events.csv and timeline.png per video (and with
--html a page with the video and a clickable timeline). Inputs are video files, folders of videos or http(s)
URLs (downloaded with yt-dlp). Models are loaded once; a failing video is reported and the others go on
(exit status 1 if some failed, 2 if all did)."""
from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UnavError
from .aliases import add_renamed
from .common_options import add_checkpoint_weights_option, add_device_option, add_weights_dir_option
from .progress import add_progress_option, show_progress

if TYPE_CHECKING:
    from ..detection.detector import DetectResult

log = logging.getLogger(__name__)

EXAMPLES = (
    "unav detect my_video.mp4 --checkpoint runs/paper/best.pt --html",
    "unav detect videos/ https://www.youtube.com/watch?v=ID --checkpoint unav100.pt --out-dir detections/ "
    "--threshold 0.5",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="VIDEO_OR_URL",
                        help="video file(s), folder(s) of videos, or http(s) URL(s) (yt-dlp)")
    parser.add_argument("--checkpoint", required=True, help="checkpoint from `unav train` or `unav import-checkpoint`")
    add_renamed(parser, "--out-dir", "--out", default="detections", help="output folder; one sub-folder per video")
    parser.add_argument("--threshold", type=float, default=0.3, help="minimum score of a reported event")
    add_device_option(parser)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="extractor windows per forward pass (default: as recorded in the checkpoint)")
    parser.add_argument("--annotations", default=None,
                        help="UnAV-style annotation JSON: draw the ground truth of videos found in it")
    parser.add_argument("--html", action="store_true",
                        help="also write view.html per video (and index.html for several): the video with its "
                             "timeline; works offline")
    parser.add_argument("--html-video", choices=("auto", "copy", "webm", "both"), default="auto",
                        help="video next to the page: copy the input (auto: when a browser opens its container), "
                             "a VP9/Opus WebM copy, or both")
    add_checkpoint_weights_option(parser)
    add_weights_dir_option(parser)
    parser.add_argument("--allow-unverified-weights", action="store_true",
                        help="accept extractor weight files whose checksum differs from the published one")
    parser.add_argument("--keep-features", action="store_true", help="keep the extracted features in "
                                                                      "{out-dir}/{id}/features/")
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    from ..detection.detector import Detector
    from ..detection.inputs import expand_inputs
    from ..device import resolve_device

    resolve_device(args.device, "--device")         # before any work
    sources = expand_inputs(args.inputs)           # missing inputs: refused before any model is loaded
    annotations = None
    if args.annotations:
        from ..data.annotations import load_annotations

        annotations = load_annotations(args.annotations)
    out = Path(args.out_dir)
    existed = out.exists()
    progress = show_progress(args)
    detector = Detector(args.checkpoint, device=args.device, threshold=args.threshold, weights_dir=args.weights_dir,
                        allow_unverified_weights=args.allow_unverified_weights, batch_size=args.batch_size,
                        weights=args.checkpoint_weights, progress=progress)
    try:
        batch = detector.detect_many(sources, out, annotations, html=args.html, html_video=args.html_video,
                                     keep_features=args.keep_features)
    finally:
        if not existed and out.is_dir() and not any(out.iterdir()):
            shutil.rmtree(out, ignore_errors=True)  # nothing succeeded: leave no empty output folder
    for res in batch.done.values():
        print(summary_line(res))
    if batch.index is not None:
        print(f"index: {batch.index}")
    if not batch.failed:
        return 0
    if not batch.done and len(sources) == 1:
        raise UnavError(next(iter(batch.failed.values())))
    print(f"unav detect: {len(batch.failed)} of {len(sources)} input(s) failed:", file=sys.stderr)
    for source, msg in batch.failed.items():
        print(f"  {source}: {msg}", file=sys.stderr)
    return 2 if not batch.done else 1


def summary_line(res: DetectResult) -> str:
    """One line per video done: its event count, the three best events and its folder."""
    top = sorted(res.events, key=lambda e: -e["score"])[:3]
    best = "; ".join(f"{e['label']} {e['start']:.1f}-{e['end']:.1f}s ({e['score']:.2f})" for e in top)
    return f"{res.video_id}: {len(res.events)} event(s){': ' + best if best else ''} -> {res.folder}"
