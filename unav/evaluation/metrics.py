"""Detection mAP of UnAV-100 (ActivityNet style), following docs/metrics.md of the shared material.

The headline numbers (`mAP`, `average_mAP`, `per_class_AP`) reproduce the official evaluator's rules:
greedy matching per class and per tIoU threshold, predictions in descending score order, ground truths
visited in descending tIoU, all-points interpolated AP. Everything is numpy; the only Python loops are over
classes (AP) and over "the k-th prediction of every (class, video) pair" (matching), never over predictions.

Documented differences from the release:
- a prediction whose class has no ground truth in the split is ignored (the release may remap it onto
  another class's index);
- predictions for videos of other splits are ignored, with a warning that counts them (the release counts
  them as false positives);
- a pair of empty segments (0/0 tIoU) counts as tIoU 0 (the release's NaN would sort first and match).

Inputs are checked, never silently dropped: the annotations by unav.data.annotations (the rules of every
command); each prediction entry needs a finite `segment` [start, end] with end >= start (a zero-length
segment is legal: predict clips segments to the video, and tIoU handles it), a finite `score`, and a
`label_id` and/or `label` that agree with the annotation file (an id it does not define, or a name it gives
another id, is refused). A video the annotation file does not hold is refused. Every problem is listed.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..data.annotations import UNUSED_CLASS, Annotations, annotations_from_dict
from ..errors import UnavError, UnavProblems

log = logging.getLogger(__name__)

TIOU_THRESHOLDS = np.linspace(0.1, 0.9, 9)
DEDUP_TOLERANCE = 1e-3  # seconds; duplicate ground truth = same class, both ends within this
# Event length buckets (seconds): short < 2, 2 <= medium <= 10, long > 10.
LENGTH_BUCKETS: dict[str, tuple[float, float]] = {"short": (0.0, 2.0), "medium": (2.0, 10.0), "long": (10.0, math.inf)}
CONCURRENCY_GROUPS: dict[str, tuple[int, int]] = {"1": (1, 1), "2": (2, 2), "3+": (3, 1 << 30)}
TABLE_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


# ----------------------------------------------------------------------------------------------------------
# Inputs


@dataclass
class GroundTruth:
    """Ground truth of one split after de-duplication, in file order (video order, then annotation order),
    and what the whole annotation file says about videos and classes (to check predictions against)."""

    video_ids: list[str]  # the split's videos, file order
    video: np.ndarray  # [G] int64 index into video_ids
    label: np.ndarray  # [G] int64 label_id
    start: np.ndarray  # [G] float64 seconds
    end: np.ndarray  # [G] float64 seconds
    names: dict[int, str]  # label_id -> label name
    classes: list[str] = field(default_factory=list)  # the file's classes[label_id] (unused ids included)
    file_videos: frozenset[str] = frozenset()  # every video of the file, any split
    source: str = "annotations"  # the annotation file, for messages

    def __post_init__(self) -> None:
        # label -> label_id of the classes the file defines (not its unused ids)
        self.label_ids = {name: i for i, name in enumerate(self.classes) if name != UNUSED_CLASS.format(i)}


@dataclass
class Predictions:
    """Predictions kept for evaluation, in file order (video order of `results`, then list order)."""

    video: np.ndarray  # [P] int64 index into GroundTruth.video_ids
    label: np.ndarray  # [P] int64 label_id
    start: np.ndarray  # [P] float64
    end: np.ndarray  # [P] float64
    score: np.ndarray  # [P] float64
    num_total: int  # entries in the results mapping
    num_unknown_video: int  # entries for videos of other splits
    num_no_gt_class: int  # entries of a class without ground truth in the split
    num_videos_with_predictions: int  # split videos with at least one entry


def _validated(annotations: Annotations | Mapping[str, Any]) -> Annotations:
    """Annotations as given, or a bare `database` mapping validated by unav.data.annotations."""
    if isinstance(annotations, Annotations):
        return annotations
    if not isinstance(annotations, Mapping):
        raise UnavError("annotations: 'database' must be a mapping of video id -> video entry")
    return annotations_from_dict({"database": dict(annotations)}, source="annotations")


def load_ground_truth(annotations: Annotations | Mapping[str, Any], split: str = "test") -> GroundTruth:
    """Videos whose lower-cased `subset` equals `split`; duplicates dropped greedily in file order. The file's
    own numbers are used (float64), not the float32 copies kept for the model."""
    ann = _validated(annotations)
    database = ann.database
    video_ids = ann.split(split)
    rows: list[tuple[int, int, float, float]] = []
    for v, vid in enumerate(video_ids):
        kept: list[tuple[int, float, float]] = []
        for a in database[vid].get("annotations", []):
            s, e = (float(x) for x in a["segment"])
            lab = a["label_id"]
            if any(k == lab and abs(ks - s) <= DEDUP_TOLERANCE and abs(ke - e) <= DEDUP_TOLERANCE
                   for k, ks, ke in kept):
                continue
            kept.append((lab, s, e))
            rows.append((v, lab, s, e))
    arr = np.array(rows, dtype=np.float64).reshape(-1, 4)  # [G, 4]
    label = arr[:, 1].astype(np.int64)
    return GroundTruth(video_ids, arr[:, 0].astype(np.int64), label, arr[:, 2].copy(), arr[:, 3].copy(),
                       {int(c): ann.classes[c] for c in np.unique(label).tolist()}, list(ann.classes),
                       frozenset(ann.videos), ann.source)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _class_problem(label: Any, lab: Any, gt: GroundTruth) -> str | None:
    """What the annotation file says against an entry's `label` / `label_id` (either may be None)."""
    n, src, defined = len(gt.classes), gt.source, gt.label_ids
    if lab is not None and not 0 <= lab < n:
        known = f"label_ids 0..{n - 1}" if n else "no classes"
        return f"label_id {lab} is not a class of annotation file {src}, which defines {known}"
    if label is None:
        return None
    if lab is None:
        if label not in defined:
            return (f"label {label!r} is not a class of annotation file {src} ({len(defined)} labels there); "
                    f"expected one of its labels or a label_id")
        return None
    name, other = gt.classes[lab], defined.get(label)
    if name != UNUSED_CLASS.format(lab) and name != label:
        said = f"; it gives {label!r} label_id {other}" if other is not None else ""
        return f"label {label!r} contradicts label_id {lab}: annotation file {src} names label_id {lab} {name!r}{said}"
    if other is not None and other != lab:   # an id without events in the file, named after another class
        return (f"label {label!r} contradicts label_id {lab}: annotation file {src} gives {label!r} label_id "
                f"{other} (label_id {lab} has no events there)")
    return None


