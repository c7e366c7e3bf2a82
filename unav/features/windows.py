"""I3D windows over a 25 fps stream: 24-item stacks every 8 items, streamed chunk by chunk.

The reference fills a buffer and computes a row whenever it holds stack + 1 = 25 frames, then drops the first
8. So row k uses frames 8k … 8k+24: RGB input = frames 8k … 8k+23, flow input = the 24 pairs (8k+j -> 8k+j+1),
j = 0..23. Rows: R = floor((N - 25) / 8) + 1 for N >= 25 frames, else 0; the trailing partial window is
dropped. `WindowStream` keeps only the items pending windows still need, so memory does not grow with the
video length, and unfolds windows as strided views (no per-window copies).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch import Tensor

STACK = 24  # frames (or flow pairs) per window
STEP = 8    # frames between window starts (0.32 s at 25 fps)


def window_count(n_frames: int, stack: int = STACK, step: int = STEP) -> int:
    """Rows for `n_frames` decoded frames under the 25-frame buffer rule (stack + 1 frames per row)."""
    return (n_frames - stack - 1) // step + 1 if n_frames >= stack + 1 else 0


def rgb_frame_indices(n_frames: int, stack: int = STACK, step: int = STEP) -> np.ndarray:
    """[R, stack] frame indices of every row's RGB input: row k -> 8k … 8k+23."""
    starts = np.arange(window_count(n_frames, stack, step)) * step
    return starts[:, None] + np.arange(stack)[None, :]


def flow_pair_indices(n_frames: int, stack: int = STACK, step: int = STEP) -> np.ndarray:
    """[R, stack] indices p of every row's flow pairs, pair p = (frame p -> frame p+1): row k -> 8k … 8k+23."""
    return rgb_frame_indices(n_frames, stack, step)


class WindowStream:
    """Collects items [n, C, ...] chunk by chunk and hands out complete windows [w, C, stack, ...].

    `lookahead` is how many items past a window's last one must have arrived before it counts as complete:
    1 for frames (the reference's 25-frame buffer), 0 for flow pairs (pair 8k+23 already needs frame 8k+24).
    Windows returned by `push` are strided views of an internal buffer; use them before the next push.
    """

    def __init__(self, stack: int = STACK, step: int = STEP, lookahead: int = 0) -> None:
        self.stack, self.step, self.lookahead = stack, step, lookahead
        self._pending: Tensor | None = None  # [m, C, ...] items from the next window start on
        self.emitted = 0  # windows handed out so far
        self.seen = 0     # items pushed so far

    @property
    def pending(self) -> int:
        """Items held for windows not yet complete."""
        return 0 if self._pending is None else int(self._pending.shape[0])

    def push(self, items: Tensor) -> Tensor:  # [n, C, ...] -> [w, C, stack, ...]
        self.seen += int(items.shape[0])
        buf = items if self._pending is None or self._pending.shape[0] == 0 else torch.cat([self._pending, items])
        need = self.stack + self.lookahead
        n_win = (buf.shape[0] - need) // self.step + 1 if buf.shape[0] >= need else 0
        # Keep from the next window's start; clone so the old chunk's storage can be freed.
        self._pending = buf[n_win * self.step:].clone() if n_win else buf
        if n_win == 0:
            return buf.new_empty((0, buf.shape[1], self.stack, *buf.shape[2:]))
        self.emitted += n_win
        span = buf[: (n_win - 1) * self.step + self.stack]
        return span.unfold(0, self.stack, self.step).movedim(-1, 2)  # [w, C, stack, ...] view


def batches(windows: Tensor, batch_size: int) -> Iterator[Tensor]:
    """Consecutive slices of at most `batch_size` windows (views)."""
    for start in range(0, windows.shape[0], max(1, batch_size)):
        yield windows[start:start + batch_size]
