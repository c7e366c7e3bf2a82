"""VSGN heads: the anchor classification / regression head (official Head.py: `layers` conv3 + GroupNorm(32) +
ReLU towers, then conv3 outputs per anchor scale), shared over levels, one for the encoder levels and one for
the decoder levels; and the boundary adjustment (official BoundaryAdjust.py) that refines the decoder's boxes
from features sampled around each start and end on the finest decoder level."""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


class MaskedGroupNorm(nn.GroupNorm):
    """GroupNorm over (channels of a group, valid time steps) of [B, C, T]: padding rows never enter the
    statistics, so outputs do not depend on the padding. Subclasses nn.GroupNorm (optimizer: no decay)."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # [B, C, T], [B, T] -> [B, C, T]
        b, c, t = x.shape
        g = self.num_groups
        xg = x.view(b, g, c // g, t)
        m = mask[:, None, None, :].to(x.dtype)                                      # [B, 1, 1, T]
        n = (m.sum(-1, keepdim=True) * (c // g)).clamp(min=1)                      # [B, 1, 1, 1]
        mean = (xg * m).sum((2, 3), keepdim=True) / n
        var = (((xg - mean) * m) ** 2).sum((2, 3), keepdim=True) / n
        y = ((xg - mean) / torch.sqrt(var + self.eps)).view(b, c, t)
        return (y * self.weight[:, None] + self.bias[:, None]) * mask[:, None].to(x.dtype)


def _groups(channels: int, wanted: int = 32) -> int:
    return math.gcd(channels, wanted)


class Head(nn.Module):
    """Per level [B, C, T_l] -> class logits [B, T_l * S, K] and box deltas [B, T_l * S, 2] (S anchor scales)."""

    def __init__(self, dim: int, num_scales: int, num_classes: int, layers: int, prior_prob: float):
        super().__init__()
        self.num_scales, self.num_classes = num_scales, num_classes
        self.cls_convs = nn.ModuleList(nn.Conv1d(dim, dim, 3, 1, 1) for _ in range(layers))
        self.cls_norms = nn.ModuleList(MaskedGroupNorm(_groups(dim), dim) for _ in range(layers))
        self.reg_convs = nn.ModuleList(nn.Conv1d(dim, dim, 3, 1, 1) for _ in range(layers))
        self.reg_norms = nn.ModuleList(MaskedGroupNorm(_groups(dim), dim) for _ in range(layers))
        self.cls_logits = nn.Conv1d(dim, num_scales * num_classes, 3, 1, 1)
        self.bbox_pred = nn.Conv1d(dim, num_scales * 2, 3, 1, 1)
        # our choice (not in Head.py): focal-loss prior on the classifier bias, so training starts stable
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: list[torch.Tensor],
                masks: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        # feats per level [B, C, T_l], masks per level [B, T_l] -> [B, A, K], [B, A, 2] (levels concatenated)
        cls_out, reg_out = [], []
        for x, mask in zip(feats, masks):
            c, r = x, x
            for conv, norm in zip(self.cls_convs, self.cls_norms):
                c = F.relu(norm(conv(c), mask))
            for conv, norm in zip(self.reg_convs, self.reg_norms):
                r = F.relu(norm(conv(r), mask))
            b, _, t = x.shape
            cls_out.append(self.cls_logits(c).view(b, self.num_scales, self.num_classes, t)
                           .permute(0, 3, 1, 2).reshape(b, t * self.num_scales, self.num_classes))
            reg_out.append(self.bbox_pred(r).view(b, self.num_scales, 2, t)
                           .permute(0, 3, 1, 2).reshape(b, t * self.num_scales, 2))
        return torch.cat(cls_out, 1), torch.cat(reg_out, 1)


class BoundaryAdjust(nn.Module):
    """Offsets for the start and end of every box [B, A, 2] from 3 features of the finest decoder level
    ([B, C, T_0], stride `stride`) sampled at the boundary and at +-(length / beta) around it, each side
    through conv3 (over the 3 samples) + ReLU + conv1 -> one offset in grid rows, added to the box."""

    def __init__(self, dim: int, stride: int, beta: float):
        super().__init__()
        self.stride, self.beta = stride, beta
        self.start_conv = nn.Conv1d(dim, dim, 3)
        self.start_out = nn.Conv1d(dim, 1, 1)
        self.end_conv = nn.Conv1d(dim, dim, 3)
        self.end_out = nn.Conv1d(dim, 1, 1)

    def forward(self, boxes: torch.Tensor, feat: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # boxes [B, A, 2] (no gradient needed: only indices are taken), feat [B, C, T_0], mask [B, T_0]
        # -> offsets [B, A, 2]
        b, a, _ = boxes.shape
        last = (mask.sum(1).clamp(min=1) - 1)[:, None, None]                        # [B, 1, 1] last valid position
        reach = ((boxes[..., 1] - boxes[..., 0]).clamp(min=0) / self.beta)[..., None]   # [B, A, 1]
        around = torch.tensor([-1.0, 0.0, 1.0], device=boxes.device)               # left, centre, right
        rows = feat.transpose(1, 2)                                                 # [B, T_0, C]
        out = []
        for side, conv, head in ((0, self.start_conv, self.start_out), (1, self.end_conv, self.end_out)):
            pos = boxes[..., side, None] + around * reach                          # [B, A, 3] grid rows
            idx = torch.minimum(torch.div(pos, self.stride, rounding_mode="floor").long().clamp(min=0), last)
            f = torch.gather(rows, 1, idx.view(b, a * 3, 1).expand(-1, -1, rows.shape[-1]))  # [B, 3A, C]
            f = f.view(b * a, 3, -1).transpose(1, 2)                                # [B*A, C, 3]
            out.append(head(F.relu(conv(f))).view(b, a))                           # [B, A]
        return torch.stack(out, -1)
