"""Localizer post-processing: decode head outputs into scored segments, NMS, grid units <-> seconds.

Per pyramid level (stride s, points at t = i * s in grid units, i = 0 .. T-1):
  probs = sigmoid(logits) * mask; keep (point, class) pairs with prob > pre_nms_thresh; keep the
  pre_nms_topk best; segment = [t - d_start * s, t + d_end * s] with the pair's own class channel of the
  offsets (class-aware regression) or the point's two offsets; keep segments longer than duration_thresh.
Levels are concatenated, then NMS (see unav.evaluation.nms). Grid units -> seconds with the feature grid of the
extractor: t = (g * feat_stride + num_frames / 2) / fps, clipped to [0, duration].
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from unav.data import grid
from unav.evaluation.nms import batched_nms, single_threaded

# test-time keys and their paper defaults (unav/configs/defaults.yaml, `test:`)
TEST_DEFAULTS: dict[str, object] = {
    "pre_nms_thresh": 0.001,
    "pre_nms_topk": 2000,
    "duration_thresh": 0.05,
    "nms_method": "soft",
    "nms_sigma": 0.4,
    "iou_threshold": 0.7,
    "min_score": 0.001,
    "max_seg_num": 100,
    "multiclass_nms": True,
    "voting_thresh": 0.0,
}


def decode_level(cls_logits: Tensor, offsets: Tensor, mask: Tensor, stride: int, pre_nms_thresh: float = 0.001,
                 pre_nms_topk: int = 2000, duration_thresh: float = 0.05) -> tuple[Tensor, Tensor, Tensor]:
    """Candidates of one pyramid level of one video.

    cls_logits [T, C]; offsets [T, C, 2] (class-aware) or [T, 2]; mask [T] bool (False = padding).
    Returns segs [N, 2] in grid units (float32), scores [N] sorted descending, labels [N] (long).
    """
    num_points, num_classes = cls_logits.shape
    probs = torch.sigmoid(cls_logits.float()) * mask.to(torch.float32)[:, None]  # [T, C], padding -> 0
    flat = probs.reshape(-1)  # [T*C], flat index = point * C + class
    keep = flat > pre_nms_thresh
    if pre_nms_thresh < 0:  # a floor below 0 would let padded points (score 0) through
        keep &= mask.repeat_interleave(num_classes)
    idx = keep.nonzero().view(-1)  # [K] flat (point, class) indices
    cand = flat.index_select(0, idx)  # [K]
    k = min(int(pre_nms_topk), idx.numel())
    if k < idx.numel():
        cand, sel = torch.topk(cand, k, sorted=True)
    else:
        cand, sel = torch.sort(cand, descending=True)
    idx = idx.index_select(0, sel)  # [k]
    point = torch.div(idx, num_classes, rounding_mode="floor")  # [k]
    label = idx - point * num_classes  # [k]
    if offsets.dim() == 3:  # class-aware: the pair's own class channel
        off = offsets.reshape(-1, 2).index_select(0, idx).float()  # [k, 2]
    elif offsets.dim() == 2:
        off = offsets.index_select(0, point).float()  # [k, 2]
    else:
        raise ValueError(f"offsets must be [T, C, 2] or [T, 2], got {tuple(offsets.shape)}")
    t = point.to(torch.float32).mul_(stride)[:, None]  # [k, 1] point position in grid units
    segs = off.mul_(stride)  # [k, 2] distances in grid units
    segs[:, 0].neg_()
    segs.add_(t)  # [k, 2] (t - d_start * stride, t + d_end * stride)
    long_enough = ((segs[:, 1] - segs[:, 0]) > duration_thresh).nonzero().view(-1)
    return segs.index_select(0, long_enough), cand.index_select(0, long_enough), label.index_select(0, long_enough)


def decode_video(
    cls_logits: Sequence[Tensor],
    offsets: Sequence[Tensor],
    masks: Sequence[Tensor],
    strides: Sequence[int],
    test_cfg: Mapping[str, object] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """All levels of one video -> NMS -> (segs [M, 2] grid units, scores [M] descending, labels [M]).

    cls_logits[i] [T_i, C]; offsets[i] [T_i, C, 2] or [T_i, 2]; masks[i] [T_i] bool; strides[i] int.
    test_cfg: the `test:` section of the config (missing keys take TEST_DEFAULTS).
    """
    cfg = dict(TEST_DEFAULTS)
    cfg.update(test_cfg or {})
    with single_threaded():  # a few hundred tiny ops per video: threads only add waiting
        return _decode_video(cls_logits, offsets, masks, strides, cfg)


def _decode_video(cls_logits, offsets, masks, strides, cfg: dict) -> tuple[Tensor, Tensor, Tensor]:
    parts = [
        decode_level(c, o, m, s, float(cfg["pre_nms_thresh"]), int(cfg["pre_nms_topk"]),
                     float(cfg["duration_thresh"]))
        for c, o, m, s in zip(cls_logits, offsets, masks, strides, strict=True)
    ]
    segs = torch.cat([p[0] for p in parts])  # [N, 2]
    scores = torch.cat([p[1] for p in parts])  # [N]
    labels = torch.cat([p[2] for p in parts])  # [N]
    return batched_nms(
        segs, scores, labels,
        method=str(cfg["nms_method"]),
        iou_threshold=float(cfg["iou_threshold"]),
        min_score=float(cfg["min_score"]),
        max_seg_num=int(cfg["max_seg_num"]),
        sigma=float(cfg["nms_sigma"]),
        multiclass=bool(cfg["multiclass_nms"]),
        voting_thresh=float(cfg.get("voting_thresh") or 0.0),
    )


def grid_to_seconds(segs: Tensor, fps: float, feat_stride: int, num_frames: int, duration: float) -> Tensor:
    """Grid units -> seconds, clipped to [0, duration]. Any shape, e.g. segs [N, 2]; the formula lives in
    unav.data.grid (row i is centred at (i * feat_stride + num_frames / 2) / fps)."""
    if not segs.is_floating_point():
        segs = segs.float()
    return grid.grid_to_seconds(segs, fps, feat_stride, num_frames, duration=float(duration))


def seconds_to_grid(t, fps: float, feat_stride: int, num_frames: int):
    """Seconds -> grid units (inverse of grid_to_seconds, no clipping). Float, array or tensor."""
    return grid.seconds_to_grid(t, fps, feat_stride, num_frames)


def to_results(segs_sec: Tensor, scores: Tensor, labels: Tensor, class_names: Sequence[str]) -> list[dict]:
    """Predictions entries of one video: [{"segment": [s, e], "label", "label_id", "score"}], in input order.

    Times are rounded to 1e-4 s, scores to 1e-6.
    """
    rows = segs_sec.detach().cpu().to(torch.float64).tolist()
    probs = scores.detach().cpu().to(torch.float64).tolist()
    ids = labels.detach().cpu().tolist()
    out = []
    for (start, end), score, lab in zip(rows, probs, ids, strict=True):
        lab = int(lab)
        if not 0 <= lab < len(class_names):
            raise ValueError(f"label id {lab} outside the {len(class_names)} class names")
        out.append({
            "segment": [round(start, 4), round(end, 4)],
            "label": class_names[lab],
            "label_id": lab,
            "score": round(score, 6),
        })
    return out
