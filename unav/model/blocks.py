"""Building blocks of the localizer, with the official release's parameter names so its checkpoints load
strictly. Tensors are channels-first: `# [B, C, T]`; masks are bool `# [B, T]` (True = valid row)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of a [B, C, T] tensor (parameters shaped [1, C, 1] as released)."""

    def __init__(self, num_channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, num_channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, num_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, C, T]
        # Native layer_norm over the last axis of the transposed view: one fused kernel instead of ~7 ops.
        y = F.layer_norm(x.transpose(1, 2), (x.shape[1],), self.weight.view(-1), self.bias.view(-1), self.eps)
        return y.transpose(1, 2)


class MaskedConv1d(nn.Module):
    """Conv1d whose output is zeroed at invalid rows; with stride s the mask is subsampled (rows 0, s, 2s, …)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = True):
        super().__init__()
        assert kernel % 2 == 1 or stride > 1
        self.stride = stride
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=bias)
        if bias:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # x [B, C, T], mask [B, T] -> [B, C', T/s], [B, T/s]
        out_mask = mask[:, :: self.stride] if self.stride > 1 else mask
        out = self.conv(x)
        return out * out_mask.unsqueeze(1).to(out.dtype), out_mask


class Scale(nn.Module):
    """A learned scalar (the per-level regression scale)."""

    def __init__(self, init: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(init, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class AffineDropPath(nn.Module):
    """Per-channel learned scale (init 1e-4) followed by stochastic depth while training."""

    def __init__(self, num_channels: int, drop_prob: float = 0.0, init: float = 1e-4):
        super().__init__()
        self.scale = nn.Parameter(init * torch.ones(1, num_channels, 1))
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.scale * x
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x / keep * torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """Sinusoidal position table `# [1, dim, length]` (sin on even channels, cos on odd)."""
    pos = np.arange(length, dtype=np.float64)[:, None]
    rates = np.power(10000.0, 2 * (np.arange(dim) // 2) / dim)[None, :]
    table = pos / rates
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.from_numpy(table).float().T.unsqueeze(0)


class MaskedConvAttention(nn.Module):
    """Multi-head attention whose query, key and value first pass a depthwise conv (+ LayerNorm); with stride s
    the convs downsample (kernel s+1). Keys at invalid rows are excluded; outputs at invalid rows are zero.

    `seq_mask` mode (used over the class axis of the dependency block): the mask is one flag per sequence, every
    position of a valid sequence is attended and invalid sequences give zeros."""

    def __init__(self, dim: int, n_head: int, stride: int = 1, attn_pdrop: float = 0.0, proj_pdrop: float = 0.0):
        super().__init__()
        assert dim % n_head == 0
        self.n_head = n_head
        kernel = stride + 1 if stride > 1 else 3
        self.query_conv = MaskedConv1d(dim, dim, kernel, stride, groups=dim, bias=False)
        self.key_conv = MaskedConv1d(dim, dim, kernel, stride, groups=dim, bias=False)
        self.value_conv = MaskedConv1d(dim, dim, kernel, stride, groups=dim, bias=False)
        self.query_norm = ChannelLayerNorm(dim)
        self.key_norm = ChannelLayerNorm(dim)
        self.value_norm = ChannelLayerNorm(dim)
        self.key = nn.Conv1d(dim, dim, 1)
        self.query = nn.Conv1d(dim, dim, 1)
        self.value = nn.Conv1d(dim, dim, 1)
        self.proj = nn.Conv1d(dim, dim, 1)
        self.attn_pdrop = attn_pdrop
        self.proj_drop = nn.Dropout(proj_pdrop)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, nh, T, C/nh]
        b, c, t = x.shape
        return x.view(b, self.n_head, c // self.n_head, t).transpose(2, 3)

    def forward(self, kv: torch.Tensor, q: torch.Tensor, mask: torch.Tensor, seq_mask: bool = False):
        # kv, q [B, C, T]; mask [B, T] (or [B] with seq_mask) -> out [B, C, T'], out_mask [B, T']
        if seq_mask:
            full = mask[:, None].expand(-1, q.shape[-1])
            qq, _ = self.query_conv(q, full)
            kk, _ = self.key_conv(kv, full)
            vv, _ = self.value_conv(kv, full)
            q_mask = kv_mask = full
        else:
            qq, q_mask = self.query_conv(q, mask)
            kk, kv_mask = self.key_conv(kv, mask)
            vv, _ = self.value_conv(kv, mask)
        qq = self.query(self.query_norm(qq))
        kk = self.key(self.key_norm(kk))
        vv = self.value(self.value_norm(vv))
        b, c, tq = qq.shape
        attn_mask = None if seq_mask else kv_mask[:, None, None, :]  # [B, 1, 1, Tk]
        out = F.scaled_dot_product_attention(
            self._heads(qq), self._heads(kk), self._heads(vv), attn_mask=attn_mask,
            dropout_p=self.attn_pdrop if self.training else 0.0)  # [B, nh, Tq, hd]
        out = out.transpose(2, 3).reshape(b, c, tq)
        if seq_mask:
            out = out * mask.view(-1, 1, 1).to(out.dtype)
        out = self.proj_drop(self.proj(out)) * q_mask.unsqueeze(1).to(out.dtype)
        return out, q_mask


class TransformerBlock(nn.Module):
    """Pre-LN block: LN on the key/value source (`ln11`) and the query source (`ln12`), conv attention, residual
    from the key/value source (max-pooled when downsampling), then LN -> 1x1 MLP (GELU) -> residual. Both branches
    are scaled by learned per-channel factors (stochastic depth while training)."""

    def __init__(self, dim: int, n_head: int, stride: int = 1, hidden: int | None = None,
                 attn_pdrop: float = 0.0, proj_pdrop: float = 0.0, path_pdrop: float = 0.0):
        super().__init__()
        self.ln11 = ChannelLayerNorm(dim)
        self.ln12 = ChannelLayerNorm(dim)
        self.ln2 = ChannelLayerNorm(dim)
        self.attn = MaskedConvAttention(dim, n_head, stride, attn_pdrop, proj_pdrop)
        self.pool_skip = nn.MaxPool1d(stride + 1, stride, (stride + 1) // 2) if stride > 1 else nn.Identity()
        hidden = hidden or 4 * dim
        self.mlp = nn.Sequential(nn.Conv1d(dim, hidden, 1), nn.GELU(), nn.Dropout(proj_pdrop),
                                 nn.Conv1d(hidden, dim, 1), nn.Dropout(proj_pdrop))
        self.drop_path_attn = AffineDropPath(dim, path_pdrop)
        self.drop_path_mlp = AffineDropPath(dim, path_pdrop)

    def forward(self, kv: torch.Tensor, q: torch.Tensor, mask: torch.Tensor, seq_mask: bool = False):
        # kv, q [B, C, T]; mask [B, T] -> [B, C, T'], [B, T']
        out, out_mask = self.attn(self.ln11(kv), self.ln12(q), mask, seq_mask=seq_mask)
        m = (mask.reshape(-1, 1, 1) if seq_mask else out_mask.unsqueeze(1)).to(out.dtype)
        out = self.pool_skip(kv) * m + self.drop_path_attn(out)
        out = out + self.drop_path_mlp(self.mlp(self.ln2(out)) * m)
        return out, (mask if seq_mask else out_mask)


def prior_bias(prob: float) -> float:
    return -math.log((1 - prob) / prob)
