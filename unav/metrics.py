"""Detection mAP of UnAV-100 (ActivityNet style), following docs/metrics.md of the shared material.

The headline numbers (`mAP`, `average_mAP`, `per_class_AP`) reproduce the official evaluator's rules:
greedy matching per class and per tIoU threshold, predictions in descending score order, ground truths
visited in descending tIoU, all-points interpolated AP. Everything is numpy; the only Python loops are over
classes (AP) and over "the k-th prediction of every (class, video) pair" (matching), never over predictions.

Documented differences from the release:
- a prediction whose class has no ground truth in the split is ignored (the release may remap it onto
  another class's index);
- predictions for videos outside the split are ignored, with a warning that counts them (the release counts
  them as false positives);
- a pair of empty segments (0/0 tIoU) counts as tIoU 0 (the release's NaN would sort first and match).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import UnavError

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
    """Ground truth of one split after de-duplication, in file order (video order, then annotation order)."""

    video_ids: list[str]  # the split's videos, file order
    video: np.ndarray  # [G] int64 index into video_ids
    label: np.ndarray  # [G] int64 label_id
    start: np.ndarray  # [G] float64 seconds
    end: np.ndarray  # [G] float64 seconds
    names: dict[int, str]  # label_id -> label name (first seen)


@dataclass
class Predictions:
    """Predictions kept for evaluation, in file order (video order of `results`, then list order)."""

    video: np.ndarray  # [P] int64 index into GroundTruth.video_ids
    label: np.ndarray  # [P] int64 label_id
    start: np.ndarray  # [P] float64
    end: np.ndarray  # [P] float64
    score: np.ndarray  # [P] float64
    num_total: int  # entries in the results mapping
    num_unknown_video: int  # entries for videos outside the split
    num_no_gt_class: int  # entries of a class without ground truth in the split
    num_videos_with_predictions: int  # split videos with at least one entry


def load_ground_truth(database: Mapping[str, Any], split: str = "test") -> GroundTruth:
    """Videos whose lower-cased `subset` equals `split`; duplicates dropped greedily in file order."""
    if not isinstance(database, Mapping):
        raise UnavError("annotations: 'database' must be a mapping of video id -> video entry")
    split = split.lower()
    video_ids: list[str] = []
    rows: list[tuple[int, int, float, float]] = []
    names: dict[int, str] = {}
    for vid, entry in database.items():
        if not isinstance(entry, Mapping) or str(entry.get("subset", "")).lower() != split:
            continue
        v = len(video_ids)
        video_ids.append(vid)
        kept: list[tuple[int, float, float]] = []
        for i, ann in enumerate(entry.get("annotations", [])):
            try:
                s, e = (float(x) for x in ann["segment"])
                lab = ann["label_id"]
                if isinstance(lab, bool) or not isinstance(lab, int):
                    raise TypeError("label_id")
            except (KeyError, TypeError, ValueError) as err:
                raise UnavError(f"annotations: video {vid!r}, annotation {i}: expected 'segment' [start, end] "
                                f"and integer 'label_id' ({err})") from None
            if any(k == lab and abs(ks - s) <= DEDUP_TOLERANCE and abs(ke - e) <= DEDUP_TOLERANCE
                   for k, ks, ke in kept):
                continue
            kept.append((lab, s, e))
            rows.append((v, lab, s, e))
            names.setdefault(lab, str(ann.get("label", lab)))
    arr = np.array(rows, dtype=np.float64).reshape(-1, 4)  # [G, 4]
    return GroundTruth(video_ids, arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64),
                       arr[:, 2].copy(), arr[:, 3].copy(), names)


def _entry_error(vid: str, i: int, entry: Any) -> UnavError:
    """Name the first bad field of one prediction entry."""
    where = f"predictions: video {vid!r}, entry {i}"
    if not isinstance(entry, Mapping):
        return UnavError(f"{where}: expected an object with 'segment', 'label_id' and 'score', got {entry!r}")
    for field in ("segment", "label_id", "score"):
        if field not in entry:
            return UnavError(f"{where}: missing field {field!r}")
    seg = entry["segment"]
    if (not isinstance(seg, (list, tuple)) or len(seg) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in seg)):
        return UnavError(f"{where}: field 'segment' must be [start, end] finite numbers, got {seg!r}")
    if seg[1] < seg[0]:
        return UnavError(f"{where}: field 'segment' ends before it starts: {seg!r}")
    lab = entry["label_id"]
    if isinstance(lab, bool) or not isinstance(lab, int):
        return UnavError(f"{where}: field 'label_id' must be an integer, got {lab!r}")
    sc = entry["score"]
    if isinstance(sc, bool) or not isinstance(sc, (int, float)) or not math.isfinite(sc):
        return UnavError(f"{where}: field 'score' must be a finite number, got {sc!r}")
    return UnavError(f"{where}: malformed entry {entry!r}")


def _parse_video(vid: str, entries: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One video's entries -> segments [n, 2], label ids [n], scores [n]; UnavError names the bad field."""
    if not isinstance(entries, list):
        raise UnavError(f"predictions: video {vid!r}: expected a list of detections, got {type(entries).__name__}")
    n = len(entries)
    if n == 0:
        return np.zeros((0, 2)), np.zeros(0, np.int64), np.zeros(0)
    try:  # fast path: let numpy infer dtypes, then check them (strings/None/bools give other kinds)
        seg = np.array([r["segment"] for r in entries])
        lab = np.array([r["label_id"] for r in entries])
        sc = np.array([r["score"] for r in entries])
        ok = (seg.shape == (n, 2) and seg.dtype.kind in "if" and lab.shape == (n,) and lab.dtype.kind in "iu"
              and sc.shape == (n,) and sc.dtype.kind in "if")
        if ok:
            seg = seg.astype(np.float64)
            sc = sc.astype(np.float64)
            ok = bool(np.isfinite(seg).all() and np.isfinite(sc).all() and (seg[:, 1] >= seg[:, 0]).all())
    except (KeyError, TypeError, ValueError, IndexError, OverflowError):
        ok = False
    if not ok:
        for i, entry in enumerate(entries):
            err = _entry_error(vid, i, entry)
            if not str(err).endswith(f"malformed entry {entry!r}"):
                raise err
        raise UnavError(f"predictions: video {vid!r}: malformed detections")
    return seg, lab.astype(np.int64), sc


def load_predictions(results: Mapping[str, Any], gt: GroundTruth) -> Predictions:
    """Validate every entry; keep those of split videos and of classes with ground truth, in file order."""
    if not isinstance(results, Mapping):
        raise UnavError("predictions: 'results' must be a mapping of video id -> list of detections")
    index = {vid: i for i, vid in enumerate(gt.video_ids)}
    gt_classes = np.unique(gt.label)
    parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    total = unknown = 0
    with_preds = 0
    for vid, entries in results.items():
        seg, lab, sc = _parse_video(str(vid), entries)
        total += len(sc)
        v = index.get(vid)
        if v is None:
            unknown += len(sc)
            continue
        with_preds += len(sc) > 0
        parts.append((v, seg, lab, sc))
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


def evaluate_detections(database: Mapping[str, Any], results: Mapping[str, Any], split: str = "test",
                        tiou_thresholds: Sequence[float] | np.ndarray = TIOU_THRESHOLDS) -> dict[str, Any]:
    """Detection mAP of `results` ({id: [{"segment", "label_id", "score", ...}]}) against the videos of
    `database` ({id: {"subset", "annotations": [...]}}) whose subset is `split`. JSON-serialisable output.

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
    gt = load_ground_truth(database, split)
    pred = load_predictions(results, gt)
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
