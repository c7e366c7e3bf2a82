"""Runtime requests of the workflow's shard jobs (download, trim, flow, i3d, vggish, features), from measured costs.

A shard job works through a shard's videos (about 85 of UnAV-100's with 128 shards), and under SLURM a shard's
five stages form one group job that asks for the sum of their runtimes, so a flat "60 minutes per job" asks for
too little or far too much. Instead each job asks for

    runtime_minutes = ceil(STARTUP_MINUTES + sum(duration_s) * cost_s_per_video_s * SAFETY / 60) * 2 ** (attempt - 1)

where cost_s_per_video_s = decode + compute * size factor, per stage and device, from the table COSTS below (its
one place; each figure names the benchmark it comes from). The retry (Snakemake's `attempt`, profile
`retries: 1`) asks for twice as much. The video's duration is a dict lookup at DAG-build time (the list's
window for youtube and the demo; DEFAULT_DURATION_S for the user's own files, which are not probed).

Size factor: the figures are at the paper's sizes (frames resized to a 256-pixel shorter side, 224 centre crop).
RAFT and DIS compute on the whole resized frame (the crop is taken from the flow), so their cost scales with
(min_side / 256)^2; I3D runs on the crop, so with (crop / 224)^2 (compute of a conv net is linear in its input's
pixels). Decoding the source does not scale with either and is a separate term. Checked on this CPU
(bench_workflow_stages.py, a 320x240 source): I3D at crop 32 measured 0.40 s per video-second, the model
without its (720p-sized) decode term says 21 * (32/224)^2 = 0.43; DIS at min side 40 measured 0.065, the model
0.75 * (40/256)^2 = 0.02 plus the source's decode (about 0.05 at 320x240).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

STARTUP_MINUTES = 1.0
"""Per job: process start, imports, model build/weights load, CUDA init. Measured 0.7-8 s per command on this
machine (bench_workflow_stages.py, "start-up"); a minute covers conda envs on a cold network file system."""

SAFETY = 3.0
"""On the per-video-second part: other jobs on the node, slower cores, sources at a higher resolution."""

DEFAULT_DURATION_S = 600.0
"""The user's own video files (source: local) are not probed at DAG-build time (10,000s of files): assume 10
minutes; a longer video times out and its retry asks for twice as much."""

GPU_SLOWDOWN = 8.0
"""The GPU figures are an H200's; older or smaller cards (V100/T4 class) are several times slower."""

DECODE_S = 0.3
"""Decode + resize of the source to 25 fps frames, per video-second, one thread, on the CPU also in a GPU job.
bench_workflow_stages.py: the DIS flow of a 320x240 clip at min side 40 (nearly all decode) costs 0.065 s per
video-second; x 4-5 for the 640x360-1280x720 files yt-dlp's `-f b` fetches."""


@dataclass(frozen=True)
class Cost:
    """Seconds of one thread (CPU) or wall seconds (GPU) per second of video."""
    decode: float = 0.0       # not scaled
    compute: float = 0.0      # at the paper's size, scaled by the stage's size factor
    scale: str = ""           # "min_side": flow on the resized frame; "crop": I3D; "": none


