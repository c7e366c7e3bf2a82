"""Flow pre/post-processing shared by every flow method, as the reference I3D flow stream does it:
sintel-mode replicate padding to multiples of 8, centre crop of the *padded* flow (floor rule), clamp to
[-20, 20] and the "uint8" quantisation q = round(128 + (255/40)·f) (half to even, no clipping: codes 0..256,
stored as uint16 because uint8 cannot hold 256)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UnavError

FLOW_CLAMP = 20.0          # flow (pixels of the 256-scale frame) is clamped to [-20, 20]
CODE_SCALE = 255.0 / 40.0  # 6.375, exact in binary
CODE_ZERO = 128.0          # zero motion -> code 128
CODE_MAX = 256             # f = +20 -> 255.5 -> 256 (half to even)
CODE_DTYPE = np.uint16


def pad_amounts(size: int, multiple: int = 8) -> tuple[int, int]:
    """(before, after) replicate padding of one dimension, sintel mode: before = pad // 2, after = the rest."""
    pad = (multiple - size % multiple) % multiple
    return pad // 2, pad - pad // 2


def padded_size(h: int, w: int, multiple: int = 8) -> tuple[int, int]:
    return h + sum(pad_amounts(h, multiple)), w + sum(pad_amounts(w, multiple))


def crop_offsets(h: int, w: int, size: int) -> tuple[int, int]:
    """(top, left) of a centre crop of `size`×`size` from an h×w map, floor rule; an error if it does not fit."""
    if size > h or size > w:
        raise UnavError(f"flow crop {size}x{size} does not fit a padded frame of {h}x{w} "
                        f"(expected frames whose padded sides are at least {size})")
    return (h - size) // 2, (w - size) // 2


def pad_frames(frames: torch.Tensor, multiple: int = 8) -> torch.Tensor:
    """Replicate-pad [B, C, H, W] to multiples of `multiple` (sintel mode)."""
    h, w = frames.shape[-2:]
    top, bottom = pad_amounts(h, multiple)
    left, right = pad_amounts(w, multiple)
    if top == bottom == left == right == 0:
        return frames
    return F.pad(frames, (left, right, top, bottom), mode="replicate")


def pad_frames_np(frames: np.ndarray, multiple: int = 8) -> np.ndarray:
    """Replicate-pad [N, H, W, ...] uint8 frames to multiples of `multiple` (sintel mode)."""
    h, w = frames.shape[1:3]
    widths = [(0, 0), pad_amounts(h, multiple), pad_amounts(w, multiple)] + [(0, 0)] * (frames.ndim - 3)
    return np.pad(frames, widths, mode="edge")


def quantise_flow(flow: torch.Tensor) -> torch.Tensor:
    """Float flow -> integer codes (float tensor, values 0..256): clamp to ±20, then round(128 + 6.375·f)
    with torch.round (half to even), computed in float32 like the reference."""
    flow = flow.float().clamp(-FLOW_CLAMP, FLOW_CLAMP)
    return torch.round(CODE_ZERO + CODE_SCALE * flow)


def flow_to_codes(flow: torch.Tensor, crop: int) -> np.ndarray:
    """Padded flow [B, 2, Hp, Wp] -> centre crop -> clamp -> quantise -> uint16 [B, 2, crop, crop] (numpy)."""
    top, left = crop_offsets(flow.shape[-2], flow.shape[-1], crop)
    cropped = flow[..., top:top + crop, left:left + crop]  # [B, 2, crop, crop]
    return quantise_flow(cropped).to(torch.int32).cpu().numpy().astype(CODE_DTYPE)

