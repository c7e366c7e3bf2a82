"""Dataset statistics of a UnAV-format annotation file (section 3.3 and Fig. 2-3 of the UnAV-100 paper).

The annotation file is parsed here with light validation of its own, so the statistics work on any file that
follows the contract `{"database": {id: {"subset", "duration", "annotations": [{"segment", "label", ...}]}}}`.

Definitions (all times in seconds, all probabilities over videos):

- An *event* is one annotation; its duration is `end - start`.
- Two events *overlap* when `min(end_a, end_b) - max(start_a, start_b) > 0` (a positive-length overlap;
  touching end to start is not an overlap).
- A video has *concurrent events* when two of its events of **different** classes overlap.
- `frac_multi_event` is the share of videos with more than one event.
- `p(a)` is the share of videos holding at least one event of class `a`.
- Simultaneous co-occurrence, unordered pair `{a, b}` with `a != b`: the share `p_sim(a, b)` of videos in
  which some event of `a` overlaps some event of `b`.
- Consecutive co-occurrence, ordered pair `(a, b)` with `a != b`: the share `p_con(a, b)` of videos in which
  some event of `b` starts within `consecutive_gap` seconds after some event of `a` ends, without overlapping
  it: `0 <= start_b - end_a <= consecutive_gap`.
- NPMI(a, b) = log(p(a, b) / (p(a) p(b))) / -log p(a, b), in [-1, 1] (defined as 1 when p(a, b) = 1).
  Only pairs seen in at least `min_pair_videos` videos are ranked, so rare pairs do not dominate; the top
  `top_k` are listed as `{"a", "b", "npmi", "count"}` with `count` the number of videos holding the pair,
  sorted by NPMI (descending), then count (descending), then names. In a simultaneous pair `a` is the class
  with the lower `label_id` (labels without one come last, by name).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UnavError
from .io import atomic_path

__all__ = ["load_database", "compute_stats", "plot_stats", "PLOT_FILES"]

# file names written by plot_stats, in order
PLOT_FILES = (
    "events_per_class.png",
    "events_per_video.png",
    "event_durations.png",
    "video_durations.png",
    "npmi_pairs.png",
)


# --------------------------------------------------------------------------------------------- parsing
def load_database(path: str | os.PathLike) -> dict[str, Any]:
    """Read an annotation file and return its `database` mapping (video id -> entry)."""
    path = Path(path)
    if not path.is_file():
        raise UnavError(f"annotation file {path} does not exist")
    try:
        with path.open("r", encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise UnavError(f"annotation file {path} is not valid JSON: {err.msg} at line {err.lineno}, "
                        f"column {err.colno}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise UnavError(f"annotation file {path} cannot be read: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise UnavError(f"annotation file {path}: expected a JSON object with a \"database\" object "
                        "mapping video ids to entries")
    return data["database"]


@dataclass(frozen=True)
class _Flat:
    """The database as flat arrays. V videos, E events, C classes."""

    ids: list[str]            # [V]
    subsets: list[str]        # [V]
    durations: np.ndarray     # [V] float64, video durations (s)
    ev_video: np.ndarray      # [E] int64, index of the event's video (non-decreasing)
    ev_start: np.ndarray      # [E] float64
    ev_end: np.ndarray        # [E] float64
    ev_class: np.ndarray      # [E] int64, index into labels
    labels: list[str]         # [C], ordered by (label_id, label)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _flatten(database: dict[str, Any], source: str) -> _Flat:
    if not isinstance(database, dict):
        raise UnavError(f"{source}: expected \"database\" to be an object mapping video ids to entries")
    ids: list[str] = []
    subsets: list[str] = []
    durations: list[float] = []
    ev_video: list[int] = []
    ev_start: list[float] = []
    ev_end: list[float] = []
    ev_label: list[str] = []
    label_ids: dict[str, int | None] = {}
    for v, (vid, entry) in enumerate(database.items()):
        where = f"{source}: video {vid}"
        if not isinstance(entry, dict):
            raise UnavError(f"{where}: expected an object with subset, duration and annotations")
        for field in ("subset", "duration", "annotations"):
            if field not in entry:
                raise UnavError(f"{where}: missing field \"{field}\"")
        if not isinstance(entry["subset"], str):
            raise UnavError(f"{where}: field \"subset\" must be a string, got {entry['subset']!r}")
        if not _number(entry["duration"]) or entry["duration"] < 0:
            raise UnavError(f"{where}: field \"duration\" must be a non-negative number of seconds, "
                            f"got {entry['duration']!r}")
        if not isinstance(entry["annotations"], list):
            raise UnavError(f"{where}: field \"annotations\" must be a list")
        ids.append(vid)
        subsets.append(entry["subset"])
        durations.append(float(entry["duration"]))
        for k, ann in enumerate(entry["annotations"]):
            at = f"{where}, annotation {k}"
            if not isinstance(ann, dict):
                raise UnavError(f"{at}: expected an object with segment and label")
            for field in ("segment", "label"):
                if field not in ann:
                    raise UnavError(f"{at}: missing field \"{field}\"")
            seg, label = ann["segment"], ann["label"]
            if (not isinstance(seg, (list, tuple)) or len(seg) != 2 or not all(_number(x) for x in seg)
                    or seg[1] < seg[0]):
                raise UnavError(f"{at}: field \"segment\" must be [start, end] seconds with end >= start, "
                                f"got {seg!r}")
            if not isinstance(label, str) or not label:
                raise UnavError(f"{at}: field \"label\" must be a non-empty string, got {label!r}")
            label_id = ann.get("label_id")
            if label_id is not None and (not isinstance(label_id, int) or isinstance(label_id, bool)):
                raise UnavError(f"{at}: field \"label_id\" must be an integer, got {label_id!r}")
            known = label_ids.setdefault(label, label_id)
            if label_id is not None and known is not None and known != label_id:
                raise UnavError(f"{at}: label {label!r} has label_id {label_id}, but {known} elsewhere")
            if known is None:
                label_ids[label] = label_id
            ev_video.append(v)
            ev_start.append(float(seg[0]))
            ev_end.append(float(seg[1]))
            ev_label.append(label)
    labels = sorted(label_ids, key=lambda name: (label_ids[name] is None, label_ids[name] or 0, name))
    index = {name: i for i, name in enumerate(labels)}
    return _Flat(
        ids=ids,
        subsets=subsets,
        durations=np.asarray(durations, dtype=np.float64),
        ev_video=np.asarray(ev_video, dtype=np.int64),
        ev_start=np.asarray(ev_start, dtype=np.float64),
        ev_end=np.asarray(ev_end, dtype=np.float64),
        ev_class=np.asarray([index[name] for name in ev_label], dtype=np.int64),
        labels=labels,
    )


# ------------------------------------------------------------------------------------------ statistics
def _within_video_pairs(ev_video: np.ndarray, num_videos: int) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs (i, j), i != j, of events in the same video. `ev_video` must be non-decreasing."""
    counts = np.bincount(ev_video, minlength=num_videos)        # [V]
    offsets = np.cumsum(counts) - counts                        # [V], first event of each video
    rep = counts[ev_video]                                      # [E], partners of each event (incl. itself)
    first = np.repeat(np.arange(ev_video.size), rep)            # [P]
    starts = np.repeat(np.cumsum(rep) - rep, rep)               # [P]
    second = offsets[ev_video[first]] + (np.arange(first.size) - starts)  # [P]
    keep = first != second
    return first[keep], second[keep]


