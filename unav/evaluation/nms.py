"""1-D non-maximum suppression for temporal segments: Gaussian Soft-NMS, hard NMS, class-wise batching.

Pure PyTorch, no compiled extension. Semantics follow the localizer's reference post-processing:

- Segment "area" is its length plus 1e-6, so IoU(a, b) = inter / (len_a + len_b + 2e-6 - inter).
- Soft-NMS (Gaussian): repeatedly pick the highest remaining score of a group; every other remaining segment
  of the group is rescored by exp(-IoU^2 / sigma) and dropped when its new score is < min_score. Only the
  first `max_seg_num` picks of each group are kept.
- Hard NMS: candidates with score <= min_score are removed first; then greedy picks in score order, each
  removing the remaining segments of its group with IoU >= iou_threshold; first `max_seg_num` picks per group.
- Multi-class: every class is its own group; class-agnostic: a single group. The kept picks of all groups are
  then ranked by score (descending) and the `max_seg_num` best returned.

Why `max_seg_num` iterations suffice (vectorised form): inside one group the score picked at step k is the
maximum of the remaining scores, and after the step all remaining scores are multiplied by weights <= 1 (or
removed), so the sequence of picked scores of a group is non-increasing, and a picked score is final (picked
segments are never rescored). Hence a group's (max_seg_num + 1)-th pick cannot score above any of that group's
first max_seg_num picks, so it can never enter the global top max_seg_num except as a tie with the last one.
We therefore run at most max_seg_num iterations; each one picks the current maximum of *every* group at once on
a padded [G, Nmax] layout (padding = -inf), rescoring all groups in the same tensor ops.

The loop also stops early once max_seg_num picks score strictly above the highest remaining score of every
group (later picks only score lower, so they could not enter the result), and groups whose candidates are
exhausted leave the working rows once they are half of them (smaller tensors).
Ties: within a group the earliest candidate (input order) wins a tie; the final ranking is a stable sort by
score over (pick step, group id).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor

_EPS_LEN = 1e-6  # added to every segment length inside the IoU
_CHECK_EVERY = 4  # NMS steps between exhaustion / early-exit / compaction checks


@contextmanager
def single_threaded() -> Iterator[None]:
    """Run torch CPU ops on one intra-op thread, then restore the previous count.

    The NMS loop runs ~20 tiny ops per step; on a busy machine every multi-threaded region among them can wait
    milliseconds for a second core, so one thread is both faster and predictable here.
    """
    prev = torch.get_num_threads()
    if prev == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def _empty_like(segs: Tensor, scores: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return segs.new_zeros((0, 2)), scores.new_zeros((0,)), labels.new_zeros((0,))


def _padded_groups(keys: Tensor) -> tuple[Tensor, Tensor, int, int]:
    """Layout of N items into G groups padded to Nmax columns, input order kept inside a group.

    Returns (order [N], flat slot index into [G * Nmax] for order's items [N], G, Nmax).
    """
    order = torch.argsort(keys, stable=True)  # [N]
    _, counts = torch.unique_consecutive(keys[order], return_counts=True)  # [G]
    num_groups = int(counts.numel())
    n_max = int(counts.max())
    row = torch.repeat_interleave(torch.arange(num_groups, device=keys.device), counts)  # [N]
    starts = torch.cumsum(counts, 0) - counts  # [G]
    col = torch.arange(keys.numel(), device=keys.device) - starts[row]  # [N]
    return order, row * n_max + col, num_groups, n_max


@single_threaded()
def _greedy_nms(
    segs: Tensor,
    scores: Tensor,
    labels: Tensor,
    *,
    soft: bool,
    sigma: float,
    iou_threshold: float,
    min_score: float,
    max_seg_num: int,
    multiclass: bool,
) -> tuple[Tensor, Tensor, Tensor]:
    """Shared engine of soft/hard NMS on the padded per-group layout (see module docstring), on one thread."""
    n = scores.numel()
    if n == 0 or max_seg_num <= 0:
        return _empty_like(segs, scores, labels)
    dtype = segs.dtype if segs.is_floating_point() else torch.float32
    segs_f = segs.to(dtype)
    score_f = scores.to(dtype)
    keys = labels if multiclass else torch.zeros_like(labels)
    order, slot, num_groups, n_max = _padded_groups(keys)
    neg_inf = float("-inf")
    device = scores.device

    # padded layout [G, Nmax]: current (rescored) score, -inf = picked, dropped or padding
    cur = score_f.new_full((num_groups * n_max,), neg_inf)
    cur[slot] = score_f[order]
    cur = cur.view(num_groups, n_max)
    # geometry [3, G, Nmax]: start, end, length + eps (padding: empty segment at 0)
    geom = segs_f.new_zeros((3, num_groups * n_max))
    geom[0, slot] = segs_f[order, 0]
    geom[1, slot] = segs_f[order, 1]
    geom[2] = geom[1] - geom[0] + _EPS_LEN
    geom = geom.view(3, num_groups, n_max)

    if soft:
        # keep iff score >= min_score  <=>  score > the next representable value below min_score
        keep_above = float(torch.nextafter(torch.tensor(min_score, dtype=dtype),
                                           torch.tensor(neg_inf, dtype=dtype)))
        neg_inv_sigma = -1.0 / sigma
        # weights must stay > 0 (a 0 weight times -inf would give nan): clamp only when exp can underflow
        exp_floor = None if neg_inv_sigma > -80.0 else -80.0

    row_group = torch.arange(num_groups, device=device)  # [G'] group id of each working row
    x1, x2, area = geom.unbind(0)  # [G', Nmax] each
    picks_score: list[Tensor] = []  # per iteration [G'] picked score (-inf: group exhausted)
    picks_col: list[Tensor] = []  # per iteration [G'] picked column
    picks_group: list[Tensor] = []  # per iteration [G'] group ids of the working rows
    for step in range(min(max_seg_num, n_max)):
        best, col = cur.max(dim=1)  # [G'], [G'] each group's pick
        if step % _CHECK_EVERY == 0:
            # housekeeping (a few syncs, so not every step)
            top = float(best.max())  # no later pick of any group can score above this
            if top == neg_inf:
                break  # every group exhausted
            if picks_score and int((torch.cat(picks_score) > top).sum()) >= max_seg_num:
                # early exit: max_seg_num picks already beat every future pick, so the result is final
                break
            alive = torch.isfinite(best)  # [G']
            if 2 * int(alive.sum()) <= cur.shape[0]:
                # most groups are exhausted: keep only the working rows that still have candidates
                cur, geom, best, col, row_group = cur[alive], geom[:, alive], best[alive], col[alive], row_group[alive]
                x1, x2, area = geom.unbind(0)
        picks_score.append(best)
        picks_col.append(col)
        picks_group.append(row_group)
        cur.scatter_(1, col[:, None], neg_inf)  # the picks leave the pool
        px1, px2, parea = geom.gather(2, col.view(1, -1, 1).expand(3, -1, 1)).unbind(0)  # [G', 1] each
        # IoU of every candidate with its group's pick: inter / (len + len_pick + 2 eps - inter)
        inter = torch.minimum(x2, px2)
        inter.sub_(torch.maximum(x1, px1)).clamp_(min=0)
        union = area + parea
        union.sub_(inter)
        iou = inter.div_(union)  # [G', Nmax]
        if soft:
            w = iou.square_().mul_(neg_inv_sigma)
            if exp_floor is not None:
                w.clamp_(min=exp_floor)
            cur.mul_(w.exp_())  # Gaussian decay
            F.threshold(cur, keep_above, neg_inf, inplace=True)  # drop scores under min_score
        else:
            cur.masked_fill_(iou >= iou_threshold, neg_inf)

    if not picks_score:
        return _empty_like(segs, scores, labels)
    # all picks: rank by score, stable over (pick step, group id); keep the max_seg_num best
    flat_score = torch.cat(picks_score)  # [P]
    flat_col = torch.cat(picks_col)  # [P]
    flat_group = torch.cat(picks_group)  # [P]
    valid = torch.isfinite(flat_score).nonzero().squeeze(1)
    rank = valid[torch.argsort(flat_score[valid], descending=True, stable=True)][:max_seg_num]
    # map padded slots back to input rows
    slot_to_input = torch.empty(num_groups * n_max, dtype=torch.long, device=device)
    slot_to_input[slot] = order
    src = slot_to_input[flat_group[rank] * n_max + flat_col[rank]]  # [M]
    return segs[src].clone(), flat_score[rank].to(scores.dtype), labels[src].clone()


def soft_nms(segs: Tensor, scores: Tensor, labels: Tensor, sigma: float = 0.4, min_score: float = 0.001,
             max_seg_num: int = 100, multiclass: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """Gaussian Soft-NMS. segs [N, 2] (start, end), scores [N], labels [N] (long).

    Returns (segs [M, 2], rescored scores [M], labels [M]) sorted by score descending, M <= max_seg_num.
    """
    return _greedy_nms(segs, scores, labels, soft=True, sigma=sigma, iou_threshold=1.0,
                       min_score=min_score, max_seg_num=max_seg_num, multiclass=multiclass)


def hard_nms(segs: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float = 0.7, max_seg_num: int = 100,
             multiclass: bool = True, min_score: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
    """Greedy NMS: a pick removes same-group segments with IoU >= iou_threshold. Candidates with
    score <= min_score are discarded first (when min_score > 0). Output sorted by score descending."""
    if min_score > 0:
        keep = scores > min_score
        segs, scores, labels = segs[keep], scores[keep], labels[keep]
    return _greedy_nms(segs, scores, labels, soft=False, sigma=1.0, iou_threshold=iou_threshold,
                       min_score=float("-inf"), max_seg_num=max_seg_num, multiclass=multiclass)


def seg_voting(nms_segs: Tensor, all_segs: Tensor, all_scores: Tensor, iou_threshold: float) -> Tensor:
    """Refine each kept segment as the score-weighted mean of all candidates overlapping it with
    IoU >= iou_threshold (segment voting; used only by class-agnostic NMS). [M, 2] -> [M, 2]."""
    if nms_segs.numel() == 0:
        return nms_segs
    left = torch.maximum(nms_segs[:, None, 0], all_segs[None, :, 0])  # [M, N]
    right = torch.minimum(nms_segs[:, None, 1], all_segs[None, :, 1])  # [M, N]
    inter = (right - left).clamp(min=0)
    len_nms = (nms_segs[:, 1] - nms_segs[:, 0])[:, None]  # [M, 1]
    len_all = (all_segs[:, 1] - all_segs[:, 0])[None, :]  # [1, N]
    iou = inter / (len_nms + len_all - inter)
    weights = (iou >= iou_threshold).to(all_scores.dtype) * all_scores[None, :]  # [M, N]
    weights = weights / weights.sum(dim=1, keepdim=True)
    return weights @ all_segs.to(weights.dtype)


def batched_nms(
    segs: Tensor,
    scores: Tensor,
    labels: Tensor,
    method: str = "soft",
    iou_threshold: float = 0.7,
    min_score: float = 0.001,
    max_seg_num: int = 100,
    sigma: float = 0.4,
    multiclass: bool = True,
    voting_thresh: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """NMS by `method` ("soft" | "hard" | "none"), then the max_seg_num best over all classes, sorted by
    score descending. "none" only ranks and truncates. voting_thresh > 0 enables segment voting, which
    (as in the reference) applies to class-agnostic NMS only."""
    if method == "soft":
        out = soft_nms(segs, scores, labels, sigma=sigma, min_score=min_score,
                       max_seg_num=max_seg_num, multiclass=multiclass)
    elif method == "hard":
        out = hard_nms(segs, scores, labels, iou_threshold=iou_threshold, max_seg_num=max_seg_num,
                       multiclass=multiclass, min_score=min_score)
    elif method == "none":
        rank = torch.argsort(scores, descending=True, stable=True)[:max_seg_num]
        return segs[rank], scores[rank], labels[rank]
    else:
        raise ValueError(f"unknown NMS method {method!r}: expected 'soft', 'hard' or 'none'")
    if voting_thresh > 0 and not multiclass and out[0].shape[0] > 0:
        out = (seg_voting(out[0], segs, scores, voting_thresh).to(segs.dtype), out[1], out[2])
    return out
