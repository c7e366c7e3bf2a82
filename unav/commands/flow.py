"""`unav flow VIDEO --out FILE`: optical flow of every consecutive 25 fps frame pair, quantised as the I3D flow
stream consumes it (centre crop of the padded flow, clamp ±20, codes 0..256), written as a streamable flow file.
The flow computer and its weights come from the same code as `unav extract`'s, and the file records the RAFT
weights' identity and verification status for the features made from it."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import UnavError
from .extractor_options import add_extractor_options, check_device_and_frames, extractor_settings
from .progress import show_progress

log = logging.getLogger(__name__)

EXAMPLES = (
    "unav weights fetch && unav flow clip.mp4 --out flow/clip.flow --device cuda",
    "unav flow clip.mp4 --out clip.flow --flow-method dis   # fast OpenCV DIS, not the paper's flow",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="input video file")
    parser.add_argument("--out", required=True, help="output flow file (e.g. flow/{id}.flow; not the video)")
    add_extractor_options(parser, default_batch_size=None,
                          batch_size_help="frame pairs per RAFT batch (default: 8 on CPU, 32 on CUDA, where small "
                                          "batches leave the GPU idle)",
                          old_spellings={"--flow-method": ("--method",), "--flow-updates": ("--updates",)})


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output that cannot be written or would replace the video, a crop that
    cannot fit the frames, frames too small for RAFT and a device this machine does not have."""
    from ..io import check_output_file
    from ..media.trim import check_not_same_file

    check_output_file(args.out, "--out")
    check_not_same_file(Path(args.video), Path(args.out), "--out")
    if args.crop > args.min_side:
        raise UnavError(f"--crop {args.crop} is larger than --min-side {args.min_side}; expected a crop that fits "
                        f"the frames (1 <= --crop <= --min-side)")
    check_device_and_frames(args, computes_raft=args.flow_method == "raft")


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device
    from ..features import models
    from ..features.flowjob import write_video_flow
    from ..media.probe import probe

    video = Path(args.video)
    check_arguments(args)
    info = probe(video)
    device = resolve_device(args.device, "--device")
    settings = extractor_settings(args, ("flow",), progress=show_progress(args),
                                  batch_size=args.batch_size or (32 if device.type == "cuda" else 8))
    computer, weights_entry = models.flow_computer(settings, device)
    final = write_video_flow(video, args.out, settings, computer, weights_entry, info=info)
    log.info("%s: %d frames, %d flow pairs -> %s", video.stem, final["frames"], final["pairs"], args.out)
    return 0
