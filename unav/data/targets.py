"""Training targets for the point-based localizer, vectorised (no loop over points or events).

Points: level l (stride s_l) has points at t = 0, s_l, 2*s_l, ... in grid units (not shifted to cell
centres) with a regression range (lo_l, hi_l]; levels are concatenated, finest first.

Rules (localizer.md; inequalities as in the official release's label_points):
- left = t - start, right = end - t. Point p is positive for event e when min(left, right) > 0
  (strictly inside) and lo <= max(left, right) <= hi (both bounds inclusive, as released).
- Class-aware (the paper): every positive event sets its class channel to 1 and writes its
  (left, right) / stride into that class's regression slot. When several events of the SAME class are
  positive at one point, the release's tensor assignment makes the last one in annotation order win (its
  CPU behaviour; the order is unspecified on GPU). `same_class_rule="last"` reproduces that
  deterministically on any device; "shortest" picks the shortest event instead (ties: earlier event).
- Class-agnostic: among the positive events the shortest (length within 1e-3 grid units of the minimum)
  set their classes to 1; the regression target is the first event of exactly minimal length.
- Regression targets at negative (point, class) pairs are 0 (the release leaves arbitrary values there
  in the class-agnostic case; losses only read positives). A video without events gets all-zero targets
  of the normal shapes (the release returns [P, 2] regression targets then even when class-aware).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import torch
import torch.nn.functional as F

SAME_CLASS_RULES = ("last", "shortest")


@dataclass
class Points:
    t: torch.Tensor        # [P] float32 position in grid units (index * stride)
    stride: torch.Tensor   # [P] float32 stride of the point's level
    lo: torch.Tensor       # [P] float32 lower end of the level's regression range
    hi: torch.Tensor       # [P] float32 upper end
    level: torch.Tensor    # [P] int64 pyramid level index
    lengths: list[int]     # points per level

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def device(self) -> torch.device:
        return self.t.device

    def to(self, device: torch.device | str) -> "Points":
        return replace(self, t=self.t.to(device), stride=self.stride.to(device), lo=self.lo.to(device),
                       hi=self.hi.to(device), level=self.level.to(device))


def make_points(lengths: Sequence[int], strides: Sequence[int],
                regression_range: Sequence[Sequence[float]],
                device: torch.device | str | None = None) -> Points:
    """Points of all levels, concatenated. `lengths[l]` = number of points on level l
    (Tpad // stride with downsampling; Tpad on every level when all strides are 1)."""
    if not (len(lengths) == len(strides) == len(regression_range)):
        raise ValueError(f"make_points: {len(lengths)} lengths, {len(strides)} strides and "
                         f"{len(regression_range)} regression ranges must agree")
    lengths = [int(n) for n in lengths]
    counts = torch.tensor(lengths, dtype=torch.long)
    level = torch.repeat_interleave(torch.arange(len(lengths)), counts)                  # [P]
    stride_l = torch.tensor([float(s) for s in strides], dtype=torch.float32)
    rr = torch.tensor([[float(a), float(b)] for a, b in regression_range], dtype=torch.float32)
    offsets = torch.cumsum(counts, 0) - counts                                            # [L]
    index = torch.arange(int(counts.sum())) - offsets[level]                              # [P]
    stride = stride_l[level]
    pts = Points(t=index.to(torch.float32) * stride, stride=stride, lo=rr[level, 0], hi=rr[level, 1],
                 level=level, lengths=lengths)
    return pts if device is None else pts.to(device)


def _pad_events(segments_list: Sequence[torch.Tensor], labels_list: Sequence[torch.Tensor],
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lists of [N_b, 2] / [N_b] -> segs [B, N, 2] float32, labels [B, N] int64, valid [B, N] bool."""
    b = len(segments_list)
    if b == 1 and segments_list[0].shape[0] > 0:                          # fast path: one video
        s, l = segments_list[0], labels_list[0]
        if int(l.shape[0]) != int(s.shape[0]):
            raise ValueError(f"assign_targets: {int(s.shape[0])} segments but {int(l.shape[0])} labels")
        segs = s.to(device=device, dtype=torch.float32)[None]
        labs = l.to(device=device, dtype=torch.long)[None]
        return segs, labs, torch.ones(labs.shape, dtype=torch.bool, device=device)
    n = max([int(s.shape[0]) for s in segments_list] + [1])
    segs = torch.zeros(b, n, 2, dtype=torch.float32, device=device)
    labs = torch.zeros(b, n, dtype=torch.long, device=device)
    valid = torch.zeros(b, n, dtype=torch.bool, device=device)
    for i, (s, l) in enumerate(zip(segments_list, labels_list)):
        k = int(s.shape[0])
        if int(l.shape[0]) != k:
            raise ValueError(f"assign_targets: video {i} has {k} segments but {int(l.shape[0])} labels")
        if k:
            segs[i, :k] = s.to(device=device, dtype=torch.float32)
            labs[i, :k] = l.to(device=device, dtype=torch.long)
            valid[i, :k] = True
    return segs, labs, valid


def assign_targets_batch(segments_list: Sequence[torch.Tensor], labels_list: Sequence[torch.Tensor],
                         num_classes: int, points: Points, class_aware: bool,
                         same_class_rule: str = "last") -> tuple[torch.Tensor, torch.Tensor]:
    """Targets for a batch. Returns cls [B, P, C] (0/1 float32) and reg [B, P, C, 2] (class-aware) or
    [B, P, 2], distances to start/end divided by the point's stride. Runs on the segments' device."""
    if same_class_rule not in SAME_CLASS_RULES:
        raise ValueError(f"same_class_rule must be one of {SAME_CLASS_RULES}, got {same_class_rule!r}")
    device = segments_list[0].device if len(segments_list) else points.device
    if points.device != device:
        points = points.to(device)
    segs, labs, valid = _pad_events(segments_list, labels_list, device)   # [B,N,2] [B,N] [B,N]
    if int(labs.max()) >= num_classes or int(labs.min()) < 0:
        raise ValueError(f"assign_targets: labels must lie in [0, {num_classes}), got {labs.tolist()}")
    b, n = labs.shape
    p = len(points)
    c = num_classes

    t = points.t[None, :, None]                                           # [1, P, 1]
    left = t - segs[:, None, :, 0]                                        # [B, P, N]
    right = segs[:, None, :, 1] - t                                       # [B, P, N]
    inside = torch.minimum(left, right) > 0
    dist = torch.maximum(left, right)
    in_range = (dist >= points.lo[None, :, None]) & (dist <= points.hi[None, :, None])
    pos = inside & in_range & valid[:, None, :]                           # [B, P, N]
    offsets = torch.stack((left, right), dim=-1)                          # [B, P, N, 2]
    stride = points.stride[None, :, None, None]                           # [1, P, 1, 1]

    if class_aware:
        # Work on the (few) positive (video, point, event) triples only.
        bi, pi, ni = pos.nonzero(as_tuple=True)                           # [K] each
        ci = labs[bi, ni]                                                 # [K] class of each
        flat = (bi * p + pi) * c + ci                                     # [K] index into [B, P, C]
        cls = torch.zeros(b * p * c, dtype=torch.float32, device=device)
        cls[flat] = 1.0
        # Same-class conflicts: keep the triple with the highest event priority per (video, point, class).
        if same_class_rule == "last":
            prio = ni                                                     # later event wins
        else:
            lens = torch.where(valid, segs[..., 1] - segs[..., 0], torch.inf)          # [B, N]
            order = torch.sort(lens, dim=1, stable=True).indices          # shortest (then earliest) first
            rank = torch.empty_like(order).scatter_(
                1, order, torch.arange(n, device=device).expand(b, n).contiguous())    # [B, N]
            prio = (n - 1) - rank[bi, ni]
        # Sort by (index, priority); the last triple of each run of equal indices is the winner.
        order = torch.argsort(flat * n + prio)                            # [K]
        flat_sorted = flat[order]
        last = torch.ones_like(flat_sorted, dtype=torch.bool)
        last[:-1] = flat_sorted[1:] != flat_sorted[:-1]
        win = order[last]                                                 # [K'] unique indices
        reg = torch.zeros(b * p * c, 2, dtype=torch.float32, device=device)
        reg[flat[win]] = offsets[bi[win], pi[win], ni[win]] / points.stride[pi[win], None]
        return cls.view(b, p, c), reg.view(b, p, c, 2)                    # [B, P, C], [B, P, C, 2]

    lens = (segs[..., 1] - segs[..., 0])[:, None, :].expand(b, p, n)      # [B, P, N]
    lens = torch.where(pos, lens, torch.inf)
    min_len = lens.amin(dim=2)                                            # [B, P]
    arg = lens.argmin(dim=2)                                              # first minimal event
    near = (lens <= min_len[..., None] + 1e-3) & pos                      # [B, P, N]
    onehot = F.one_hot(labs, c).to(torch.float32)                         # [B, N, C]
    cls = torch.bmm(near.to(torch.float32), onehot).clamp_(max=1.0)       # [B, P, C]
    reg = torch.gather(offsets, 2, arg[:, :, None, None].expand(b, p, 1, 2))[:, :, 0]  # [B, P, 2]
    reg = torch.where(pos.any(dim=2)[..., None], reg / stride[..., 0], 0.0)
    return cls, reg


def assign_targets(segments: torch.Tensor, labels: torch.Tensor, num_classes: int, points: Points,
                   class_aware: bool, same_class_rule: str = "last") -> tuple[torch.Tensor, torch.Tensor]:
    """Targets for one video: segments [N, 2] grid units, labels [N] -> cls [P, C], reg [P, C, 2] or [P, 2]."""
    cls, reg = assign_targets_batch([segments], [labels], num_classes, points, class_aware,
                                    same_class_rule)
    return cls[0], reg[0]