def _pair_video_counts(video: np.ndarray, a: np.ndarray, b: np.ndarray, num_classes: int) -> np.ndarray:
    """[C, C] number of distinct videos holding each (a, b) pair."""
    c2 = num_classes * num_classes
    keys = np.unique(video * c2 + a * num_classes + b)
    return np.bincount(keys % c2, minlength=c2).reshape(num_classes, num_classes)


def _top_npmi(pair_counts: np.ndarray, class_videos: np.ndarray, num_videos: int, labels: list[str],
              min_count: int, top_k: int, symmetric: bool) -> list[dict[str, Any]]:
    """Rank class pairs of `pair_counts` [C, C] (upper triangle only when symmetric) by NPMI."""
    mask = pair_counts >= max(min_count, 1)
    np.fill_diagonal(mask, False)
    if symmetric:
        mask &= np.triu(np.ones_like(mask), k=1)
    a, b = np.nonzero(mask)
    if a.size == 0:
        return []
    count = pair_counts[a, b].astype(np.float64)
    p_ab = count / num_videos
    p_a = class_videos[a] / num_videos
    p_b = class_videos[b] / num_videos
    with np.errstate(divide="ignore", invalid="ignore"):
        npmi = np.where(p_ab >= 1.0, 1.0, np.log(p_ab / (p_a * p_b)) / -np.log(p_ab))
    names_a = np.asarray(labels, dtype=object)[a]
    names_b = np.asarray(labels, dtype=object)[b]
    order = sorted(range(a.size), key=lambda i: (-npmi[i], -count[i], names_a[i], names_b[i]))[:top_k]
    return [{"a": str(names_a[i]), "b": str(names_b[i]), "npmi": round(float(npmi[i]), 6),
             "count": int(count[i])} for i in order]


