"""UnAV dataset items (features + events on the feature grid), training crops, and batching.

Item (dict): video_id; visual [Cv, T] float32 (None when the model does not use vision); audio [128, T]
(None when unused); segments [N, 2] float32 in grid units; labels [N] int64; duration (s); fps;
feat_stride; num_frames.

Training crop (the official release's truncate_feats, in our code):
- T > max_seq_len: a window of exactly max_seq_len rows at a uniformly random start;
- T <= max_seq_len and crop_ratio = [a, b] given: a window of randint(max(round(a*T), 1), min(round(b*T), T))
  rows at a random start (no crop when that equals T);
- an event is kept when >= trunc_thresh of its length lies in the window; kept events are clipped to the
  window and shifted to its start. Up to CROP_TRIALS windows are drawn until one keeps an event; if none
  does, the last window is used and the item has no events (all-zero targets).
- Videos without events: the release skips cropping them (and would then fail to batch a long one);
  here they get one random window when longer than max_seq_len and are left whole otherwise.
Randomness comes from Python's `random` module by default (DataLoader workers reseed it per worker), or
from the `rng` given to the dataset.
"""
from __future__ import annotations

import math
import random
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import UnavError
from .annotations import Annotations
from .features import (AUDIO_STREAM, MAX_ROW_MISMATCH, VideoFeatures, check_provenance,
                       load_video_features, missing_feature_files)
from .grid import seconds_to_grid

CROP_TRIALS = 200


def random_crop(feat_len: int, segments: torch.Tensor, max_seq_len: int, trunc_thresh: float,
                crop_ratio: Sequence[float] | None, rng: Any = random,
                max_trials: int = CROP_TRIALS) -> tuple[int, int, torch.Tensor, torch.Tensor] | None:
    """Pick a training window. segments: [N, 2] grid units.

    Returns None (use the whole sequence) or (start, end, cropped segments [M, 2] relative to start,
    keep [N] bool)."""
    if feat_len <= max_seq_len:
        if crop_ratio is None:
            return None
        max_seq_len = rng.randint(max(round(crop_ratio[0] * feat_len), 1),
                                  min(round(crop_ratio[1] * feat_len), feat_len))
        if max_seq_len == feat_len:
            return None
    segments = segments.to(torch.float32)
    n = int(segments.shape[0])
    lengths = (segments[:, 1] - segments[:, 0]).abs()                     # [N]
    for _ in range(max_trials if n else 1):
        st = rng.randint(0, feat_len - max_seq_len)
        ed = st + max_seq_len
        left = segments[:, 0].clamp(min=float(st))                         # [N]
        right = segments[:, 1].clamp(max=float(ed))                        # [N]
        inter = (right - left).clamp(min=0)
        keep = inter / lengths >= trunc_thresh                             # [N]
        if bool(keep.any()):
            break
    cropped = torch.stack((left[keep], right[keep]), dim=1) - st if n else segments.new_zeros((0, 2))
    return st, ed, cropped, keep if n else torch.zeros(0, dtype=torch.bool)


