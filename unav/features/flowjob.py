"""One video's flow file (`unav flow`, and the workflow's flow stage, which reuses one flow computer for a whole
shard): decode at 25 fps, compute the quantised flow codes, stream them into the file with the computer's
metadata. Also whether an existing flow file is what the current settings would write."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .settings import ExtractSettings

# metadata a flow file holds about its own making (not about the flow): never compared
_BOOKKEEPING = ("video", "video_id", "frames", "pairs", "chunks", "shape", "format_version")


def flow_header(computer: Any, weights_entry: dict | None, settings: ExtractSettings) -> dict:
    """The metadata a flow file made with these settings starts with (before the video's own fields)."""
    from .flowsource import flow_file_header
    from .settings import FPS

    return {**flow_file_header(computer, weights_entry, settings), "fps": FPS, "min_side": settings.min_side,
            "reencode": settings.reencode}


def flow_file_differences(meta: dict, header: dict, crop: int) -> list[str]:
    """Keys in which a flow file's metadata differs from what the settings would write now ([]: current). A key
    older files do not record counts as the value they were made with (no "precision": fp32)."""
    from .settings import recorded_value

    differ = sorted(k for k, v in header.items() if k not in _BOOKKEEPING and recorded_value(meta, k) != v)
    if list(meta.get("shape") or []) != [2, crop, crop]:
        differ.append("shape")
    return differ


def flow_differences_now(meta: dict, computer: Any, weights_entry: dict | None, settings: ExtractSettings) -> list[str]:
    """Keys in which a flow file's metadata differs from what this computer and these settings write."""
    return flow_file_differences(meta, flow_header(computer, weights_entry, settings), settings.crop)


def _counted(frames: Iterator[np.ndarray], meta: dict) -> Iterator[np.ndarray]:
    """Pass frames through, keeping meta["frames"] up to date (stored in the file's trailer)."""
    for chunk in frames:
        meta["frames"] = meta.get("frames", 0) + len(chunk)
        yield chunk


def _progress(codes: Iterator[np.ndarray], total: int | None, enabled: bool, desc: str) -> Iterator[np.ndarray]:
    from tqdm import tqdm

    with tqdm(total=total, unit="pair", desc=desc, disable=not enabled) as bar:
        for chunk in codes:
            bar.update(len(chunk))
            yield chunk


def write_video_flow(video: str | os.PathLike, out: str | os.PathLike, settings: ExtractSettings, computer: Any,
                     weights_entry: dict | None, info: Any = None) -> dict:
    """Write the flow file of `video` to `out` (atomically) with a built flow computer; returns its metadata."""
    from ..io import remove_stale_temporaries
    from ..media.frames import iter_frames
    from ..media.probe import probe
    from .flowfile import write_flow_file
    from .settings import FPS

    video = Path(video)
    info = info or probe(video)
    remove_stale_temporaries([out])
    meta = {**flow_header(computer, weights_entry, settings), "video": str(video), "video_id": video.stem,
            "frames": 0}
    duration = getattr(info, "duration", None)
    total = max(int(round(duration * FPS)) - 1, 0) if duration else None
    frames = _counted(iter_frames(video, fps=FPS, min_side=settings.min_side, reencode=settings.reencode,
                                  info=info), meta)
    codes = _progress(computer.codes_for_frames(frames), total, settings.progress, f"{video.stem} flow")
    return write_flow_file(out, codes, meta)
