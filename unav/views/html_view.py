"""Self-contained HTML viewer of detections: the video playing with the event timeline under it, a cursor that
follows playback, clicking an event (bar or table row) seeks the video to it. Everything (style, script, data,
thumbnail strip) is inline; the video is a relative file reference next to the page, so the page works offline
and can be moved together with its folder. One page can hold one video or many (an index)."""
from __future__ import annotations

import base64
import io
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import quote

import numpy as np

from ..io import write_text

TEMPLATE = "detect_view.html"
MIME = {".webm": "video/webm", ".mp4": "video/mp4", ".m4v": "video/mp4", ".ogv": "video/ogg", ".mov": "video/mp4"}
WAVE_BINS = 800   # waveform columns kept in the page's data (the figure's width in pixels is similar)


def template_text() -> str:
    return resources.files("unav").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")


def jpeg_data_uri(image: np.ndarray, quality: int = 80) -> str:
    """[h, w, 3] uint8 -> "data:image/jpeg;base64,…"."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{int(round(255 * float(c))):02x}" for c in rgb[:3])


def video_entry(video_id: str, duration: float, events: Sequence[dict], sources: Sequence[str], *,
                rows: Sequence[str] | None = None, ground_truth: Sequence[dict] | None = None,
                waveform: np.ndarray | None = None, thumbs: np.ndarray | None = None,
                classes: Sequence[str] | None = None, meta: str = "") -> dict[str, Any]:
    """The data of one viewer. sources: video paths relative to the page (first playable wins);
    events [{"start", "end", "label", "score"}]; waveform [bins, 2] (min, max), kept to at most WAVE_BINS rows;
    thumbs [n, h, w, 3] uint8."""
    from .timeline import class_colours, row_labels

    rows = list(rows) if rows is not None else row_labels(events, ground_truth, classes)
    colours = class_colours(list(classes or []) + [r for r in rows if r not in (classes or [])])
    waveform = None if waveform is None else reduce_envelope(np.asarray(waveform, dtype=np.float64), WAVE_BINS)
    return {
        "id": video_id,
        "duration": float(duration),
        "meta": meta,
        "sources": [{"src": quote(Path(s).as_posix()), "type": MIME.get(Path(s).suffix.lower())} for s in sources],
        "rows": rows,
        "colours": {r: _hex(colours[r]) for r in rows},
        "events": [{"start": float(e["start"]), "end": float(e["end"]), "label": e["label"],
                    "score": float(e["score"])} for e in events],
        "ground_truth": None if ground_truth is None else
        [{"start": float(g["start"]), "end": float(g["end"]), "label": g["label"]} for g in ground_truth],
        "waveform": None if waveform is None else np.round(waveform, 4).tolist(),
        "thumbnails": None if thumbs is None or not len(thumbs) else
        jpeg_data_uri(np.concatenate(list(thumbs), axis=1)),
    }


def reduce_envelope(wave: np.ndarray, bins: int) -> np.ndarray:
    """[n, 2] (min, max) envelope -> at most `bins` rows (min of mins, max of maxes over equal groups)."""
    n = len(wave)
    if n <= bins:
        return wave
    starts = (np.arange(bins) * n) // bins  # [bins] first row of each group
    return np.stack([np.minimum.reduceat(wave[:, 0], starts), np.maximum.reduceat(wave[:, 1], starts)], axis=1)


def entry_in_folder(entry: dict, folder: str) -> dict:
    """A viewer entry whose page sits inside `folder`, as seen from a page one level up (an index)."""
    return {**entry, "sources": [dict(s, src=f"{quote(folder)}/{s['src']}") for s in entry["sources"]]}


def render_page(videos: Sequence[dict], title: str) -> str:
    """The page text for viewer entries made by `video_entry`."""
    import html

    data = json.dumps({"videos": list(videos)}, separators=(",", ":"))
    # keep the JSON inert inside <script>: no "</script>" or "<!--" can close or comment it
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    page = template_text().replace("__UNAV_TITLE__", html.escape(title))
    return page.replace("__UNAV_DATA__", data)


def write_page(path: str | os.PathLike, videos: Sequence[dict], title: str) -> Path:
    """Write the page atomically; returns its path."""
    write_text(path, render_page(videos, title))
    return Path(path)