def _entry_problems(entry: Any, gt: GroundTruth) -> tuple[list[str], tuple[float, float, int, float] | None]:
    """Every problem of one prediction entry, or its (start, end, label_id, score)."""
    if not isinstance(entry, Mapping):
        return [f"expected an object with 'segment', 'label_id' (and/or 'label') and 'score', "
                f"got {_short(entry)}"], None
    problems = [f"missing field {f!r}" for f in ("segment", "score") if f not in entry]
    if "label_id" not in entry and "label" not in entry:
        problems.append("missing field 'label_id' (or 'label')")
    seg, lab, label, sc = entry.get("segment"), entry.get("label_id"), entry.get("label"), entry.get("score")
    if "segment" in entry:
        if not isinstance(seg, (list, tuple)) or len(seg) != 2 or not all(_finite(x) for x in seg):
            problems.append(f"field 'segment' must be [start, end] finite numbers, got {_short(seg)}")
        elif seg[1] < seg[0]:
            problems.append(f"field 'segment' ends before it starts: {_short(seg)}")
    if "label_id" in entry and (isinstance(lab, bool) or not isinstance(lab, int)):
        problems.append(f"field 'label_id' must be an integer, got {_short(lab)}")
        lab = None
    if "label" in entry and (not isinstance(label, str) or not label):
        problems.append(f"field 'label' must be a non-empty string, got {_short(label)}")
        label = None
    if "score" in entry and not _finite(sc):
        problems.append(f"field 'score' must be a finite number, got {_short(sc)}")
    if (lab is not None or label is not None) and (said := _class_problem(label, lab, gt)):
        problems.append(said)
    if problems:
        return problems, None
    if lab is None:
        lab = gt.label_ids[label]
    return [], (float(seg[0]), float(seg[1]), int(lab), float(sc))


