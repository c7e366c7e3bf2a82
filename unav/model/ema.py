"""Exponential moving average of the model weights (evaluation uses it, as released)."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn


class ModelEma:
    """decay 0.999 as released; with `warmup` the decay is min(decay, (1 + n) / (10 + n)) after n updates, so a
    short run's EMA is not dominated by the random initial weights (after 270 steps 0.999^270 = 76 % would be)."""

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = False):
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.warmup = warmup
        self.updates = 0

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        d = self.current_decay()
        self.updates += 1
        src = model.state_dict()
        ema_f, src_f = [], []
        for name, ema_v in self.module.state_dict().items():
            v = src[name].detach()
            if ema_v.dtype.is_floating_point:
                ema_f.append(ema_v)
                src_f.append(v.to(ema_v.dtype))
            else:
                ema_v.copy_(v)
        # One multi-tensor kernel per step instead of two per tensor: ema = d ema + (1 - d) v.
        if ema_f:
            torch._foreach_lerp_(ema_f, src_f, 1 - d)

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])


def initial_weight_fraction(updates: int, decay: float = 0.999, warmup: bool = False) -> float:
    """How much of the initial (random) weights an EMA still holds after `updates` updates: the product of the
    decays it applied (0.999^270 = 0.76 without warm-up; with warm-up the product falls below 1e-9 in ~100)."""
    n = max(0, int(updates))
    if not warmup:
        return decay ** n
    # the ramp (1 + k) / (10 + k) is below `decay` for k < ramp; its product is 9! k! / (k + 9)! (closed form)
    ramp = min(n, max(0, math.ceil((10 * decay - 1) / (1 - decay)))) if decay < 1 else n
    log_ramp = math.lgamma(ramp + 1) + math.lgamma(10) - math.lgamma(ramp + 10)
    return math.exp(log_ramp) * decay ** (n - ramp)