def compute_stats(database: dict[str, Any], *, min_pair_videos: int = 10, top_k: int = 10,
                  consecutive_gap: float = 1.0, source: str = "database") -> dict[str, Any]:
    """Statistics of an annotation `database` (video id -> entry); see the module docstring for definitions.

    `source` names the file in error messages. Returns a JSON-serialisable dict.
    """
    flat = _flatten(database, source)
    num_videos, num_events, num_classes = len(flat.ids), int(flat.ev_video.size), len(flat.labels)
    if num_videos == 0:
        raise UnavError(f"{source}: the database holds no videos")

    per_video = np.bincount(flat.ev_video, minlength=num_videos)                 # [V]
    presence = np.zeros((num_videos, max(num_classes, 1)), dtype=bool)           # [V, C]
    presence[flat.ev_video, flat.ev_class] = True
    class_videos = presence.sum(axis=0)                                           # [C]
    distinct = presence.sum(axis=1)                                               # [V]
    ev_dur = flat.ev_end - flat.ev_start                                          # [E]

    i, j = _within_video_pairs(flat.ev_video, num_videos)                         # [P], [P]
    ci, cj = flat.ev_class[i], flat.ev_class[j]
    vid = flat.ev_video[i]
    different = ci != cj
    overlap = np.minimum(flat.ev_end[i], flat.ev_end[j]) - np.maximum(flat.ev_start[i], flat.ev_start[j])
    sim = different & (overlap > 0)
    gap = flat.ev_start[j] - flat.ev_end[i]
    con = different & (gap >= 0) & (gap <= consecutive_gap)
    sim_counts = _pair_video_counts(vid[sim], np.minimum(ci, cj)[sim], np.maximum(ci, cj)[sim], num_classes)
    con_counts = _pair_video_counts(vid[con], ci[con], cj[con], num_classes)
    concurrent_videos = np.unique(vid[sim]).size

    events_per_class = {flat.labels[c]: int(n) for c, n in enumerate(np.bincount(flat.ev_class,
                                                                                 minlength=num_classes))}
    events_per_class = dict(sorted(events_per_class.items(), key=lambda kv: (-kv[1], kv[0])))

    subsets = np.asarray(flat.subsets, dtype=object)
    per_split: dict[str, dict[str, Any]] = {}
    for name in sorted(set(flat.subsets)):
        in_split = subsets == name                                                # [V]
        per_split[name] = {
            "videos": int(in_split.sum()),
            "events": int(per_video[in_split].sum()),
            "classes": int(presence[in_split].any(axis=0).sum()),
        }

    def mean(x: np.ndarray) -> float | None:
        return float(x.mean()) if x.size else None

    return {
        "source": str(source),
        "videos": num_videos,
        "events": num_events,
        "classes": num_classes,
        "events_per_video_mean": float(per_video.mean()),
        "distinct_per_video_mean": float(distinct.mean()),
        "max_events_per_video": int(per_video.max()),
        "max_distinct_per_video": int(distinct.max()),
        "frac_multi_event": float((per_video > 1).mean()),
        "frac_multi_class": float((distinct > 1).mean()),
        "frac_concurrent": concurrent_videos / num_videos,
        "event_duration_mean": mean(ev_dur),
        "event_duration_min": float(ev_dur.min()) if ev_dur.size else None,
        "event_duration_max": float(ev_dur.max()) if ev_dur.size else None,
        "video_duration_mean": float(flat.durations.mean()),
        "video_duration_min": float(flat.durations.min()),
        "video_duration_max": float(flat.durations.max()),
        "events_per_class": events_per_class,
        "per_split": per_split,
        "npmi_settings": {"min_pair_videos": int(min_pair_videos), "top_k": int(top_k),
                          "consecutive_gap": float(consecutive_gap)},
        "top_npmi_simultaneous": _top_npmi(sim_counts, class_videos, num_videos, flat.labels,
                                           min_pair_videos, top_k, symmetric=True),
        "top_npmi_consecutive": _top_npmi(con_counts, class_videos, num_videos, flat.labels,
                                          min_pair_videos, top_k, symmetric=False),
    }


