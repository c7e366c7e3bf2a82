"""Wall time of `unav detect` on the three real clips (CPU), per stage, with the test checkpoint's settings
(random weights, 16 px crop of 32 px frames, DIS flow), and an estimate at the paper's settings.

Usage:
  UNAV_SHARED=../shared python benchmarks/bench_detect.py [--threads N] [--skip-paper] [--work DIR]

Measured: one Detector (models loaded once) over the three clips, stage times from events.json.
Paper estimate: unit costs measured here at the paper's settings (I3D at 224 crop per window and stream,
RAFT-large with 20 updates per frame pair at 256 px, VGGish per second), extrapolated to each clip's length
(25 pairs + 3.125 windows per stream per video second). The figures depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def measured(work: Path, media: Path) -> dict:
    from detect_support import build_checkpoints

    from unav.detection.detector import Detector

    ck = build_checkpoints(work / "checkpoints")
    t = time.perf_counter()
    det = Detector(ck["av"], device="cpu", threshold=0.0, progress=False)
    load = time.perf_counter() - t
    clips = sorted(media.glob("*.mp4"))
    rows = {}
    t = time.perf_counter()
    batch = det.detect_many([str(c) for c in clips], work / "out", html=True)
    total = time.perf_counter() - t
    for vid, res in batch.done.items():
        rows[vid] = {"duration_s": round(res.duration, 2), **{k: round(v, 2) for k, v in res.timing.items()},
                     "total_s": round(sum(res.timing.values()), 2)}
    return {"model_load_s": round(load, 2), "videos": rows, "batch_total_s": round(total, 2),
            "failed": batch.failed}


def paper_units() -> dict:
    from unav.features.i3d import build_i3d
    from unav.features.raft import FlowComputer
    from unav.features.vggish import build_vggish, extract_vggish

    out = {}
    with torch.inference_mode():
        i3d = build_i3d("rgb", "random", 0, "cpu")
        x = torch.randn(1, 3, 24, 224, 224)
        i3d.features(x)
        t = time.perf_counter()
        i3d.features(x)
        out["i3d_window_s"] = time.perf_counter() - t
    flow = FlowComputer("random", seed=0, num_flow_updates=20, device=torch.device("cpu"), batch_size=2, crop=224)
    frames = np.random.default_rng(0).integers(0, 255, (3, 256, 341, 3), dtype=np.uint8)
    list(flow.codes_for_frames(iter([frames[:2]])))
    t = time.perf_counter()
    list(flow.codes_for_frames(iter([frames])))
    out["raft_pair_s"] = (time.perf_counter() - t) / 2
    media = Path(os.environ["UNAV_SHARED"]) / "media" / "v_ZNVhz7ctTq0.mp4"
    vgg = build_vggish("random", 0)
    t = time.perf_counter()
    extract_vggish(media, vgg, 0.32, torch.device("cpu"))
    out["vggish_per_video_s"] = (time.perf_counter() - t) / 14.05
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-paper", action="store_true")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    media = Path(os.environ.get("UNAV_SHARED", "../shared")) / "media"
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-detect-"))
    report = {"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
              "load_avg": os.getloadavg(), "test_settings": measured(work, media)}
    if not args.skip_paper:
        units = paper_units()
        est = {}
        for vid, row in report["test_settings"]["videos"].items():
            d = row["duration_s"]
            est[vid] = round(d * (25 * units["raft_pair_s"] + 2 * 3.125 * units["i3d_window_s"]
                                  + units["vggish_per_video_s"]), 1)
        report["paper_units"] = {k: round(v, 4) for k, v in units.items()}
        report["paper_estimate_features_s"] = est
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