def _fast_video(entries: list, gt: GroundTruth) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The common case, vectorised: every entry complete, numbers finite, labels as the file names them."""
    n = len(entries)
    try:  # let numpy infer dtypes, then check them (strings/None/bools give other kinds)
        seg = np.array([r["segment"] for r in entries])
        lab = np.array([r["label_id"] for r in entries])
        sc = np.array([r["score"] for r in entries])
        names = [r.get("label") for r in entries]
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError):
        return None
    if not (seg.shape == (n, 2) and seg.dtype.kind in "if" and lab.shape == (n,) and lab.dtype.kind in "iu"
            and sc.shape == (n,) and sc.dtype.kind in "if"):
        return None
    seg, sc = seg.astype(np.float64), sc.astype(np.float64)
    if not (np.isfinite(seg).all() and np.isfinite(sc).all() and (seg[:, 1] >= seg[:, 0]).all()
            and ((lab >= 0) & (lab < len(gt.classes))).all()):
        return None
    classes = gt.classes
    if not all(name is None or name == classes[i] for name, i in zip(names, lab.tolist())):
        return None
    return seg, lab.astype(np.int64), sc


def _parse_video(vid: str, entries: Any, gt: GroundTruth, source: str,
                 problems: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One video's entries -> segments [n, 2], label ids [n], scores [n]; problems are appended, each naming
    the file, the video, the entry and the field."""
    empty = np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0)
    if not isinstance(entries, list):
        problems.append(f"{source}: video {vid!r}: expected a list of detections, got {type(entries).__name__}")
        return empty
    if not entries:
        return empty
    fast = _fast_video(entries, gt)
    if fast is not None:
        return fast
    rows = []
    for i, entry in enumerate(entries):
        found, row = _entry_problems(entry, gt)
        problems.extend(f"{source}: video {vid!r}, entry {i}: {p}" for p in found)
        if row is not None:
            rows.append(row)
    arr = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return arr[:, :2].copy(), arr[:, 2].astype(np.int64), arr[:, 3].copy()


def load_predictions(results: Mapping[str, Any], gt: GroundTruth, source: str = "predictions") -> Predictions:
    """Validate every entry; keep those of split videos and of classes with ground truth, in file order.
    Entries must agree with the annotation file (video, label_id, label): UnavProblems lists all that do not."""
    if not isinstance(results, Mapping):
        raise UnavError(f"{source}: 'results' must be a mapping of video id -> list of detections, "
                        f"got {type(results).__name__}")
    index = {vid: i for i, vid in enumerate(gt.video_ids)}
    gt_classes = np.unique(gt.label)
    parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    problems: list[str] = []
    total = unknown = 0
    with_preds = 0
    for vid, entries in results.items():
        if vid not in gt.file_videos:
            problems.append(f"{source}: video {vid!r} is not in annotation file {gt.source}; expected predictions "
                            f"for its videos only")
            continue
        seg, lab, sc = _parse_video(str(vid), entries, gt, source, problems)
        total += len(sc)
        v = index.get(vid)
        if v is None:
            unknown += len(sc)
            continue
        with_preds += len(sc) > 0
        parts.append((v, seg, lab, sc))
    if problems:
        raise UnavProblems(problems, header=f"predictions file {source}")
    if parts:
        video = np.concatenate([np.full(len(p[3]), p[0], np.int64) for p in parts])  # [P]
        seg = np.concatenate([p[1] for p in parts])  # [P, 2]
        label = np.concatenate([p[2] for p in parts])  # [P]
        score = np.concatenate([p[3] for p in parts])  # [P]
    else:
        video, seg, label, score = np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0)
    known = np.isin(label, gt_classes)
    return Predictions(video[known], label[known], seg[known, 0].copy(), seg[known, 1].copy(), score[known],
                       total, unknown, int((~known).sum()), with_preds)


