"""A feature-level synthetic UnAV-style dataset for the offline demo and the end-to-end tests.

Every class has its own visual pattern (in the rgb and flow rows) and its own sound pattern (in the VGGish
rows). An audio-visual event adds both patterns over its rows; distractors add only one of them (a sound
whose source is off screen, a visible but silent object) and are NOT annotated, so a model has to use both
modalities to localize the events. Events may overlap, with the same or different classes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import save_npy, write_json

FPS, STRIDE, FRAMES = 25, 8, 24


def _rows_to_seconds(rows: np.ndarray) -> np.ndarray:
    # Row boundaries r -> grid g = r - 0.5 -> seconds (g*8 + 12)/25.
    return ((rows - 0.5) * STRIDE + 0.5 * FRAMES) / FPS


def make_synthetic_dataset(out_dir: str | Path, num_videos: int = 120, num_classes: int = 6, seed: int = 0,
                           min_rows: int = 40, max_rows: int = 300, noise: float = 1.0,
                           strength: float = 1.5, splits: tuple[float, float] = (0.6, 0.2)) -> tuple[Path, Path]:
    """Write `features/{id}_{rgb,flow,vggish}.npy` (+ provenance) and `annotations.json`; returns their paths.
    Videos longer than 224 rows exercise training crops and uncapped inference."""
    out = Path(out_dir)
    feat_dir = out / "features"
    rng = np.random.default_rng(seed)
    classes = [f"sound_{i}" for i in range(num_classes)]
    proto_v = rng.standard_normal((num_classes, 2048)).astype(np.float32)
    proto_v /= np.linalg.norm(proto_v, axis=1, keepdims=True) / np.sqrt(2048) * (1 / strength)
    proto_a = rng.standard_normal((num_classes, 128)).astype(np.float32)
    proto_a /= np.linalg.norm(proto_a, axis=1, keepdims=True) / np.sqrt(128) * (1 / strength)
    database = {}
    n_train = int(round(splits[0] * num_videos))
    n_val = int(round(splits[1] * num_videos))
    settings = {"source": "synthetic-features", "seed": seed, "num_classes": num_classes}
    for v in range(num_videos):
        vid = f"syn{v:04d}"
        t = int(rng.integers(min_rows, max_rows + 1))
        visual = noise * rng.standard_normal((t, 2048)).astype(np.float32)
        audio = noise * rng.standard_normal((t, 128)).astype(np.float32)
        events = []
        for _ in range(int(rng.integers(1, 5))):
            k = int(rng.integers(num_classes))
            length = int(rng.integers(3, min(60, t // 2) + 1))
            start = int(rng.integers(0, t - length + 1))
            visual[start:start + length] += proto_v[k]
            audio[start:start + length] += proto_a[k]
            seg = _rows_to_seconds(np.array([start, start + length], dtype=np.float64))
            events.append({"segment": [round(float(seg[0]), 3), round(float(seg[1]), 3)],
                           "label": classes[k], "label_id": k})
        for _ in range(int(rng.integers(0, 3))):  # one-modality distractors, not annotated
            k = int(rng.integers(num_classes))
            length = int(rng.integers(3, min(40, t // 2) + 1))
            start = int(rng.integers(0, t - length + 1))
            if rng.random() < 0.5:
                audio[start:start + length] += proto_a[k]
            else:
                visual[start:start + length] += proto_v[k]
        duration = round(float(_rows_to_seconds(np.array([t]))[0]) + 0.5, 3)
        for ev in events:
            ev["segment"][1] = min(ev["segment"][1], duration)
            ev["segment"][0] = max(ev["segment"][0], 0.0)
        subset = "train" if v < n_train else "validation" if v < n_train + n_val else "test"
        database[vid] = {"subset": subset, "duration": duration, "fps": FPS, "annotations": events}
        save_npy(feat_dir / f"{vid}_rgb.npy", visual[:, :1024].copy())
        save_npy(feat_dir / f"{vid}_flow.npy", visual[:, 1024:].copy())
        save_npy(feat_dir / f"{vid}_vggish.npy", audio)
        write_json(feat_dir / f"{vid}.json", {"video_id": vid, "settings": settings, "weights": "synthetic",
                                              "rows_video": t, "rows_audio": t})
    ann_path = out / "annotations.json"
    write_json(ann_path, {"version": "synthetic", "database": database})
    return ann_path, feat_dir
