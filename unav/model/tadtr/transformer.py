"""TadTR's transformer pieces: masked input normalisation, the sine position embedding, the deformable encoder
layer and the decoder layer (query self-attention -> deformable cross-attention -> FFN, post-norm as Deformable
DETR). Everything a video's outputs depend on is computed over its valid rows only, so a video gives the same
detections alone or padded in a batch."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .deformable import TemporalDeformableAttention

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class MaskedGroupNorm(nn.GroupNorm):
    """GroupNorm whose statistics use the valid rows only (TadTR normalises its input projection with
    GroupNorm(32); over padded rows the statistics would depend on the batch's padding)."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # x [B, C, T], mask [B, T]
        b, c, t = x.shape
        g = self.num_groups
        m = mask[:, None, None, :].to(x.dtype)                              # [B, 1, 1, T]
        xg = x.view(b, g, c // g, t)
        n = m.sum(-1, keepdim=True).clamp(min=1) * (c // g)                  # [B, 1, 1, 1]
        mean = (xg * m).sum((2, 3), keepdim=True) / n
        var = ((xg - mean) ** 2 * m).sum((2, 3), keepdim=True) / n
        y = ((xg - mean) / torch.sqrt(var + self.eps)).view(b, c, t)
        return (y * self.weight[:, None] + self.bias[:, None]) * mask[:, None, :].to(x.dtype)


def sine_position(mask: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """DETR's normalised sine embedding in 1-D: mask [B, T] -> [B, T, dim]; the position of row i is
    (i + 0.5) / L * 2 pi with L the video's valid length (padding does not move it)."""
    pos = mask.float().cumsum(1)                                            # [B, T] 1..L on valid rows
    pos = (pos - 0.5) / (pos[:, -1:] + 1e-6) * (2 * math.pi)
    i = torch.arange(dim, dtype=torch.float32, device=mask.device)
    freq = temperature ** (2 * torch.div(i, 2, rounding_mode="floor") / dim)  # [dim]
    x = pos[..., None] / freq                                               # [B, T, dim]
    return torch.stack((x[..., 0::2].sin(), x[..., 1::2].cos()), dim=-1).flatten(2)


class QueryAttention(nn.Module):
    """Multi-head self-attention among the action queries (plain Linear projections, so every parameter has
    a weight-decay rule in unav's optimizer; nn.MultiheadAttention keeps a bare in_proj_weight)."""

    def __init__(self, dim: int, n_heads: int, dropout: float):
        super().__init__()
        self.n_heads, self.dropout = n_heads, dropout
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, qk: torch.Tensor, v: torch.Tensor) -> torch.Tensor:  # [B, Q, C] -> [B, Q, C]
        b, q, c = v.shape
        heads = lambda x: x.view(b, q, self.n_heads, c // self.n_heads).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(heads(self.q_proj(qk)), heads(self.k_proj(qk)), heads(self.v_proj(v)),
                                             dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).reshape(b, q, c))


class FFN(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float, activation: str):
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.drop1, self.drop2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)
        self.act = ACTIVATIONS[activation]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.drop2(self.linear2(self.drop1(self.act(self.linear1(x))))))


class EncoderLayer(nn.Module):
    """Deformable self-attention over the rows (each row is a query at its own position), then the FFN."""

    def __init__(self, dim: int, n_heads: int, n_points: int, ffn: int, dropout: float, activation: str,
                 lr_mult: float):
        super().__init__()
        self.self_attn = TemporalDeformableAttention(dim, n_heads, n_points, lr_mult)
        self.drop = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(dim)
        self.ffn = FFN(dim, ffn, dropout, activation)

    def forward(self, src: torch.Tensor, pos: torch.Tensor, reference: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:  # src, pos [B, T, C]; reference [B, T, 1]
        src = self.norm(src + self.drop(self.self_attn(src + pos, reference, src, mask)))
        return self.ffn(src)


class DecoderLayer(nn.Module):
    def __init__(self, dim: int, n_heads: int, n_points: int, ffn: int, dropout: float, activation: str,
                 lr_mult: float):
        super().__init__()
        self.self_attn = QueryAttention(dim, n_heads, dropout)
        self.drop_self, self.norm_self = nn.Dropout(dropout), nn.LayerNorm(dim)
        self.cross_attn = TemporalDeformableAttention(dim, n_heads, n_points, lr_mult)
        self.drop_cross, self.norm_cross = nn.Dropout(dropout), nn.LayerNorm(dim)
        self.ffn = FFN(dim, ffn, dropout, activation)

    def forward(self, tgt: torch.Tensor, query_pos: torch.Tensor, reference: torch.Tensor, memory: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """tgt, query_pos [B, Q, C]; reference [B, Q, 1 or 2] normalised to the padded length; memory [B, T, C]."""
        qk = tgt + query_pos
        tgt = self.norm_self(tgt + self.drop_self(self.self_attn(qk, tgt)))
        tgt = self.norm_cross(tgt + self.drop_cross(self.cross_attn(tgt + query_pos, reference, memory, mask)))
        return self.ffn(tgt)
