"""Cost of the two I3D streams (incl. RAFT flow) per second of video, ours vs. the reference's way, and memory.

Usage:
  python benchmarks/bench_extract.py [--video CLIP] [--threads 2] [--device cpu|cuda] [--skip-rss] [--skip-speed]

Speed (reference settings: 25 fps, shorter side 256, 224 crop, RAFT-large 20 updates, random weights):
  * ours: one decode pass, each frame pair's RAFT flow computed once (batched), I3D windows batched;
  * reference (video_features' loop, re-stated here): per 24/8 window, RAFT on its 25 frames (24 pairs in one
    call of torchvision's stock RAFT), then one window per I3D forward, for each stream.
  Both run on the first 25 frames (1 window; 81 = 8 windows on CUDA) of a real clip; the figures per video-second
  are extrapolated from
  the measured unit costs (25 pairs + 3.125 windows per stream per second for ours, 3.125 x (24 pairs + 1 window
  per stream) for the reference). On CPU this takes about 3 minutes.
Memory: peak RSS of one extraction (all streams, DIS "ultrafast" flow so that it finishes on a CPU, frames with
  shorter side 256, crop 16)
  in a fresh process for a 1-minute real clip and a 10-minute synthetic (lavfi) video.
CUDA (when available): per-stage throughput, RAFT pairs/s and I3D windows/s + frames/s at 224.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from unav.features.extract import (StreamFeatures, crop_frames, flow_code_chunks, flow_codes_to_input,
                                   rgb_to_input)
from unav.features.flowpost import flow_to_codes, pad_frames
from unav.features.i3d import build_i3d
from unav.features.raft import FlowComputer
from unav.features.windows import window_count
from unav.media.frames import iter_frames

FPS = 25.0
WINDOWS_PER_SECOND = FPS / 8  # 3.125


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# On CPU the clock is process CPU time (all torch threads): other jobs on the machine then distort the figures
# far less than wall time; per-video-second figures are CPU-seconds (divide by the threads for ideal wall time).
# On CUDA it is wall time after a synchronize.
CLOCK = time.perf_counter


@torch.inference_mode()
def warm_up(models: list, raft=None, frames: np.ndarray | None = None, device: torch.device | None = None) -> None:
    """One untimed forward per network at the timed shapes (kernel selection, allocator caches)."""
    for model, ch in models:
        model.features(torch.zeros(1, ch, 24, 224, 224, device=device))
    if raft is not None and frames is not None:
        x = pad_frames(torch.from_numpy(frames[:2]).permute(0, 3, 1, 2).float().to(device) / 127.5 - 1)
        raft(x[:1], x[1:], num_flow_updates=1)
    _sync(device)


def first_frames(video: Path, n: int) -> np.ndarray:
    out, got = [], 0
    for chunk in iter_frames(video, fps=FPS, min_side=256, chunk=64):
        out.append(chunk[: n - got])
        got += len(out[-1])
        if got >= n:
            break
    return np.concatenate(out)  # [n, 256, W, 3]


def ours(frames: np.ndarray, device: torch.device, batch: int, updates: int) -> dict:
    """Our streaming path on `frames`: RAFT pairs once, I3D windows batched. Returns measured seconds."""
    rgb_model, flow_model = build_i3d("rgb", seed=0, device=device), build_i3d("flow", seed=0, device=device)
    computer = FlowComputer("random", seed=0, num_flow_updates=updates, device=device, batch_size=batch, crop=224)
    rgb = StreamFeatures(rgb_model, rgb_to_input, 1, batch, device)
    flow = StreamFeatures(flow_model, flow_codes_to_input, 0, batch, device)
    warm_up([(rgb_model, 3), (flow_model, 2)], computer.model, frames, device)
    t = {"raft": 0.0, "i3d_rgb": 0.0, "i3d_flow": 0.0}
    chunks = [frames[i:i + 64] for i in range(0, len(frames), 64)]
    _sync(device)
    start = CLOCK()
    rgb.push(crop_frames(frames, 224))
    rgb.finish()
    _sync(device)
    t["i3d_rgb"] = CLOCK() - start
    gen = flow_code_chunks(computer, iter(chunks), 224)  # the pipeline's path: quantised where RAFT ran
    while True:
        start = CLOCK()
        codes = next(gen, None)
        _sync(device)
        t["raft"] += CLOCK() - start
        start = CLOCK()
        if codes is None:
            flow.finish()
        else:
            flow.push(codes)
        _sync(device)
        t["i3d_flow"] += CLOCK() - start
        if codes is None:
            break
    t["pairs"] = len(frames) - 1
    t["windows"] = window_count(len(frames))
    assert len(rgb.result()) == len(flow.result()) == t["windows"]
    t["rows"] = (rgb.result(), flow.result())
    return t


@torch.inference_mode()
def reference(frames: np.ndarray, device: torch.device, updates: int, windows: int) -> dict:
    """video_features' loop: per window RAFT on 24 pairs (stock forward), then I3D rgb and flow, batch 1."""
    from unav.features.raft import build_raft

    raft, _ = build_raft("random", seed=0)
    raft = raft.to(device)
    rgb_model, flow_model = build_i3d("rgb", seed=0, device=device), build_i3d("flow", seed=0, device=device)
    warm_up([(rgb_model, 3), (flow_model, 2)], raft, frames, device)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()  # [N, 3, 256, W]
    h, w = x.shape[-2:]
    top, left = (h - 224) // 2, (w - 224) // 2
    t = {"raft": 0.0, "i3d_rgb": 0.0, "i3d_flow": 0.0, "windows": windows, "pairs": 24 * windows}
    rows_rgb, rows_flow = [], []
    for k in range(windows):
        win = x[8 * k: 8 * k + 25].to(device)
        _sync(device)
        start = CLOCK()
        padded = pad_frames(2 * (win / 255.0) - 1)
        flow = raft(padded[:-1], padded[1:], num_flow_updates=updates)[-1]  # [24, 2, Hp, Wp]
        codes = torch.from_numpy(flow_to_codes(flow, 224).astype(np.float32)).to(device)
        _sync(device)
        t["raft"] += CLOCK() - start
        start = CLOCK()
        rgb_in = (win[:24, :, top:top + 224, left:left + 224] * (2 / 255) - 1).permute(1, 0, 2, 3)[None]
        rows_rgb.append(rgb_model.features(rgb_in).float().cpu().numpy())
        _sync(device)
        t["i3d_rgb"] += CLOCK() - start
        start = CLOCK()
        rows_flow.append(flow_model.features((2 * codes / 255 - 1).permute(1, 0, 2, 3)[None]).float().cpu().numpy())
        _sync(device)
        t["i3d_flow"] += CLOCK() - start
    t["rows"] = (np.concatenate(rows_rgb), np.concatenate(rows_flow))
    return t


