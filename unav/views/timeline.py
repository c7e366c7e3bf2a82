"""The timeline figure of `unav detect` (paper Fig. 5): one row per class with predicted bars (colour, opacity =
score) and, when given, ground-truth bars beside them; under it the audio waveform and a strip of frame
thumbnails, all on one time axis. The figure has a fixed layout, so its pixel size is known in advance
(`timeline_size`). Waveform and thumbnails are read from the video in one streaming ffmpeg pass each
(memory does not grow with the video's length)."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UnavError
from ..io import atomic_path
from ..media.ffmpeg import base_args, input_arg
from ..media.probe import VideoInfo, probe

WAVE_RATE = 8000           # Hz of the decode used for the waveform envelope
READ_BYTES = 1 << 20


@dataclass(frozen=True)
class Layout:
    """Figure geometry in inches (dpi 100: one inch = 100 px, every size is a whole number of pixels)."""

    width: float = 14.0
    left: float = 1.9          # class labels
    right: float = 0.3
    top: float = 0.5           # title
    bottom: float = 0.55       # time axis label
    row: float = 0.42          # one class row (prediction + ground truth)
    min_rows: int = 1
    gap: float = 0.12          # between panels
    wave: float = 0.8
    thumbs: float = 0.9
    dpi: int = 100

    @property
    def axes_width(self) -> float:
        return self.width - self.left - self.right


LAYOUT = Layout()


def _panel_heights(n_rows: int, waveform: bool, thumbnails: bool, layout: Layout = LAYOUT) -> list[float]:
    heights = [max(n_rows, layout.min_rows) * layout.row]
    if waveform:
        heights.append(layout.wave)
    if thumbnails:
        heights.append(layout.thumbs)
    return heights


def timeline_size(n_rows: int, waveform: bool = True, thumbnails: bool = True,
                  layout: Layout = LAYOUT) -> tuple[int, int]:
    """(width, height) in pixels of the PNG written by `plot_detection_timeline` for `n_rows` class rows."""
    heights = _panel_heights(n_rows, waveform, thumbnails, layout)
    inches = layout.top + layout.bottom + sum(heights) + layout.gap * (len(heights) - 1)
    return round(layout.width * layout.dpi), round(inches * layout.dpi)


def thumbnail_count(aspect: float, layout: Layout = LAYOUT) -> int:
    """Thumbnails that tile the strip without stretching, for frames of width/height `aspect`."""
    return max(1, round(layout.axes_width / (layout.thumbs * max(aspect, 1e-3))))


# ---- reading the video ---------------------------------------------------------------------------------------
def _stream(cmd: list[str], what: str):
    """Yield stdout blocks of an ffmpeg process; raise UnavError with its stderr on failure."""
    import tempfile

    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        try:
            while block := proc.stdout.read(READ_BYTES):
                yield block
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            proc.stdout.close()
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode("utf-8", errors="replace").strip()[-800:]
            raise UnavError(f"{what}: ffmpeg failed (status {proc.returncode}): {tail}")


def waveform_envelope(path: str | os.PathLike, bins: int, info: VideoInfo | None = None) -> np.ndarray | None:
    """Audio envelope over [0, duration]: [bins, 2] float32 (min, max per bin, in [-1, 1]); None without audio.
    Decoded mono at 8 kHz and reduced block by block."""
    info = info or probe(path)
    if not info.has_audio or info.duration <= 0:
        return None
    total = max(int(info.duration * WAVE_RATE), 1)
    lo = np.zeros(bins, dtype=np.float32)
    hi = np.zeros(bins, dtype=np.float32)
    cmd = base_args() + ["-v", "error", "-i", input_arg(path), "-map", "0:a:0", "-vn", "-sn", "-dn",
                         "-ac", "1", "-ar", str(WAVE_RATE), "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"]
    pos = 0
    carry = b""
    for block in _stream(cmd, f"{path}: waveform"):
        block = carry + block
        usable = len(block) // 2 * 2
        carry = block[usable:]
        x = np.frombuffer(block[:usable], dtype="<i2").astype(np.float32) / 32768.0  # [n]
        if not len(x):
            continue
        idx = np.minimum((np.arange(pos, pos + len(x), dtype=np.int64) * bins) // total, bins - 1)  # [n]
        starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])   # first sample of each bin in the block
        b = idx[starts]
        lo[b] = np.minimum(lo[b], np.minimum.reduceat(x, starts))
        hi[b] = np.maximum(hi[b], np.maximum.reduceat(x, starts))
        pos += len(x)
    return np.stack([lo, hi], axis=1)  # [bins, 2]


def thumbnails(path: str | os.PathLike, count: int, height: int = 72,
               info: VideoInfo | None = None) -> np.ndarray:
    """`count` frames sampled evenly over the video (centres of equal slices), [count, height, w, 3] uint8."""
    info = info or probe(path)
    width = max(2, int(round(info.width * height / max(info.height, 1) / 2)) * 2)
    rate = count / max(info.duration, 1e-3)
    # shift time by half a slice so output frame i is the one nearest (i + 0.5) * duration / count
    vf = (f"setpts=PTS-{0.5 / rate:.6f}/TB,fps=fps={rate:.8g}:start_time=0:round=near,"
          f"scale={width}:{height}:flags=area")
    cmd = base_args() + ["-v", "error", "-i", input_arg(path), "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", vf,
                         "-frames:v", str(count), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    frame = width * height * 3
    data = b"".join(_stream(cmd, f"{path}: thumbnails"))
    n = len(data) // frame
    if n == 0:
        return np.full((count, height, width, 3), 32, dtype=np.uint8)
    frames = np.frombuffer(data[: n * frame], dtype=np.uint8).reshape(n, height, width, 3)
    if n < count:  # a short decode: repeat the last frame
        frames = np.concatenate([frames, np.repeat(frames[-1:], count - n, axis=0)])
    return frames[:count]


# ---- drawing ---------------------------------------------------------------------------------------------------
def class_colours(classes: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """A stable colour per class name (its position in the checkpoint's class list)."""
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    # the strong shades first (even indices), then the light ones, so neighbouring classes differ
    return {c: tuple(cmap((2 * i) % 20 + (i // 10) % 2)[:3]) for i, c in enumerate(classes)}


def row_labels(events: Sequence[dict], ground_truth: Sequence[dict] | None,
               classes: Sequence[str] | None = None) -> list[str]:
    """Classes that get a row: those predicted or annotated, in class-list order (then by name)."""
    present = {e["label"] for e in events} | {g["label"] for g in (ground_truth or [])}
    order = {c: i for i, c in enumerate(classes or [])}
    return sorted(present, key=lambda c: (order.get(c, len(order)), c))


def plot_detection_timeline(path: str | os.PathLike, duration: float, events: Sequence[dict], *,
                            title: str = "", ground_truth: Sequence[dict] | None = None,
                            waveform: np.ndarray | None = None, thumbs: np.ndarray | None = None,
                            classes: Sequence[str] | None = None, layout: Layout = LAYOUT) -> Path:
    """Write the timeline PNG atomically; returns its path.

    events: [{"start", "end", "label", "score"}]; ground_truth: [{"start", "end", "label"}] or None;
    waveform: [bins, 2] (min, max) over [0, duration]; thumbs: [n, h, w, 3] uint8 evenly over the video.
    Size: `timeline_size(len(row_labels(...)), waveform is not None, thumbs is not None)`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    labels = row_labels(events, ground_truth, classes)
    colours = class_colours(list(classes or []) + [c for c in labels if c not in (classes or [])])
    heights = _panel_heights(len(labels), waveform is not None, thumbs is not None, layout)
    w_px, h_px = timeline_size(len(labels), waveform is not None, thumbs is not None, layout)
    fig_h = h_px / layout.dpi
    fig = plt.figure(figsize=(layout.width, fig_h), dpi=layout.dpi)
    duration = max(float(duration), 1e-3)
    axes = []
    y_top = fig_h - layout.top
    for i, h in enumerate(heights):  # panels stacked from the top with fixed margins
        y0 = y_top - h
        ax = fig.add_axes((layout.left / layout.width, y0 / fig_h, layout.axes_width / layout.width, h / fig_h),
                          sharex=axes[0] if axes else None)
        axes.append(ax)
        y_top = y0 - layout.gap
    ax = axes[0]
    n = max(len(labels), layout.min_rows)
    with_gt = ground_truth is not None
    for row, label in enumerate(labels):
        y = n - 1 - row  # first label on top
        colour = colours[label]
        preds = [(e["start"], e["end"] - e["start"]) for e in events if e["label"] == label]
        alphas = [0.35 + 0.65 * float(e["score"]) for e in events if e["label"] == label]
        pred_y, pred_h = ((y - 0.42, 0.4) if with_gt else (y - 0.35, 0.7))
        for (s, w), a in zip(preds, alphas):
            ax.broken_barh([(s, max(w, duration * 1e-3))], (pred_y, pred_h), facecolor=colour, alpha=min(a, 1.0),
                           edgecolor=colour, linewidth=0.8)
        if with_gt:
            gts = [(g["start"], max(g["end"] - g["start"], duration * 1e-3)) for g in ground_truth
                   if g["label"] == label]
            if gts:
                ax.broken_barh(gts, (y + 0.02, 0.4), facecolor="0.55", edgecolor="0.25", linewidth=0.6,
                               hatch="//")
    ax.set_yticks(range(n))
    ax.set_yticklabels(list(reversed(labels)) if labels else ["(no events)"] * n, fontsize=9)
    ax.set_ylim(-0.55, n - 0.45)
    ax.set_xlim(0, duration)
    ax.grid(axis="x", alpha=0.3)
    if not labels:
        ax.text(0.5, 0.5, "no events above the threshold", transform=ax.transAxes, ha="center", va="center",
                color="0.4")
    if with_gt:
        ax.legend(handles=[Patch(facecolor="0.55", edgecolor="0.25", hatch="//", label="ground truth (upper)"),
                           Patch(facecolor="C0", alpha=0.8, label="prediction (lower; opacity = score)")],
                  loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=8, frameon=False)
    ax.set_title(title, loc="left", fontsize=11)
    k = 1
    if waveform is not None:
        wav = np.asarray(waveform, dtype=np.float32)  # [bins, 2]
        t = (np.arange(len(wav)) + 0.5) * duration / max(len(wav), 1)  # [bins] bin centres
        axes[k].fill_between(t, wav[:, 0], wav[:, 1], color="0.25", linewidth=0)
        peak = float(np.abs(wav).max()) if wav.size else 0.0
        axes[k].set_ylim(-max(peak, 1e-3) * 1.05, max(peak, 1e-3) * 1.05)
        axes[k].set_yticks([])
        axes[k].set_ylabel("audio", rotation=0, ha="right", va="center", fontsize=9)
        k += 1
    if thumbs is not None and len(thumbs):
        strip = np.concatenate(list(thumbs), axis=1)  # [h, n*w, 3]
        axes[k].imshow(strip, extent=(0, duration, 0, 1), aspect="auto", interpolation="bilinear")
        axes[k].set_ylim(0, 1)
        axes[k].set_yticks([])
        axes[k].set_ylabel("frames", rotation=0, ha="right", va="center", fontsize=9)
    for a in axes[:-1]:
        a.tick_params(labelbottom=False)
    axes[-1].set_xlabel("time (s)")
    axes[0].set_xlim(0, duration)
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=layout.dpi, format="png")
    plt.close(fig)
    return path


def plot_prediction_timeline(path: str | os.PathLike, video_id: str, duration: float, predictions: Sequence[dict],
                             ground_truth: Sequence[dict] | None = None, threshold: float = 0.3,
                             classes: Sequence[str] | None = None) -> Path:
    """Fig. 5 for a video of a predictions.json (entries `{segment: [s, e], label, score}`) against its annotations
    (`{segment, label}`): the detect timeline without waveform and frames, predictions at or above `threshold`."""
    def events(entries: Sequence[dict], scored: bool) -> list[dict]:
        return [{"start": float(e["segment"][0]), "end": float(e["segment"][1]), "label": e["label"],
                 **({"score": float(e["score"])} if scored else {})}
                for e in entries if not scored or float(e["score"]) >= threshold]

    gt = None if ground_truth is None else events(ground_truth, scored=False)
    title = f"{video_id}: predictions (score >= {threshold})" + (" vs ground truth" if gt is not None else "")
    return plot_detection_timeline(path, duration, events(predictions, scored=True), title=title,
                                   ground_truth=gt, classes=classes)