class UnavDataset(Dataset):
    """Videos of one or more subsets with their features; crops in training mode."""

    def __init__(self, annotations: Annotations, feat_dir: str | Path, split: str | Sequence[str],
                 cfg: dict, training: bool, preload: bool = True, rng: Any = None) -> None:
        ds = cfg["dataset"]
        self.annotations = annotations
        self.feat_dir = Path(feat_dir)
        self.splits = [split] if isinstance(split, str) else list(split)
        self.training = training
        self.fps = ds["fps"]
        self.feat_stride = ds["feat_stride"]
        self.num_frames = ds["num_frames"]
        self.max_seq_len = ds["max_seq_len"]
        self.trunc_thresh = ds["trunc_thresh"]
        self.crop_ratio = ds.get("crop_ratio")
        self.visual_streams = tuple(ds["visual_streams"])
        self.max_row_mismatch = ds.get("max_row_mismatch", MAX_ROW_MISMATCH)
        modalities = cfg["model"]["modalities"]
        self.use_visual = "visual" in modalities
        self.use_audio = "audio" in modalities
        self.classes = annotations.classes
        self.num_classes = ds.get("num_classes") or annotations.num_classes
        self.rng = rng   # None: the `random` module (kept out of the instance so it pickles)

        self.video_ids = [vid for s in self.splits for vid in annotations.split(s)]
        if not self.video_ids:
            raise UnavError(f"{annotations.source}: no videos in split {self.splits} "
                            f"(subsets present: {annotations.subsets})")
        streams = (list(self.visual_streams) if self.use_visual else []) + \
                  ([AUDIO_STREAM] if self.use_audio else [])
        missing = missing_feature_files(self.feat_dir, self.video_ids, streams)
        if missing:
            shown = "; ".join(f"{vid}: {', '.join(files)}" for vid, files in list(missing.items())[:10])
            more = f" (and {len(missing) - 10} more)" if len(missing) > 10 else ""
            raise UnavError(f"{len(missing)} of {len(self.video_ids)} videos of split {self.splits} have no "
                            f"features in {self.feat_dir}: {shown}{more}. Extract them or remove the videos "
                            f"from {annotations.source}.")
        self.provenance = check_provenance(self.feat_dir, self.video_ids)
        self._cache: dict[str, tuple[np.ndarray | None, np.ndarray | None]] = {}
        # Every video is read once now, so a broken file stops the run here with its name. With preload the
        # arrays stay in this process; without, items are read again when asked for (DataLoader workers: a
        # dataset holding every array would be pickled to each worker at each epoch's start).
        with ThreadPoolExecutor(max_workers=8) as pool:
            for vid, arrays in zip(self.video_ids, pool.map(self._load, self.video_ids)):
                if preload:
                    self._cache[vid] = arrays

    def _load(self, video_id: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Features as channel-first contiguous arrays: visual [Cv, T], audio [128, T]."""
        f: VideoFeatures = load_video_features(self.feat_dir, video_id, self.visual_streams,
                                               load_audio=self.use_audio, load_visual=self.use_visual,
                                               max_row_mismatch=self.max_row_mismatch)
        visual = None if f.visual is None else np.ascontiguousarray(f.visual.T)
        audio = None if f.audio is None else np.ascontiguousarray(f.audio.T)
        return visual, audio

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, idx: int) -> dict:
        vid = self.video_ids[idx]
        visual, audio = self._cache[vid] if vid in self._cache else self._load(vid)
        feat_len = (visual if visual is not None else audio).shape[1]
        video = self.annotations.videos[vid]
        segments = torch.from_numpy(seconds_to_grid(video.segments, self.fps, self.feat_stride,
                                                    self.num_frames).astype(np.float32))  # [N, 2]
        labels = torch.from_numpy(video.label_ids.copy())                                # [N]
        st, ed = 0, feat_len
        if self.training:
            crop = (None if segments.shape[0] == 0 and feat_len <= self.max_seq_len else
                    random_crop(feat_len, segments, self.max_seq_len, self.trunc_thresh,
                                self.crop_ratio, self.rng if self.rng is not None else random))
            if crop is not None:
                st, ed, segments, keep = crop
                labels = labels[keep]
        return {
            "video_id": vid,
            "visual": None if visual is None else torch.from_numpy(visual[:, st:ed].copy()),  # [Cv, T]
            "audio": None if audio is None else torch.from_numpy(audio[:, st:ed].copy()),     # [128, T]
            "segments": segments,
            "labels": labels,
            "duration": video.duration,
            "fps": self.fps,
            "feat_stride": self.feat_stride,
            "num_frames": self.num_frames,
        }


def padded_length(lengths: Sequence[int], max_seq_len: int, max_stride: int, training: bool) -> int:
    """Training: max_seq_len. Inference: max_seq_len, or the longest rounded up to a multiple of max_stride."""
    longest = max(lengths)
    if training:
        if longest > max_seq_len:
            raise ValueError(f"collate: a training item has {longest} rows > max_seq_len {max_seq_len} "
                             f"(items must be cropped first)")
        return max_seq_len
    if longest <= max_seq_len:
        return max_seq_len
    return int(math.ceil(longest / max_stride) * max_stride)


def _pad(tensors: list[torch.Tensor | None], tpad: int) -> torch.Tensor | None:
    if tensors[0] is None:
        return None
    out = tensors[0].new_zeros((len(tensors), tensors[0].shape[0], tpad))  # [B, C, Tpad]
    for i, x in enumerate(tensors):
        out[i, :, :x.shape[1]] = x
    return out


def collate(batch: list[dict], max_seq_len: int, max_stride: int, training: bool) -> dict:
    """Pad a list of items: visual [B, Cv, Tpad], audio [B, 128, Tpad], mask [B, Tpad] (True = valid row),
    lengths [B]; segments, labels and the meta entries as lists."""
    lengths = [int((it["visual"] if it["visual"] is not None else it["audio"]).shape[1]) for it in batch]
    tpad = padded_length(lengths, max_seq_len, max_stride, training)
    lens = torch.tensor(lengths, dtype=torch.long)
    return {
        "visual": _pad([it["visual"] for it in batch], tpad),
        "audio": _pad([it["audio"] for it in batch], tpad),
        "mask": torch.arange(tpad)[None, :] < lens[:, None],               # [B, Tpad]
        "lengths": lens,
        "segments": [it["segments"] for it in batch],
        "labels": [it["labels"] for it in batch],
        "video_id": [it["video_id"] for it in batch],
        "duration": [it["duration"] for it in batch],
        "fps": [it["fps"] for it in batch],
        "feat_stride": [it["feat_stride"] for it in batch],
        "num_frames": [it["num_frames"] for it in batch],
    }


def collate_fn(cfg: dict, training: bool):
    """A picklable collate for DataLoader, configured from the config."""
    from ..config import max_stride

    return partial(collate, max_seq_len=cfg["dataset"]["max_seq_len"], max_stride=max_stride(cfg),
                   training=training)
