"""AdamW with weight decay on conv/linear weights only (norms, embeddings, biases and scales undecayed), and a
per-step linear warm-up + cosine schedule."""
from __future__ import annotations

import math

import torch
from torch import nn

from .blocks import AffineDropPath, ChannelLayerNorm, Scale


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if isinstance(module, (nn.Conv1d, nn.Linear)) and name == "weight":
                decay.append(p)
            elif isinstance(module, (ChannelLayerNorm, nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.Embedding, Scale,
                                     AffineDropPath)) or name == "bias":
                no_decay.append(p)
            else:
                raise ValueError(f"no weight-decay rule for parameter {name} of {type(module).__name__}")
    # The fused kernel updates every parameter in one pass (CPU and CUDA); other devices take the default.
    fused = all(p.device.type in ("cpu", "cuda") for p in decay + no_decay) or None
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, fused=fused)


def warmup_cosine(warmup_steps: int, total_steps: int):
    """Multiplier of the base lr at step n: linear from 0 over the warm-up, then cosine down to 0."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor
