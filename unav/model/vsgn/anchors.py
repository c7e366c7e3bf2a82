"""VSGN anchors: generation per pyramid level, box coding, IoU, target assignment and the 1-D GIoU loss.

Coordinates are feature-grid rows (row i is centred at i, as `segments` of the trainer). A level of stride s
holds T_l positions; position i covers rows [i*s, i*s + s - 1], so its anchors are centred at i*s + (s-1)/2
with lengths s * scale for every `anchor_scales` entry (official AnchorGenerator: base anchor [0, s-1] scaled
about its centre). Anchors are flattened position-major, scale-minor, levels fine -> coarse: the layout of the
heads' outputs."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_MAX_LOG_RATIO = math.log(1000.0 / 16)   # maskrcnn-benchmark's clamp of the decoded log-length


def make_anchors(lengths: list[int], strides: list[int], scales: list[float],
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """Anchors of all levels: lengths[l] positions at stride strides[l] -> [A, 2] (start, end),
    A = sum_l lengths[l] * len(scales)."""
    scale = torch.tensor(scales, dtype=torch.float32, device=device)                # [S]
    out = []
    for n, s in zip(lengths, strides):
        centre = torch.arange(n, dtype=torch.float32, device=device) * s + (s - 1) / 2  # [T_l]
        half = (s * scale / 2)[None, :]                                                  # [1, S]
        out.append(torch.stack([centre[:, None] - half, centre[:, None] + half], -1).reshape(-1, 2))
    return torch.cat(out)                                                                # [A, 2]


def encode(boxes: torch.Tensor, anchors: torch.Tensor, weights: tuple[float, float]) -> torch.Tensor:
    """Regression targets of boxes w.r.t. anchors (any [..., 2]): (wc * dcentre / len_a, wl * log(len_b / len_a))."""
    la = anchors[..., 1] - anchors[..., 0]
    ca = (anchors[..., 0] + anchors[..., 1]) / 2
    lb = (boxes[..., 1] - boxes[..., 0]).clamp(min=1e-6)
    cb = (boxes[..., 0] + boxes[..., 1]) / 2
    return torch.stack([weights[0] * (cb - ca) / la, weights[1] * torch.log(lb / la)], -1)


def decode(deltas: torch.Tensor, anchors: torch.Tensor, weights: tuple[float, float]) -> torch.Tensor:
    """Inverse of `encode`: deltas [..., 2] on anchors [..., 2] -> boxes [..., 2] (start, end)."""
    la = anchors[..., 1] - anchors[..., 0]
    ca = (anchors[..., 0] + anchors[..., 1]) / 2
    c = ca + deltas[..., 0] / weights[0] * la
    half = la * torch.exp((deltas[..., 1] / weights[1]).clamp(max=_MAX_LOG_RATIO)) / 2
    return torch.stack([c - half, c + half], -1)


def iou_matrix(boxes: torch.Tensor, gts: torch.Tensor) -> torch.Tensor:
    """1-D IoU of boxes [B, A, 2] with ground truths [B, G, 2] -> [B, A, G]."""
    inter = (torch.minimum(boxes[:, :, None, 1], gts[:, None, :, 1])
             - torch.maximum(boxes[:, :, None, 0], gts[:, None, :, 0])).clamp(min=0)
    union = (boxes[..., 1] - boxes[..., 0])[:, :, None] + (gts[..., 1] - gts[..., 0])[:, None, :] - inter
    return inter / union.clamp(min=1e-6)


def pad_targets(segments: list[torch.Tensor], labels: list[torch.Tensor],
                device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-video lists -> gts [B, G, 2], labels [B, G] (long), valid [B, G] (G >= 1; padding invalid)."""
    g = max([1] + [int(s.shape[0]) for s in segments])
    b = len(segments)
    gts = torch.zeros(b, g, 2, device=device)
    labs = torch.zeros(b, g, dtype=torch.long, device=device)
    valid = torch.zeros(b, g, dtype=torch.bool, device=device)
    for i, (s, lab) in enumerate(zip(segments, labels)):   # a loop over videos, not anchors
        n = int(s.shape[0])
        gts[i, :n] = s.to(device, torch.float32)
        labs[i, :n] = lab.to(device)
        valid[i, :n] = True
    return gts, labs, valid


def assign(boxes: torch.Tensor, box_mask: torch.Tensor, gts: torch.Tensor, gt_labels: torch.Tensor,
           gt_valid: torch.Tensor, iou_threshold: float,
           num_classes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """IoU matching of boxes (anchors, or predicted boxes for the later stages) to ground truths.

    boxes [B, A, 2], box_mask [B, A] bool (anchors at valid positions), gts [B, G, 2], gt_labels [B, G],
    gt_valid [B, G] -> cls_targets [B, A, C] (0/1), matched [B, A, 2] (the best-IoU positive gt), pos [B, A].
    A (box, gt) pair is positive when IoU >= iou_threshold, or when the box is one of the gt's best-IoU boxes
    (the official Matcher with allow_low_quality_matches, so short events too keep a positive). Unlike the
    official single-label matching, a box is positive for every class of the gts it matches: UnAV events of
    different classes often coincide."""
    iou = iou_matrix(boxes, gts)                                                        # [B, A, G]
    ok = box_mask[:, :, None] & gt_valid[:, None, :]
    iou = torch.where(ok, iou, torch.full_like(iou, -1.0))
    best_per_gt = iou.amax(1, keepdim=True)                                            # [B, 1, G]
    low_quality = (iou == best_per_gt) & (best_per_gt > 0)
    pair = ok & ((iou >= iou_threshold) | low_quality)                                 # [B, A, G]
    onehot = F.one_hot(gt_labels, num_classes).to(iou.dtype) * gt_valid[..., None]     # [B, G, C]
    cls_targets = torch.bmm(pair.to(iou.dtype), onehot).clamp(max=1.0)                 # [B, A, C]
    best = torch.where(pair, iou, torch.full_like(iou, -2.0)).argmax(-1)               # [B, A]
    matched = torch.gather(gts, 1, best[..., None].expand(-1, -1, 2))                  # [B, A, 2]
    return cls_targets, matched, pair.any(-1)


def giou_loss_1d(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Summed 1-D GIoU loss of boxes pred/target [N, 2] (start, end); pred ends are ordered first, as released."""
    p0, p1 = torch.minimum(pred[:, 0], pred[:, 1]), torch.maximum(pred[:, 0], pred[:, 1])
    t0, t1 = target[:, 0], target[:, 1]
    inter = (torch.minimum(p1, t1) - torch.maximum(p0, t0)).clamp(min=0)
    union = (p1 - p0) + (t1 - t0) - inter + 1e-7
    enclose = torch.maximum(p1, t1) - torch.minimum(p0, t0) + 1e-7
    return (1 - inter / union + (enclose - union) / enclose).sum()
