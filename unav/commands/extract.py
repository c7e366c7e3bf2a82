"""`unav extract VIDEO [VIDEO …] --out-dir DIR`: I3D RGB / I3D flow / VGGish features and a provenance JSON per
video (`{id}_rgb.npy`, `{id}_flow.npy`, `{id}_vggish.npy`, `{id}.json`). Models are loaded once for all videos;
a failing video is reported and the others go on (exit status 1 if some failed, 2 if all did, with each failed
video's reason)."""
from __future__ import annotations

import argparse
import logging
import sys

from ..errors import UnavError
from .ranges import number, positive_int, random_seed

log = logging.getLogger(__name__)


def _streams(text: str) -> tuple[str, ...]:
    from ..features.extract import STREAMS

    streams = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in streams if s not in STREAMS]
    if bad or not streams:
        raise argparse.ArgumentTypeError(f"unknown stream(s) {bad or text!r}; choose from {','.join(STREAMS)}")
    return tuple(dict.fromkeys(streams))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", metavar="VIDEO",
                        help="input video file(s); id = file stem (for names starting with '-' write ./NAME "
                             "or put -- first)")
    parser.add_argument("--out-dir", required=True, help="directory for {id}_{stream}.npy and {id}.json")
    parser.add_argument("--streams", type=_streams, default=("rgb", "flow", "vggish"),
                        help="comma-separated subset of rgb,flow,vggish (default: all)")
    parser.add_argument("--device", default="cpu", help="torch device: auto, cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="I3D windows / RAFT pairs per forward pass")
    parser.add_argument("--flow", action="append", default=None, metavar="FILE",
                        help="precomputed flow file from `unav flow` (one per video, in order); "
                             "otherwise flow is computed here")
    parser.add_argument("--flow-method", choices=("raft", "dis"), default="raft",
                        help="raft: the paper's flow (default); dis: fast OpenCV DIS, not paper-compatible")
    parser.add_argument("--flow-updates", type=positive_int, default=20,
                        help="RAFT refinement iterations (reference: 20)")
    parser.add_argument("--raft-weights", choices=("raft_sintel", "raft_large_C_T_SKHT_V1"), default="raft_sintel",
                        help="which published RAFT file to use with --weights pretrained (both are raft-sintel)")
    parser.add_argument("--dis-preset", choices=("ultrafast", "fast", "medium"), default="medium",
                        help="OpenCV DIS preset (--flow-method dis)")
    parser.add_argument("--weights", choices=("random", "pretrained"), default="pretrained",
                        help="pretrained: verified published weights (see `unav weights fetch`); "
                             "random: seeded init for tests and the offline demo (default pretrained)")
    parser.add_argument("--seed", type=random_seed, default=0, help="seed of the random weights (--weights random)")
    parser.add_argument("--weights-dir", default=None, help="directory holding downloaded weights")
    parser.add_argument("--allow-unverified-weights", action="store_true",
                        help="accept weight files whose sha256 is not the published one (stamped 'unverified')")
    parser.add_argument("--crop", type=positive_int, default=224,
                        help="centre crop side for I3D, at most --min-side (reference: 224)")
    parser.add_argument("--min-side", type=positive_int, default=256,
                        help="frames are resized so the shorter side is this (RAFT flow: at least 121)")
    parser.add_argument("--hop", type=number(0.01), default=0.32, help="VGGish example hop in seconds (UnAV: 0.32)")
    parser.add_argument("--reencode", action="store_true",
                        help="reproduce the reference's lossy x264 25 fps re-encode before decoding (slower)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..device import resolve_device
    from ..features.extract import ExtractSettings, extract_videos

    flows = args.flow
    if flows is not None and len(flows) != len(args.videos):
        raise UnavError(f"--flow given {len(flows)} time(s) for {len(args.videos)} video(s); "
                        "expected one flow file per video")
    if flows is not None and "flow" not in args.streams:
        raise UnavError("--flow given but the flow stream is not requested (--streams)")
    resolve_device(args.device, "--device")
    if "flow" in args.streams and flows is None and args.flow_method == "raft":
        from ..features.raft import check_min_side

        check_min_side(args.min_side)
    settings = ExtractSettings(streams=args.streams, device=args.device, batch_size=args.batch_size,
                               weights=args.weights, weights_dir=args.weights_dir,
                               allow_unverified_weights=args.allow_unverified_weights, seed=args.seed,
                               flow_method=args.flow_method, flow_updates=args.flow_updates,
                               raft_weights=args.raft_weights,
                               dis_preset=args.dis_preset, crop=args.crop, min_side=args.min_side,
                               hop_seconds=args.hop, reencode=args.reencode,
                               progress=not args.no_progress and sys.stderr.isatty())
    result = extract_videos(args.videos, args.out_dir, settings, flow_files=flows)
    for vid, prov in result.done.items():
        rows = ", ".join(f"{k} {v}" for k, v in prov["rows"].items())
        log.info("%s: %d frames -> %s", vid, prov["frames"], rows)
    return _exit_status(result.failed, len(args.videos), bool(result.done))


def _exit_status(failed: dict[str, str], total: int, any_done: bool) -> int:
    """0 when all went well; one failed input is its error (exit 2); otherwise each failure is listed, exit 1
    if some videos succeeded, 2 if none did."""
    if not failed:
        return 0
    if total == 1:
        raise UnavError(next(iter(failed.values())))
    print(f"unav extract: {len(failed)} of {total} video(s) failed: {', '.join(failed)}", file=sys.stderr)
    for vid, msg in failed.items():
        print(f"  {msg if msg.startswith(vid) else f'{vid}: {msg}'}", file=sys.stderr)
    return 1 if any_done else 2
