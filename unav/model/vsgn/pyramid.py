"""The cross-scale graph pyramid network (xGPN): a stride-2 input convolution, an encoder of xGN levels
(graph.py) and a decoder that goes back up (transposed conv) adding lateral convs of the encoder levels, as in
the official Models/XGPN.py. Every tensor is zeroed at invalid rows after each operation, so a valid row's
output does not depend on how much padding follows the video (nor on the other videos of a batch)."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .graph import XGN


class UpConv(nn.Module):
    """ConvTranspose1d(C, C, 3, stride 2, padding 1, output_padding 1) + ReLU, doubling the length. The weight is
    held by an nn.Conv1d (same [C, C, 3] shape) so that unav's optimizer rules (optim.py) know it."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, T] -> [B, C, 2T]
        return F.relu(F.conv_transpose1d(x, self.conv.weight, self.conv.bias, stride=2, padding=1, output_padding=1))


class XGPN(nn.Module):
    """Input [B, C_in, T] (T a multiple of the largest stride) -> encoder and decoder features per level
    (fine -> coarse, [B, C, T / stride_l]) and the level masks / parts."""

    def __init__(self, in_dim: int, dim: int, strides: list[int], num_neighbors: int):
        super().__init__()
        if strides[0] not in (2, 4) or any(b != 2 * a for a, b in zip(strides, strides[1:])):
            raise ValueError(f"model.vsgn.strides must start at 2 or 4 and double per level, got {strides}")
        self.conv0 = nn.Conv1d(in_dim, dim, 3, 2, 1)
        pools = [strides[0] == 4] + [True] * (len(strides) - 1)
        self.levels_enc = nn.ModuleList(XGN(dim, num_neighbors, p) for p in pools)
        self.levels_dec = nn.ModuleList(UpConv(dim) for _ in strides[1:])
        self.levels1 = nn.ModuleList(nn.Conv1d(dim, dim, 3, 1, 1) for _ in strides)      # after each merge
        self.levels2 = nn.ModuleList(nn.Conv1d(dim, dim, 3, 1, 1) for _ in strides[1:])  # lateral (encoder)

    def forward(self, x: torch.Tensor, mask: torch.Tensor,
                part: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        # x [B, C_in, T], mask [B, T], part [B, T] -> enc, dec: per level [B, C, T_l]; masks per level [B, T_l]
        mask, part = mask[:, ::2], part[:, ::2]
        h = F.relu(self.conv0(x)) * mask[:, None].to(x.dtype)
        enc, masks = [], []
        for level in self.levels_enc:
            h, mask, part = level(h, mask, part)
            enc.append(h)
            masks.append(mask)
        m = [mk[:, None].to(x.dtype) for mk in masks]
        top = len(enc) - 1
        h = F.relu(self.levels1[0](enc[top])) * m[top]
        dec = [h]
        for i, lvl in enumerate(range(top - 1, -1, -1)):
            lateral = F.relu(self.levels2[i](enc[lvl]))
            h = F.relu(self.levels1[i + 1]((lateral + self.levels_dec[i](h)) * m[lvl])) * m[lvl]
            dec.append(h)
        return enc, dec[::-1], masks
