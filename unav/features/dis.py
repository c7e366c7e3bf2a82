"""Fast approximate flow with OpenCV's DIS (dense inverse search), a CPU-friendly stand-in for RAFT.

Same frames, padding, crop, clamp and quantisation as the RAFT path, same output codes, but different flow:
features built from it are NOT comparable with the released UnAV-100 features, and every file says so.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from ..errors import UnavError
from .flowpost import crop_offsets, flow_to_codes, pad_frames_np

PAPER_COMPATIBLE = False
PROVENANCE_NOTE = "not paper-compatible: OpenCV DIS flow instead of RAFT (raft-sintel)"
PRESETS = ("ultrafast", "fast", "medium")


def _cv2():
    try:
        import cv2
    except ImportError as err:   # an install without the extraction extra
        raise UnavError("the DIS flow method needs OpenCV: pip install \"unav[extract]\"") from err
    return cv2


class DisFlowComputer:
    """Streams DIS flow codes for every consecutive frame pair (t -> t+1), each pair once."""

    method = "dis"

    def __init__(self, preset: str = "medium", crop: int = 224, threads: int | None = None) -> None:
        if preset not in PRESETS:
            raise UnavError(f"unknown DIS preset {preset!r}; choose from {', '.join(PRESETS)}")
        cv2 = _cv2()
        if threads is not None:
            cv2.setNumThreads(threads)
        self._cv2 = cv2
        self.preset = preset
        self.crop = crop
        self._dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{preset.upper()}"))
        self.frames_seen = 0

    def meta(self) -> dict:
        return {"method": self.method, "preset": self.preset, "weights": None, "updates": None,
                "crop": self.crop, "padding": "sintel-replicate-8", "paper_compatible": PAPER_COMPATIBLE,
                "note": PROVENANCE_NOTE}

    def _gray(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB [n, H, W, 3] -> padded uint8 grey [n, Hp, Wp] (replicate padding, sintel mode)."""
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        grey = np.clip(np.rint(frames.astype(np.float32) @ weights), 0, 255).astype(np.uint8)  # [n, H, W]
        return pad_frames_np(grey)

    def flows_for_frames(self, frames_iter: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """Padded float flow [n, 2, Hp, Wp] (x, y displacement) for the pairs completed by each input chunk."""
        self.frames_seen = 0
        last = None  # previous padded grey frame [Hp, Wp]
        for chunk in frames_iter:
            chunk = np.asarray(chunk)
            if chunk.ndim != 4 or chunk.shape[-1] != 3 or chunk.dtype != np.uint8:
                raise UnavError(f"expected uint8 RGB frames [n, H, W, 3], got {chunk.dtype} {chunk.shape}")
            if not len(chunk):
                continue
            grey = self._gray(chunk)  # [n, Hp, Wp]
            if last is None:
                crop_offsets(grey.shape[1], grey.shape[2], self.crop)
            elif grey.shape[1:] != last.shape:
                raise UnavError(f"frame size changed from {last.shape} to {grey.shape[1:]} mid-video")
            self.frames_seen += len(chunk)
            seq = grey if last is None else np.concatenate([last[None], grey])
            last = grey[-1]
            if len(seq) < 2:
                continue
            # OpenCV computes one pair per call; the pairs are independent.
            flows = np.stack([self._dis.calc(seq[i], seq[i + 1], None) for i in range(len(seq) - 1)])  # [n, Hp, Wp, 2]
            yield flows.transpose(0, 3, 1, 2)

    def codes_for_frames(self, frames_iter: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """uint16 codes [n, 2, crop, crop] (0..256), exactly as the RAFT path quantises its flow."""
        for flow in self.flows_for_frames(frames_iter):
            yield flow_to_codes(torch.from_numpy(np.ascontiguousarray(flow)), self.crop)
