"""`unav extract VIDEO [VIDEO …] --out-dir DIR`: I3D RGB / I3D flow / VGGish features and a provenance JSON per
video (`{id}_rgb.npy`, `{id}_flow.npy`, `{id}_vggish.npy`, `{id}.json`). Models are loaded once for all videos;
a failing video is reported and the others go on (exit status 1 if some failed, 2 if all did, with each failed
video's reason)."""
from __future__ import annotations

import argparse
import logging
import sys

from ..errors import UnavError
from .extractor_options import add_extractor_options, check_device_and_frames, extractor_settings
from .progress import show_progress
from .ranges import number

log = logging.getLogger(__name__)

EXAMPLES = (
    "unav weights fetch && unav extract clip.mp4 --out-dir features/",
    "unav extract videos/*.mp4 --out-dir features/ --device cuda:all --batch-size 32   # one worker per GPU",
)


def _streams(text: str) -> tuple[str, ...]:
    from ..features.settings import STREAMS

    streams = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in streams if s not in STREAMS]
    if bad or not streams:
        raise argparse.ArgumentTypeError(f"unknown stream(s) {bad or text!r}; choose from {','.join(STREAMS)}")
    return tuple(dict.fromkeys(streams))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..features.settings import AUDIO_DECODES, STREAMS

    parser.add_argument("videos", nargs="+", metavar="VIDEO",
                        help="input video file(s); id = file stem (for names starting with '-' write ./NAME "
                             "or put -- first)")
    parser.add_argument("--out-dir", required=True, help="directory for {id}_{stream}.npy and {id}.json")
    parser.add_argument("--streams", type=_streams, default=STREAMS,
                        help="comma-separated subset of rgb,flow,vggish (default: all)")
    parser.add_argument("--flow", action="append", default=None, metavar="FILE",
                        help="precomputed flow file from `unav flow` (one per video, in order); "
                             "otherwise flow is computed here")
    add_extractor_options(parser, default_batch_size=8,
                          batch_size_help="I3D windows / RAFT pairs per forward pass",
                          several_devices="a comma-separated list (cuda:0,cuda:1) or cuda:all runs one worker "
                                          "process per device, each taking the next video when free")
    parser.add_argument("--hop", type=number(0.01), default=0.32, help="VGGish example hop in seconds (default: 0.32, UnAV's)")
    parser.add_argument("--audio-decode", choices=AUDIO_DECODES, default="adts",
                        help="how VGGish reads the soundtrack: adts (default), the released features' route: an AAC "
                             "track stream-copied to raw ADTS and decoded, so the encoder's priming samples (about "
                             "23 ms) stay at the start; direct, the container's timeline (its edit list applied; "
                             "what features written before this option hold)")


def run(args: argparse.Namespace) -> int:
    from ..features.devices import extract_videos_on_devices, parse_devices
    from ..features.extract import extract_videos

    flows = args.flow
    if flows is not None and len(flows) != len(args.videos):
        raise UnavError(f"--flow given {len(flows)} time(s) for {len(args.videos)} video(s); "
                        "expected one flow file per video")
    if flows is not None and "flow" not in args.streams:
        raise UnavError("--flow given but the flow stream is not requested (--streams)")
    devices = parse_devices(args.device) if "," in args.device or args.device == "cuda:all" else [args.device]
    args.device = devices[0]   # the checks and the settings; each worker then records its own device
    check_device_and_frames(args, computes_raft="flow" in args.streams and flows is None
                            and args.flow_method == "raft")
    settings = extractor_settings(args, args.streams, progress=show_progress(args),
                                  hop_seconds=args.hop, audio_decode=args.audio_decode)
    if len(devices) > 1:
        result = extract_videos_on_devices(args.videos, args.out_dir, settings, devices, flow_files=flows)
    else:
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
