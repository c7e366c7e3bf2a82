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
        # An unpadded level (every crop of a long video) skips the masking products of its C'-fold wide tensors.
        # Compiled (train.compile), the masked path always runs: same values, and no host sync to break the graph.
        if not torch.compiler.is_compiling() and bool(mask.all()):
            mask = None
        e, _ = self.feature_expand(x, mask)
        e = F.relu(e).view(b, t, self.classes, self.hidden)                # [B, T, C', H]
        if e.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # The branches' H-wide ops are memory-bound: on a CPU, bf16 adds a cast around each small GEMM and
            # runs slower than fp32 (fwd + bwd at 20 classes, D 256 -> 640: 0.735 vs 0.664 s), so they stay fp32;
            # the wide expand and squeeze GEMMs keep bf16.
            with torch.autocast("cpu", enabled=False):
                out = self._branches(e.float(), mask)
        else:
            out = self._branches(e, mask)
        y, _ = self.feature_squeeze(out.reshape(b, t, -1), mask)
        return y

    def _branches(self, e: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        # e [B, T, C', H], mask [B, T] or None -> [B, T, C', H]
        b, t, c, h = e.shape
        out = 0
        if hasattr(self, "temporal_branch"):
            # Attention over time for each hidden class: the C' classes are the groups (heads) of one
            # [B, T, C', H] tensor, so no [B*C', T, H] copy is made and each video's mask serves its C' sequences.
            out, _ = self.temporal_branch(e, e, mask)
        if hasattr(self, "cooccur_branch"):
            seq = e.reshape(b * t, c, h)                                    # [B*T, C', H]: attention over C'
            coo, _ = self.cooccur_branch(seq, seq, None if mask is None else mask.reshape(-1), seq_mask=True)
            out = out + coo.view(b, t, c, h)
        return out

    def forward(self, feats: list[torch.Tensor], masks: list[torch.Tensor]) -> list[torch.Tensor]:
        outs = []
        for x, m in zip(feats, masks):
            if self.use_checkpoint and self.training and torch.is_grad_enabled():
                # Recompute the (huge, C'·H-channel) level in the backward pass instead of storing it.
                outs.append(checkpoint(self._level, x, m, use_reentrant=False))
            else:
                outs.append(self._level(x, m))
        return outs
