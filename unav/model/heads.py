"""Classification and regression heads shared across pyramid levels (release names `cls_head.*`, `reg_head.*`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ChannelLayerNorm, MaskedConv1d, Scale, prior_bias


class _Trunk(nn.Module):
    def __init__(self, in_dim: int, dim: int, num_layers: int, kernel: int, with_ln: bool):
        super().__init__()
        self.head = nn.ModuleList(MaskedConv1d(in_dim if i == 0 else dim, dim, kernel, bias=not with_ln)
                                  for i in range(num_layers - 1))
        self.norm = nn.ModuleList(ChannelLayerNorm(dim) if with_ln else nn.Identity()
                                  for _ in range(num_layers - 1))

    def trunk(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # [B, T, Cin] -> [B, T, dim]
        for conv, norm in zip(self.head, self.norm):
            x, _ = conv(x, mask)
            x = F.relu(norm(x))
        return x


class ClassificationHead(_Trunk):
    def __init__(self, in_dim: int, dim: int, num_classes: int, num_layers: int = 3, kernel: int = 3,
                 with_ln: bool = True, prior_prob: float = 0.01):
        super().__init__(in_dim, dim, num_layers, kernel, with_ln)
        self.cls_head = MaskedConv1d(dim, num_classes, kernel)
        nn.init.constant_(self.cls_head.conv.bias, prior_bias(prior_prob))

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> list[torch.Tensor]:
        # per level [B, T_l, Cin] -> logits [B, T_l, C]
        return [self.cls_head(self.trunk(x, m), m)[0] for x, m in zip(feats, masks)]


class RegressionHead(_Trunk):
    def __init__(self, in_dim: int, dim: int, num_classes: int, num_levels: int, num_layers: int = 3,
                 kernel: int = 3, with_ln: bool = True, class_aware: bool = True):
        super().__init__(in_dim, dim, num_layers, kernel, with_ln)
        self.class_aware = class_aware
        self.num_classes = num_classes
        self.scale = nn.ModuleList(Scale() for _ in range(num_levels))
        self.offset_head = MaskedConv1d(dim, 2 * num_classes if class_aware else 2, kernel)

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> list[torch.Tensor]:
        # per level [B, T_l, Cin] -> offsets [B, T_l, C, 2] (class-aware; channel 2c = start, 2c+1 = end) or [B, T_l, 2]
        outs = []
        for level, (x, m) in enumerate(zip(feats, masks)):
            off, _ = self.offset_head(self.trunk(x, m), m)
            off = F.relu(self.scale[level](off))                               # [B, T_l, 2C] or [B, T_l, 2]
            outs.append(off.reshape(off.shape[0], off.shape[1], self.num_classes, 2) if self.class_aware else off)
        return outs
