"""1-D segment helpers of TadTR: (centre, width) <-> (start, end) and the pairwise IoU matrix."""
from __future__ import annotations

import torch


def cw_to_se(seg: torch.Tensor) -> torch.Tensor:
    """[..., 2] (centre, width) -> [..., 2] (start, end)."""
    c, w = seg.unbind(-1)
    return torch.stack((c - 0.5 * w, c + 0.5 * w), dim=-1)


def se_to_cw(seg: torch.Tensor) -> torch.Tensor:
    """[..., 2] (start, end) -> [..., 2] (centre, width)."""
    s, e = seg.unbind(-1)
    return torch.stack((0.5 * (s + e), e - s), dim=-1)


def pairwise_iou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """a [N, 2], b [M, 2] (start, end) -> IoU [N, M]."""
    inter = (torch.minimum(a[:, None, 1], b[None, :, 1]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    union = (a[:, 1] - a[:, 0])[:, None] + (b[:, 1] - b[:, 0])[None, :] - inter
    return inter / union.clamp(min=eps)


def paired_iou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """a [N, 2], b [N, 2] (start, end) -> IoU of each pair [N]."""
    inter = (torch.minimum(a[:, 1], b[:, 1]) - torch.maximum(a[:, 0], b[:, 0])).clamp(min=0)
    union = (a[:, 1] - a[:, 0]) + (b[:, 1] - b[:, 0]) - inter
    return inter / union.clamp(min=eps)
