"""Work per video of the workflow's feature stages run as shard jobs (one process per stage for all videos, the
networks loaded once; `unav workflow-step shard flow|i3d|vggish|features`) against one process per video per
stage (what the workflow ran before: `unav flow`, `unav extract` rgb,flow, `unav extract` vggish and
`unav workflow-step merge-features` for each video, the networks loaded each time), on the same synthetic clips
with sound, on the CPU, one thread (OMP/MKL_NUM_THREADS=1, as a rule with `threads: 1`).

    .venv/bin/python benchmarks/bench_shards.py [--clips 20] [--workdir DIR] [--threads 1]

Both modes run at the demo's size (DIS flow, preset ultrafast, min side 40, crop 32, random weights). Measured per
mode: the processes launched, the wall seconds and the CPU seconds (user + sys) of those processes and of their
children (ffmpeg), from resource.getrusage(RUSAGE_CHILDREN) deltas; videos per CPU-hour; and the ratios
sharded / per-video. A third row runs the sharded mode again on its finished outputs (every video cached: the
cost of a rerun that has nothing to do). Both modes must give identical feature arrays (np.array_equal per stream
per video; the random weights are seeded); the script exits 1 if they differ.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
UNAV = str(BIN / "unav")
STREAMS = ("rgb", "flow", "vggish")
SIZE = ["--weights", "random", "--crop", "32", "--min-side", "40"]
OPTS = ["--flow-method", "dis", *SIZE, "--dis-preset", "ultrafast", "--device", "cpu"]


class Meter:
    """Wall seconds, child CPU seconds (user + sys) and processes of the commands run through it."""

    def __init__(self, env: dict, log: Path) -> None:
        self.env, self.log = env, log
        self.wall = self.cpu = 0.0
        self.processes = 0

    def run(self, *args: str) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        with open(self.log, "a") as log:
            log.write("$ unav " + " ".join(args) + "\n")
            log.flush()
            done = subprocess.run([UNAV, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.wall += time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.processes += 1
        if done.returncode:
            sys.exit(f"unav {' '.join(args[:3])} … failed ({done.returncode}); see {self.log}")


def per_video(clips: list[Path], root: Path, meter: Meter) -> None:
    parts_i3d, parts_vgg = root / "parts/i3d", root / "parts/vggish"
    for clip in clips:
        flow = root / "flow" / f"{clip.stem}.flow"
        meter.run("flow", str(clip), "--out", str(flow), "--flow-method", "dis", *SIZE, "--dis-preset", "ultrafast",
                  "--device", "cpu", "--no-progress")
        meter.run("extract", str(clip), "--streams", "rgb,flow", "--flow", str(flow), "--out-dir", str(parts_i3d),
                  *SIZE, "--flow-method", "dis", "--device", "cpu", "--no-progress")
        meter.run("extract", str(clip), "--streams", "vggish", "--out-dir", str(parts_vgg), *SIZE, "--device", "cpu",
                  "--no-progress")
        meter.run("workflow-step", "merge-features", "--parts", str(parts_i3d), str(parts_vgg),
                  "--out-dir", str(root / "features"), "--", clip.stem)


def sharded(clips: list[Path], root: Path, meter: Meter) -> None:
    m, videos = root / "m", [str(c) for c in clips]
    parts_i3d, parts_vgg = str(root / "parts/i3d"), str(root / "parts/vggish")
    shard = ["workflow-step", "shard"]
    meter.run(*shard, "flow", "--manifest", str(m / "flow/0.tsv"), "--flow-dir", str(root / "flow"),
              "--i3d-dir", parts_i3d, *OPTS, "--", *videos)
    meter.run(*shard, "i3d", "--manifest", str(m / "i3d/0.tsv"), "--upstream", str(m / "flow/0.tsv"),
              "--flow-dir", str(root / "flow"), "--out-dir", parts_i3d, *OPTS, "--", *videos)
    meter.run(*shard, "vggish", "--manifest", str(m / "vggish/0.tsv"), "--out-dir", parts_vgg, *OPTS, "--", *videos)
    meter.run(*shard, "features", "--manifest", str(m / "features/0.tsv"), "--upstream", str(m / "i3d/0.tsv"),
              "--upstream", str(m / "vggish/0.tsv"), "--parts", parts_i3d, parts_vgg,
              "--out-dir", str(root / "features"), "--", *[c.stem for c in clips])


def statuses(root: Path) -> dict[str, dict[str, int]]:
    """stage -> {status: videos} of the sharded run's manifests."""
    from unav.pipeline.shards import read_manifest

    out = {}
    for stage in ("flow", "i3d", "vggish", "features"):
        rows = read_manifest(root / "m" / stage / "0.tsv")
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        out[stage] = counts
    return out


