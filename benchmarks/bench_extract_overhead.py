"""Where CPU extraction time goes: the networks (RAFT, I3D rgb/flow, VGGish) vs everything around them (decode,
resize, crop, flow quantisation, windowing, VGGish front end, writes), for one real `unav extract` run.

  python benchmarks/bench_extract_overhead.py                       # first 2 s of the real UnAV-100 clip
  python benchmarks/bench_extract_overhead.py --seconds 4 --threads 2 --video path/to.mp4

Paper settings (25 fps, shorter side 256, 224 crop, RAFT 20 updates, all three streams) with seeded random
weights (the published files cannot be downloaded here; the cost is the same). The network calls are timed by
wrapping their entry points (RAFT feature encoder and per-pair flow, I3D `features`, VGGish `forward`); on a CPU
these calls are synchronous, so their wall time is their cost. The target is "outside the networks <= 10 %"."""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

from unav.features.extract import Extractor
from unav.features.i3d import I3D
from unav.features.raft import FlowComputer
from unav.features.vggish import VGGish
from unav.media.ffmpeg import ffmpeg_exe

SHARED = Path(os.environ.get("UNAV_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SPENT: dict[str, float] = defaultdict(float)


def timed(cls: type, name: str, label: str) -> None:
    """Accumulate the wall time of `cls.name` calls under `label`."""
    original = getattr(cls, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - t0
    setattr(cls, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=SHARED / "media" / "--HuBNHXu9I.mp4")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    timed(FlowComputer, "_features", "RAFT")
    timed(FlowComputer, "pair_flow", "RAFT")
    timed(I3D, "features", "I3D")
    timed(VGGish, "forward", "VGGish")
    with tempfile.TemporaryDirectory(prefix="unav-overhead-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(args.video), "-t", str(args.seconds),
                        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(clip)], check=True)
        extractor = Extractor(weights="random", device="cpu", progress=False)
        t0, c0 = time.perf_counter(), time.process_time()
        extractor.extract(clip, Path(tmp) / "features")
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    networks = sum(SPENT.values())
    print(f"{args.video.name}, first {args.seconds:g} s, paper settings, random weights, CPU {args.threads} threads")
    print(f"whole extraction: {wall:.1f} s wall ({cpu:.1f} CPU-s), {wall / args.seconds:.1f} s per video-second")
    for label, seconds in sorted(SPENT.items(), key=lambda kv: -kv[1]):
        print(f"  {label:7s} {seconds:7.1f} s  {100 * seconds / wall:5.1f} %")
    print(f"  outside the networks {wall - networks:7.1f} s  {100 * (wall - networks) / wall:5.1f} % "
          f"(target <= 10 %)")


if __name__ == "__main__":
    main()
