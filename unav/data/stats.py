"""Dataset statistics of a UnAV-format annotation file (section 3.3 and Fig. 2-3 of the UnAV-100 paper).

The annotation file is read and validated by unav.data.annotations, with the rules and messages of every other
command (a file `stats` accepts is one `train` accepts); the statistics use the file's own numbers.

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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .annotations import Annotations, annotations_from_dict
from ..errors import UnavError
from ..io import atomic_path

__all__ = ["as_annotations", "compute_stats", "plot_stats", "PLOT_FILES"]

# file names written by plot_stats, in order
PLOT_FILES = (
    "events_per_class.png",
    "events_per_video.png",
    "event_durations.png",
    "video_durations.png",
    "npmi_pairs.png",
)


# --------------------------------------------------------------------------------------------- parsing
def as_annotations(data: Annotations | Mapping[str, Any], source: str = "database") -> Annotations:
    """Validated annotations: as given, or a bare `database` mapping validated by unav.data.annotations (the
    rules and messages of every other command; `source` names it in the messages)."""
    if isinstance(data, Annotations):
        return data
    return annotations_from_dict({"database": data}, source=source)


@dataclass(frozen=True)
class _Flat:
    """The database as flat arrays. V videos, E events, C classes."""

    ids: list[str]            # [V]
    subsets: list[str]        # [V], lower-cased
    durations: np.ndarray     # [V] float64, video durations (s)
    ev_video: np.ndarray      # [E] int64, index of the event's video (non-decreasing)
    ev_start: np.ndarray      # [E] float64
    ev_end: np.ndarray        # [E] float64
    ev_class: np.ndarray      # [E] int64, index into labels
    labels: list[str]         # [C], the classes with events, by label_id


def _flatten(ann: Annotations) -> _Flat:
    # The file's own numbers (float64), not the float32 copies kept for the model.
    database = ann.database
    ids = list(ann.videos)
    events = [database[vid].get("annotations", []) for vid in ids]
    counts = np.asarray([len(evs) for evs in events], dtype=np.int64)                       # [V]
    seg = np.asarray([ev["segment"] for evs in events for ev in evs], dtype=np.float64).reshape(-1, 2)  # [E, 2]
    label_ids = np.asarray([ev["label_id"] for evs in events for ev in evs], dtype=np.int64)  # [E]
    used = np.unique(label_ids)                                                              # [C]
    return _Flat(
        ids=ids,
        subsets=[ann.videos[vid].subset.lower() for vid in ids],
        durations=np.asarray([ann.videos[vid].duration for vid in ids], dtype=np.float64),
        ev_video=np.repeat(np.arange(len(ids), dtype=np.int64), counts),
        ev_start=seg[:, 0].copy(),
        ev_end=seg[:, 1].copy(),
        ev_class=np.searchsorted(used, label_ids).astype(np.int64),
        labels=[ann.classes[i] for i in used.tolist()],
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


def compute_stats(annotations: Annotations | Mapping[str, Any], *, min_pair_videos: int = 10, top_k: int = 10,
                  consecutive_gap: float = 1.0, source: str = "database") -> dict[str, Any]:
    """Statistics of validated annotations (or of a bare `database` mapping, video id -> entry, validated
    here); see the module docstring for definitions. `source` names a mapping in error messages.
    Returns a JSON-serialisable dict."""
    ann = as_annotations(annotations, source)
    source = ann.source
    flat = _flatten(ann)
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


def plot_stats(stats: dict[str, Any], annotations: Annotations | Mapping[str, Any],
               out_dir: str | os.PathLike) -> list[Path]:
    """Write the PNGs named in PLOT_FILES into `out_dir` (Agg, no display needed); return their paths."""
    from matplotlib.figure import Figure

    flat = _flatten(as_annotations(annotations, stats.get("source", "database")))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
