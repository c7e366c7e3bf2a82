"""The options `unav extract` and `unav flow` share (flow method, RAFT weights, crop, frame size, device, …),
defined once, the settings they make, and the checks both run before any work."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .aliases import add_renamed
from .common_options import add_device_option, add_weights_dir_option
from .progress import add_progress_option
from .ranges import positive_int, random_seed

if TYPE_CHECKING:
    from ..features.settings import ExtractSettings


def add_extractor_options(parser: argparse.ArgumentParser, *, default_batch_size: int | None, batch_size_help: str,
                          old_spellings: dict[str, tuple[str, ...]] | None = None,
                          several_devices: str | None = None) -> None:
    """Add the shared options. `old_spellings`: option -> the command's former spellings of it, still accepted
    with a deprecation warning; `several_devices`: help for a --device that also takes a list."""
    from ..features.dis import PRESETS
    from ..features.settings import FLOW_METHODS, PRECISIONS, WEIGHTS_MODES
    from ..features.weights import raft_weight_names

    old = old_spellings or {}
    raft_names = raft_weight_names()
    add_device_option(parser, several_devices)
    parser.add_argument("--batch-size", type=positive_int, default=default_batch_size, help=batch_size_help)
    add_renamed(parser, "--flow-method", *old.get("--flow-method", ()), choices=FLOW_METHODS, default="raft",
                help="raft: the paper's flow; dis: fast OpenCV DIS, not paper-compatible")
    add_renamed(parser, "--flow-updates", *old.get("--flow-updates", ()), type=positive_int, default=20,
                help="RAFT refinement iterations (default: 20, the reference's)")
    parser.add_argument("--raft-weights", choices=raft_names, default=raft_names[0],
                        help="which published RAFT file to use with --weights pretrained (entries of the weights "
                             "registry with role raft)")
    parser.add_argument("--dis-preset", choices=PRESETS, default="medium", help="OpenCV DIS preset (--flow-method dis)")
    parser.add_argument("--weights", choices=WEIGHTS_MODES, default="pretrained",
                        help="extractor weights: pretrained, the verified published files (see `unav weights fetch`); "
                             "random, a seeded init for tests and the offline demo, stamped into the outputs")
    parser.add_argument("--seed", type=random_seed, default=0, help="seed of the random weights (--weights random)")
    add_weights_dir_option(parser)
    parser.add_argument("--allow-unverified-weights", action="store_true",
                        help="accept weight files whose sha256 is not the published one (stamped 'unverified')")
    parser.add_argument("--crop", type=positive_int, default=224,
                        help="centre crop side, at most --min-side (default: 224, the reference's)")
    parser.add_argument("--min-side", type=positive_int, default=256,
                        help="frames are resized so the shorter side is this (default: 256, the reference's; "
                             "RAFT flow: at least 121)")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32",
                        help="numerics of the network forwards (RAFT, I3D, VGGish's CNN): fp32, the released "
                             "features' numerics (default); tf32, TF32 matmuls and cuDNN convolutions on CUDA "
                             "(faster; no effect on CPU, where it equals fp32); bf16, bfloat16 autocast (fastest "
                             "on GPUs, slow on CPU; features differ slightly and are stamped not paper-compatible). "
                             "Recorded in the provenance: features and flow files of another precision are "
                             "not reused")
    parser.add_argument("--reencode", action="store_true",
                        help="decode through the reference's lossy x264 25 fps re-encode (slower)")
    add_progress_option(parser)


def check_device_and_frames(args: argparse.Namespace, computes_raft: bool) -> None:
    """Refuse, before any work, a device this machine does not have and frames too small for RAFT (when this
    run computes RAFT flow)."""
    from ..device import resolve_device
    from ..features.raft import check_min_side

    resolve_device(args.device, "--device")
    if computes_raft:
        check_min_side(args.min_side)


def extractor_settings(args: argparse.Namespace, streams: tuple[str, ...], progress: bool,
                       **values: Any) -> ExtractSettings:
    """ExtractSettings of the shared options; `values` sets the others (hop_seconds, a resolved batch size)."""
    from ..device import resolve_device, warn_if_bf16_emulated
    from ..features.settings import ExtractSettings

    # the device it runs on, not "auto": the provenance says where the features were computed
    shared = dict(device=str(resolve_device(args.device, "--device")), batch_size=args.batch_size,
                  weights=args.weights, weights_dir=args.weights_dir,
                  allow_unverified_weights=args.allow_unverified_weights, seed=args.seed,
                  flow_method=args.flow_method, flow_updates=args.flow_updates, raft_weights=args.raft_weights,
                  dis_preset=args.dis_preset, crop=args.crop, min_side=args.min_side, reencode=args.reencode,
                  precision=args.precision)
    if args.precision == "bf16":
        warn_if_bf16_emulated(shared["device"], "--precision bf16", "--precision fp32")
    return ExtractSettings(streams=streams, progress=progress, **{**shared, **values})
