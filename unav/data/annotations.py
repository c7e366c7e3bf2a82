"""UnAV-100 annotation files: load, validate, index by subset. Every command that reads an annotation file
(train, predict, evaluate, stats, report, detect, check-inputs, the workflow's steps) reads it here.

Format (design.md): {"database": {video_id: {"subset": "train|validation|test", "duration": s, "fps"?: n,
"annotations"?: [{"segment": [start_s, end_s], "label": str, "label_id": int}]}}}.

Validation is strict and complete: every problem of the file is collected (not just the first) and one
UnavError lists them; each names the file, the video id, the field and the expectation:
- `subset` is required: one of SUBSETS, compared case-insensitively ("Train" is train; "trian", "val",
  "training" are refused, never silently dropped from every split);
- `duration` (number > 0) is required; `fps` is optional (number > 0);
  `annotations` is optional (absent = a video without events, e.g. one to predict on).
- each event needs `segment` (two numbers), `label` (non-empty string) and `label_id` (integer >= 0);
- 0 <= start < end <= duration, with a tolerance of SEGMENT_TOLERANCE_S seconds on both ends
  (events up to that much outside the video are kept unchanged, never clipped);
- one label <-> one label_id over the whole file.

Classes: `classes[label_id] = label`. Label ids missing from the file (a subset of a larger label set) are
kept as empty classes named `<unused:ID>` so ids stay stable; they are listed in `empty_label_ids`.
The validated document itself is kept (`Annotations.document`), so tools that need the file's exact numbers
(stats, the evaluator) or its other keys (the workflow's subset step) never parse it a second time.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import UnavError, UnavProblems

# Events may end (or start) at most this many seconds past the video's [0, duration] span.
SEGMENT_TOLERANCE_S = 0.1
UNUSED_CLASS = "<unused:{}>"
SUBSETS = ("train", "validation", "test")
_SUBSETS_TEXT = "one of 'train', 'validation', 'test' (any case)"


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
    # the validated file as read ({"database": ..., other keys}); None when built in memory
    document: dict[str, Any] | None = field(default=None, repr=False, compare=False)
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

    def class_conflicts(self, classes: Sequence[str]) -> list[str]:
        """How this file's (label_id, label) pairs disagree with a model's `classes` (classes[label_id] = label);
        empty when every label of the file has the same id there. A subset of the model's label set (a few
        videos of UnAV-100, the ones still downloadable) agrees."""
        out = []
        for i, name in enumerate(self.classes):
            if name == UNUSED_CLASS.format(i):
                continue
            if i >= len(classes):
                out.append(f"label_id {i} ({name!r}) is beyond the model's {len(classes)} classes")
            elif classes[i] != name:
                out.append(f"label_id {i} is {name!r} here but {classes[i]!r} in the model")
        return out

    @property
    def database(self) -> dict[str, Any]:
        """The file's "database" mapping with its exact numbers (rebuilt from `videos` when built in memory)."""
        if self.document is not None:
            return self.document["database"]
        return {vid: {"subset": v.subset, "duration": v.duration,
                      "annotations": [{"segment": [s, e], "label": lab, "label_id": i} for (s, e), lab, i
                                      in zip(v.segments.tolist(), v.labels, v.label_ids.tolist())]}
                for vid, v in self.videos.items()}


