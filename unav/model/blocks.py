"""Building blocks of the localizer, with the official release's parameter names and shapes so its checkpoints
load strictly (convs keep their [C_out, C_in, k] weights, LayerNorms their [1, C, 1] parameters).

Computation is channels-last: sequences are `# [B, T, C]` and masks bool `# [B, T]` (True = valid row); a mask of
None means every row is valid and skips the masking products (the dependency block's crops are mostly unpadded). On this
layout LayerNorm is one native kernel, 1x1 and k=3 convolutions become matrix products (GEMMs are 2-3x faster than
convolution kernels on CPU, and their backward too), depthwise convs are three fused multiply-adds, and attention
runs through PyTorch's fused (flash / memory-efficient) scaled-dot-product kernels without T x T tensors."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .kernel3 import depthwise_k3, taps_stack, taps_sum


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels of a [B, T, C] tensor (parameters shaped [1, C, 1] as released)."""

    def __init__(self, num_channels: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, num_channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, num_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [..., C] -> [..., C]
        return F.layer_norm(x, (x.shape[-1],), self.weight.view(-1), self.bias.view(-1), self.eps)


def row_mask(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A bool mask `# [B, T]` (or `# [B]`) as x's dtype, broadcastable to x `# [B, T, (G,) C]`."""
    return mask.view(mask.shape + (1,) * (x.ndim - mask.ndim)).to(x.dtype)


def apply_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the invalid rows of x `# [B, T, (G,) C]` (mask `# [B, T]`, None = all valid)."""
    return x if mask is None else x * row_mask(mask, x)


def conv_k3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Zero-padded kernel-3 convolution of a [B, T, Cin] sequence with a Conv1d weight [Cout, Cin, 3]:
    y[t] = W0 x[t-1] + W1 x[t] + W2 x[t+1] (+ b). Done as one GEMM on whichever side is narrower."""
    cout, cin, _ = weight.shape
    if cin <= cout:
        # Stack the (narrow) input's taps to [B, T, 3 Cin] and multiply once by [W0 | W1 | W2].
        return F.linear(taps_stack(x), weight.permute(0, 2, 1).reshape(cout, 3 * cin), bias)
    # Wide input: one GEMM to the 3 (narrow) taps [B, T, 3 Cout], then shift and add them.
    y = taps_sum(F.linear(x, weight.permute(2, 0, 1).reshape(3 * cout, cin)))
    return y + bias if bias is not None else y


class MaskedConv1d(nn.Module):
    """Convolution (kernel 1 or 3, stride 1) whose output is zeroed at invalid rows. Input/output [B, T, C]."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool = True):
        super().__init__()
        assert kernel in (1, 3)
        self.conv = nn.Conv1d(in_ch, out_ch, kernel, 1, kernel // 2, bias=bias)
        if bias:
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        # x [B, T, Cin], mask [B, T] -> [B, T, Cout], [B, T]
        w, b = self.conv.weight, self.conv.bias
        out = F.linear(x, w[:, :, 0], b) if w.shape[-1] == 1 else conv_k3(x, w, b)
        return apply_mask(out, mask), mask


class DepthwiseConv(nn.Module):
    """Depthwise conv (kernel 3 at stride 1, kernel s+1 at stride s, zero padding k//2), output masked; the mask is
    subsampled at rows 0, s, 2s, … (the release's nearest interpolation). Holds `conv` as nn.Conv1d for the names."""

    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        kernel = stride + 1 if stride > 1 else 3
        self.stride = stride
        self.conv = nn.Conv1d(channels, channels, kernel, stride, kernel // 2, groups=channels, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        # x [B, T, C], mask [B, T] -> [B, T/s, C], [B, T/s]
        w = self.conv.weight[:, 0, :]                                                   # [C, k]
        k, s = w.shape[1], self.stride
        if s == 1:
            return apply_mask(depthwise_k3(x, w), mask), mask
        pad = k // 2
        xp = F.pad(x, (0, 0, pad, pad))                                                 # [B, T + 2 pad, C]
        t_out = (x.shape[1] + 2 * pad - k) // s + 1
        out = sum(xp[:, j: j + s * (t_out - 1) + 1: s] * w[:, j] for j in range(k))
        out_mask = mask[:, ::s] if (s > 1 and mask is not None) else mask
        return apply_mask(out, out_mask), out_mask


def max_pool_skip(x: torch.Tensor, stride: int) -> torch.Tensor:
    """MaxPool1d(kernel s+1, stride s, padding (s+1)//2) over time of [B, T, C] (padding never wins)."""
    k, pad = stride + 1, (stride + 1) // 2
    xp = F.pad(x, (0, 0, pad, pad), value=float("-inf"))
    t_out = (x.shape[1] + 2 * pad - k) // stride + 1
    out = xp[:, 0: stride * (t_out - 1) + 1: stride]
    for j in range(1, k):
        out = torch.maximum(out, xp[:, j: j + stride * (t_out - 1) + 1: stride])
    return out


class Scale(nn.Module):
    """A learned scalar (the per-level regression scale)."""

    def __init__(self, init: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(init, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class AffineDropPath(nn.Module):
    """Per-channel learned scale (init 1e-4, shaped [1, C, 1] as released) then stochastic depth while training:
    each sequence (each (video, group) of a grouped `# [B, T, G, C]` input) is dropped whole."""

    def __init__(self, num_channels: int, drop_prob: float = 0.0, init: float = 1e-4):
        super().__init__()
        self.scale = nn.Parameter(init * torch.ones(1, num_channels, 1))
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, (G,) C]
        scale = self.scale.view(-1)
        if self.drop_prob == 0.0 or not self.training:
            return scale * x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0], 1, *x.shape[2:-1], 1)                                       # [B, 1, (G,) 1]
        kept = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        # Scale, drop and rescale folded into one [B, 1, (G,) C] factor: one pass over x instead of three.
        return x * (scale * (kept / keep))


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """Sinusoidal position table `# [1, dim, length]` (sin on even channels, cos on odd)."""
    pos = np.arange(length, dtype=np.float64)[:, None]
    rates = np.power(10000.0, 2 * (np.arange(dim) // 2) / dim)[None, :]
    table = pos / rates
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.from_numpy(table).float().T.unsqueeze(0)


def zero_biases(*convs: nn.Conv1d) -> None:
    """Start the biases at 0: the release's backbone and dependency block zero every Conv1d bias of their
    transformer blocks (`__init_weights__`), so training from scratch starts where the release's does."""
    for conv in convs:
        nn.init.zeros_(conv.bias)


def _linear1x1(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    return F.linear(x, conv.weight[:, :, 0], conv.bias)


class MaskedConvAttention(nn.Module):
    """Multi-head attention whose query, key and value first pass a depthwise conv (+ LayerNorm); with stride s
    the convs downsample. Keys at invalid rows are excluded; outputs at invalid rows are zero.

    `seq_mask` mode (attention over the class axis of the dependency block): the mask holds one flag per sequence;
    a valid sequence attends over all its positions, an invalid one gives zeros."""

    def __init__(self, dim: int, n_head: int, stride: int = 1, attn_pdrop: float = 0.0, proj_pdrop: float = 0.0):
        super().__init__()
        assert dim % n_head == 0
        self.n_head = n_head
        self.query_conv = DepthwiseConv(dim, stride)
        self.key_conv = DepthwiseConv(dim, stride)
        self.value_conv = DepthwiseConv(dim, stride)
        self.query_norm = ChannelLayerNorm(dim)
        self.key_norm = ChannelLayerNorm(dim)
        self.value_norm = ChannelLayerNorm(dim)
        self.key = nn.Conv1d(dim, dim, 1)
        self.query = nn.Conv1d(dim, dim, 1)
        self.value = nn.Conv1d(dim, dim, 1)
        self.proj = nn.Conv1d(dim, dim, 1)
        zero_biases(self.key, self.query, self.value, self.proj)
        self.attn_pdrop = attn_pdrop
        self.proj_drop = nn.Dropout(proj_pdrop)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, (G,) C] -> [B, (G *) nh, T, C/nh]
        b, t, c = x.shape[0], x.shape[1], x.shape[-1]
        return x.reshape(b, t, -1, c // self.n_head).transpose(1, 2)

    def forward(self, kv: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None, seq_mask: bool = False):
        # kv, q [B, T, C] or grouped [B, T, G, C] (G independent sequences per video sharing its mask, attending
        # as G heads); mask [B, T] (or [B] with seq_mask; None: all valid) -> out like q (T' rows), out_mask
        conv_mask = mask[:, None].expand(-1, q.shape[1]) if (seq_mask and mask is not None) else mask
        qq, q_mask = self.query_conv(q, conv_mask)
        kk, kv_mask = self.key_conv(kv, conv_mask)
        vv, _ = self.value_conv(kv, conv_mask)
        qq = _linear1x1(self.query_norm(qq), self.query)
        kk = _linear1x1(self.key_norm(kk), self.key)
        vv = _linear1x1(self.value_norm(vv), self.value)
        attn_mask = None if (seq_mask or kv_mask is None) else kv_mask[:, None, None, :]  # [B, 1, 1, Tk]
        qh, kh, vh = self._heads(qq), self._heads(kk), self._heads(vv)
        dropout = self.attn_pdrop if self.training else 0.0
        if qh.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # CPU's bf16 flash-attention backward is several times slower than its fp32 one: stay fp32 there.
            with torch.autocast("cpu", enabled=False):
                out = F.scaled_dot_product_attention(qh.float(), kh.float(), vh.float(), attn_mask=attn_mask,
                                                     dropout_p=dropout)
        else:
            out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=attn_mask, dropout_p=dropout)  # [B, nh, Tq, hd]
        out = out.transpose(1, 2).reshape(qq.shape)
        out = self.proj_drop(_linear1x1(out, self.proj))
        if mask is None:
            return out, None
        return out * row_mask(mask if seq_mask else q_mask, out), (mask if seq_mask else q_mask)


class TransformerBlock(nn.Module):
    """Pre-LN block: LN on the key/value source (`ln11`) and the query source (`ln12`), conv attention, residual
    from the key/value source (max-pooled when downsampling), then LN -> 1x1 MLP (GELU) -> residual. Both branches
    are scaled by learned per-channel factors (stochastic depth while training)."""

    def __init__(self, dim: int, n_head: int, stride: int = 1, hidden: int | None = None,
                 attn_pdrop: float = 0.0, proj_pdrop: float = 0.0, path_pdrop: float = 0.0):
        super().__init__()
        self.stride = stride
        self.ln11 = ChannelLayerNorm(dim)
        self.ln12 = ChannelLayerNorm(dim)
        self.ln2 = ChannelLayerNorm(dim)
        self.attn = MaskedConvAttention(dim, n_head, stride, attn_pdrop, proj_pdrop)
        hidden = hidden or 4 * dim
        self.mlp = nn.Sequential(nn.Conv1d(dim, hidden, 1), nn.GELU(), nn.Dropout(proj_pdrop),
                                 nn.Conv1d(hidden, dim, 1), nn.Dropout(proj_pdrop))
        zero_biases(self.mlp[0], self.mlp[3])
        self.drop_path_attn = AffineDropPath(dim, path_pdrop)
        self.drop_path_mlp = AffineDropPath(dim, path_pdrop)

    def _mlp(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, C] -> [B, T, C]
        fc1, act, drop1, fc2, drop2 = self.mlp
        return drop2(_linear1x1(drop1(act(_linear1x1(x, fc1))), fc2))

    def forward(self, kv: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None, seq_mask: bool = False):
        # kv, q [B, T, C] or grouped [B, T, G, C] (see MaskedConvAttention); mask [B, T] (or [B] with seq_mask;
        # None: all valid) -> like q with T' rows, mask
        out, out_mask = self.attn(self.ln11(kv), self.ln12(q), mask, seq_mask=seq_mask)
        skip = max_pool_skip(kv, self.stride) if self.stride > 1 else kv
        if mask is None:
            out = skip + self.drop_path_attn(out)
            return out + self.drop_path_mlp(self._mlp(self.ln2(out))), None
        m = row_mask(mask if seq_mask else out_mask, out)
        out = skip * m + self.drop_path_attn(out)
        out = out + self.drop_path_mlp(self._mlp(self.ln2(out)) * m)
        return out, out_mask


def prior_bias(prob: float) -> float:
    return -math.log((1 - prob) / prob)
