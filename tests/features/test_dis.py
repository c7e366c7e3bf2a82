"""DIS flow: same code layout as RAFT, stamped as not paper-compatible, recovers a known translation."""
from __future__ import annotations

import numpy as np
import pytest

from unav.errors import UnavError
from unav.features.dis import PAPER_COMPATIBLE, DisFlowComputer


def moving_texture(n: int, h: int, w: int, shift: int) -> np.ndarray:
    """[n, h, w, 3] uint8 frames of a smooth texture translating `shift` px to the right per frame."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0: w + shift * n].astype(np.float32)
    tex = sum(np.sin(xx * fx + yy * fy + p) for fx, fy, p in rng.uniform(0.05, 0.3, size=(6, 3)) * [1, 1, 20])
    tex = (tex - tex.min()) / (tex.max() - tex.min()) * 255
    frames = [tex[:, shift * (n - 1 - i): shift * (n - 1 - i) + w] for i in range(n)]
    return np.repeat(np.stack(frames)[..., None], 3, axis=-1).astype(np.uint8)


def test_dis_codes_shape_dtype_and_motion() -> None:
    frames = moving_texture(5, 64, 83, shift=2)  # padded to 64 x 88
    comp = DisFlowComputer(preset="medium", crop=32)
    codes = list(comp.codes_for_frames(iter([frames[:2], frames[2:3], frames[3:]])))
    allc = np.concatenate(codes)
    assert allc.shape == (4, 2, 32, 32) and allc.dtype == np.uint16 and comp.frames_seen == 5
    # +2 px to the right -> x code round(128 + 6.375*2) = 141, y code 128
    assert abs(np.median(allc[:, 0]) - 141) <= 2
    assert abs(np.median(allc[:, 1]) - 128) <= 2
    meta = comp.meta()
    assert PAPER_COMPATIBLE is False and meta["paper_compatible"] is False
    assert "not paper-compatible" in meta["note"]


def test_dis_rejects_bad_settings() -> None:
    with pytest.raises(UnavError, match="preset"):
        DisFlowComputer(preset="slowest")
    with pytest.raises(UnavError, match="does not fit"):
        list(DisFlowComputer(crop=224).codes_for_frames(iter([np.zeros((2, 64, 80, 3), np.uint8)])))
