"""`unav flow VIDEO --out FILE`: optical flow of every consecutive 25 fps frame pair, quantised as the I3D flow
stream consumes it (centre crop of the padded flow, clamp ±20, codes 0..256), written as a streamable flow file.
The flow computer and its weights come from the same code as `unav extract`'s, and the file records the RAFT
weights' identity and verification status for the features made from it."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Iterator

import numpy as np

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


def _counted(frames: Iterator[np.ndarray], meta: dict) -> Iterator[np.ndarray]:
    """Pass frames through, keeping meta["frames"] up to date (stored in the file's trailer)."""
    for chunk in frames:
        meta["frames"] = meta.get("frames", 0) + len(chunk)
        yield chunk


def _progress(codes: Iterator[np.ndarray], total: int | None, enabled: bool, desc: str) -> Iterator[np.ndarray]:
    from tqdm import tqdm

    with tqdm(total=total, unit="pair", desc=desc, disable=not enabled) as bar:
        for chunk in codes:
            bar.update(len(chunk))
            yield chunk


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device
    from ..features import models
    from ..features.flowfile import write_flow_file
    from ..features.flowsource import flow_file_header
    from ..features.settings import FPS
    from ..io import remove_stale_temporaries
    from ..media.frames import iter_frames
    from ..media.probe import probe

    video = Path(args.video)
    vid = video.stem
    check_arguments(args)
    info = probe(video)
    remove_stale_temporaries([args.out])
    device = resolve_device(args.device, "--device")
    settings = extractor_settings(args, ("flow",), progress=show_progress(args),
                                  batch_size=args.batch_size or (32 if device.type == "cuda" else 8))
    computer, weights_entry = models.flow_computer(settings, device)
    meta = {**flow_file_header(computer, weights_entry, settings), "video": str(video), "video_id": vid,
            "fps": FPS, "min_side": settings.min_side, "reencode": settings.reencode, "frames": 0}
    duration = getattr(info, "duration", None)
    total = max(int(round(duration * FPS)) - 1, 0) if duration else None
    frames = _counted(iter_frames(video, fps=FPS, min_side=settings.min_side, reencode=settings.reencode,
                                  info=info), meta)
    codes = _progress(computer.codes_for_frames(frames), total, settings.progress, f"{vid} flow")
    final = write_flow_file(args.out, codes, meta)
    log.info("%s: %d frames, %d flow pairs -> %s", vid, final["frames"], final["pairs"], args.out)
    return 0