# (stage, device) -> cost. "cuda" rows only for the stages that run on the GPU with device: cuda.
COSTS: dict[tuple[str, str], Cost] = {
    # trim: decode + libx264 veryfast re-encode; bench_workflow_stages.py, 0.047 s per video-second for a
    # 320x240 source, x 12 for 1280x720 (pixels)
    ("trim", "cpu"): Cost(compute=0.6),
    # RAFT-large, 20 updates, each frame pair once: README Benchmarks, bench_flow.py, 27 s wall per video-second
    # with 2 CPU threads (= 54 thread-seconds)
    ("flow_raft", "cpu"): Cost(decode=DECODE_S, compute=54.0, scale="min_side"),
    # bench_extract.py on an H200: RAFT + both I3D streams 0.11 s per video-second, RAFT ~70 % of it
    ("flow_raft", "cuda"): Cost(decode=DECODE_S, compute=0.077 * GPU_SLOWDOWN, scale="min_side"),
    # OpenCV DIS (CPU only): bench_workflow_stages.py, 0.744 s per video-second at min side 256 (incl. decode)
    ("flow_dis", "cpu"): Cost(decode=DECODE_S, compute=0.75, scale="min_side"),
    # I3D rgb + flow streams: bench_extract.py, 68.8 CPU-seconds per video-second incl. RAFT on a CPU, minus
    # RAFT's ~70 % (48 s) = 21; on an H200 0.11 - 0.077 = 0.033 s per video-second
    ("i3d", "cpu"): Cost(decode=DECODE_S, compute=21.0, scale="crop"),
    ("i3d", "cuda"): Cost(decode=DECODE_S, compute=0.033 * GPU_SLOWDOWN, scale="crop"),
    # VGGish (audio decode, kaiser_best resampling, log-mel, network; always on the CPU):
    # bench_workflow_stages.py 0.145 s per video-second in its own process (bench_vggish.py: 0.036 compute alone)
    ("vggish", "cpu"): Cost(compute=0.15),
    # features: copies four small files; start-up only
    ("features", "cpu"): Cost(),
}

STAGES = ("trim", "flow", "i3d", "vggish", "features")

DOWNLOAD_MINUTES = 2.0
"""Per video of a download shard: yt-dlp start, the transfer at a few MB/s, the probe, retries' back-off."""


def stage_cost(stage: str, device: str = "cpu", flow_method: str = "raft") -> Cost:
    """The cost row of a rule; `device` is the config's (trim, vggish, features and DIS flow use the CPU)."""
    if stage not in STAGES:
        raise ValueError(f"unknown per-video stage {stage!r} (expected one of {', '.join(STAGES)})")
    if stage == "flow":
        stage = f"flow_{flow_method}"
    return COSTS.get((stage, device)) or COSTS[(stage, "cpu")]


def seconds_per_video_second(stage: str, device: str = "cpu", flow_method: str = "raft", crop: int = 224,
                             min_side: int = 256) -> float:
    cost = stage_cost(stage, device, flow_method)
    factor = {"crop": (crop / 224) ** 2, "min_side": (min_side / 256) ** 2, "": 1.0}[cost.scale]
    return cost.decode + cost.compute * factor


def runtime_minutes(stage: str, duration_s: float | None, device: str = "cpu", flow_method: str = "raft",
                    crop: int = 224, min_side: int = 256, attempt: int = 1) -> int:
    """Minutes one job of `stage` asks for on a video of `duration_s` seconds (None: DEFAULT_DURATION_S)."""
    duration = DEFAULT_DURATION_S if duration_s is None or duration_s <= 0 else float(duration_s)
    per_s = seconds_per_video_second(stage, device, flow_method, crop, min_side)
    minutes = math.ceil(STARTUP_MINUTES + duration * per_s * SAFETY / 60.0)
    return minutes * 2 ** (max(1, int(attempt)) - 1)


def shard_runtime_minutes(stage: str, durations: list[float | None], device: str = "cpu", flow_method: str = "raft",
                          crop: int = 224, min_side: int = 256, attempt: int = 1) -> int:
    """Minutes one shard job of `stage` asks for: one start-up, then the per-video-second cost of each of its
    videos (None: DEFAULT_DURATION_S), as `runtime_minutes` for one video; downloads: DOWNLOAD_MINUTES each."""
    if stage == "download":
        minutes = math.ceil(STARTUP_MINUTES + DOWNLOAD_MINUTES * len(durations))
        return minutes * 2 ** (max(1, int(attempt)) - 1)
    per_s = seconds_per_video_second(stage, device, flow_method, crop, min_side)
    seconds = sum(DEFAULT_DURATION_S if d is None or d <= 0 else float(d) for d in durations)
    minutes = math.ceil(STARTUP_MINUTES + seconds * per_s * SAFETY / 60.0)
    return minutes * 2 ** (max(1, int(attempt)) - 1)
