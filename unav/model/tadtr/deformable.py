"""Temporal deformable attention (TadTR sec. III-B) in pure PyTorch: every query attends to `n_points` positions
per head around its reference point (or inside its reference segment), read by linear interpolation of the
value sequence. Positions are normalised to the padded length T (0 = left edge of row 0, 1 = right edge of row
T-1, as `grid_sample` with align_corners=False); rows outside [0, T) and padded rows read as zero."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LrScaledLinear(nn.Linear):
    """A Linear whose effective weight and bias are `lr_mult` x the stored parameters.

    TadTR trains its sampling-offset and reference-point projections at 0.1 x the base lr. unav trains with one
    AdamW learning rate; Adam's step is invariant to the gradient's scale, so a parameter stored as W / m moves W
    by m x lr per step: the same effect without a separate parameter group (weight decay scales the same way)."""

    def __init__(self, in_features: int, out_features: int, lr_mult: float = 1.0):
        super().__init__(in_features, out_features)
        self.lr_mult = float(lr_mult)

    def set_effective_(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        with torch.no_grad():
            self.weight.copy_(weight / self.lr_mult)
            self.bias.copy_(bias / self.lr_mult)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.lr_mult, self.bias * self.lr_mult)


def interpolate_rows(value: torch.Tensor, loc: torch.Tensor) -> torch.Tensor:
    """Linear interpolation of each head's value sequence at normalised positions.

    value [B, T, H, D] (padded rows already zero), loc [B, Q, H, P] in [0, 1] of T -> [B, Q, H, P, D].
    Position x = loc * T - 0.5 in row units (row i sits at x = i); rows outside [0, T) contribute zero."""
    b, t, h, d = value.shape
    q, p = loc.shape[1], loc.shape[3]
    x = loc * t - 0.5
    x0 = x.floor()
    w1 = (x - x0)[..., None]                                            # [B, Q, H, P, 1] weight of the right row
    x0 = x0.long()
    flat = value.reshape(b, t * h, d)                                   # row-major (row, head)
    head = torch.arange(h, device=value.device).view(1, 1, h, 1)

    def take(idx: torch.Tensor) -> torch.Tensor:                        # idx [B, Q, H, P] -> [B, Q, H, P, D]
        inside = ((idx >= 0) & (idx < t))[..., None]
        pos = (idx.clamp(0, t - 1) * h + head).reshape(b, q * h * p, 1).expand(-1, -1, d)
        return torch.gather(flat, 1, pos).view(b, q, h, p, d) * inside

    return take(x0) * (1 - w1) + take(x0 + 1) * w1


def deformable_sample(value: torch.Tensor, loc: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """value [B, T, H, D], loc [B, Q, H, P], attention weights [B, Q, H, P] -> [B, Q, H * D]."""
    out = (interpolate_rows(value, loc) * weights[..., None]).sum(3)     # [B, Q, H, D]
    return out.flatten(2)


class TemporalDeformableAttention(nn.Module):
    """Single-level temporal deformable attention (TadTR uses one feature level)."""

    def __init__(self, dim: int, n_heads: int, n_points: int, lr_mult: float = 0.1):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"TadTR: hidden_dim {dim} must be divisible by n_heads {n_heads}")
        self.dim, self.n_heads, self.n_points = dim, n_heads, n_points
        self.sampling_offsets = LrScaledLinear(dim, n_heads * n_points, lr_mult)
        self.attention_weights = nn.Linear(dim, n_heads * n_points)
        self.value_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # As TadTR: zero offset weights; head k's bias puts point i at (i + 1) * cos(4 pi k / H) rows, so the
        # heads start looking left, right and at the reference.
        h, p = self.n_heads, self.n_points
        grid = torch.cos(torch.arange(h, dtype=torch.float32) * (4.0 * math.pi / h))[:, None] \
            * torch.arange(1, p + 1, dtype=torch.float32)[None, :]     # [H, P]
        self.sampling_offsets.set_effective_(torch.zeros_like(self.sampling_offsets.weight), grid.flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for lin in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, query: torch.Tensor, reference: torch.Tensor, value: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """query [B, Q, C]; reference [B, Q, 1] (point) or [B, Q, 2] (centre, width), normalised to the padded
        length T; value [B, T, C]; mask [B, T] bool (True = valid) -> [B, Q, C].

        Point reference: offsets are in rows. Segment reference (segment refinement): offsets are in units of
        the half-width / n_points, so the points spread over the segment whatever its length."""
        b, q, _ = query.shape
        t = value.shape[1]
        h, p = self.n_heads, self.n_points
        v = self.value_proj(value).masked_fill(~mask[..., None], 0.0).view(b, t, h, self.dim // h)
        off = self.sampling_offsets(query).view(b, q, h, p)
        attn = self.attention_weights(query).view(b, q, h, p).softmax(-1)
        if reference.shape[-1] == 1:
            loc = reference[..., None] + off / t                                   # [B, Q, H, P]
        else:
            loc = reference[..., :1, None] + off / p * reference[..., 1:, None] * 0.5
        return self.output_proj(deformable_sample(v, loc, attn))
