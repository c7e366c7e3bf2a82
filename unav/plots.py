"""Figures people look at: training curves and event timelines (ground truth vs predictions, paper Fig. 5)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .io import atomic_path  # noqa: E402


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def plot_training_curves(history: Sequence[dict], path: str | Path) -> Path:
    """Loss parts, learning rate and validation mAP per epoch."""
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for key in ("final_loss", "cls_loss", "reg_loss"):
        if any(key in r for r in history):
            axes[0].plot(epochs, [r.get(key) for r in history], marker="o", ms=3, label=key)
    axes[0].set(title="training loss", xlabel="epoch")
    axes[0].legend()
    axes[1].plot(epochs, [r["lr"] for r in history], marker="o", ms=3)
    axes[1].set(title="learning rate (end of epoch)", xlabel="epoch")
    val = [(r["epoch"], r["val_average_mAP"] * 100) for r in history if "val_average_mAP" in r]
    if val:
        axes[2].plot(*zip(*val), marker="o", ms=3, color="C2")
    axes[2].set(title="validation avg mAP (%)", xlabel="epoch")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_timeline(video_id: str, duration: float, predictions: Sequence[dict], path: str | Path,
                  ground_truth: Sequence[dict] | None = None, threshold: float = 0.3,
                  waveform=None, thumbnails=None) -> Path:
    """One row per class: ground-truth bars (grey, above) and predicted bars (coloured, alpha = score).
    Optional audio waveform (1-D array over [0, duration]) and frame thumbnails ([n, h, w, 3]) strips below."""
    import numpy as np

    preds = [p for p in predictions if p["score"] >= threshold]
    labels = sorted({p["label"] for p in preds} | {g["label"] for g in (ground_truth or [])})
    extra = int(waveform is not None) + int(thumbnails is not None)
    heights = [max(1.5, 0.45 * len(labels) + 0.8)] + [0.8] * extra
    fig, axes = plt.subplots(1 + extra, 1, figsize=(12, sum(heights)), squeeze=False,
                             gridspec_kw={"height_ratios": heights}, sharex=True)
    ax = axes[0, 0]
    cmap = plt.get_cmap("tab10")
    for row, label in enumerate(labels):
        y = len(labels) - 1 - row
        for g in (ground_truth or []):
            if g["label"] == label:
                s, e = g["segment"]
                ax.broken_barh([(s, e - s)], (y + 0.05, 0.35), color="0.35")
        for p in preds:
            if p["label"] == label:
                s, e = p["segment"]
                ax.broken_barh([(s, e - s)], (y - 0.4, 0.4), color=cmap(row % 10), alpha=0.3 + 0.7 * p["score"])
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(list(reversed(labels)))
    ax.set_xlim(0, duration)
    ax.set_ylim(-0.6, max(len(labels), 1) - 0.4)
    title = f"{video_id}: predictions (score >= {threshold})"
    ax.set_title(title + (" vs ground truth (grey)" if ground_truth is not None else ""))
    ax.grid(axis="x", alpha=0.3)
    i = 1
    if waveform is not None:
        w = np.asarray(waveform, dtype=np.float32)
        axes[i, 0].plot(np.linspace(0, duration, len(w)), w, lw=0.5, color="0.2")
        axes[i, 0].set_yticks([])
        axes[i, 0].set_ylabel("audio")
        i += 1
    if thumbnails is not None:
        strip = np.concatenate(list(thumbnails), axis=1)
        axes[i, 0].imshow(strip, extent=(0, duration, 0, 1), aspect="auto")
        axes[i, 0].set_yticks([])
        axes[i, 0].set_ylabel("frames")
    axes[-1, 0].set_xlabel("time (s)")
    return _save(fig, path)
