"""A literal, slow re-statement of the official UnAV localizer's forward math (paper config), written from
docs/localizer.md and the release's behaviour: per-op masking as released, materialised attention, the
hand-written channel LayerNorm, nearest-interpolated masks, and the release's batch-mask tiling in the
dependency block. Parameter names equal the official checkpoint's, so the same state dict loads into both.
Used by the parity tests and by benchmarks/bench_train_step.py as the "official" side."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class LN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, c, 1))
        self.bias = nn.Parameter(torch.zeros(1, c, 1))

    def forward(self, x):
        mu = x.mean(dim=1, keepdim=True)
        r = x - mu
        var = (r ** 2).mean(dim=1, keepdim=True)
        return r / torch.sqrt(var + 1e-5) * self.weight + self.bias


class MConv(nn.Module):
    def __init__(self, cin, cout, k, stride=1, groups=1, bias=True):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(cin, cout, k, stride, k // 2, groups=groups, bias=bias)

    def forward(self, x, mask):  # mask [B,1,T] float/bool, or 1-D per sequence
        t = x.shape[-1]
        out = self.conv(x)
        if self.stride > 1:
            m = F.interpolate(mask.to(x.dtype), size=t // self.stride, mode="nearest")
        else:
            m = mask.to(x.dtype)
        if m.shape[-1] != out.shape[-1]:
            m = m[:, None, None]
        return out * m.detach(), m.bool()


class MHCA(nn.Module):
    def __init__(self, c, nh, stride=1):
        super().__init__()
        self.nh, self.hc = nh, c // nh
        self.scale = 1.0 / math.sqrt(self.hc)
        k = stride + 1 if stride > 1 else 3
        self.query_conv = MConv(c, c, k, stride, c, False)
        self.key_conv = MConv(c, c, k, stride, c, False)
        self.value_conv = MConv(c, c, k, stride, c, False)
        self.query_norm, self.key_norm, self.value_norm = LN(c), LN(c), LN(c)
        self.key, self.query, self.value, self.proj = (nn.Conv1d(c, c, 1) for _ in range(4))

    def forward(self, x1, x2, mask):
        b, c, t = x1.shape
        q, qm = self.query_conv(x2, mask)
        k, km = self.key_conv(x1, mask)
        v, _ = self.value_conv(x1, mask)
        q, k, v = self.query(self.query_norm(q)), self.key(self.key_norm(k)), self.value(self.value_norm(v))
        k = k.view(b, self.nh, self.hc, -1).transpose(2, 3)
        q = q.view(b, self.nh, self.hc, -1).transpose(2, 3)
        v = v.view(b, self.nh, self.hc, -1).transpose(2, 3)
        att = (q * self.scale) @ k.transpose(-2, -1)
        if t == mask.shape[-1]:
            att = att.masked_fill(torch.logical_not(km[:, :, None, :]), float("-inf"))
            att = F.softmax(att, dim=-1)
        else:
            att = F.softmax(att, dim=-1)
            att = att * km[:, :, :, None].to(att.dtype)
        out = att @ (v * km[:, :, :, None].to(v.dtype))
        out = out.transpose(2, 3).contiguous().view(b, c, -1)
        return self.proj(out) * qm.to(out.dtype), qm


class DropScale(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.scale = nn.Parameter(1e-4 * torch.ones(1, c, 1))

    def forward(self, x):
        return self.scale * x


class Block(nn.Module):
    def __init__(self, c, nh, stride=1, hidden=None):
        super().__init__()
        self.ln11, self.ln12, self.ln2 = LN(c), LN(c), LN(c)
        self.attn = MHCA(c, nh, stride)
        self.pool_skip = nn.MaxPool1d(stride + 1, stride, (stride + 1) // 2) if stride > 1 else nn.Identity()
        h = hidden or 4 * c
        self.mlp = nn.Sequential(nn.Conv1d(c, h, 1), nn.GELU(), nn.Dropout(0.0), nn.Conv1d(h, c, 1), nn.Dropout(0.0))
        self.drop_path_attn, self.drop_path_mlp = DropScale(c), DropScale(c)

    def forward(self, x1, x2, mask):
        out, om = self.attn(self.ln11(x1), self.ln12(x2), mask)
        f = om.to(out.dtype)
        out = self.pool_skip(x1) * f + self.drop_path_attn(out)
        out = out + self.drop_path_mlp(self.mlp(self.ln2(out)) * f)
        return out, om


def sinusoid(n, d):
    tab = np.array([[p / np.power(10000, 2 * (j // 2) / d) for j in range(d)] for p in range(n)])
    tab[:, 0::2] = np.sin(tab[:, 0::2])
    tab[:, 1::2] = np.cos(tab[:, 1::2])
    return torch.FloatTensor(tab).unsqueeze(0).transpose(1, 2)


class Backbone(nn.Module):
    def __init__(self, nv, na, c=512, nh=4, max_len=224, n_self=2, n_cross=5):
        super().__init__()
        self.max_len = max_len
        self.register_buffer("pos_embd", sinusoid(max_len, c) / c ** 0.5, persistent=False)
        self.embd_V = nn.ModuleList([MConv(nv, c, 3, bias=False), MConv(c, c, 3, bias=False)])
        self.embd_A = nn.ModuleList([MConv(na, c, 3, bias=False), MConv(c, c, 3, bias=False)])
        self.embd_norm_V = nn.ModuleList([LN(c), LN(c)])
        self.embd_norm_A = nn.ModuleList([LN(c), LN(c)])
        self.self_att_V = nn.ModuleList(Block(c, nh) for _ in range(n_self))
        self.self_att_A = nn.ModuleList(Block(c, nh) for _ in range(n_self))
        self.ori_cross_att_Va, self.ori_cross_att_Av = Block(c, nh), Block(c, nh)
        self.cross_att_Va = nn.ModuleList(Block(c, nh, 2) for _ in range(n_cross))
        self.cross_att_Av = nn.ModuleList(Block(c, nh, 2) for _ in range(n_cross))

    def forward(self, xv, xa, mask):
        t = xv.shape[-1]
        mv = ma = mask
        for i in range(len(self.embd_V)):
            xv, mv = self.embd_V[i](xv, mv)
            xv = F.relu(self.embd_norm_V[i](xv))
            xa, ma = self.embd_A[i](xa, ma)
            xa = F.relu(self.embd_norm_A[i](xa))
        if self.training:
            pe = self.pos_embd
        else:
            pe = F.interpolate(self.pos_embd, t, mode="linear", align_corners=False) if t >= self.max_len else self.pos_embd
        xv = xv + pe[:, :, :t] * mv.to(xv.dtype)
        xa = xa + pe[:, :, :t] * ma.to(xa.dtype)
        for i in range(len(self.self_att_V)):
            xv, mv = self.self_att_V[i](xv, xv, mv)
            xa, ma = self.self_att_A[i](xa, xa, ma)
        v, mv = self.ori_cross_att_Va(xv, xa, mv)
        a, _ = self.ori_cross_att_Av(xa, xv, ma)
        fv, fa, ms = [v], [a], [mv]
        for i in range(len(self.cross_att_Va)):
            v, mv = self.cross_att_Va[i](fv[i], fa[i], mv)
            a, ma = self.cross_att_Av[i](fa[i], fv[i], ma)
            fv.append(v)
            fa.append(a)
            ms.append(mv)
        return fv, fa, ms


class Dependency(nn.Module):
    def __init__(self, cin, h, ncls):
        super().__init__()
        self.ncls = ncls
        self.feature_expand = MConv(cin, h * ncls, 3, bias=False)
        self.cooccur_branch = Block(h, 1, hidden=h)
        self.temporal_branch = Block(h, 1, hidden=h)
        self.feature_squeeze = MConv(h * ncls, cin, 3, bias=False)

    def forward(self, feats, masks):
        outs = []
        for x, mask in zip(feats, masks):
            e, mask = self.feature_expand(x, mask)
            e = F.relu(e).view(x.shape[0], self.ncls, -1, x.shape[-1]).contiguous()
            b, c, h, t = e.shape
            tf = e.view(-1, h, t)
            tm = mask.repeat(c, 1, 1)  # the release's tiling (wrong order for B > 1)
            to, _ = self.temporal_branch(tf, tf, tm)
            to = to.view(b, c, h, t)
            cf = e.transpose(1, 3).contiguous().view(-1, h, c)
            co, _ = self.cooccur_branch(cf, cf, mask.flatten())
            co = co.view(b, t, h, c)
            o = to + co.transpose(1, 3).contiguous()
            y, _ = self.feature_squeeze(o.view(b, -1, t), mask)
            outs.append(y)
        return outs


class Head(nn.Module):
    def __init__(self, cin, c, nout, levels=None):
        super().__init__()
        self.head = nn.ModuleList([MConv(cin, c, 3, bias=False), MConv(c, c, 3, bias=False)])
        self.norm = nn.ModuleList([LN(c), LN(c)])
        if levels is None:
            self.cls_head = MConv(c, nout, 3)
        else:
            self.offset_head = MConv(c, nout, 3)
            self.scale = nn.ModuleList(_Scale() for _ in range(levels))

    def forward(self, feats, masks):
        outs = []
        for lvl, (x, m) in enumerate(zip(feats, masks)):
            for conv, norm in zip(self.head, self.norm):
                x, _ = conv(x, m)
                x = F.relu(norm(x))
            if hasattr(self, "cls_head"):
                outs.append(self.cls_head(x, m)[0])
            else:
                outs.append(F.relu(self.scale[lvl](self.offset_head(x, m)[0])))
        return outs


class _Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        return x * self.scale


class OfficialUnAV(nn.Module):
    """Same layout as the official checkpoint (without the `module.` prefix)."""

    def __init__(self, num_classes=100, nv=2048, na=128, c=512, dep_h=128, max_len=224):
        super().__init__()
        self.num_classes = num_classes
        self.max_len = max_len
        self.backbone = Backbone(nv, na, c, max_len=max_len)
        self.dependency_block = Dependency(2 * c, dep_h, num_classes)
        self.cls_head = Head(2 * c, c, num_classes)
        self.reg_head = Head(2 * c, c, 2 * num_classes, levels=6)

    def forward(self, xv, xa, mask):
        """xv [B, Cv, T], xa [B, Ca, T], mask [B, 1, T] bool (T already padded) -> per level
        logits [B, T_l, C] and offsets [B, T_l, C, 2]."""
        fv, fa, ms = self.backbone(xv, xa, mask)
        feats = [torch.cat([v, a], 1) for v, a in zip(fv, fa)]
        feats = self.dependency_block(feats, ms)
        cls = [x.permute(0, 2, 1) for x in self.cls_head(feats, ms)]
        off = [x.permute(0, 2, 1) for x in self.reg_head(feats, ms)]
        off = [x.reshape(x.shape[0], x.shape[1], self.num_classes, -1) for x in off]
        return cls, off, [m.squeeze(1) for m in ms]