# ------------------------------------------------------------------------------------------------ reading
def read_annotation_json(path: str | Path) -> Any:
    """The parsed JSON of an annotation file; UnavError names the file and what is wrong with it."""
    path = Path(path)
    if path.is_dir():
        raise UnavError(f"annotation file {path} is a folder; expected a JSON file")
    if not path.is_file():
        raise UnavError(f"annotation file {path} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UnavError(f"annotation file {path} cannot be read: {err.strerror or err}") from None
    if not raw.strip():
        raise UnavError(f"annotation file {path} is empty; expected a JSON object with a 'database' mapping")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UnavError(f"annotation file {path} is not valid JSON: {err}") from None


def load_annotations(path: str | Path) -> Annotations:
    """Read and validate an annotation JSON file (UnavProblems lists every problem)."""
    return annotations_from_dict(read_annotation_json(path), source=str(path))


def inspect_annotations(path: str | Path) -> tuple[Annotations | None, list[str]]:
    """Every problem of an annotation file, and its annotations: those of the valid videos when some entries
    are broken (`document` keeps them all), None when the file itself is unusable. For check-inputs."""
    try:
        data = read_annotation_json(path)
    except UnavError as err:
        return None, [str(err)]
    return collect_annotations(data, source=str(path))


def annotations_from_dict(d: Any, source: str = "<memory>") -> Annotations:
    """Validate a parsed annotation document; `source` names the file in error messages."""
    ann, problems = collect_annotations(d, source)
    if problems:
        raise UnavProblems(problems, header=f"annotation file {source}")
    assert ann is not None
    return ann


# ------------------------------------------------------------------------------------------------ checks
def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_finite(x: Any) -> bool:
    return _is_number(x) and math.isfinite(x)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


class _Collector:
    """Problems of one file, each a complete message: `{source}: video {id!r}: {field}: {expectation}`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def add(self, vid: str, where: str, msg: str) -> None:
        self.problems.append(f"{self.source}: video {vid!r}: {where}: {msg}")


class _Labels:
    """One label <-> one label_id over the whole file; the first event defines a pair."""

    def __init__(self) -> None:
        self.label_of_id: dict[int, str] = {}
        self.id_of_label: dict[str, int] = {}
        self.first_seen: dict[int, str] = {}   # label_id -> video where its label was first defined

    def check(self, vid: str, where: str, label: str, label_id: int, out: _Collector) -> None:
        known = self.label_of_id.get(label_id)
        if known is None:
            other = self.id_of_label.get(label)
            if other is not None:
                out.add(vid, f"{where}.label_id", f"label {label!r} has id {label_id} here but id {other} in "
                                                  f"video {self.first_seen[other]!r}")
                return
            self.label_of_id[label_id] = label
            self.id_of_label[label] = label_id
            self.first_seen[label_id] = vid
        elif known != label:
            out.add(vid, f"{where}.label", f"label_id {label_id} is {label!r} here but {known!r} in video "
                                           f"{self.first_seen[label_id]!r}")

    def classes(self) -> list[str]:
        num_classes = (max(self.label_of_id) + 1) if self.label_of_id else 0
        return [self.label_of_id.get(i, UNUSED_CLASS.format(i)) for i in range(num_classes)]


def _check_header(vid: str, entry: dict, out: _Collector) -> tuple[bool, float | None, float | None]:
    """subset, duration, fps of one entry -> (all valid, duration or None, fps or None)."""
    n = len(out.problems)
    subset = entry.get("subset")
    if subset is None:
        out.add(vid, "subset", "missing (expected 'train', 'validation' or 'test')")
    elif not isinstance(subset, str) or subset.lower() not in SUBSETS:
        out.add(vid, "subset", f"{subset!r} is not a known subset; expected {_SUBSETS_TEXT}")
    duration = entry.get("duration")
    if duration is None:
        out.add(vid, "duration", "missing (expected the video length in seconds)")
    elif not _is_finite(duration) or duration <= 0:
        out.add(vid, "duration", f"expected a number > 0, got {duration!r}")
        duration = None
    fps = entry.get("fps")
    if fps is not None and (not _is_finite(fps) or fps <= 0):
        out.add(vid, "fps", f"expected a number > 0, got {fps!r}")
    return len(out.problems) == n, duration, fps


def _check_event(vid: str, i: int, ev: Any, duration: float | None, labels: _Labels,
                 out: _Collector) -> tuple[float, float, str, int] | None:
    """One event -> (start, end, label, label_id), or None after adding its problems."""
    where = f"annotations[{i}]"
    if not isinstance(ev, dict):
        out.add(vid, where, f"expected an object, got {type(ev).__name__}")
        return None
    n = len(out.problems)
    for key in ("segment", "label", "label_id"):
        if key not in ev:
            out.add(vid, f"{where}.{key}", "missing")
    seg, label, label_id = ev.get("segment"), ev.get("label"), ev.get("label_id")
    start = end = math.nan
    if "segment" in ev:
        if not isinstance(seg, (list, tuple)) or len(seg) != 2 or not all(_is_finite(x) for x in seg):
            out.add(vid, f"{where}.segment", f"expected [start, end] in seconds, got {seg!r}")
        else:
            start, end = float(seg[0]), float(seg[1])
            tol = SEGMENT_TOLERANCE_S
            if end <= start:
                out.add(vid, f"{where}.segment", f"end {end} must be greater than start {start}")
            elif start < -tol or (duration is not None and end > duration + tol):
                shown = "duration" if duration is None else duration
                out.add(vid, f"{where}.segment", f"[{start}, {end}] lies outside the video [0, {shown}] "
                                                 f"(tolerance {tol} s)")
    label_ok = isinstance(label, str) and bool(label)
    id_ok = _is_int(label_id) and label_id >= 0
    if "label" in ev and not label_ok:
        out.add(vid, f"{where}.label", f"expected a non-empty string, got {label!r}")
    if "label_id" in ev and not id_ok:
        out.add(vid, f"{where}.label_id", f"expected an integer >= 0, got {label_id!r}")
    if label_ok and id_ok:   # a valid pair is checked (and defines the class) even if its segment is bad
        labels.check(vid, where, label, label_id, out)
    return (start, end, label, label_id) if len(out.problems) == n else None


def _check_video(vid: str, entry: Any, labels: _Labels, out: _Collector) -> VideoAnnotation | None:
    if not isinstance(entry, dict):
        out.add(vid, "entry", f"expected an object, got {type(entry).__name__}")
        return None
    ok, duration, fps = _check_header(vid, entry, out)
    events = entry.get("annotations", [])
    if not isinstance(events, list):
        out.add(vid, "annotations", f"expected a list, got {type(events).__name__}")
        return None
    rows = [_check_event(vid, i, ev, duration, labels, out) for i, ev in enumerate(events)]
    if not ok or any(r is None for r in rows):
        return None
    n = len(rows)
    segments = np.array([(s, e) for s, e, _, _ in rows], dtype=np.float32).reshape(n, 2)
    label_ids = np.array([i for _, _, _, i in rows], dtype=np.int64).reshape(n)
    return VideoAnnotation(video_id=vid, subset=entry["subset"], duration=float(duration),
                           fps=None if fps is None else float(fps), segments=segments,
                           labels=[lab for _, _, lab, _ in rows], label_ids=label_ids)


def collect_annotations(d: Any, source: str = "<memory>") -> tuple[Annotations | None, list[str]]:
    """Validate a parsed document, collecting every problem. Returns the annotations of the valid videos
    (None when the document has no 'database' mapping) and the problems, in file order."""
    if not isinstance(d, dict) or not isinstance(d.get("database"), dict):
        got = type(d).__name__ if not isinstance(d, dict) else (
            "no 'database' key" if "database" not in d else f"'database' of type {type(d['database']).__name__}")
        return None, [f"{source}: expected a JSON object with a 'database' mapping of video ids, got {got}"]
    out = _Collector(source)
    labels = _Labels()
    videos: dict[str, VideoAnnotation] = {}
    for vid, entry in d["database"].items():
        video = _check_video(vid, entry, labels, out)
        if video is not None:
            videos[vid] = video
    return Annotations(videos=videos, classes=labels.classes(), source=source, document=d), out.problems
