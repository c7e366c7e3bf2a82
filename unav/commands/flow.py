"""`unav flow VIDEO --out FILE`: optical flow of every consecutive 25 fps frame pair, quantised as the I3D flow
stream consumes it (centre crop of the padded flow, clamp ±20, codes 0..256), written as a streamable flow file."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import UnavError
from .ranges import positive_int, random_seed

log = logging.getLogger(__name__)

# entries of the weights registry: the original raft-sintel.pth, or torchvision's port of it
RAFT_WEIGHTS = ("raft_sintel", "raft_large_C_T_SKHT_V1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="input video file")
    parser.add_argument("--out", required=True, help="output flow file (e.g. flow/{id}.flow; not the video)")
    parser.add_argument("--method", choices=("raft", "dis"), default="raft",
                        help="raft: the paper's flow (default); dis: fast OpenCV DIS, not paper-compatible")
    parser.add_argument("--device", default="cpu",
                        help="torch device for RAFT: auto, cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="frame pairs per RAFT batch (default: 8 on CPU, 32 on CUDA, where small batches "
                             "leave the GPU idle)")
    parser.add_argument("--weights", choices=("random", "pretrained"), default="random",
                        help="pretrained RAFT weights (verified file) or seeded random init for tests and the "
                             "offline demo (default: random, stamped into the file)")
    parser.add_argument("--seed", type=random_seed, default=0, help="seed of the random init (--weights random)")
    parser.add_argument("--raft-weights", choices=RAFT_WEIGHTS, default=RAFT_WEIGHTS[0],
                        help="which published RAFT file to use with --weights pretrained (both are raft-sintel)")
    parser.add_argument("--weights-dir", default=None, help="directory holding downloaded weights")
    parser.add_argument("--allow-unverified-weights", action="store_true",
                        help="accept a weights file whose sha256 does not match the registry")
    parser.add_argument("--updates", type=positive_int, default=20,
                        help="RAFT refinement iterations (reference: 20)")
    parser.add_argument("--crop", type=positive_int, default=224,
                        help="centre crop of the padded flow, at most --min-side (reference: 224)")
    parser.add_argument("--min-side", type=positive_int, default=256,
                        help="frames are resized so the shorter side is this (RAFT: at least 121)")
    parser.add_argument("--reencode", action="store_true",
                        help="decode through the reference's lossy x264 25 fps re-encode (as `unav extract --reencode`)")
    parser.add_argument("--dis-preset", choices=("ultrafast", "fast", "medium"), default="medium",
                        help="OpenCV DIS preset (--method dis)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _raft_weights(args: argparse.Namespace) -> tuple[str, dict]:
    if args.weights == "random":
        return "random", {"weights": "random", "seed": args.seed}
    from ..features import weights as weights_mod

    path, sha, status = weights_mod.resolve(args.raft_weights, args.weights_dir, args.allow_unverified_weights)
    return str(path), {"weights": Path(path).name, "sha256": sha, "status": status}


def build_computer(args: argparse.Namespace):
    """The flow computer the arguments ask for and its weights provenance."""
    if args.method == "dis":
        from ..features.dis import DisFlowComputer

        return DisFlowComputer(preset=args.dis_preset, crop=args.crop), {"weights": None}
    from ..device import resolve_device
    from ..features.raft import FlowComputer

    device = resolve_device(args.device, "--device")
    path, entry = _raft_weights(args)
    batch_size = args.batch_size or (32 if device.type == "cuda" else 8)
    computer = FlowComputer(path, seed=args.seed, num_flow_updates=args.updates, device=device,
                            batch_size=batch_size, crop=args.crop)
    return computer, entry


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any work, an output that cannot be written or would replace the video, a crop that
    cannot fit the frames and a device this machine does not have."""
    from ..device import resolve_device
    from ..features.raft import check_min_side
    from ..io import check_output_file
    from ..media.trim import check_not_same_file

    check_output_file(args.out, "--out")
    check_not_same_file(Path(args.video), Path(args.out), "--out")
    if args.crop > args.min_side:
        raise UnavError(f"--crop {args.crop} is larger than --min-side {args.min_side}; expected a crop that fits "
                        f"the frames (1 <= --crop <= --min-side)")
    if args.method == "raft":
        check_min_side(args.min_side)
        resolve_device(args.device, "--device")


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
    from ..features.flowfile import write_flow_file
    from ..io import remove_stale_temporaries
    from ..media.frames import iter_frames
    from ..media.probe import probe

    video = Path(args.video)
    vid = video.stem
    check_arguments(args)
    info = probe(video)
    remove_stale_temporaries([args.out])
    computer, weights_entry = build_computer(args)
    meta = {**computer.meta(), **weights_entry, "video": str(video), "video_id": vid, "fps": 25.0,
            "min_side": args.min_side, "reencode": args.reencode, "frames": 0}
    duration = getattr(info, "duration", None)
    total = max(int(round(duration * 25.0)) - 1, 0) if duration else None
    frames = _counted(iter_frames(video, fps=25.0, min_side=args.min_side, reencode=args.reencode, info=info), meta)
    codes = _progress(computer.codes_for_frames(frames), total, not args.no_progress, f"{vid} flow")
    final = write_flow_file(args.out, codes, meta)
    log.info("%s: %d frames, %d flow pairs -> %s", vid, final["frames"], final["pairs"], args.out)
    return 0
