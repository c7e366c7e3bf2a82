"""Seconds <-> feature-grid units.

Feature row i covers frames [i*feat_stride, i*feat_stride + num_frames) at `fps`, so its centre is at
(i*feat_stride + num_frames/2) / fps seconds. Grid units are row indices (fractional in between):
g = (t*fps - num_frames/2) / feat_stride and back t = (g*feat_stride + num_frames/2) / fps.
Both functions accept Python floats, NumPy arrays and torch tensors and return the same kind.
"""
from __future__ import annotations

from typing import TypeVar

import numpy as np

Num = TypeVar("Num")


def seconds_to_grid(t: Num, fps: float = 25, feat_stride: int = 8, num_frames: int = 24) -> Num:
    """Seconds -> grid units (row index of the feature whose window is centred there)."""
    return (t * fps - 0.5 * num_frames) / feat_stride


def grid_to_seconds(g: Num, fps: float = 25, feat_stride: int = 8, num_frames: int = 24,
                    duration: float | None = None) -> Num:
    """Grid units -> seconds; clipped to [0, duration] when `duration` is given."""
    t = (g * feat_stride + 0.5 * num_frames) / fps
    if duration is None:
        return t
    if isinstance(t, np.ndarray):
        return np.clip(t, 0.0, duration)
    if hasattr(t, "clamp"):  # torch.Tensor
        return t.clamp(min=0.0, max=float(duration))
    return min(max(t, 0.0), duration)
