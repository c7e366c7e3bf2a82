"""`unav detect`: run a trained localizer on the user's own videos (files, folders, URLs).

Per video: (download) -> probe -> features extracted with exactly the settings recorded in the checkpoint
(refused when they cannot be reproduced) -> localizer (no length cap) -> post-processing -> `{out}/{id}/`:
events.json, events.csv, timeline.png and, with `html`, view.html + the video next to it. A video's folder is
built under a temporary name and renamed when complete, so a failure leaves nothing of that video behind.
The extractor and the localizer are loaded once for all videos; a bad video is reported and the others go on.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from . import __version__
from .errors import UnavError
from .features.extract import FPS, STREAMS, ExtractSettings, Extractor
from .features.windows import STACK, STEP
from .io import write_json, write_text

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".flv", ".mpg", ".mpeg", ".3gp", ".ogv",
                  ".wmv", ".ts")
BROWSER_SUFFIXES = (".mp4", ".m4v", ".webm", ".ogv")      # containers a browser's <video> opens directly
HTML_VIDEO_MODES = ("auto", "copy", "webm", "both")
RELEASED = "unav100-released"
# The features of the UnAV-100 release (features.md): pretrained I3D rgb + flow (RAFT-sintel, 20 updates) on 224
# crops of 25 fps frames resized to a 256 shorter side after the reference's x264 re-encode, VGGish at 0.32 s.
RELEASED_SETTINGS: dict[str, Any] = dict(weights="pretrained", flow_method="raft", flow_updates=20,
                                         raft_weights="raft_sintel", crop=224, min_side=256, hop_seconds=0.32,
                                         reencode=True, seed=0, dis_preset="medium")
# keys of the recorded settings that say how, not what, was computed: taken from this run
EXECUTION_KEYS = ("device", "batch_size", "weights_dir", "allow_unverified_weights", "chunk", "progress")
GRID_KEYS = {"fps": FPS, "stack": STACK, "step": STEP}
WAVE_BINS_HTML = 800


# ---- the checkpoint's feature settings -------------------------------------------------------------------------
def recorded_settings(ckpt: dict, checkpoint: str | os.PathLike) -> dict[str, Any]:
    """The extractor settings the checkpoint's features were made with, as a plain dict; UnavError when
    they are unknown or not something `unav extract` can reproduce from a video."""
    prov = ckpt.get("feature_provenance")
    if prov is None:
        raise UnavError(f"checkpoint {checkpoint} records no feature provenance (it was trained on features "
                        f"without {{id}}.json provenance files), so the extractor settings to reproduce are "
                        f"unknown; retrain it on features written by `unav extract`")
    from .data.features import recorded_settings_of

    settings = recorded_settings_of(prov)
    if settings == RELEASED:
        return {"streams": list(STREAMS), **RELEASED_SETTINGS, **GRID_KEYS}
    if isinstance(settings, dict) and settings.get("source") == "synthetic-features":
        raise UnavError(f"checkpoint {checkpoint} was trained on synthetic features (the offline demo), not on "
                        f"features of real videos; detect cannot reproduce them from a video. Train on features "
                        f"written by `unav extract`, or import the official checkpoint")
    if not isinstance(settings, dict):
        raise UnavError(f"checkpoint {checkpoint} was trained on features of provenance {settings!r}, which "
                        f"detect cannot reproduce from a video (expected settings written by `unav extract` "
                        f"or {RELEASED!r})")
    known = {f.name for f in dataclasses.fields(ExtractSettings)} | set(GRID_KEYS)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UnavError(f"checkpoint {checkpoint}: its feature settings hold key(s) {', '.join(unknown)} that "
                        f"this version of `unav extract` does not know, so it cannot reproduce them")
    missing = sorted(k for k in known - set(settings) - set(EXECUTION_KEYS) - set(GRID_KEYS))
    if missing:
        raise UnavError(f"checkpoint {checkpoint}: its feature settings lack key(s) {', '.join(missing)}; "
                        f"cannot tell how to reproduce its features")
    for key, value in GRID_KEYS.items():
        if key in settings and float(settings[key]) != float(value):
            raise UnavError(f"checkpoint {checkpoint}: its features were extracted with {key} {settings[key]}, "
                            f"but `unav extract` produces {key} {value}")
    return dict(settings)


def needed_streams(cfg: dict) -> tuple[str, ...]:
    """Feature streams the localizer of `cfg` reads."""
    modalities = cfg["model"]["modalities"]
    streams = list(cfg["dataset"]["visual_streams"]) if "visual" in modalities else []
    if "audio" in modalities:
        streams.append(cfg["dataset"].get("audio_stream", "vggish"))
    return tuple(streams)


def extract_settings(ckpt: dict, checkpoint: str | os.PathLike, device: str = "cpu",
                     batch_size: int | None = None, weights_dir: str | None = None,
                     allow_unverified_weights: bool = False, progress: bool = True) -> ExtractSettings:
    """ExtractSettings that reproduce the checkpoint's features (only the streams its model reads); the
    execution keys (device, batch size, weights directory, chunk) come from this run."""
    settings = recorded_settings(ckpt, checkpoint)
    ds = ckpt["config"]["dataset"]
    grid = {"fps": float(ds["fps"]), "feat_stride": int(ds["feat_stride"]), "num_frames": int(ds["num_frames"])}
    if grid != {"fps": FPS, "feat_stride": STEP, "num_frames": STACK}:
        raise UnavError(f"checkpoint {checkpoint}: its model reads a feature grid of {grid}, but `unav extract` "
                        f"writes fps {FPS:g}, feat_stride {STEP}, num_frames {STACK}")
    streams = needed_streams(ckpt["config"])
    lacking = [s for s in streams if s not in settings["streams"]]
    if lacking:
        raise UnavError(f"checkpoint {checkpoint}: its model reads stream(s) {', '.join(lacking)} but its "
                        f"features hold only {', '.join(settings['streams'])}")
    values = {k: v for k, v in settings.items()
              if k not in GRID_KEYS and k not in EXECUTION_KEYS and k != "streams"}
    try:
        out = ExtractSettings(streams=streams, device=device, batch_size=int(batch_size or settings.get("batch_size")
                                                                          or 8),
                              weights_dir=weights_dir or settings.get("weights_dir"),
                              allow_unverified_weights=bool(allow_unverified_weights
                                                            or settings.get("allow_unverified_weights")),
                              progress=progress, **values)
    except (TypeError, ValueError, UnavError) as err:
        raise UnavError(f"checkpoint {checkpoint}: its feature settings cannot be reproduced ({err})") from err
    check_weights(out, checkpoint)
    return out


def required_weights(settings: ExtractSettings) -> list[str]:
    """Registry names of the pretrained files the settings load (none in "random" mode)."""
    if settings.weights != "pretrained":
        return []
    names = []
    if "rgb" in settings.streams:
        names.append("i3d_rgb")
    if "flow" in settings.streams:
        names.append("i3d_flow")
        if settings.flow_method == "raft":
            names.append(settings.raft_weights)
    if "vggish" in settings.streams:
        names.append("vggish")
    return names


def check_weights(settings: ExtractSettings, checkpoint: str | os.PathLike) -> None:
    """Refuse, naming the exact `unav weights fetch` command, when pretrained files are not fetched yet."""
    from .features import weights as W

    names = required_weights(settings)
    if not names:
        return
    root = W.weights_dir(settings.weights_dir)
    missing = [n for n in names if not (root / W.entry_for(n).file).is_file()]
    if missing:
        files = ", ".join(W.entry_for(n).file for n in missing)
        where = f" --weights-dir {settings.weights_dir}" if settings.weights_dir else ""
        raise UnavError(f"checkpoint {checkpoint} needs features from the pretrained extractors "
                        f"({', '.join(names)}; {settings.flow_method.upper()} flow, {settings.crop} crop), but "
                        f"{files} {'is' if len(missing) == 1 else 'are'} not in {root}. Run:\n"
                        f"  unav weights fetch {' '.join(missing)}{where}")


# ---- inputs ----------------------------------------------------------------------------------------------------
def is_url(text: str) -> bool:
    return str(text).lower().startswith(("http://", "https://"))


def expand_inputs(items: Sequence[str]) -> list[str]:
    """Files and URLs as given; a folder becomes its video files (sorted). Missing paths are an error naming
    them all (before any work starts); duplicate video ids too."""
    out: list[str] = []
    missing = []
    for item in items:
        if is_url(item):
            out.append(str(item))
            continue
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in VIDEO_SUFFIXES
                           and not q.name.startswith("."))
            if not found:
                raise UnavError(f"{p}: folder holds no video files (expected {', '.join(VIDEO_SUFFIXES)})")
            out.extend(str(q) for q in found)
        elif p.is_file():
            out.append(str(p))
        else:
            missing.append(str(p))
    if missing:
        raise UnavError(f"input(s) not found: {', '.join(missing)} (expected video files, folders of videos "
                        f"or http(s) URLs)")
    if not out:
        raise UnavError("no input videos given")
    from .media.videolist import repeated_ids

    dup = repeated_ids(Path(x).stem for x in out if not is_url(x))
    if dup:
        raise UnavError(f"several inputs share the video id(s) {', '.join(dup)} (the file name stem names the "
                        f"output folder); rename them")
    return out


def download(url: str, dest_dir: str | os.PathLike, progress: bool = False) -> Path:
    """Download `url` with yt-dlp (the one in this Python environment) into `dest_dir`; returns the file."""
    import importlib.util

    from .media.ffmpeg import ffmpeg_exe

    if importlib.util.find_spec("yt_dlp") is None:
        raise UnavError(f"{url}: URL input needs yt-dlp in this Python environment "
                        f"(`{sys.executable} -m pip install yt-dlp`)")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "yt_dlp", "--no-playlist", "--restrict-filenames", "--no-mtime",
           "--no-continue", "--ffmpeg-location", ffmpeg_exe(),
           "-f", "bv*[height<=720]+ba/b[height<=720]/bv*+ba/b", "--merge-output-format", "mp4",
           "-o", str(dest_dir / "%(id)s.%(ext)s"), "--print", "after_move:filepath", "--no-simulate",
           "--progress" if progress else "--no-progress", url]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=None if progress else subprocess.PIPE, check=False)
    lines = [ln for ln in proc.stdout.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        err = (proc.stderr or b"").decode("utf-8", errors="replace").strip()[-800:]
        raise UnavError(f"{url}: download with yt-dlp failed (status {proc.returncode})"
                        + (f": {err}" if err else "; see its messages above"))
    return Path(lines[-1])


# ---- outputs ---------------------------------------------------------------------------------------------------
def events_csv(events: Sequence[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["start", "end", "label", "score"])
    for e in events:
        w.writerow([f"{e['start']:.4f}", f"{e['end']:.4f}", e["label"], f"{e['score']:.6f}"])
    return buf.getvalue()


def to_events(results: Sequence[dict], threshold: float) -> list[dict]:
    """Prediction entries -> events {start, end, label, score} with score >= threshold, by start time."""
    events = [{"start": float(r["segment"][0]), "end": float(r["segment"][1]), "label": r["label"],
               "score": float(r["score"])} for r in results if r["score"] >= threshold]
    return sorted(events, key=lambda e: (e["start"], -e["score"], e["label"]))


def webm_copy(src: str | os.PathLike, dest: str | os.PathLike, duration: float, has_audio: bool,
              progress: bool = False, max_height: int = 480) -> Path:
    """A browser-playable VP9/Opus copy of `src` (at most `max_height` lines), written atomically."""
    from tqdm.auto import tqdm

    from .io import atomic_path
    from .media.ffmpeg import base_args, input_arg

    audio = ["-map", "0:a:0", "-c:a", "libopus", "-b:a", "64k"] if has_audio else ["-an"]
    with atomic_path(dest, suffix=".webm") as tmp, tempfile.TemporaryFile() as err:
        cmd = base_args() + ["-v", "error", "-y", "-i", input_arg(src), "-map", "0:v:0", *audio, "-sn", "-dn",
                             "-vf", f"scale=-2:'trunc(min({max_height},ih)/2)*2'", "-c:v", "libvpx-vp9",
                             "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-b:v", "0", "-crf", "36",
                             "-progress", "pipe:1", "-nostats", "-f", "webm", input_arg(tmp)]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        with tqdm(total=round(duration, 1), desc=f"{Path(src).stem} webm", unit="s", disable=not progress,
                  leave=False, dynamic_ncols=True) as bar:
            for line in proc.stdout:
                if line.startswith(b"out_time_us=") and line[12:].strip().isdigit():
                    bar.n = round(min(int(line[12:]) / 1e6, duration), 1)
                    bar.refresh()
        if proc.wait() != 0:
            err.seek(0)
            raise UnavError(f"{src}: WebM copy for the page failed: "
                            f"{err.read().decode('utf-8', errors='replace').strip()[-600:]}")
    return Path(dest)


def reduce_envelope(wave: np.ndarray, bins: int) -> np.ndarray:
    """[n, 2] (min, max) envelope -> at most `bins` rows (min of mins, max of maxes over equal groups)."""
    n = len(wave)
    if n <= bins:
        return wave
    starts = (np.arange(bins) * n) // bins  # [bins] first row of each group
    return np.stack([np.minimum.reduceat(wave[:, 0], starts), np.maximum.reduceat(wave[:, 1], starts)], axis=1)


def _place_video(src: Path, folder: Path, mode: str, info, moved: bool, progress: bool) -> list[str]:
    """Put the video for the page into `folder`; returns the file names (page sources, in preference order)."""
    names: list[str] = []
    copy = mode in ("copy", "both") or (mode == "auto" and src.suffix.lower() in BROWSER_SUFFIXES)
    if mode in ("webm", "both") or not copy:
        webm_copy(src, folder / "video.webm", info.duration, info.has_audio, progress)
        names.append("video.webm")
    if copy:
        name = "video" + src.suffix.lower()
        if moved:
            os.replace(src, folder / name)
        else:
            shutil.copyfile(src, folder / name)  # a copy, not a link: the page's folder stands alone
        names.append(name)
    return names


def _install_dir(partial: Path, final: Path) -> None:
    """Replace `final` by the complete folder `partial` (a rename; an old folder is removed afterwards)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(partial, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---- the detector ----------------------------------------------------------------------------------------------
@dataclass
class DetectResult:
    video_id: str
    folder: Path
    events: list[dict]
    duration: float
    files: dict[str, str] = field(default_factory=dict)     # kind -> file name inside `folder`
    timing: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    entry: dict | None = None                                # viewer data (html)


@dataclass
class DetectBatch:
    done: dict[str, DetectResult] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)     # input -> error message
    index: Path | None = None


