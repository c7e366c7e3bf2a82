"""Time the localizer post-processing per video: decode of a 6-level pyramid + Gaussian Soft-NMS + seconds.

Synthetic head outputs with a realistic shape: 100 classes, a video of `--rows` feature rows (default 160,
about 51 s), logits mostly far below the 0.001 floor with a few confident events, so that about `--cands`
(default 2000) (point, class) pairs survive the pre-NMS threshold. Prints ms per video.

    .venv/bin/python benchmarks/bench_postprocess.py [--videos 50] [--threads N]
"""
from __future__ import annotations

import argparse
import math
import time

import torch

from unav.evaluation.nms import soft_nms
from unav.evaluation.postprocess import TEST_DEFAULTS, decode_level, decode_video, grid_to_seconds

STRIDES = [1, 2, 4, 8, 16, 32]


def make_video(gen: torch.Generator, rows: int, num_classes: int, cands: int):
    """Head outputs of one synthetic video; about `cands` pairs score above 0.001."""
    total_pairs = sum(math.ceil(rows / s) for s in STRIDES) * num_classes
    frac = min(cands / total_pairs, 0.99)
    logits, offsets, masks = [], [], []
    for s in STRIDES:
        t = math.ceil(rows / s)
        # background: score < 0.001 except a random fraction `frac` drawn in (0.001, 0.05)
        lg = torch.full((t, num_classes), -9.0)
        pos = torch.rand(t, num_classes, generator=gen) < frac
        p = 0.001 + 0.049 * torch.rand(int(pos.sum()), generator=gen) ** 2
        lg[pos] = torch.log(p / (1 - p))
        # three confident events on random classes
        for _ in range(3):
            c = int(torch.randint(num_classes, (1,), generator=gen))
            a = int(torch.randint(t, (1,), generator=gen))
            b = min(t, a + 1 + int(torch.randint(max(1, t // 4), (1,), generator=gen)))
            lg[a:b, c] = torch.randn(b - a, generator=gen) + 1.0
        logits.append(lg)
        offsets.append(torch.rand(t, num_classes, 2, generator=gen) * 6)  # [T, C, 2] in strides
        masks.append(torch.ones(t, dtype=torch.bool))
    return logits, offsets, masks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=50)
    ap.add_argument("--rows", type=int, default=160)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--cands", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    videos = [make_video(gen, args.rows, args.classes, args.cands) for _ in range(args.videos)]
    cfg = dict(TEST_DEFAULTS)

    def run_one(v):
        segs, scores, labels = decode_video(v[0], v[1], v[2], STRIDES, cfg)
        return grid_to_seconds(segs, 25.0, 8, 24, args.rows * 0.32), scores, labels

    for v in videos[:3]:  # warm-up
        run_one(v)
    n_cand, n_out, per_video = [], [], []
    for v in videos:
        n_cand.append(sum(int((torch.sigmoid(c) > 0.001).sum()) for c in v[0]))
    for v in videos:
        t0 = time.perf_counter()
        n_out.append(run_one(v)[1].numel())
        per_video.append(time.perf_counter() - t0)
    dt = sum(per_video) / len(videos)
    med = sorted(per_video)[len(per_video) // 2]

    # Soft-NMS alone on the decoded candidates
    decoded = []
    for v in videos:
        parts = [decode_level(c, o, m, s) for c, o, m, s in zip(v[0], v[1], v[2], STRIDES)]
        decoded.append([torch.cat([p[i] for p in parts]) for i in range(3)])
    nms_times = []
    for segs, scores, labels in decoded:
        t0 = time.perf_counter()
        soft_nms(segs, scores, labels)
        nms_times.append(time.perf_counter() - t0)
    dt_nms = sum(nms_times) / len(videos)
    med_nms = sorted(nms_times)[len(nms_times) // 2]

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {args.videos} videos, "
          f"{args.rows} rows, {args.classes} classes")
    print(f"candidates above 0.001 per video: mean {sum(n_cand) / len(n_cand):.0f}; "
          f"kept after NMS: mean {sum(n_out) / len(n_out):.0f}")
    print(f"decode + Soft-NMS + seconds: {dt * 1e3:.2f} ms/video mean, {med * 1e3:.2f} median")
    print(f"Soft-NMS alone:              {dt_nms * 1e3:.2f} ms/video mean, {med_nms * 1e3:.2f} median")


if __name__ == "__main__":
    main()