# ------------------------------------------------------------------------------------------------ plots
def _save(fig: Any, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def plot_stats(stats: dict[str, Any], database: dict[str, Any], out_dir: str | os.PathLike) -> list[Path]:
    """Write the PNGs named in PLOT_FILES into `out_dir` (Agg, no display needed); return their paths."""
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    flat = _flatten(database, stats.get("source", "database"))
    paths = [out / name for name in PLOT_FILES]

    # Fig. 2 style: events per class, sorted, stacked by split
    order = list(stats["events_per_class"])                       # labels, most events first
    index = {name: k for k, name in enumerate(flat.labels)}
    cls_order = np.asarray([index[name] for name in order], dtype=np.int64)
    ev_split = np.asarray(flat.subsets, dtype=object)[flat.ev_video] if flat.ev_video.size else np.array([])
    fig = Figure(figsize=(max(8.0, 0.18 * len(order) + 2), 5.5))
    ax = fig.add_subplot()
    x = np.arange(len(order))
    bottom = np.zeros(len(order))
    for split in sorted(set(flat.subsets)):
        counts = np.bincount(flat.ev_class[ev_split == split], minlength=len(flat.labels))[cls_order]
        ax.bar(x, counts, bottom=bottom, label=split, width=0.8)
        bottom += counts
    ax.set_xticks(x)
    ax.set_xticklabels(order, rotation=90, fontsize=6)
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_ylabel("events")
    ax.set_title(f"Events per class ({stats['events']} events, {stats['classes']} classes)")
    if len(set(flat.subsets)) > 1:
        ax.legend()
    _save(fig, paths[0])

    # events per video
    per_video = np.bincount(flat.ev_video, minlength=len(flat.ids))
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ax.hist(per_video, bins=np.arange(per_video.max() + 2) - 0.5, edgecolor="black", linewidth=0.4)
    ax.set_xlabel("events per video")
    ax.set_ylabel("videos")
    ax.set_title(f"Events per video (mean {stats['events_per_video_mean']:.2f}, max {stats['max_events_per_video']})")
    _save(fig, paths[1])

    # event durations
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ev_dur = flat.ev_end - flat.ev_start
    ax.hist(ev_dur, bins=60, edgecolor="black", linewidth=0.4)
    ax.set_xlabel("event duration (s)")
    ax.set_ylabel("events")
    mean_dur = stats["event_duration_mean"]
    ax.set_title("Event durations" + (f" (mean {mean_dur:.1f} s)" if mean_dur is not None else ""))
    _save(fig, paths[2])

    # video durations
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ax.hist(flat.durations, bins=60, edgecolor="black", linewidth=0.4)
    ax.set_xlabel("video duration (s)")
    ax.set_ylabel("videos")
    ax.set_title(f"Video durations (mean {stats['video_duration_mean']:.1f} s)")
    _save(fig, paths[3])

    # Fig. 3 style: the strongest simultaneous and consecutive class pairs by NPMI
    fig = Figure(figsize=(12, 5))
    for k, (key, title, sep) in enumerate((("top_npmi_simultaneous", "Simultaneous pairs", " & "),
                                           ("top_npmi_consecutive", "Consecutive pairs", " \u2192 "))):
        ax = fig.add_subplot(1, 2, k + 1)
        pairs = stats[key]
        if pairs:
            names = [f"{p['a']}{sep}{p['b']} ({p['count']})" for p in pairs][::-1]
            ax.barh(np.arange(len(pairs)), [p["npmi"] for p in pairs][::-1])
            ax.set_yticks(np.arange(len(pairs)))
            ax.set_yticklabels(names, fontsize=7)
            ax.set_xlim(min(0.0, min(p["npmi"] for p in pairs)), 1.0)
        else:
            ax.text(0.5, 0.5, "no pair reaches the minimum count", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_xlabel("NPMI")
        ax.set_title(title)
    _save(fig, paths[4])
    return paths