def per_video_second(t: dict, reference_way: bool) -> dict:
    """Extrapolate measured unit costs to one second of 25 fps video (steady state)."""
    pair = t["raft"] / t["pairs"]
    rgb, flw = t["i3d_rgb"] / t["windows"], t["i3d_flow"] / t["windows"]
    pairs_per_s = WINDOWS_PER_SECOND * 24 if reference_way else FPS
    out = {"raft": pairs_per_s * pair, "i3d_rgb": WINDOWS_PER_SECOND * rgb, "i3d_flow": WINDOWS_PER_SECOND * flw}
    out["total"] = sum(out.values())
    out.update(sec_per_pair=pair, sec_per_rgb_window=rgb, sec_per_flow_window=flw)
    return out


def speed(video: Path, device: torch.device, batch: int, updates: int, n_frames: int,
          frames_npy: Path | None = None) -> None:
    frames = np.load(frames_npy)[:n_frames] if frames_npy else first_frames(video, n_frames)
    if len(frames) < n_frames:  # extend by ping-pong repetition (RAFT / I3D cost does not depend on content)
        loop = np.concatenate([frames, frames[-2:0:-1]])
        frames = np.resize(loop, (n_frames, *frames.shape[1:]))
    print(f"clip {video.name}: first {len(frames)} frames at 25 fps, {frames.shape[2]}x{frames.shape[1]}, "
          f"device {device}, threads {torch.get_num_threads()}, RAFT updates {updates}, batch {batch}")
    a = ours(frames, device, batch, updates)
    b = reference(frames, device, updates, windows=window_count(len(frames)))
    pa, pb = per_video_second(a, False), per_video_second(b, True)
    unit = "s" if device.type == "cuda" else "s CPU"
    print(f"measured ({unit}): ours   raft {a['raft']:.1f}s/{a['pairs']} pairs, i3d rgb {a['i3d_rgb']:.1f}s, "
          f"flow {a['i3d_flow']:.1f}s / {a['windows']} windows")
    print(f"measured ({unit}): ref    raft {b['raft']:.1f}s/{b['pairs']} pairs, i3d rgb {b['i3d_rgb']:.1f}s, "
          f"flow {b['i3d_flow']:.1f}s / {b['windows']} windows")
    for name, x, y in (("rgb", a["rows"][0], b["rows"][0]), ("flow", a["rows"][1], b["rows"][1])):
        rel = np.abs(x - y).max() / max(np.abs(y).max(), 1e-12)
        print(f"same features as the reference way? {name}: max |diff| / max |ref| = {rel:.2e}")
    unit = "wall seconds" if device.type == "cuda" else "CPU-seconds"
    print(f"extrapolated {unit} of compute per video-second (steady state, decode excluded):")
    for name, p in (("ours", pa), ("reference", pb)):
        print(f"  {name:9s} total {p['total']:7.2f}  (raft {p['raft']:.2f}, i3d rgb {p['i3d_rgb']:.2f}, "
              f"i3d flow {p['i3d_flow']:.2f}; {p['sec_per_pair']:.3f} s/pair)")
    print(f"  ratio reference/ours: {pb['total'] / pa['total']:.2f}x  (RAFT alone {pb['raft'] / pa['raft']:.2f}x)")
    if device.type == "cuda":
        print("CUDA per-stage throughput (ours):")
        print(f"  RAFT {a['pairs'] / a['raft']:.1f} pairs/s; I3D rgb {a['windows'] / a['i3d_rgb']:.2f} windows/s; "
              f"I3D flow {a['windows'] / a['i3d_flow']:.2f} windows/s")
        cuda_i3d_throughput(device, batch)


