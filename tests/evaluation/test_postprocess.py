"""unav.evaluation.postprocess: decoding head outputs, grid <-> seconds, predictions entries."""
from __future__ import annotations

import math

import pytest
import torch

from unav.evaluation.postprocess import (
    TEST_DEFAULTS,
    decode_level,
    decode_video,
    grid_to_seconds,
    seconds_to_grid,
    to_results,
)

NEG = -20.0  # sigmoid(-20) ~ 2e-9: far below the 0.001 floor
STRIDES = [1, 2, 4, 8, 16, 32]


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def test_decode_level_picks_points_and_own_class_channel():
    T, C, stride = 6, 3, 2
    logits = torch.full((T, C), NEG)
    logits[1, 2] = logit(0.9)
    logits[4, 0] = logit(0.3)
    # offsets differ per class so that using the wrong channel gives a different segment
    offsets = torch.arange(T * C * 2, dtype=torch.float32).reshape(T, C, 2) / 10 + 0.5
    mask = torch.ones(T, dtype=torch.bool)
    segs, scores, labels = decode_level(logits, offsets, mask, stride, 0.001, 2000, 0.05)
    assert labels.tolist() == [2, 0]
    assert scores.tolist() == pytest.approx([0.9, 0.3])
    t1, t4 = 1 * stride, 4 * stride  # point positions in grid units
    d = offsets[1, 2].tolist()
    e = offsets[4, 0].tolist()
    assert segs[0].tolist() == pytest.approx([t1 - d[0] * stride, t1 + d[1] * stride])
    assert segs[1].tolist() == pytest.approx([t4 - e[0] * stride, t4 + e[1] * stride])

    # class-agnostic offsets [T, 2]: the point's own pair
    agn = torch.tensor([[0.1 * i, 0.2 * i + 1] for i in range(T)])
    segs, _, labels = decode_level(logits, agn, mask, stride, 0.001, 2000, 0.05)
    assert segs[0].tolist() == pytest.approx([t1 - 0.1 * stride, t1 + 1.2 * stride])
    assert segs[1].tolist() == pytest.approx([t4 - 0.4 * stride, t4 + 1.8 * stride])


def test_decode_level_threshold_and_topk():
    T, C = 50, 7
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(T, C, generator=g) * 3 - 6
    offsets = torch.rand(T, C, 2, generator=g) + 0.5
    mask = torch.ones(T, dtype=torch.bool)
    probs = torch.sigmoid(logits)
    segs, scores, labels = decode_level(logits, offsets, mask, 4, 0.01, 10_000, 0.05)
    assert scores.numel() == int((probs > 0.01).sum())
    assert bool((scores > 0.01).all())
    assert torch.all(scores[:-1] >= scores[1:])
    segs, scores, labels = decode_level(logits, offsets, mask, 4, 0.001, 15, 0.05)
    assert scores.numel() == 15
    assert scores.tolist() == pytest.approx(probs.flatten().sort(descending=True).values[:15].tolist())


def test_masked_points_never_produce_segments():
    T, C = 40, 5
    logits = torch.full((T, C), 5.0)  # every pair confident
    offsets = torch.ones(T, C, 2)
    mask = torch.zeros(T, dtype=torch.bool)
    mask[:25] = True  # rows 25.. are padding
    for thresh in (0.001, -1.0):  # even with no score floor at all
        segs, scores, labels = decode_level(logits, offsets, mask, 2, thresh, 2000, 0.05)
        assert scores.numel() == 25 * C
        centres = (segs[:, 0] + segs[:, 1]) / 2
        assert float(centres.max()) == pytest.approx(24 * 2)


def test_duration_filter():
    T, C = 4, 1
    logits = torch.full((T, C), 3.0)
    offsets = torch.tensor([0.0, 0.01, 0.02, 1.0]).view(T, 1, 1).expand(T, C, 2).clone()  # lengths 0,.04,.08,4 (stride 2)
    segs, _, _ = decode_level(logits, offsets, torch.ones(T, dtype=torch.bool), 2, 0.001, 2000, 0.05)
    lengths = sorted((segs[:, 1] - segs[:, 0]).tolist())
    assert lengths == pytest.approx([0.08, 4.0])


def test_seconds_grid_round_trip_and_formula():
    t = torch.tensor([0.48, 1.0, 12.34, 59.9, 600.0], dtype=torch.float64)
    g = seconds_to_grid(t, 25.0, 8, 24)
    assert g[0].item() == pytest.approx(0.0)  # row 0 is centred at 12 / 25 s
    back = grid_to_seconds(g, 25.0, 8, 24, duration=1e9)
    assert back.tolist() == pytest.approx(t.tolist())
    assert seconds_to_grid(2.0, 30.0, 8, 24) == pytest.approx((60 - 12) / 8)
    segs = torch.tensor([[10.0, 20.0]])
    assert grid_to_seconds(segs, 25.0, 8, 24, 100.0).tolist()[0] == pytest.approx([92 / 25, 172 / 25])


def test_grid_to_seconds_clips_to_video():
    segs = torch.tensor([[-5.0, 3.0], [100.0, 400.0], [-10.0, 10_000.0]])
    sec = grid_to_seconds(segs, 25.0, 8, 24, duration=60.0)
    assert sec.dtype == torch.float32
    assert bool((sec >= 0).all()) and bool((sec <= 60.0).all())
    assert sec.flatten().tolist() == pytest.approx([0.0, 36 / 25, 812 / 25, 60.0, 0.0, 60.0])


