"""VGGish (random weights) compute per video-second on a real clip, and peak RSS.

Usage: .venv/bin/python benchmarks/bench_vggish.py [CLIP] [--threads 2]
The reference extractor needs about 0.3 s of compute per video-second; the ratio to that is printed."""
from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import torch

REFERENCE_S_PER_VIDEO_S = 0.3


def main() -> None:
    default = Path(os.environ.get("UNAV_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "media" / "v_GGSY1Qvo990.mp4"
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("clip", nargs="?", default=str(default))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from unav.features.vggish import build_vggish, embed_examples, log_mel_examples
    from unav.media.audio import load_audio_16k
    from unav.media.probe import probe

    duration = probe(args.clip).duration
    model = build_vggish("random", seed=0)
    load_audio_16k(args.clip)  # warm-up (resampy JIT compilation)
    best = {"decode+resample": 1e9, "log-mel": 1e9, "network": 1e9}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        wave = load_audio_16k(args.clip, dtype=np.float64)
        t1 = time.perf_counter()
        examples = log_mel_examples(wave, 0.32)
        t2 = time.perf_counter()
        emb = embed_examples(examples, model)
        t3 = time.perf_counter()
        for k, v in zip(best, (t1 - t0, t2 - t1, t3 - t2)):
            best[k] = min(best[k], v)
    total = sum(best.values())
    per = total / duration
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"clip {Path(args.clip).name}: {duration:.2f} s, {emb.shape[0]} rows, threads={args.threads}")
    for k, v in best.items():
        print(f"  {k:16s} {v:7.3f} s")
    print(f"  total            {total:7.3f} s = {per:.3f} s per video-second "
          f"({per / REFERENCE_S_PER_VIDEO_S:.2f}x the reference's ~{REFERENCE_S_PER_VIDEO_S} s; <1 is faster)")
    print(f"  peak RSS         {rss_mb:7.0f} MiB")


if __name__ == "__main__":
    main()
