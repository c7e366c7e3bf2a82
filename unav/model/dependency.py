"""Temporal dependency modelling (paper sec. 4.3): each pyramid feature is expanded into C' hidden classes of
H channels; a transformer over time per hidden class (consecutive events) and a transformer over the hidden
classes per time step (simultaneous events) are summed and squeezed back. Shared across levels.

Unlike the release, each video's padding mask is used for its own hidden classes (the release tiles the batch
mask in the wrong order when a batch holds several videos); at batch size 1 both agree."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .blocks import MaskedConv1d, TransformerBlock


class DependencyBlock(nn.Module):
    def __init__(self, in_dim: int, hidden: int, hidden_classes: int, kernel: int = 3, n_head: int = 1,
                 path_pdrop: float = 0.0, consecutive: bool = True, simultaneous: bool = True,
                 use_checkpoint: bool = False):
        super().__init__()
        assert consecutive or simultaneous
        self.hidden, self.classes = hidden, hidden_classes
        self.use_checkpoint = use_checkpoint
        self.feature_expand = MaskedConv1d(in_dim, hidden * hidden_classes, kernel, bias=False)
        if simultaneous:
            self.cooccur_branch = TransformerBlock(hidden, n_head, hidden=hidden, path_pdrop=path_pdrop)
        if consecutive:
            self.temporal_branch = TransformerBlock(hidden, n_head, hidden=hidden, path_pdrop=path_pdrop)
        self.feature_squeeze = MaskedConv1d(hidden * hidden_classes, in_dim, kernel, bias=False)

    def _level(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # x [B, T, D2], mask [B, T] -> [B, T, D2]
        b, t, _ = x.shape
        c, h = self.classes, self.hidden
        # An unpadded level (every crop of a long video) skips the masking products of its C'-fold wide tensors.
        # Compiled (train.compile), the masked path always runs: same values, and no host sync to break the graph.
        if not torch.compiler.is_compiling() and bool(mask.all()):
            mask = None
        e, _ = self.feature_expand(x, mask)
        e = F.relu(e).view(b, t, c, h)                                      # [B, T, C', H]
        out = 0
        if hasattr(self, "temporal_branch"):
            seq = e.permute(0, 2, 1, 3).reshape(b * c, t, h)                # [B*C', T, H]
            seq_mask = None if mask is None else mask.repeat_interleave(c, dim=0)  # [B*C', T] video-major
            tmp, _ = self.temporal_branch(seq, seq, seq_mask)
            out = tmp.view(b, c, t, h).permute(0, 2, 1, 3)                  # [B, T, C', H]
        if hasattr(self, "cooccur_branch"):
            seq = e.reshape(b * t, c, h)                                    # [B*T, C', H]: attention over C'
            coo, _ = self.cooccur_branch(seq, seq, None if mask is None else mask.reshape(-1), seq_mask=True)
            out = out + coo.view(b, t, c, h)
        y, _ = self.feature_squeeze(out.reshape(b, t, c * h), mask)
        return y

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> list[torch.Tensor]:
        outs = []
        for x, m in zip(feats, masks):
            if self.use_checkpoint and self.training and torch.is_grad_enabled():
                # Recompute the (huge, C'·H-channel) level in the backward pass instead of storing it.
                outs.append(checkpoint(self._level, x, m, use_reentrant=False))
            else:
                outs.append(self._level(x, m))
        return outs