def _pyramid(rows: int, num_classes: int):
    """Head outputs with one confident event per listed (class, row) on level 1; all else background."""
    logits = [torch.full((math.ceil(rows / s), num_classes), NEG) for s in STRIDES]
    offsets = [torch.full((math.ceil(rows / s), num_classes, 2), 1.5) for s in STRIDES]
    masks = [torch.ones(math.ceil(rows / s), dtype=torch.bool) for s in STRIDES]
    return logits, offsets, masks


def test_long_video_yields_segments_after_60_seconds():
    rows, num_classes = 2000, 10  # 2000 rows * 0.32 s = 640 s
    logits, offsets, masks = _pyramid(rows, num_classes)
    logits[0][1500, 4] = logit(0.8)  # level 1, row 1500 -> about 480 s
    logits[3][1900 // 8, 7] = logit(0.6)  # level 4 (stride 8), point at grid 1896 -> about 607 s
    segs, scores, labels = decode_video(logits, offsets, masks, STRIDES, TEST_DEFAULTS)
    duration = rows * 8 / 25
    sec = grid_to_seconds(segs, 25.0, 8, 24, duration)
    assert labels.tolist() == [4, 7]
    assert sec[0].tolist() == pytest.approx([(1498.5 * 8 + 12) / 25, (1501.5 * 8 + 12) / 25])
    centre = (1900 // 8) * 8
    assert sec[1].tolist() == pytest.approx([((centre - 12) * 8 + 12) / 25, ((centre + 12) * 8 + 12) / 25])
    assert float(sec.min()) > 400.0


def test_decode_video_all_levels_nms_and_config():
    rows, num_classes = 64, 6
    logits, offsets, masks = _pyramid(rows, num_classes)
    for r in range(20, 30):  # a run of confident points of class 2 -> overlapping duplicates
        logits[0][r, 2] = logit(0.7 - 0.01 * (r - 20))
    logits[2][3, 5] = logit(0.5)  # level 3 point at grid 12
    soft = decode_video(logits, offsets, masks, STRIDES, {"nms_method": "soft"})
    none = decode_video(logits, offsets, masks, STRIDES, {"nms_method": "none"})
    hard = decode_video(logits, offsets, masks, STRIDES, {"nms_method": "hard", "iou_threshold": 0.4})
    assert none[1].numel() == 11 and soft[1].numel() == 11
    assert sorted(none[2].tolist()) == [2] * 10 + [5]
    # Soft-NMS keeps the best of the run untouched and decays its overlapping neighbours
    assert soft[1][0].item() == pytest.approx(0.7)
    assert float(soft[1][soft[2] == 2][1:].max()) < 0.69
    # hard NMS at IoU 0.4: 3-unit segments; points 2 apart have IoU 1/5 (kept), 1 apart 1/2 (removed)
    assert sorted(hard[0][hard[2] == 2][:, 0].tolist()) == pytest.approx([18.5, 20.5, 22.5, 24.5, 26.5])
    lvl3 = soft[0][soft[2] == 5]
    assert lvl3.flatten().tolist() == pytest.approx([12 - 1.5 * 4, 12 + 1.5 * 4])
    capped = decode_video(logits, offsets, masks, STRIDES, {"max_seg_num": 3})
    assert capped[1].numel() == 3


def test_to_results_format():
    segs = torch.tensor([[1.23456789, 5.0], [0.0, 2.5]])
    out = to_results(segs, torch.tensor([0.87654321, 0.5]), torch.tensor([1, 0]), ["dog barking", "car"])
    assert out == [
        {"segment": [1.2346, 5.0], "label": "car", "label_id": 1, "score": 0.876543},
        {"segment": [0.0, 2.5], "label": "dog barking", "label_id": 0, "score": 0.5},
    ]
    assert all(type(v) is float for e in out for v in (*e["segment"], e["score"]))
    with pytest.raises(ValueError, match="label id 3"):
        to_results(segs[:1], torch.tensor([0.5]), torch.tensor([3]), ["a", "b"])


def test_decode_level_accepts_non_contiguous_head_outputs():
    """Heads emit [C, T] / [2C, T]; the transposed views must decode like contiguous copies."""
    g = torch.Generator().manual_seed(3)
    T, C = 30, 4
    logits_ct = torch.randn(C, T, generator=g) * 3 - 3  # [C, T]
    offsets_ct = torch.rand(C, 2, T, generator=g) * 3  # [C, 2, T]
    mask = torch.ones(T, dtype=torch.bool)
    a = decode_level(logits_ct.t(), offsets_ct.permute(2, 0, 1), mask, 2, 0.001, 2000, 0.05)
    b = decode_level(logits_ct.t().contiguous(), offsets_ct.permute(2, 0, 1).contiguous(), mask, 2,
                     0.001, 2000, 0.05)
    assert a[0].numel() > 0
    assert torch.allclose(a[1], b[1], rtol=1e-6, atol=0)  # sigmoid may differ in the last bit
    assert torch.allclose(a[0], b[0]) and torch.equal(a[2], b[2])