class Detector:
    """A checkpoint's localizer and the extractor that reproduces its features, loaded once."""

    def __init__(self, checkpoint: str | os.PathLike, device: str = "auto", threshold: float = 0.3,
                 weights_dir: str | None = None, allow_unverified_weights: bool = False,
                 batch_size: int | None = None, weights: str = "auto", progress: bool = True) -> None:
        from .model.checkpoint import load_checkpoint, model_from_checkpoint
        from .device import resolve_device

        if not 0.0 <= threshold <= 1.0:
            raise UnavError(f"--threshold must lie in [0, 1], got {threshold}")
        self.checkpoint = str(checkpoint)
        self.ckpt = load_checkpoint(checkpoint)
        self.cfg = self.ckpt["config"]
        self.classes = list(self.ckpt["classes"])
        self.threshold = float(threshold)
        self.progress = progress
        self.device = resolve_device(device)
        self.settings = extract_settings(self.ckpt, checkpoint, str(self.device), batch_size, weights_dir,
                                         allow_unverified_weights, progress)
        model, self.which = model_from_checkpoint(self.ckpt, use_ema=weights in ("auto", "ema"))
        if weights == "ema" and self.which != "ema":
            raise UnavError(f"checkpoint {checkpoint} holds no EMA weights")
        self.model = model.to(self.device).eval()
        self.extractor = Extractor(self.settings)

    # ---- stages ----
    def features(self, path: Path, feat_dir: Path) -> tuple[dict, Any]:
        """Extract into `feat_dir`; (provenance, VideoFeatures with both modalities cut to the shorter)."""
        from .data.features import load_video_features

        prov = self.extractor.extract(path, feat_dir)
        ds, modalities = self.cfg["dataset"], self.cfg["model"]["modalities"]
        feats = load_video_features(feat_dir, prov["id"], ds["visual_streams"], load_audio="audio" in modalities,
                                    load_visual="visual" in modalities,
                                    max_row_mismatch=ds.get("max_row_mismatch", 3))
        return prov, feats

    @torch.inference_mode()
    def localize(self, feats: Any, duration: float, video_id: str = "") -> list[dict]:
        """All post-processed predictions of one video (entries with segment, label, label_id, score)."""
        from .config import max_stride
        from .data.dataset import collate
        from .postprocess import decode_video, grid_to_seconds, to_results

        ds = self.cfg["dataset"]
        item = {"video_id": video_id,
                "visual": None if feats.visual is None else torch.from_numpy(np.ascontiguousarray(feats.visual.T)),
                "audio": None if feats.audio is None else torch.from_numpy(np.ascontiguousarray(feats.audio.T)),
                "segments": torch.zeros(0, 2), "labels": torch.zeros(0, dtype=torch.long), "duration": duration,
                "fps": ds["fps"], "feat_stride": ds["feat_stride"], "num_frames": ds["num_frames"]}
        batch = collate([item], ds["max_seq_len"], max_stride(self.cfg), training=False)  # no length cap
        visual, audio = (None if batch[k] is None else batch[k].to(self.device) for k in ("visual", "audio"))
        out = self.model(visual, audio, batch["mask"].to(self.device))  # visual [1, Cv, T], audio [1, 128, T]
        segs, scores, labels = decode_video(
            [c[0].float().cpu() for c in out["cls_logits"]], [o[0].float().cpu() for o in out["offsets"]],
            [m[0].cpu() for m in out["masks"]], out["strides"], self.cfg["test"])
        secs = grid_to_seconds(segs, ds["fps"], ds["feat_stride"], ds["num_frames"], duration)
        return to_results(secs, scores, labels, self.classes)

    # ---- one video ----
    def detect(self, source: str, out_dir: str | os.PathLike, annotations: Any = None, html: bool = False,
               html_video: str = "auto", keep_features: bool = False) -> DetectResult:
        """Run one input (file or URL) and write its folder `{out_dir}/{id}/` (all or nothing)."""
        from .media.probe import probe
        from .timeline import (LAYOUT, plot_detection_timeline, row_labels, thumbnail_count, thumbnails,
                               waveform_envelope)

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        timing: dict[str, float] = {}
        work = Path(tempfile.mkdtemp(prefix=".detect-", dir=out))
        try:
            t0 = time.perf_counter()
            if is_url(source):
                path = download(source, work / "download", self.progress)
                timing["download"] = time.perf_counter() - t0
            else:
                path = Path(source)
            vid = path.stem
            try:
                info = probe(path)
            except UnavError as err:
                raise UnavError(f"{vid}: {err}") from err
            folder = work / vid
            folder.mkdir()
            t = time.perf_counter()
            feat_dir = folder / "features" if keep_features else work / "features"
            prov, feats = self.features(path, feat_dir)
            timing["features"] = time.perf_counter() - t
            t = time.perf_counter()
            results = self.localize(feats, info.duration, vid)
            events = to_events(results, self.threshold)
            timing["localize"] = time.perf_counter() - t

            t = time.perf_counter()
            gt = ground_truth(annotations, vid)
            bins = round(LAYOUT.axes_width * LAYOUT.dpi)
            wave = waveform_envelope(path, bins, info) if info.has_audio else None
            aspect = info.width / max(info.height, 1)
            thumbs = thumbnails(path, thumbnail_count(aspect), info=info)
            title = (f"{vid}: {len(events)} event(s) with score >= {self.threshold:g}"
                     + (" — ground truth hatched" if gt is not None else ""))
            plot_detection_timeline(folder / "timeline.png", info.duration, events, title=title, ground_truth=gt,
                                    waveform=wave, thumbs=thumbs, classes=self.classes)
            timing["timeline"] = time.perf_counter() - t
            files = {"timeline": "timeline.png", "events_json": "events.json", "events_csv": "events.csv"}
            entry = None
            if html:
                from .html_view import video_entry, write_page

                t = time.perf_counter()
                names = _place_video(path, folder, html_video, info, moved=is_url(source), progress=self.progress)
                if is_url(source):
                    path = folder / names[-1]
                html_wave = None if wave is None else reduce_envelope(wave, WAVE_BINS_HTML)
                meta = (f"{Path(source).name if not is_url(source) else source} · {info.duration:.1f} s · "
                        f"checkpoint {Path(self.checkpoint).name} · threshold {self.threshold:g}")
                entry = video_entry(vid, info.duration, events, names, rows=row_labels(events, gt, self.classes),
                                    ground_truth=gt, waveform=html_wave, thumbs=thumbs, classes=self.classes,
                                    meta=meta)
                write_page(folder / "view.html", [entry], f"unav detect: {vid}")
                files["html"] = "view.html"
                files["video"] = names
                timing["html"] = time.perf_counter() - t
            elif is_url(source):  # keep what was analysed
                name = "video" + path.suffix.lower()
                os.replace(path, folder / name)
                files["video"] = [name]
            doc = {"version": "unav-detect-v1", "video_id": vid, "source": str(source), "duration": info.duration,
                   "threshold": self.threshold, "checkpoint": self.checkpoint, "weights": self.which,
                   "classes": self.classes, "events": events, "num_candidates": len(results),
                   "feature_settings": prov["settings"], "feature_rows": prov["rows"],
                   "paper_compatible": prov.get("paper_compatible", True),
                   "ground_truth": gt, "timing": {k: round(v, 3) for k, v in timing.items()},
                   "files": files, "unav_version": __version__}
            write_json(folder / "events.json", doc)
            write_text(folder / "events.csv", events_csv(events))
            final = out / vid
            _install_dir(folder, final)
            return DetectResult(vid, final, events, info.duration, files, timing, entry)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def detect_many(self, sources: Sequence[str], out_dir: str | os.PathLike, annotations: Any = None,
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
            from .html_view import write_page

            entries = []
            for vid, res in batch.done.items():
                entry = dict(res.entry)
                entry["sources"] = [dict(s, src=f"{_quote(vid)}/{s['src']}") for s in entry["sources"]]
                entries.append(entry)
            batch.index = write_page(Path(out_dir) / "index.html", entries,
                                     f"unav detect: {len(entries)} videos")
        return batch


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text)


def ground_truth(annotations: Any, video_id: str) -> list[dict] | None:
    """Events of `video_id` in validated annotations ({start, end, label}); None when absent or not given."""
    if annotations is None:
        return None
    video = annotations.videos.get(video_id)
    if video is None:
        log.warning("%s: not in the annotation file %s; drawing predictions only", video_id, annotations.source)
        return None
    return [{"start": float(s), "end": float(e), "label": lab}
            for (s, e), lab in zip(video.segments.tolist(), video.labels)]


def summary_line(res: DetectResult) -> str:
    top = sorted(res.events, key=lambda e: -e["score"])[:3]
    best = "; ".join(f"{e['label']} {e['start']:.1f}-{e['end']:.1f}s ({e['score']:.2f})" for e in top)
    return f"{res.video_id}: {len(res.events)} event(s){': ' + best if best else ''} -> {res.folder}"


def timing_json(batch: DetectBatch) -> str:
    return json.dumps({vid: r.timing for vid, r in batch.done.items()}, indent=2)
