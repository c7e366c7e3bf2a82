"""Video self-stitching (VSS) on the model side.

VSGN (sec. 3.1) magnifies a short clip along time and stitches it after the original clip with a gap, in one
input sequence of the fixed training length, so that short events are seen (and get anchors) at two scales;
targets are the clip's events plus their magnified copies. Official parameters: a clip is stitched when its
length is <= short_ratio (0.4) of the input length; stitch_gap (30 of 1280 input rows); long videos are also
cut into short clips of clip_win_size (0.38) of the input length to create such samples.

What applies here: the unav dataset crops/pads every training video to `dataset.max_seq_len` rows; a video
(or crop) of n <= short_ratio * T valid rows leaves T - n rows of padding, so during training the model fills
rows [n + gap, T) with the clip linearly up-sampled to T - n - gap rows (VSS magnifies by interpolating
features; here the already-extracted feature rows are interpolated), marks them valid as "part 1" (the
original is "part 0"; the gap stays invalid), and `stitch_targets` adds the magnified copies of its events.
The xGN graph then adds cross-scale edges between the parts (graph.py).
What does not apply: re-extracting features of the magnified clip at a higher frame rate (the features are
extracted once at 0.32 s per row), and the dataset-side cutting of long videos into extra short clips (the
dataset and its sampler are shared with the other models); inference never stitches."""
from __future__ import annotations

import torch


def stitch(x: torch.Tensor, mask: torch.Tensor, short_ratio: float,
           gap: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """x [B, C, T] (zero at invalid rows), mask [B, T] -> stitched x [B, C, T], mask [B, T], part [B, T]
    (-1 invalid, 0 original, 1 magnified) and info {"stitched" [B] bool, "start" [B] (first magnified row),
    "scale" [B] (magnification)} for `stitch_targets`."""
    b, _, t = x.shape
    n = mask.sum(1).to(x.dtype)                                                  # [B] valid rows (a prefix)
    length2 = t - n - gap                                                        # [B] magnified length
    stitched = (n >= 2) & (n <= short_ratio * t) & (length2 > n)
    start = n + gap                                                              # [B]
    scale = torch.where(stitched, length2 / n.clamp(min=1), torch.ones_like(n))
    rows = torch.arange(t, device=x.device, dtype=x.dtype)                       # [T]
    # linear interpolation, edges aligned (align_corners=False): target row r <- source (r - start + .5)/scale - .5
    src = ((rows[None] - start[:, None] + 0.5) / scale[:, None] - 0.5)           # [B, T]
    src = torch.minimum(src.clamp(min=0), (n - 1).clamp(min=0)[:, None])
    lo = src.floor().long()
    hi = torch.minimum(lo + 1, (n - 1).clamp(min=0).long()[:, None])
    w = (src - lo.to(x.dtype))[:, None]                                          # [B, 1, T]
    c = x.shape[1]
    up = (torch.gather(x, 2, lo[:, None].expand(-1, c, -1)) * (1 - w)
          + torch.gather(x, 2, hi[:, None].expand(-1, c, -1)) * w)              # [B, C, T]
    second = stitched[:, None] & (rows[None] >= start[:, None])                  # [B, T]
    x = torch.where(second[:, None], up, x)
    new_mask = mask | second
    part = torch.where(second, 1, torch.where(mask, 0, -1))
    return x, new_mask, part, {"stitched": stitched, "start": start, "scale": scale}


def stitch_targets(segments: list[torch.Tensor], labels: list[torch.Tensor],
                   info: dict[str, torch.Tensor] | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Add the magnified copy of every event of a stitched video: row coordinate s -> start - .5 + (s + .5) * scale
    (the mapping of `stitch`'s interpolation, rows centred at integers)."""
    if info is None:
        return segments, labels
    segs, labs = [], []
    for i, (s, lab) in enumerate(zip(segments, labels)):       # a loop over videos
        if bool(info["stitched"][i]):
            start, scale = info["start"][i].to(s.dtype), info["scale"][i].to(s.dtype)
            s = torch.cat([s, start - 0.5 + (s + 0.5) * scale])
            lab = torch.cat([lab, lab])
        segs.append(s)
        labs.append(lab)
    return segs, labs
