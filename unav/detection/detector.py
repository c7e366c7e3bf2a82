"""`unav detect`: run a trained localizer on the user's own videos (files, folders, URLs).

Per video: (download) -> probe -> features extracted with exactly the settings recorded in the checkpoint
(refused when they cannot be reproduced) -> localizer (no length cap) -> post-processing -> `{out}/{id}/`:
events.json, events.csv, timeline.png and, with `html`, view.html + the video next to it. A video's folder is
built under a temporary name and renamed when complete, so a failure leaves nothing of that video behind.
The extractor and the localizer are loaded once for all videos; a bad video is reported and the others go on.

This module composes the stages; each job has its own module: detect_inputs (inputs, URL download),
detect_settings (the checkpoint's feature settings), infer (decoding), timeline, event_files, html_view,
media.page_video (the page's video) and staged_folder (all-or-nothing folders).
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import torch

from .. import __version__
from .inputs import is_url, local_video
from .settings import extract_settings
from ..errors import UnavError
from .event_files import EVENTS_CSV, EVENTS_JSON, to_events, write_event_files
from ..features.extract import Extractor
from ..features.provenance import FeatureProvenance
from .staging import install_folder, scratch_folder

if TYPE_CHECKING:
    from ..data.annotations import Annotations
    from ..data.features import VideoFeatures
    from ..media.probe import VideoInfo

log = logging.getLogger(__name__)

TIMELINE = "timeline.png"
PAGE = "view.html"


@dataclass
class DetectResult:
    video_id: str
    folder: Path
    events: list[dict]
    duration: float
    files: dict[str, Any] = field(default_factory=dict)     # kind -> file name(s) inside `folder`
    timing: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    entry: dict | None = None                                # viewer data (html)


@dataclass
class DetectBatch:
    done: dict[str, DetectResult] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)     # input -> error message
    index: Path | None = None


@contextlib.contextmanager
def timed(timing: dict[str, float], stage: str) -> Iterator[None]:
    """Record the seconds the block takes as timing[stage] (only when it completes)."""
    start = time.perf_counter()
    yield
    timing[stage] = time.perf_counter() - start


class Detector:
    """A checkpoint's localizer and the extractor that reproduces its features, loaded once."""

    def __init__(self, checkpoint: str | os.PathLike, device: str = "auto", threshold: float = 0.3,
                 weights_dir: str | None = None, allow_unverified_weights: bool = False,
                 batch_size: int | None = None, weights: str = "auto", progress: bool = True) -> None:
        from ..device import resolve_device
        from ..model.checkpoint import load_model

        if not 0.0 <= threshold <= 1.0:
            raise UnavError(f"--threshold must lie in [0, 1], got {threshold}")
        self.checkpoint = str(checkpoint)
        self.ckpt, model, self.which = load_model(checkpoint, weights)
        self.cfg = self.ckpt["config"]
        self.classes = list(self.ckpt["classes"])
        self.threshold = float(threshold)
        self.progress = progress
        self.device = resolve_device(device)
        self.settings = extract_settings(self.ckpt, checkpoint, str(self.device), batch_size, weights_dir,
                                         allow_unverified_weights, progress)
        self.model = model.to(self.device).eval()
        self.extractor = Extractor(self.settings)

    # ---- stages ----
    def features(self, path: Path, feat_dir: Path) -> tuple[FeatureProvenance, VideoFeatures]:
        """Extract into `feat_dir`; (provenance, VideoFeatures with both modalities cut to the shorter)."""
        from ..data.features import load_video_features

        prov = FeatureProvenance.from_dict(self.extractor.extract(path, feat_dir), source=str(path))
        ds, modalities = self.cfg["dataset"], self.cfg["model"]["modalities"]
        feats = load_video_features(feat_dir, prov.video_id, ds["visual_streams"], load_audio="audio" in modalities,
                                    load_visual="visual" in modalities,
                                    max_row_mismatch=ds.get("max_row_mismatch", 3))
        return prov, feats

    @torch.inference_mode()
    def localize(self, feats: VideoFeatures, duration: float, video_id: str = "") -> list[dict]:
        """All post-processed predictions of one video (entries with segment, label, label_id, score)."""
        from ..data.dataset import collate_fn
        from ..engine.infer import predict_batch

        ds = self.cfg["dataset"]
        item = {"video_id": video_id,   # visual [Cv, T], audio [128, T], as the dataset's items
                "visual": None if feats.visual is None else torch.from_numpy(np.ascontiguousarray(feats.visual.T)),
                "audio": None if feats.audio is None else torch.from_numpy(np.ascontiguousarray(feats.audio.T)),
                "segments": torch.zeros(0, 2), "labels": torch.zeros(0, dtype=torch.long), "duration": duration,
                "fps": ds["fps"], "feat_stride": ds["feat_stride"], "num_frames": ds["num_frames"]}
        batch = collate_fn(self.cfg, training=False)([item])  # no length cap outside training
        return predict_batch(self.model, batch, self.classes, self.cfg["test"], self.device)[video_id]

    def timeline(self, path: Path, dest: Path, info: VideoInfo, events: list[dict],
                 gt: list[dict] | None) -> tuple[np.ndarray | None, np.ndarray]:
        """Draw the timeline figure into `dest`; returns what it shows of the video: (waveform envelope
        [bins, 2] or None without audio, thumbnails [n, h, w, 3])."""
        from ..views.timeline import LAYOUT, plot_detection_timeline, thumbnail_count, thumbnails, waveform_envelope

        bins = round(LAYOUT.axes_width * LAYOUT.dpi)
        wave = waveform_envelope(path, bins, info) if info.has_audio else None
        thumbs = thumbnails(path, thumbnail_count(info.width / max(info.height, 1)), info=info)
        title = (f"{path.stem}: {len(events)} event(s) with score >= {self.threshold:g}"
                 + (" — ground truth hatched" if gt is not None else ""))
        plot_detection_timeline(dest, info.duration, events, title=title, ground_truth=gt, waveform=wave,
                                thumbs=thumbs, classes=self.classes)
        return wave, thumbs

    # ---- one video ----
    def detect(self, source: str, out_dir: str | os.PathLike, annotations: Annotations | None = None,
               html: bool = False, html_video: str = "auto", keep_features: bool = False) -> DetectResult:
        """Run one input (file or URL) and write its folder `{out_dir}/{id}/` (all or nothing)."""
        from ..media.page_video import place_video
        from ..media.probe import probe

        out = Path(out_dir)
        timing: dict[str, float] = {}
        with scratch_folder(out, prefix=".detect-") as work:
            with timed(timing, "download") if is_url(source) else contextlib.nullcontext():
                path = local_video(source, work / "download")
            vid = path.stem
            try:
                info = probe(path)
            except UnavError as err:
                raise UnavError(f"{vid}: {err}") from err
            folder = work / vid
            folder.mkdir()
            with timed(timing, "features"):
                prov, feats = self.features(path, folder / "features" if keep_features else work / "features")
            with timed(timing, "localize"):
                results = self.localize(feats, info.duration, vid)
                events = to_events(results, self.threshold)
            with timed(timing, "timeline"):
                gt = ground_truth(annotations, vid)
                wave, thumbs = self.timeline(path, folder / TIMELINE, info, events, gt)
            files: dict[str, Any] = {"timeline": TIMELINE, "events_json": EVENTS_JSON, "events_csv": EVENTS_CSV}
            entry = None
            if html:
                with timed(timing, "html"):
                    videos = place_video(path, folder, html_video, info, moved=is_url(source), progress=self.progress)
                    entry = self.write_view(folder, source, info, events, gt, wave, thumbs, videos)
                files.update(html=PAGE, video=videos)
            elif is_url(source):  # keep what was analysed
                files["video"] = place_video(path, folder, "copy", info, moved=True)
            write_event_files(folder, {
                "video_id": vid, "source": str(source), "duration": info.duration, "threshold": self.threshold,
                "checkpoint": self.checkpoint, "weights": self.which, "classes": self.classes, "events": events,
                "num_candidates": len(results), "feature_settings": prov.settings, "feature_rows": prov.rows,
                "paper_compatible": prov.paper_compatible, "ground_truth": gt,
                "timing": {k: round(v, 3) for k, v in timing.items()}, "files": files, "unav_version": __version__})
            install_folder(folder, out / vid)
        return DetectResult(vid, out / vid, events, info.duration, files, timing, entry)

    def write_view(self, folder: Path, source: str, info: VideoInfo, events: list[dict], gt: list[dict] | None,
                   wave: np.ndarray | None, thumbs: np.ndarray, videos: list[str]) -> dict:
        """view.html of one video (its file(s) `videos` already in `folder`); returns the viewer entry."""
        from ..views.html_view import video_entry, write_page

        vid = folder.name
        meta = (f"{source if is_url(source) else Path(source).name} · {info.duration:.1f} s · "
                f"checkpoint {Path(self.checkpoint).name} · threshold {self.threshold:g}")
        entry = video_entry(vid, info.duration, events, videos, ground_truth=gt, waveform=wave, thumbs=thumbs,
                            classes=self.classes, meta=meta)
        write_page(folder / PAGE, [entry], f"unav detect: {vid}")
        return entry

    def detect_many(self, sources: Sequence[str], out_dir: str | os.PathLike, annotations: Annotations | None = None,
                    html: bool = False, html_video: str = "auto", keep_features: bool = False) -> DetectBatch:
        """Every input with the same models; failures are recorded and the others go on. With `html` and more
        than one video done, `{out_dir}/index.html` shows them all."""
        from tqdm.auto import tqdm

        batch = DetectBatch()
        for source in tqdm(sources, desc="detect", unit="video", disable=not self.progress or len(sources) < 2,
                           dynamic_ncols=True):
            try:
                res = self.detect(source, out_dir, annotations, html, html_video, keep_features)
                batch.done[res.video_id] = res
            except (UnavError, OSError, RuntimeError, ValueError) as err:
                msg = str(err)
                log.error("%s", msg)
                batch.failed[str(source)] = msg
        if html and len(batch.done) > 1:
            from ..views.html_view import entry_in_folder, write_page

            entries = [entry_in_folder(res.entry, vid) for vid, res in batch.done.items()]
            batch.index = write_page(Path(out_dir) / "index.html", entries, f"unav detect: {len(entries)} videos")
        return batch


def ground_truth(annotations: Annotations | None, video_id: str) -> list[dict] | None:
    """Events of `video_id` in validated annotations ({start, end, label}); None when absent or not given."""
    if annotations is None:
        return None
    video = annotations.videos.get(video_id)
    if video is None:
        log.warning("%s: not in the annotation file %s; drawing predictions only", video_id, annotations.source)
        return None
    return [{"start": float(s), "end": float(e), "label": lab}
            for (s, e), lab in zip(video.segments.tolist(), video.labels)]