@torch.inference_mode()
def cuda_i3d_throughput(device: torch.device, batch: int) -> None:
    for stream, ch in (("rgb", 3), ("flow", 2)):
        model = build_i3d(stream, seed=0, device=device)
        x = torch.rand(batch, ch, 24, 224, 224, device=device) * 2 - 1
        model.features(x)
        _sync(device)
        start = CLOCK()
        reps = 5
        for _ in range(reps):
            model.features(x)
        _sync(device)
        dt = (CLOCK() - start) / (reps * batch)
        print(f"  I3D {stream} batch {batch}: {1 / dt:.1f} windows/s = {8 / dt:.0f} video frames/s (8 new frames/window)")


def make_long_video(path: Path, seconds: int) -> None:
    from unav.media.ffmpeg import run_ffmpeg

    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=25:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                str(path)])


_CHILD = """
import json, resource, sys, time, torch
torch.set_num_threads(int(sys.argv[3]))
from unav.features.extract import ExtractSettings, Extractor
t = time.perf_counter()
settings = ExtractSettings(flow_method="dis", dis_preset="ultrafast", min_side=256, crop=16, batch_size=64,
                           progress=False)
p = Extractor(settings).extract(sys.argv[1], sys.argv[2])
print(json.dumps({"rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - t, "frames": p["frames"], "rows": p["rows"]}))
"""


def rss(one_minute: Path, threads: int) -> None:
    print("peak RSS of one extraction (rgb + DIS ultrafast flow + vggish; 256 frames, crop 16, fresh process):")
    with tempfile.TemporaryDirectory(prefix="unav-bench-") as tmp:
        long_video = Path(tmp) / "ten_minutes.mp4"
        make_long_video(long_video, 600)
        for label, video in (("1 min (real clip)", one_minute), ("10 min (lavfi)", long_video)):
            out = subprocess.run([sys.executable, "-c", _CHILD, str(video), str(Path(tmp) / "out"), str(threads)],
                                 capture_output=True, text=True, check=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {label:18s} peak RSS {res['rss_mib']:7.0f} MiB, {res['frames']} frames, rows {res['rows']}, "
                  f"{res['seconds']:.0f} s")


def main() -> None:
    shared = Path(os.environ.get("UNAV_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path, default=shared / "media" / "v_GGSY1Qvo990.mp4")
    ap.add_argument("--long-video", type=Path, default=shared / "media" / "--HuBNHXu9I.mp4",
                    help="the 1-minute input of the memory measurement")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch-size", type=int, default=None, help="default 8 on CPU, 32 on CUDA")
    ap.add_argument("--updates", type=int, default=20)
    ap.add_argument("--frames", type=int, default=None,
                    help="frames of the clip to time (default 25 = one window on CPU, 81 = 8 windows on CUDA)")
    ap.add_argument("--frames-npy", type=Path, default=None,
                    help="pre-decoded frames [N, 256, W, 3] uint8 (.npy) instead of decoding --video")
    ap.add_argument("--save-frames", type=Path, default=None, help="decode --video, save the frames there, exit")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-rss", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    global CLOCK
    CLOCK = time.perf_counter if device.type == "cuda" else time.process_time
    print(f"clock: {'wall time' if device.type == 'cuda' else 'process CPU time (all threads)'}")
    batch = args.batch_size or (32 if device.type == "cuda" else 8)
    n_frames = args.frames or (81 if device.type == "cuda" else 25)
    if args.save_frames:
        np.save(args.save_frames, first_frames(args.video, n_frames))
        return
    if not args.skip_speed:
        speed(args.video, device, batch, args.updates, n_frames, args.frames_npy)
    if not args.skip_rss:
        rss(args.long_video, args.threads)


if __name__ == "__main__":
    main()