# ----------------------------------------------------------------------------------------------------------
# Matching


def segment_tiou(p_start: np.ndarray, p_end: np.ndarray, g_start: np.ndarray, g_end: np.ndarray) -> np.ndarray:
    """Elementwise (broadcast) tIoU, with the release's order of float operations; 0/0 counts as 0."""
    inter = np.clip(np.minimum(p_end, g_end) - np.maximum(p_start, g_start), 0, None)
    union = (g_end - g_start) + (p_end - p_start) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        tiou = inter / union
    return np.where(np.isnan(tiou), 0.0, tiou)


@dataclass
class _Candidates:
    """Per prediction, its video's ground truths of its class in the release's visiting order."""

    gt: np.ndarray  # [P, M] int64 ground-truth row, -1 padding
    tiou: np.ndarray  # [P, M] float64 descending, -inf padding
    rank: np.ndarray  # [P] int64 position in its class's descending-score order


def _candidates(gt: GroundTruth, pred: Predictions, min_threshold: float) -> _Candidates:
    n_video = max(len(gt.video_ids), 1)
    # Ground truth grouped by (class, video), file order inside a group.
    gkey = gt.label * n_video + gt.video  # [G]
    gperm = np.argsort(gkey, kind="stable")  # [G]
    ukeys, gfirst, gcount = np.unique(gkey[gperm], return_index=True, return_counts=True)
    m = int(gcount.max()) if len(gcount) else 1
    pkey = pred.label * n_video + pred.video  # [P]
    pos = np.searchsorted(ukeys, pkey)  # [P]
    pos_c = np.minimum(pos, max(len(ukeys) - 1, 0))
    found = (pos < len(ukeys)) & (ukeys[pos_c] == pkey) if len(ukeys) else np.zeros(len(pkey), bool)
    count = np.where(found, gcount[pos_c] if len(ukeys) else 0, 0)  # [P]
    slot = np.arange(m)  # [M]
    valid = slot[None, :] < count[:, None]  # [P, M]
    rows = np.where(valid, gperm[np.minimum(gfirst[pos_c][:, None] + slot[None, :], len(gperm) - 1)]
                    if len(gperm) else -1, -1)  # [P, M] ground-truth rows in file order
    tiou = segment_tiou(pred.start[:, None], pred.end[:, None], gt.start[rows], gt.end[rows]) if len(gperm) \
        else np.zeros(rows.shape)
    tiou = np.where(valid, tiou, -np.inf)  # [P, M]
    # Visiting order: descending tIoU. Any descending sort is right unless a row has equal tIoUs that can
    # match (>= the lowest threshold); those rows take the release's reversed default argsort exactly.
    order = np.argsort(-tiou, axis=1, kind="stable")  # [P, M]
    stiou = np.take_along_axis(tiou, order, axis=1)
    srows = np.take_along_axis(rows, order, axis=1)
    tied = ((stiou[:, 1:] == stiou[:, :-1]) & (stiou[:, 1:] >= min_threshold)).any(axis=1)
    for p in np.flatnonzero(tied):
        c = int(count[p])
        o = tiou[p, :c].argsort()[::-1]
        stiou[p, :c] = tiou[p, :c][o]
        srows[p, :c] = rows[p, :c][o]
    # Class-wise descending score order: the release's scores.argsort()[::-1] on the class's predictions
    # taken in file order.
    rank = np.empty(len(pred.score), np.int64)
    cperm = np.argsort(pred.label, kind="stable")
    bounds = np.flatnonzero(np.diff(pred.label[cperm])) + 1
    for block in np.split(cperm, bounds):
        if len(block):
            rank[block[pred.score[block].argsort()[::-1]]] = np.arange(len(block))
    return _Candidates(srows, stiou, rank)


def _match(cand: _Candidates, pred: Predictions, keep: np.ndarray, gt_keep: np.ndarray,
           thresholds: np.ndarray) -> np.ndarray:
    """True positives [len(keep), T] of the kept predictions against the kept ground truths (bool mask [G]).

    Locks are per ground truth and a ground truth belongs to one (class, video), so pairs are independent:
    step k matches the k-th best-scored prediction of every pair at once, vectorised over thresholds."""
    n_gt = len(gt_keep)
    rows = cand.gt[keep]  # [K, M]
    usable = np.append(gt_keep, False)[rows]  # [K, M] (row -1 -> the appended False)
    hits = (cand.tiou[keep][:, None, :] >= thresholds[None, :, None]) & usable[:, None, :]  # [K, T, M]
    tp = np.zeros((len(keep), len(thresholds)), bool)  # [K, T]
    live = np.flatnonzero(hits.any(axis=(1, 2)))  # predictions that can match at all
    if len(live) == 0:
        return tp
    n_video = int(pred.video.max()) + 1
    key = pred.label[keep[live]] * n_video + pred.video[keep[live]]
    order = np.lexsort((cand.rank[keep[live]], key))  # by pair, then by score rank
    skey = key[order]
    start = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
    step = np.arange(len(order)) - np.repeat(start, np.diff(np.r_[start, len(order)]))  # position in pair
    by_step = np.argsort(step, kind="stable")
    cuts = np.flatnonzero(np.diff(step[by_step])) + 1
    locked = np.zeros((len(thresholds), n_gt + 1), bool)  # [T, G+1]; column G = padding
    tix = np.arange(len(thresholds))[None, :, None]  # [1, T, 1]
    for chunk in np.split(by_step, cuts):
        idx = live[order[chunk]]  # [A] indices into keep
        r = rows[idx]  # [A, M]
        free = hits[idx] & ~locked[tix, r[:, None, :]]  # [A, T, M]
        first = free.argmax(axis=2)  # [A, T]
        has = free.any(axis=2)  # [A, T]
        tp[idx] = has
        a, t = np.nonzero(has)
        locked[t, r[a, first[a, t]]] = True
    return tp


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """All-points interpolated AP (VOC 2011) per row of [T, N] precision/recall -> [T]."""
    t = precision.shape[0]
    mprec = np.hstack([np.zeros((t, 1)), precision, np.zeros((t, 1))])  # [T, N+2]
    mrec = np.hstack([np.zeros((t, 1)), recall, np.ones((t, 1))])
    mprec = np.maximum.accumulate(mprec[:, ::-1], axis=1)[:, ::-1]
    ap = np.empty(t)
    for i in range(t):
        idx = np.flatnonzero(mrec[i, 1:] != mrec[i, :-1]) + 1
        ap[i] = np.sum((mrec[i, idx] - mrec[i, idx - 1]) * mprec[i, idx])
    return ap


def _average_precision(cand: _Candidates, gt: GroundTruth, pred: Predictions, keep: np.ndarray,
                       gt_keep: np.ndarray, thresholds: np.ndarray) -> dict[int, np.ndarray]:
    """AP [T] per class that has kept ground truth."""
    tp = _match(cand, pred, keep, gt_keep, thresholds)  # [K, T]
    classes, npos = np.unique(gt.label[gt_keep], return_counts=True)
    label = pred.label[keep]
    order = np.lexsort((cand.rank[keep], label))  # by class, then descending score
    slabel = label[order]
    lo = np.searchsorted(slabel, classes, "left")
    hi = np.searchsorted(slabel, classes, "right")
    stp = tp[order].T.astype(np.float64)  # [T, K]
    out: dict[int, np.ndarray] = {}
    for c, n, a, b in zip(classes.tolist(), npos, lo, hi):
        tpc = np.cumsum(stp[:, a:b], axis=1)  # [T, n_c]
        fpc = np.cumsum(1.0 - stp[:, a:b], axis=1)
        out[c] = interpolated_ap(tpc / (tpc + fpc), tpc / float(n))
    return out


