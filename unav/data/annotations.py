"""UnAV-100 annotation files: load, validate, index by subset.

Format (design.md): {"database": {video_id: {"subset": "train|validation|test", "duration": s, "fps"?: n,
"annotations"?: [{"segment": [start_s, end_s], "label": str, "label_id": int}]}}}.

Validation is strict; every error names the file, the video id and the field:
- `subset` (string) and `duration` (number > 0) are required; `fps` is optional (number > 0);
  `annotations` is optional (absent = a video without events, e.g. one to predict on).
- each event needs `segment` (two numbers), `label` (string) and `label_id` (integer >= 0);
- 0 <= start < end <= duration, with a tolerance of SEGMENT_TOLERANCE_S seconds on both ends
  (events up to that much outside the video are kept unchanged, never clipped);
- one label <-> one label_id over the whole file.

Classes: `classes[label_id] = label`. Label ids missing from the file (a subset of a larger label set) are
kept as empty classes named `<unused:ID>` so ids stay stable; they are listed in `empty_label_ids`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UnavError

# Events may end (or start) at most this many seconds past the video's [0, duration] span.
SEGMENT_TOLERANCE_S = 0.1
UNUSED_CLASS = "<unused:{}>"


@dataclass
class VideoAnnotation:
    video_id: str
    subset: str                 # as written in the file (compare lower-cased)
    duration: float             # seconds
    fps: float | None           # the file's optional "fps" (None when absent)
    segments: np.ndarray        # [N, 2] float32, seconds
    labels: list[str]           # [N]
    label_ids: np.ndarray       # [N] int64

    @property
    def num_events(self) -> int:
        return int(self.segments.shape[0])


@dataclass
class Annotations:
    videos: dict[str, VideoAnnotation]
    classes: list[str]          # classes[label_id] = label
    source: str = "<memory>"
    _by_subset: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_subset: dict[str, list[str]] = {}
        for vid, video in self.videos.items():
            by_subset.setdefault(video.subset.lower(), []).append(vid)
        self._by_subset = by_subset

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def empty_label_ids(self) -> list[int]:
        return [i for i, name in enumerate(self.classes) if name == UNUSED_CLASS.format(i)]

    @property
    def subsets(self) -> list[str]:
        return sorted(self._by_subset)

    def split(self, name: str) -> list[str]:
        """Video ids whose subset equals `name` (case-insensitive), in file order."""
        return list(self._by_subset.get(name.lower(), []))

    def label_to_id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}


def load_annotations(path: str | Path) -> Annotations:
    """Read and validate an annotation JSON file."""
    path = Path(path)
    if not path.is_file():
        raise UnavError(f"annotation file {path} does not exist")
    try:
        with open(path, "rb") as fh:
            data = json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UnavError(f"annotation file {path} is not valid JSON: {err}") from err
    return annotations_from_dict(data, source=str(path))


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def annotations_from_dict(d: Any, source: str = "<memory>") -> Annotations:
    """Validate a parsed annotation document; `source` names the file in error messages."""
    if not isinstance(d, dict) or not isinstance(d.get("database"), dict):
        raise UnavError(f"{source}: expected a JSON object with a 'database' mapping of video ids")
    database: dict = d["database"]

    def fail(vid: str, where: str, msg: str) -> UnavError:
        return UnavError(f"{source}: video {vid!r}: {where}: {msg}")

    label_of_id: dict[int, str] = {}
    id_of_label: dict[str, int] = {}
    first_seen: dict[int, str] = {}   # label_id -> video where its label was first defined
    videos: dict[str, VideoAnnotation] = {}
    tol = SEGMENT_TOLERANCE_S

    for vid, entry in database.items():
        if not isinstance(entry, dict):
            raise fail(vid, "entry", f"expected an object, got {type(entry).__name__}")
        subset = entry.get("subset")
        if subset is None:
            raise fail(vid, "subset", "missing (expected 'train', 'validation' or 'test')")
        if not isinstance(subset, str) or not subset:
            raise fail(vid, "subset", f"expected a non-empty string, got {subset!r}")
        duration = entry.get("duration")
        if duration is None:
            raise fail(vid, "duration", "missing (expected the video length in seconds)")
        if not _is_number(duration) or not np.isfinite(duration) or duration <= 0:
            raise fail(vid, "duration", f"expected a number > 0, got {duration!r}")
        fps = entry.get("fps")
        if fps is not None and (not _is_number(fps) or not np.isfinite(fps) or fps <= 0):
            raise fail(vid, "fps", f"expected a number > 0, got {fps!r}")
        events = entry.get("annotations", [])
        if not isinstance(events, list):
            raise fail(vid, "annotations", f"expected a list, got {type(events).__name__}")

        n = len(events)
        segments = np.zeros((n, 2), dtype=np.float32)
        label_ids = np.zeros((n,), dtype=np.int64)
        labels: list[str] = []
        for i, ev in enumerate(events):
            where = f"annotations[{i}]"
            if not isinstance(ev, dict):
                raise fail(vid, where, f"expected an object, got {type(ev).__name__}")
            for key in ("segment", "label", "label_id"):
                if key not in ev:
                    raise fail(vid, f"{where}.{key}", "missing")
            seg, label, label_id = ev["segment"], ev["label"], ev["label_id"]
            if (not isinstance(seg, (list, tuple)) or len(seg) != 2
                    or not all(_is_number(x) and np.isfinite(x) for x in seg)):
                raise fail(vid, f"{where}.segment", f"expected [start, end] in seconds, got {seg!r}")
            start, end = float(seg[0]), float(seg[1])
            if end <= start:
                raise fail(vid, f"{where}.segment", f"end {end} must be greater than start {start}")
            if start < -tol or end > duration + tol:
                raise fail(vid, f"{where}.segment",
                           f"[{start}, {end}] lies outside the video [0, {duration}] "
                           f"(tolerance {tol} s)")
            if not isinstance(label, str) or not label:
                raise fail(vid, f"{where}.label", f"expected a non-empty string, got {label!r}")
            if not _is_int(label_id) or label_id < 0:
                raise fail(vid, f"{where}.label_id", f"expected an integer >= 0, got {label_id!r}")
            known = label_of_id.get(label_id)
            if known is None:
                other = id_of_label.get(label)
                if other is not None:
                    raise fail(vid, f"{where}.label_id",
                               f"label {label!r} has id {label_id} here but id {other} in video "
                               f"{first_seen[other]!r}")
                label_of_id[label_id] = label
                id_of_label[label] = label_id
                first_seen[label_id] = vid
            elif known != label:
                raise fail(vid, f"{where}.label",
                           f"label_id {label_id} is {label!r} here but {known!r} in video "
                           f"{first_seen[label_id]!r}")
            segments[i] = (start, end)
            label_ids[i] = label_id
            labels.append(label)

        videos[vid] = VideoAnnotation(video_id=vid, subset=subset, duration=float(duration),
                                      fps=None if fps is None else float(fps), segments=segments,
                                      labels=labels, label_ids=label_ids)

    num_classes = (max(label_of_id) + 1) if label_of_id else 0
    classes = [label_of_id.get(i, UNUSED_CLASS.format(i)) for i in range(num_classes)]
    return Annotations(videos=videos, classes=classes, source=source)
