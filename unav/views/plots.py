"""Figures of a run and its evaluation: training curves, per-class AP. Event timelines (paper Fig. 5) are
drawn by unav.views.timeline."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..io import atomic_path  # noqa: E402


def _save(fig, path: str | Path, dpi: int = 110) -> Path:
    path = Path(path)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    finally:
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


def plot_per_class_ap(metrics: Mapping[str, Any], path: str | Path) -> Path:
    """Bar chart of each class's AP averaged over the tIoU thresholds, best first; written atomically."""
    rows = sorted(((v["average"], name) for name, v in metrics["per_class_AP"].items()), reverse=True)
    n = max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.16 * n + 1.5), 4.5))
    ax.bar(range(len(rows)), [100 * ap for ap, _ in rows], color="#3b75af")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([name for _, name in rows], rotation=90, fontsize=6 if n > 30 else 8)
    avg = metrics.get("average_mAP")
    if avg is not None:
        ax.axhline(100 * avg, color="#c44e52", lw=1, ls="--", label=f"mAP (avg. 0.1:0.9) = {100 * avg:.1f}")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_ylabel("AP (%), mean over tIoU 0.1:0.9")
    ax.set_ylim(0, 100)
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_title(f"Per-class AP, {metrics.get('split', '')} split ({len(rows)} classes)")
    fig.tight_layout()
    return _save(fig, path, dpi=120)
