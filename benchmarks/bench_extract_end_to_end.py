"""`unav extract` end to end (decode to feature files on disk) on real clips: seconds per video-second, and where
the time goes: in the networks (RAFT, I3D rgb/flow, VGGish) or outside them (decode, resize, crop, flow
quantisation, windowing, VGGish front end, writes), which the extractor overlaps with the networks.

  python benchmarks/bench_extract_end_to_end.py                    # CPU: first 2 s of the real UnAV-100 clip
  python benchmarks/bench_extract_end_to_end.py --device cuda --seconds 0 --precision fp32,bf16   # whole clips

Paper settings (25 fps, shorter side 256, 224 crop, RAFT 20 updates, all three streams), seeded random weights
(the cost is the published weights'). One warm-up extraction first (model build, cuDNN autotuning), then every
clip once through `extract_videos`, as `unav extract` runs them.
  CPU: the network calls are timed by wrapping their entry points (RAFT feature encoder and per-pair flow, I3D
       `features`, VGGish `forward`); they are synchronous there, so wall time outside them is the time no network
       runs. Target: outside the networks <= 10 %.
  CUDA: kernels run asynchronously, so instead NVML's GPU utilisation (the share of time a kernel runs) is sampled
       every 50 ms during the run; idle = 100 % - its mean. Target: <= 0.04 s per video-second."""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import torch

from unav.features.extract import Extractor, extract_videos
from unav.features.i3d import I3D
from unav.features.raft import FlowComputer
from unav.features.settings import ExtractSettings
from unav.features.vggish import VGGish
from unav.media.ffmpeg import ffmpeg_exe
from unav.media.probe import probe

SHARED = Path(os.environ.get("UNAV_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SPENT: dict[str, float] = defaultdict(float)


def timed(cls: type, name: str, label: str) -> None:
    """Accumulate the wall time of `cls.name` calls under `label` (CPU only: CUDA calls return early)."""
    original = getattr(cls, name)

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            SPENT[label] += time.perf_counter() - t0
    setattr(cls, name, wrapper)


class UtilisationSampler:
    """Mean NVML GPU utilisation over a `with` block, sampled every `period` seconds in a thread."""

    def __init__(self, device: torch.device, period: float = 0.05) -> None:
        self.device, self.period, self.samples = device, period, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.samples.append(torch.cuda.utilization(self.device))

    def __enter__(self) -> "UtilisationSampler":
        torch.cuda.utilization(self.device)   # fails here, not in the thread, without NVML
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return sum(self.samples) / max(len(self.samples), 1)


def cut(video: Path, seconds: float, out: Path) -> Path:
    """The first `seconds` of `video` (0: the whole file, as it is)."""
    if not seconds:
        return video
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-t", str(seconds), "-c:v", "libx264",
                    "-preset", "ultrafast", "-c:a", "aac", str(out)], check=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, nargs="+", default=[SHARED / "media" / "--HuBNHXu9I.mp4"])
    ap.add_argument("--seconds", type=float, default=2.0, help="first seconds of each clip (0: whole clips)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32", help="comma-separated: fp32, tf32, bf16 (a row each)")
    ap.add_argument("--batch-size", type=int, default=None, help="I3D windows / RAFT pairs (default 8 CPU, 32 CUDA)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    on_cuda = device.type == "cuda"
    if not on_cuda:
        timed(FlowComputer, "_features", "RAFT")
        timed(FlowComputer, "pair_flow", "RAFT")
        timed(I3D, "features", "I3D")
        timed(VGGish, "forward", "VGGish")
    batch = args.batch_size or (32 if on_cuda else 8)
    with tempfile.TemporaryDirectory(prefix="unav-extract-e2e-") as tmp:
        tmp = Path(tmp)
        clips = [cut(v, args.seconds, tmp / f"{i}-{v.name}") for i, v in enumerate(args.video)]
        seconds = sum(probe(c).duration for c in clips)
        warm = cut(args.video[0], 2.0, tmp / "warm-up.mp4")
        where = torch.cuda.get_device_name(device) if on_cuda else f"CPU, {args.threads} threads"
        print(f"{len(clips)} clip(s), {seconds:.1f} video-seconds, paper settings, random weights, batch {batch}, "
              f"{where}")
        for precision in args.precision.split(","):
            settings = ExtractSettings(device=args.device, batch_size=batch, precision=precision, progress=False)
            extractor = Extractor(settings)
            extract_videos([warm], tmp / f"warm-{precision}", extractor=extractor)
            SPENT.clear()
            sampler = UtilisationSampler(device) if on_cuda else None
            t0, c0 = time.perf_counter(), time.process_time()
            if sampler:
                with sampler:
                    result = extract_videos(clips, tmp / f"out-{precision}", extractor=extractor)
                    torch.cuda.synchronize(device)
            else:
                result = extract_videos(clips, tmp / f"out-{precision}", extractor=extractor)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if result.failed:
                raise SystemExit(f"extraction failed: {result.failed}")
            print(f"[{precision}] {wall:.1f} s wall ({cpu:.1f} CPU-s) for {seconds:.1f} video-seconds: "
                  f"{wall / seconds:.4f} s per video-second")
            if sampler:
                busy = sampler.mean
                print(f"  GPU busy {busy:.0f} %, idle {100 - busy:.0f} % ({len(sampler.samples)} NVML samples); "
                      f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")
                continue
            networks = sum(SPENT.values())
            for label, spent in sorted(SPENT.items(), key=lambda kv: -kv[1]):
                print(f"  {label:7s} {spent:7.1f} s  {100 * spent / wall:5.1f} %")
            print(f"  outside the networks {wall - networks:7.1f} s  {100 * (wall - networks) / wall:5.1f} % "
                  f"(target <= 10 %)")


if __name__ == "__main__":
    main()
