"""Wall time of each per-video workflow stage as the rules run it (`unav trim|flow|extract` in a fresh process, one
thread: OMP/MKL_NUM_THREADS=1, as a rule with `threads: 1`), split into a fixed start-up cost and a cost per
second of video: each command runs on a 2-s cut and on the whole clip of a real video, and
  per video-second = (t_whole - t_2s) / (duration - 2),   start-up = t_2s - 2 * per video-second.
These figures (and the README's per-stage benchmarks) are the cost table of unav/pipeline/resources.py.

    .venv/bin/python benchmarks/bench_workflow_stages.py [CLIP] [--device cpu|cuda] [--paper]

Stages: trim (libx264 veryfast), DIS flow and I3D (both streams) at the demo's size (min side 40, crop 32) and
DIS at the paper's size (256 / 224), VGGish. --paper adds RAFT (20 updates) and I3D at the paper's size with
random weights (slow on a CPU: minutes per video-second).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*args: str, env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "unav"), *args], check=True, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    shared = Path(os.environ.get("UNAV_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    default = shared / "media" / "--HuBNHXu9I.mp4"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", nargs="?", default=str(default))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--paper", action="store_true", help="also RAFT + I3D at the paper's size (random weights)")
    args = ap.parse_args()
    from unav.media.probe import probe

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    info = probe(args.clip)
    print(f"clip {args.clip}: {info.duration:.1f} s, {info.width}x{info.height}, one thread, device {args.device}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = {"short": tmp / "short.mp4", "whole": tmp / "whole.mp4"}
        times: dict[str, dict[str, float]] = {}

        def stage(name: str, make) -> None:
            times[name] = {k: run(*make(k, clips[k]), env=env) for k in clips}

        stage("trim", lambda k, out: ["trim", args.clip, "--start", "0",
                                      "--end", str(2.0 if k == "short" else info.duration), "--out", str(out),
                                      "--threads", "1"])
        durations = {k: probe(c).duration for k, c in clips.items()}
        demo = ["--crop", "32", "--min-side", "40"]
        paper = ["--crop", "224", "--min-side", "256"]
        stage("flow dis (demo size)", lambda k, c: ["flow", str(c), "--out", str(tmp / f"{k}.demo.flow"),
                                                    "--flow-method", "dis", "--no-progress", *demo])
        stage("flow dis (paper size)", lambda k, c: ["flow", str(c), "--out", str(tmp / f"{k}.paper.flow"),
                                                     "--flow-method", "dis", "--no-progress", *paper])
        stage("i3d (demo size)", lambda k, c: ["extract", str(c), "--streams", "rgb,flow", "--flow",
                                               str(tmp / f"{k}.demo.flow"), "--flow-method", "dis",
                                               "--out-dir", str(tmp / f"{k}.demo"), "--weights", "random",
                                               "--no-progress", "--device", args.device, *demo])
        stage("vggish", lambda k, c: ["extract", str(c), "--streams", "vggish", "--out-dir", str(tmp / f"{k}.vgg"),
                                      "--weights", "random", "--device", "cpu", "--no-progress"])
        if args.paper:
            stage("flow raft (paper size)", lambda k, c: ["flow", str(c), "--out", str(tmp / f"{k}.raft.flow"),
                                                          "--flow-method", "raft", "--weights", "random",
                                                          "--device", args.device, "--no-progress", *paper])
            stage("i3d (paper size)", lambda k, c: ["extract", str(c), "--streams", "rgb,flow", "--flow",
                                                    str(tmp / f"{k}.raft.flow"), "--flow-method", "raft",
                                                    "--out-dir", str(tmp / f"{k}.paper"), "--weights", "random",
                                                    "--no-progress", "--device", args.device, *paper])
    span = durations["whole"] - durations["short"]
    print(f"{'stage':24s} {'2-s cut':>8s} {'whole':>8s} {'per video-s':>12s} {'start-up':>9s}")
    for name, t in times.items():
        per_s = max(0.0, (t["whole"] - t["short"]) / span)
        startup = t["short"] - durations["short"] * per_s
        print(f"{name:24s} {t['short']:7.2f}s {t['whole']:7.2f}s {per_s:11.3f}s {startup:8.2f}s")


if __name__ == "__main__":
    main()