# ----------------------------------------------------------------------------------------------------------
# Breakdowns


def video_concurrency(gt: GroundTruth) -> np.ndarray:
    """Per split video, the largest number of its events active at one instant ([V] int; 0 without events).

    Events of any class count; touching ends do not overlap. The maximum is reached at some event's start,
    so for each event we count the events of its video with start <= its start < end."""
    n_video = len(gt.video_ids)
    out = np.zeros(n_video, np.int64)
    if len(gt.video) == 0:
        return out
    order = np.argsort(gt.video, kind="stable")
    v = gt.video[order]
    first = np.searchsorted(v, v, "left")
    size = np.searchsorted(v, v, "right") - first  # [G] events in the event's video
    i = np.repeat(np.arange(len(v)), size)  # pairs (i, j) inside each video
    j = np.repeat(first, size) + (np.arange(len(i)) - np.repeat(np.cumsum(size) - size, size))
    s, e = gt.start[order], gt.end[order]
    inside = (s[j] <= s[i]) & (e[j] > s[i])
    active = np.bincount(i, weights=inside, minlength=len(v)).astype(np.int64)  # [G]
    np.maximum.at(out, v, np.maximum(active, 1))
    return out


def _length_bucket(length: np.ndarray, name: str) -> np.ndarray:
    """Mask of events in a LENGTH_BUCKETS bucket: short < 2 s, 2 s <= medium <= 10 s, long > 10 s."""
    lo, hi = LENGTH_BUCKETS[name]
    if name == "short":
        return length < hi
    if name == "long":
        return length > lo
    return (length >= lo) & (length <= hi)


def _summary(ap: dict[int, np.ndarray], thresholds: np.ndarray) -> dict[str, Any]:
    if not ap:
        return {"mAP": [None] * len(thresholds), "average_mAP": None, "num_classes": 0}
    m = np.mean(np.stack(list(ap.values())), axis=0)  # [T]
    return {"mAP": m.tolist(), "average_mAP": float(m.mean()), "num_classes": len(ap)}


# ----------------------------------------------------------------------------------------------------------
# Entry point


