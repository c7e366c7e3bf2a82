"""What the extractor's `precision` setting costs in accuracy and gives in speed: per stream (rgb, flow = RAFT +
I3D flow, vggish) and precision (tf32, bf16), the relative L2 deviation of the features from fp32 (the released
numerics) and the seconds per video-second, at the paper's settings (RAFT-large 20 updates, 224 crop of frames
resized to a 256 shorter side, VGGish hop 0.32 s).

Usage:
  python benchmarks/bench_precision.py [--seconds 2] [--videos K] [--device cpu|cuda] [--weights-dir DIR]
                                       [--threads T] [--precisions fp32,tf32,bf16] [--batch-size 8]

Input: the first --seconds of each shared real clip ($UNAV_SHARED/media/*.mp4, default /work/shared), cut with the
pinned ffmpeg. Weights: the pretrained extractors when --weights-dir holds all of them, else seeded random
weights (the deviations of random networks are indicative only: trained weights have other activations).
Deviation: sqrt(sum over clips of |x - x_fp32|^2 / sum of |x_fp32|^2) over every row of the stream; the largest
per-clip value is shown beside it. Time: wall seconds of the extraction of that stream alone (models built
beforehand; decoding included), divided by the seconds of video. Every (stream, precision) first runs once
untimed on the first clip (kernel selection, weight layouts, allocator caches), except RAFT flow on CPU, where
that would double a long run and the first call's overhead is small beside it. On CPU, tf32 is fp32 (there is no TF32 on CPU; the tests
check it bit for bit), so it is not rerun unless --precisions names it explicitly.
"""
from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from unav.features.extract import ExtractSettings, Extractor
from unav.features.settings import STREAMS, required_weights
from unav.media.ffmpeg import run_ffmpeg

PAPER = dict(flow_method="raft", flow_updates=20, crop=224, min_side=256, hop_seconds=0.32, progress=False)


def cut_clips(media: Path, seconds: float, count: int | None, out: Path) -> list[Path]:
    """The first `seconds` of each clip (re-encoded, so that the cut is exact), as {stem}.mp4 in `out`."""
    clips = sorted(media.glob("*.mp4"))[:count]
    if not clips:
        raise SystemExit(f"no clips in {media} (set UNAV_SHARED)")
    cut = []
    for clip in clips:
        dst = out / clip.name
        run_ffmpeg(["-y", "-v", "error", "-i", str(clip), "-t", f"{seconds}", "-c:v", "libx264", "-preset", "veryfast",
                    "-crf", "12", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", str(dst)])
        cut.append(dst)
    return cut


def weights_mode(weights_dir: str | None) -> tuple[str, str]:
    """("pretrained" | "random", what the output says about it)."""
    if weights_dir:
        from unav.features import weights as W

        names = required_weights(ExtractSettings(weights="pretrained", weights_dir=weights_dir, **PAPER))
        missing = [n for n in names if not (Path(weights_dir) / W.entry_for(n).file).is_file()]
        if not missing:
            return "pretrained", f"pretrained weights from {weights_dir}"
        return "random", (f"random weights (seeded): {weights_dir} lacks {', '.join(missing)}; deviations of "
                          f"random networks are indicative only")
    return "random", ("random weights (seeded): no pretrained weights given (--weights-dir) and none can be "
                      "downloaded here; deviations of random networks are indicative only")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads " \
           f"(torch {torch.__version__})"


def run_stream(clips: list[Path], stream: str, precision: str, base: dict, out: Path,
               warm: bool) -> tuple[list[np.ndarray], float]:
    """(features per clip, wall seconds) of one stream at one precision."""
    extractor = Extractor(ExtractSettings(streams=(stream,), precision=precision, **base))
    if stream == "flow":
        extractor.flow_computer()   # built outside the clock
    folder = out / f"{stream}_{precision}"
    if warm:
        extractor.extract(clips[0], out / "warm")
    start = time.perf_counter()
    for clip in clips:
        extractor.extract(clip, folder)
    if extractor.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return [np.load(folder / f"{clip.stem}_{stream}.npy") for clip in clips], seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="seconds of each clip (default: 2)")
    ap.add_argument("--videos", type=int, default=None, help="use the first K clips (default: all)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda (default: cpu)")
    ap.add_argument("--weights-dir", default=None, help="pretrained extractor weights (default: random weights)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--precisions", default=None, help="comma-separated (default: fp32,tf32,bf16; no tf32 on CPU)")
    ap.add_argument("--batch-size", type=int, default=8, help="I3D windows / RAFT pairs per forward (default: 8)")
    ap.add_argument("--streams", default=",".join(STREAMS), help="comma-separated (default: rgb,flow,vggish)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    precisions = args.precisions.split(",") if args.precisions else \
        ["fp32", "bf16"] if device.type == "cpu" else ["fp32", "tf32", "bf16"]
    if "fp32" not in precisions:
        precisions.insert(0, "fp32")
    mode, about = weights_mode(args.weights_dir)
    base = dict(PAPER, device=str(device), batch_size=args.batch_size, weights=mode, weights_dir=args.weights_dir,
                seed=0)
    media = Path(os.environ.get("UNAV_SHARED", "/work/shared")) / "media"
    print(f"device: {device_name(device)}")
    print(f"weights: {about}")
    with tempfile.TemporaryDirectory() as tmp:
        clips = cut_clips(media, args.seconds, args.videos, Path(tmp))
        video_seconds = args.seconds * len(clips)
        print(f"clips: {len(clips)} x first {args.seconds:g} s of {media} ({', '.join(c.stem for c in clips)}); "
              f"RAFT 20 updates, crop 224, min side 256, batch {args.batch_size}")
        if device.type == "cpu" and "tf32" not in precisions:
            print("tf32: not run on CPU (no TF32 there: it equals fp32 bit for bit, as the tests check)")
        print(f"{'stream':<8} {'precision':<9} {'rel L2 vs fp32':>15} {'max per clip':>13} {'s / video-s':>12} "
              f"{'speed-up':>9}")
        for stream in args.streams.split(","):
            ref, ref_s = None, None
            for precision in precisions:
                feats, seconds = run_stream(clips, stream, precision, base, Path(tmp),
                                            warm=device.type == "cuda" or stream != "flow")
                if precision == "fp32":
                    ref, ref_s = feats, seconds
                    dev = per_clip = 0.0
                else:
                    num = sum(float(np.sum((f.astype(np.float64) - r) ** 2)) for f, r in zip(feats, ref))
                    den = sum(float(np.sum(r.astype(np.float64) ** 2)) for r in ref)
                    dev = (num / den) ** 0.5
                    per_clip = max(float(np.linalg.norm(f.astype(np.float64) - r) / np.linalg.norm(r))
                                   for f, r in zip(feats, ref))
                print(f"{stream:<8} {precision:<9} {dev:>15.3e} {per_clip:>13.3e} {seconds / video_seconds:>12.2f} "
                      f"{ref_s / seconds:>8.2f}x", flush=True)


if __name__ == "__main__":
    main()