def same_features(ids: list[str], a: Path, b: Path) -> list[str]:
    """The '{id} {stream}' arrays that differ (or are missing) between the features folders a and b."""
    import numpy as np

    bad = []
    for vid in ids:
        for stream in STREAMS:
            name = f"{vid}_{stream}.npy"
            if not (a / name).is_file() or not (b / name).is_file() or \
                    not np.array_equal(np.load(a / name), np.load(b / name)):
                bad.append(f"{vid} {stream}")
    return bad


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=20, help="synthetic clips with sound (default: 20)")
    ap.add_argument("--workdir", type=Path, help="keep the clips and outputs here (default: a temporary folder)")
    ap.add_argument("--threads", type=int, default=1, help="OMP/MKL threads per process (default: 1)")
    args = ap.parse_args()
    if args.clips < 1:
        ap.error("--clips: expected at least 1")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        taken = [d for d in ("per-video", "sharded") if (work / d).exists()]
        if taken:
            ap.error(f"--workdir {work} already holds {', '.join(taken)}/ (their outputs would be cached); "
                     f"expected a new or emptied folder")
        work.mkdir(parents=True, exist_ok=True)
        subprocess.run([UNAV, "demo-videos", "--out-dir", str(work / "clips"), "--num", str(args.clips), "--seed", "0",
                        "--size", "160x120", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        clips = sorted((work / "clips" / "videos").glob("*.mp4"))
        ids = [c.stem for c in clips]
        from unav.media.probe import probe

        seconds = sum(probe(c).duration for c in clips)
        print(f"{len(clips)} clips (160x120, {seconds:.0f} s of video in all), DIS ultrafast, min side 40, crop 32, "
              f"random weights, device cpu, {args.threads} thread(s) per process"
              + (f"; logs in {work}/*.log" if args.workdir else ""))
        # warm the file cache (Python, torch, the clips) so that neither mode pays for the first imports
        subprocess.run([UNAV, "extract", str(clips[0]), "--streams", "vggish", "--out-dir", str(work / "warmup"),
                        *SIZE, "--device", "cpu", "--no-progress"], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        meters = {"per-video": Meter(env, work / "per-video.log"), "sharded": Meter(env, work / "sharded.log"),
                  "sharded, all cached": Meter(env, work / "sharded-cached.log")}
        per_video(clips, work / "per-video", meters["per-video"])
        sharded(clips, work / "sharded", meters["sharded"])
        first = statuses(work / "sharded")
        sharded(clips, work / "sharded", meters["sharded, all cached"])
        again = statuses(work / "sharded")
        bad = same_features(ids, work / "per-video" / "features", work / "sharded" / "features")

    base = meters["per-video"]
    print(f"{'mode':20s} {'processes':>9s} {'wall s':>8s} {'CPU s':>8s} {'videos/CPU-h':>13s} "
          f"{'wall ratio':>10s} {'CPU ratio':>9s}")
    for name, m in meters.items():
        print(f"{name:20s} {m.processes:9d} {m.wall:8.1f} {m.cpu:8.1f} {len(clips) / m.cpu * 3600:13.0f} "
              f"{m.wall / base.wall:10.3f} {m.cpu / base.cpu:9.3f}")
    print("(ratios: the mode / per-video; CPU s: user + sys of the processes and their children)")
    for label, counts in (("sharded run", first), ("rerun", again)):
        print(f"{label} manifests: " + "; ".join(
            f"{stage} " + ", ".join(f"{n} {s}" for s, n in c.items()) for stage, c in counts.items()))
    checked = len(ids) * len(STREAMS)
    if bad:
        print(f"features differ: {len(bad)} of {checked} arrays ({', '.join(bad[:10])})")
        sys.exit(1)
    print(f"features identical: {checked} arrays ({len(ids)} videos x {', '.join(STREAMS)}), per-video == sharded")


if __name__ == "__main__":
    main()
