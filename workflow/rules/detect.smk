# `unav detect` on a folder of new videos with a trained checkpoint: one job for the whole folder (the
# extractor and the localizer are loaded once), one output folder per video:
#   {out}/{id}/events.json, events.csv, timeline.png (+ view.html and the video with `html: true`).
# Target: `snakemake detect`. Self-contained: every key has a default here, e.g.
#   snakemake detect --config detect='{"videos": "my_videos", "checkpoint": "runs/x/best.pt", "html": true}'
import os as _os
from pathlib import Path as _Path

from unav.detection.inputs import folder_videos

_DETECT = config.get("detect") or {}
_DETECT_RESULTS = str(config.get("results", "results")).rstrip("/")
_DETECT_VIDEOS = str(_DETECT.get("videos", "videos"))
_DETECT_OUT = str(_DETECT.get("out", f"{_DETECT_RESULTS}/detect")).rstrip("/")
_DETECT_CKPT = str(
    _DETECT.get(
        "checkpoint",
        f"{_DETECT_RESULTS}/runs/{config.get('experiment', 'demo')}/best.pt",
    )
)
_DETECT_DEVICE = str(_DETECT.get("device", config.get("device", "cpu")))
# plain cuda: the first free GPU of a multi-GPU workstation (unav/gpu_pool.py)
_DETECT_ON_FREE_GPU = (
    "unav workflow-step on-free-gpu -- " if _DETECT_DEVICE == "cuda" else ""
)


_DETECT_VIDEO_FILES = [str(p) for p in folder_videos(_DETECT_VIDEOS)]
_DETECT_IDS = [_Path(p).stem for p in _DETECT_VIDEO_FILES]


rule detect:
    input:
        videos=_DETECT_VIDEO_FILES,
        checkpoint=_DETECT_CKPT,
    output:
        events=expand(f"{_DETECT_OUT}/{{id}}/events.json", id=_DETECT_IDS),
        csv=expand(f"{_DETECT_OUT}/{{id}}/events.csv", id=_DETECT_IDS),
        timelines=expand(f"{_DETECT_OUT}/{{id}}/timeline.png", id=_DETECT_IDS),
    log:
        f"{_DETECT_OUT}/detect.log",
    conda:
        _os.path.join(workflow.basedir, "envs", "features.yaml")
    threads: int(_DETECT.get("threads", 2))
    resources:
        mem_mb=int(_DETECT.get("mem_mb", 8000)),
        runtime=int(_DETECT.get("runtime", 240)),
        gpu=1 if _DETECT_DEVICE.startswith("cuda") else 0,
    params:
        on_free_gpu=_DETECT_ON_FREE_GPU,
        out=_DETECT_OUT,
        options=" ".join(
            [
                f"--threshold {float(_DETECT.get('threshold', 0.3))}",
                f"--device {_DETECT_DEVICE}",
            ]
            + (["--html"] if _DETECT.get("html", False) else [])
            + (
                [f"--annotations {_DETECT['annotations']}"]
                if _DETECT.get("annotations")
                else []
            )
            + (
                [f"--weights-dir {_DETECT['weights_dir']}"]
                if _DETECT.get("weights_dir")
                else []
            )
        ),
    shell:
        "{params.on_free_gpu}unav detect {input.videos:q} --checkpoint {input.checkpoint:q} --out-dir {params.out:q} {params.options} "
        "--no-progress > {log:q} 2>&1"
