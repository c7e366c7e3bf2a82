"""The cross-modal pyramid encoder (paper sec. 4.1–4.2) and its Table 2–4 variants.

Visual and audio rows are projected to D channels (2 masked convs + LN + ReLU each), get a sinusoidal position
embedding, pass L_s uni-modal self-attention blocks, then L_c pyramid levels. At level 1 (full resolution) and every
downsampling level after it, the visual branch takes its key/value from the visual sequence of the previous level
and its query from the audio one ("audio-guided visual"), and symmetrically for audio. Variants:
- one modality only: the same pyramid with self-attention;
- `fusion: self_attention`: both modalities, but each pyramid level attends within its own modality (L_c = 0);
- `fusion: concat`: ActionFormer-style baseline, A‖V concatenated at the input, one self-attention pyramid.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ChannelLayerNorm, MaskedConv1d, TransformerBlock, sinusoid_table


class Projection(nn.Module):
    """2 masked convs (kernel k), each + channel LN + ReLU: `embd_X.{i}.conv`, `embd_norm_X.{i}`."""

    def __init__(self, in_dim: int, dim: int, kernel: int, layers: int = 2, with_ln: bool = True):
        super().__init__()
        self.convs = nn.ModuleList(MaskedConv1d(in_dim if i == 0 else dim, dim, kernel, bias=not with_ln)
                                   for i in range(layers))
        self.norms = nn.ModuleList(ChannelLayerNorm(dim) if with_ln else nn.Identity() for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # [B, T, Cin] -> [B, T, D]
        for conv, norm in zip(self.convs, self.norms):
            x, _ = conv(x, mask)
            x = F.relu(norm(x))
        return x


class PyramidEncoder(nn.Module):
    def __init__(self, cfg: dict, visual_dim: int, audio_dim: int):
        super().__init__()
        m = cfg["model"]
        self.modalities = [x for x in ("visual", "audio") if x in m["modalities"]]
        self.fusion = m["fusion"] if len(self.modalities) == 2 else "single"
        self.dim = dim = m["embd_dim"]
        self.max_len = cfg["dataset"]["max_seq_len"]
        self.abs_pe = m["abs_pe"]
        stride = m["scale_factor"] if m["downsample"] else 1
        block = dict(n_head=m["n_head"], proj_pdrop=m["dropout"], path_pdrop=m["droppath"])
        if self.abs_pe:
            self.register_buffer("pos_embd", sinusoid_table(self.max_len, dim) / dim ** 0.5, persistent=False)

        # Streams: (name suffix, input dim). Official names: embd_V / embd_A, self_att_V / self_att_A, …
        if self.fusion == "concat":
            streams = [("AV", visual_dim + audio_dim)]
        else:
            streams = [({"visual": "V", "audio": "A"}[x], visual_dim if x == "visual" else audio_dim)
                       for x in self.modalities]
        self.streams = [s for s, _ in streams]
        for s, in_dim in streams:
            proj = Projection(in_dim, dim, m["embd_kernel"], 2, m["embd_with_ln"])
            # Register the convs and norms under the official names.
            setattr(self, f"embd_{s}", proj.convs)
            setattr(self, f"embd_norm_{s}", proj.norms)
            setattr(self, f"self_att_{s}", nn.ModuleList(
                TransformerBlock(dim, **block) for _ in range(m["self_att_layers"])))
        # Pyramid: level 1 at full resolution, levels 2… downsample. Cross-modal names follow the release:
        # `ori_cross_att_Va` (visual kv, audio query) and `cross_att_Va.{i}`; uni-modal ones `pyramid_X`.
        levels = m["pyramid_levels"]
        if self.fusion == "cross_attention":
            self.ori_cross_att_Va = TransformerBlock(dim, **block)
            self.ori_cross_att_Av = TransformerBlock(dim, **block)
            self.cross_att_Va = nn.ModuleList(TransformerBlock(dim, stride=stride, **block) for _ in range(levels - 1))
            self.cross_att_Av = nn.ModuleList(TransformerBlock(dim, stride=stride, **block) for _ in range(levels - 1))
        else:
            for s in self.streams:
                setattr(self, f"pyramid_{s}", nn.ModuleList(
                    TransformerBlock(dim, stride=1 if i == 0 else stride, **block) for i in range(levels)))

    @property
    def out_dim(self) -> int:
        return self.dim * len(self.streams)

    def _position(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # [B, T, D]
        t = x.shape[1]
        if self.training:
            assert t <= self.max_len, f"training sequences must be at most {self.max_len} rows"
            pe = self.pos_embd[:, :, :t]
        elif t >= self.max_len:
            # Longer inputs: stretch the table linearly to the padded length (no cap on video length).
            pe = F.interpolate(self.pos_embd, t, mode="linear", align_corners=False)
        else:
            pe = self.pos_embd[:, :, :t]
        return x + pe.transpose(1, 2).to(x.dtype) * mask.unsqueeze(-1).to(x.dtype)

    def forward(self, visual: torch.Tensor | None, audio: torch.Tensor | None, mask: torch.Tensor):
        # visual [B, Cv, T], audio [B, Ca, T], mask [B, T] -> feats: list per level of [B, T_l, out_dim],
        # masks: list per level of [B, T_l]
        if self.fusion == "concat":
            inputs = {"AV": torch.cat([visual, audio], dim=1).transpose(1, 2)}
        else:
            inputs = {s: (visual if s == "V" else audio).transpose(1, 2) for s in self.streams}
        xs = {}
        for s, x in inputs.items():
            for conv, norm in zip(getattr(self, f"embd_{s}"), getattr(self, f"embd_norm_{s}")):
                x, _ = conv(x, mask)
                x = F.relu(norm(x))
            if self.abs_pe:
                x = self._position(x, mask)
            for blk in getattr(self, f"self_att_{s}"):
                x, _ = blk(x, x, mask)
            xs[s] = x

        feats, masks = [], []
        if self.fusion == "cross_attention":
            v, a = xs["V"], xs["A"]
            v_next, m = self.ori_cross_att_Va(v, a, mask)
            a_next, _ = self.ori_cross_att_Av(a, v, mask)
            v, a = v_next, a_next
            feats.append(torch.cat([v, a], dim=-1))
            masks.append(m)
            for blk_va, blk_av in zip(self.cross_att_Va, self.cross_att_Av):
                v_next, m_next = blk_va(v, a, m)
                a_next, _ = blk_av(a, v, m)
                v, a, m = v_next, a_next, m_next
                feats.append(torch.cat([v, a], dim=-1))
                masks.append(m)
        else:
            cur = dict(xs)
            m = mask
            for level in range(len(getattr(self, f"pyramid_{self.streams[0]}"))):
                outs = []
                for s in self.streams:
                    x, m_next = getattr(self, f"pyramid_{s}")[level](cur[s], cur[s], m)
                    cur[s] = x
                    outs.append(x)
                m = m_next
                feats.append(torch.cat(outs, dim=-1))
                masks.append(m)
        return feats, masks
