"""Optical-flow speed: the reference way vs ours, seconds per frame pair and per video-second.

(a) reference: stock torchvision RAFT forward on a window's pairs; the reference recomputes every pair for each
    of the ~3 overlapping 24-pair windows it belongs to, i.e. ~75 pair computations per video-second (25 fps);
(b) ours: FlowComputer, each pair once (25 per video-second), per-frame encoder reuse, batched pairs,
    upsampling only after the last update;
(c) OpenCV DIS (not paper-compatible), for scale.

Random weights (timing does not depend on them). Figures are measured on a handful of pairs and extrapolated.

    python benchmarks/bench_flow.py [--pairs 4] [--threads 2] [--device cpu|cuda] [--updates 20]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from unav.features.dis import DisFlowComputer
from unav.features.raft import FlowComputer, frames_to_input

FPS = 25
REFERENCE_PAIRS_PER_SECOND = 3 * FPS  # 24 pairs per window, a window every 8 frames: 24 / 8 = 3 per new pair


def smooth_video(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """[n, h, w, 3] uint8 frames of a textured scene drifting 1.5 px per frame (realistic-ish input)."""
    waves = np.random.default_rng(seed).uniform(0.02, 0.2, (5, 3)) * [1, 1, 9]  # (fx, fy, phase) per wave
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    arr = np.stack([sum(np.sin((xx - 1.5 * t) * fx + yy * fy + p) for fx, fy, p in waves) for t in range(n)])
    arr = (arr - arr.min()) / (arr.max() - arr.min()) * 255
    return np.repeat(arr[..., None], 3, axis=-1).astype(np.uint8)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_reference(comp: FlowComputer, frames: np.ndarray, updates: int, repeats: int) -> tuple[float, torch.Tensor]:
    """Seconds per pair of the stock forward on one batch of all pairs of `frames`, and its flow."""
    x = frames_to_input(frames, comp.device)
    best = float("inf")
    with torch.inference_mode():
        comp.model(x[:2], x[1:3], num_flow_updates=2)  # warm-up
        for _ in range(repeats):
            sync(comp.device)
            t0 = time.perf_counter()
            flow = comp.model(x[:-1], x[1:], num_flow_updates=updates)[-1]
            sync(comp.device)
            best = min(best, time.perf_counter() - t0)
    return best / (len(frames) - 1), flow


def time_ours(comp: FlowComputer, frames: np.ndarray, repeats: int) -> tuple[float, torch.Tensor]:
    """Seconds per pair of the streaming computer (each pair once) over all pairs of `frames`, and its flow."""
    list(comp.flows_for_frames(iter([frames[:3]])))  # warm-up
    best = float("inf")
    for _ in range(repeats):
        sync(comp.device)
        t0 = time.perf_counter()
        flows = list(comp.flows_for_frames(iter([frames])))
        sync(comp.device)
        best = min(best, time.perf_counter() - t0)
    return best / (len(frames) - 1), torch.cat(flows)


def time_dis(frames: np.ndarray, preset: str, threads: int) -> float:
    comp = DisFlowComputer(preset=preset, crop=224, threads=threads)
    t0 = time.perf_counter()
    n = sum(len(c) for c in comp.codes_for_frames(iter([frames])))
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=4, help="frame pairs measured")
    ap.add_argument("--batch-size", type=int, default=None, help="our batch size (default: --pairs)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--updates", type=int, default=20)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--width", type=int, default=341, help="341 is padded to 344 like a 4:3 clip")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    frames = smooth_video(args.pairs + 1, args.height, args.width)
    comp = FlowComputer("random", num_flow_updates=args.updates, device=device,
                        batch_size=args.batch_size or args.pairs, crop=224)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} threads"
    print(f"RAFT-large, {args.updates} updates, frames {args.height}x{args.width} (padded to 8), {args.pairs} pairs, "
          f"device: {name}")

    ref, ref_flow = time_reference(comp, frames, args.updates, args.repeats)
    ours, our_flow = time_ours(comp, frames, args.repeats)
    ref_vs = ref * REFERENCE_PAIRS_PER_SECOND
    ours_vs = ours * FPS
    print(f"(a) reference (stock forward, {REFERENCE_PAIRS_PER_SECOND} pairs per video-second): "
          f"{ref:.4f} s/pair -> {ref_vs:.2f} s per video-second")
    print(f"(b) ours (each pair once, encoder reuse, batch {comp.batch_size}): "
          f"{ours:.4f} s/pair -> {ours_vs:.2f} s per video-second")
    print(f"    speed-up per video-second: {ref_vs / ours_vs:.2f}x (per pair: {ref / ours:.2f}x)")
    diff = (ref_flow - our_flow).abs().max().item()
    print(f"    max |ours - stock| flow difference: {diff:.2e} px (flow magnitude up to "
          f"{ref_flow.abs().max().item():.2f} px)")
    if device.type == "cuda":
        print(f"    frames/s: reference {1 / (3 * ref):.1f}, ours {1 / ours:.1f}")
        cpu = FlowComputer("random", num_flow_updates=args.updates, device="cpu", batch_size=3, crop=224)
        n = min(3, args.pairs)
        cpu_codes = np.concatenate(list(cpu.codes_for_frames(iter([frames[:n + 1]]))))
        gpu_codes = np.concatenate(list(comp.codes_for_frames(iter([frames[:n + 1]]))))
        delta = np.abs(cpu_codes.astype(int) - gpu_codes.astype(int))
        print(f"    codes cuda vs cpu ({n} pairs): {100 * (delta == 0).mean():.3f} % equal, max diff {delta.max()}")
    dis = time_dis(frames, "medium", args.threads)
    print(f"(c) OpenCV DIS medium (not paper-compatible): {dis:.4f} s/pair -> {dis * FPS:.3f} s per video-second")


if __name__ == "__main__":
    main()