def evaluate_detections(annotations: Annotations | Mapping[str, Any], results: Mapping[str, Any],
                        split: str = "test", tiou_thresholds: Sequence[float] | np.ndarray = TIOU_THRESHOLDS, *,
                        predictions_source: str = "predictions") -> dict[str, Any]:
    """Detection mAP of `results` ({id: [{"segment", "label_id", "score", ...}]}) against the videos of
    validated `annotations` (or a bare `database` mapping {id: {"subset", "duration", "annotations": [...]}},
    validated here) whose subset is `split`. `predictions_source` names the results in error messages.
    JSON-serialisable output.

    Breakdowns (reported beside the headline, not part of it):
    - by_length: ground truth restricted to events of the bucket's length (short < 2 s, medium 2-10 s,
      long > 10 s). Each prediction is attributed to the bucket of its best-overlapping ground truth of its
      class in its video (highest tIoU, first in the visiting order); predictions attributed to another
      bucket are dropped, predictions overlapping no ground truth of their class stay in every bucket
      (as false positives). Classes without ground truth in the bucket are not averaged.
    - by_concurrency: videos grouped by their largest number of simultaneously active events
      (1, 2, 3+; see `video_concurrency`), each group evaluated on its own videos only.
    Inside a breakdown the score and visiting orders are those of the full evaluation, restricted.
    """
    thresholds = np.asarray(tiou_thresholds, dtype=np.float64)
    gt = load_ground_truth(annotations, split)
    pred = load_predictions(results, gt, predictions_source)
    if pred.num_unknown_video:
        log.warning("%d predictions are for videos outside the %r split and were ignored",
                    pred.num_unknown_video, split)
    cand = _candidates(gt, pred, float(thresholds.min()) if len(thresholds) else 0.0)
    all_pred = np.arange(len(pred.score))
    all_gt = np.ones(len(gt.label), bool)

    ap = _average_precision(cand, gt, pred, all_pred, all_gt, thresholds)
    head = _summary(ap, thresholds)
    npos = dict(zip(*(x.tolist() for x in np.unique(gt.label, return_counts=True))))
    per_class: dict[str, Any] = {}
    for c in sorted(ap):
        name = gt.names.get(c, str(c))
        if name in per_class:
            name = f"{name} ({c})"
        per_class[name] = {"label_id": c, "AP": ap[c].tolist(), "average": float(ap[c].mean()), "num_gt": npos[c]}

    # By event length.
    length = gt.end - gt.start
    best = cand.gt[:, 0] if cand.gt.shape[1] else np.full(len(pred.score), -1)
    attributed = (cand.tiou[:, 0] > 0) if cand.tiou.shape[1] else np.zeros(len(pred.score), bool)
    by_length: dict[str, Any] = {}
    for name, (lo, hi) in LENGTH_BUCKETS.items():
        g_in = _length_bucket(length, name)
        keep = np.flatnonzero(~attributed | np.append(g_in, False)[best])
        entry = _summary(_average_precision(cand, gt, pred, keep, g_in, thresholds), thresholds)
        entry.update(range_s=[lo, None if hi == math.inf else hi], num_gt=int(g_in.sum()),
                     num_predictions=int(len(keep)))
        by_length[name] = entry

    # By concurrency of the video.
    conc = video_concurrency(gt)
    by_conc: dict[str, Any] = {}
    for name, (lo, hi) in CONCURRENCY_GROUPS.items():
        v_in = (conc >= lo) & (conc <= hi)  # [V]
        g_in = v_in[gt.video]
        keep = np.flatnonzero(v_in[pred.video])
        entry = _summary(_average_precision(cand, gt, pred, keep, g_in, thresholds), thresholds)
        entry.update(num_videos=int(v_in.sum()), num_gt=int(g_in.sum()), num_predictions=int(len(keep)))
        by_conc[name] = entry

    return {
        "split": split,
        "tiou_thresholds": thresholds.tolist(),
        "mAP": head["mAP"],
        "average_mAP": head["average_mAP"],
        "num_classes": head["num_classes"],
        "per_class_AP": per_class,
        "breakdowns": {
            "by_length": by_length,
            "by_concurrency": by_conc,
        },
        "num_videos": len(gt.video_ids),
        "num_videos_with_predictions": pred.num_videos_with_predictions,
        "num_gt": int(len(gt.label)),
        "num_predictions": pred.num_total,
        "num_evaluated_predictions": int(len(pred.score)),
        "num_ignored_predictions": pred.num_unknown_video + pred.num_no_gt_class,
        "num_ignored_unknown_video": pred.num_unknown_video,
        "num_ignored_no_gt_class": pred.num_no_gt_class,
    }


def format_table(metrics: Mapping[str, Any]) -> str:
    """The paper's Table 2 row (mAP % at 0.5 ... 0.9 and Avg.) plus a line with all thresholds."""
    thr = [float(t) for t in metrics["tiou_thresholds"]]
    m = metrics["mAP"]

    def pct(x: float | None) -> str:
        return "  n/a" if x is None else f"{100 * x:5.1f}"

    cols = [i for i, t in enumerate(thr) if any(abs(t - c) < 1e-9 for c in TABLE_THRESHOLDS)]
    head = "tIoU " + " ".join(f"{thr[i]:5.1f}" for i in cols) + "   Avg."
    row = "mAP  " + " ".join(pct(m[i]) for i in cols) + " " + pct(metrics["average_mAP"]).rjust(6)
    every = "all  " + "  ".join(f"{t:.1f}:{pct(x).strip()}" for t, x in zip(thr, m))
    return "\n".join([head, row, every])
