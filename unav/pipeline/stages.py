"""The per-video work of the workflow's shard stages, each with its per-video cache.

A shard job loads its networks once and walks its videos. A video whose outputs are complete, newer than its
inputs and made with the current settings (its provenance) is `cached`, never recomputed; the others are computed
(`done`) or `failed` with a kind and the reason, and the rest of the shard goes on. Every per-video output is
written atomically, so a shard killed mid-way leaves complete files only and its rerun skips what was finished.
`recompute` (the workflow passes it for `--forcerun STAGE`) bypasses the cache.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..errors import UnavError
from .shards import Row

log = logging.getLogger(__name__)

VideoWork = Callable[[str], str]   # id -> "done" | "cached"; raises on failure


class StageFailure(UnavError):
    """A video's failure whose kind is known (a recorded download failure, a video too short, …)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


def failure_kind(message: str) -> str:
    """The kind of an extraction failure, from the refusal's text (messages say what was expected)."""
    text = message.lower()
    if "no audio track" in text:
        return "no_audio"
    if "too short" in text:
        return "too_short"
    if any(s in text for s in ("could not read", "truncated", "file is empty", "no video stream",
                               "not found; expected", "unknown duration", "media file")):
        return "decode"
    return "error"


@dataclass
class Cache:
    """Whether videos may be taken from the cache."""

    recompute: bool = False                     # the whole stage is redone (--forcerun STAGE)

    def usable(self, vid: str) -> bool:
        return not self.recompute


def run_shard(stage: str, ids: Sequence[str], work: VideoWork, upstream_ok: set[str] | None = None,
              progress: bool = False) -> list[Row]:
    """Run `work` on each id (those an earlier stage failed are `skipped`); one row per id, in order. Every
    video's outcome is logged as it ends ([i/n] id: status), which is the job's progress in its log."""
    from tqdm import tqdm

    rows: list[Row] = []
    for i, vid in enumerate(tqdm(ids, desc=stage, unit="video", disable=not progress), 1):
        t0 = time.perf_counter()
        if upstream_ok is not None and vid not in upstream_ok:
            row = Row(vid, "skipped", "upstream", "an earlier stage did not produce this video")
        else:
            try:
                row = Row(vid, work(vid))
            except StageFailure as err:
                row = Row(vid, "failed", err.kind, str(err))
            except (UnavError, OSError, RuntimeError, ValueError) as err:
                row = Row(vid, "failed", failure_kind(str(err)), str(err) or type(err).__name__)
        row.seconds = time.perf_counter() - t0
        rows.append(row)
        text = f"[{i}/{len(ids)}] {stage} {vid}: {row.status} ({row.seconds:.1f} s)"
        if row.status == "failed":
            log.warning("%s: %s: %s", text, row.kind, row.reason)
        else:
            log.info("%s", text)
    return rows


# ---- freshness ------------------------------------------------------------------------------------------------
def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def newer_than_inputs(outputs: Iterable[Path], inputs: Iterable[Path]) -> bool:
    """Every output exists and none is older than any existing input (make's rule, per video)."""
    out_times = [_mtime(p) for p in outputs]
    if not out_times or any(t is None for t in out_times):
        return False
    in_times = [t for t in (_mtime(p) for p in inputs) if t is not None]
    return not in_times or min(out_times) >= max(in_times)


def features_current(folder: Path, vid: str, expected: dict, inputs: Iterable[Path]) -> bool:
    """`{vid}.json` and every array it lists exist in `folder`, newer than `inputs`, and its recorded settings
    equal `expected` (the execution keys aside: device, batch size, …)."""
    from ..features.provenance import FeatureProvenance

    path = folder / f"{vid}.json"
    try:
        prov = FeatureProvenance.read(path)
    except UnavError:
        return False
    arrays = [folder / name for name in prov.files.values()]
    if sorted(prov.streams) != sorted(expected.get("streams", [])) or len(arrays) != len(prov.streams):
        return False
    return not shaping_differences(prov.settings, expected) and newer_than_inputs([path, *arrays], inputs)


def shaping_differences(recorded: dict, expected: dict) -> list[str]:
    """Recorded settings that differ from `expected` and shape the expected streams (a new crop leaves VGGish
    features current; unknown keys, such as the frame grid, always count)."""
    from ..features.provenance import differing_settings
    from ..features.settings import SETTING_STREAMS

    streams = set(expected.get("streams") or [])
    return [k for k in differing_settings(recorded, expected)
            if k not in SETTING_STREAMS or k == "streams" or streams & set(SETTING_STREAMS[k])]


def expected_settings(settings) -> dict:
    """The settings a provenance file written now with `settings` records."""
    from ..features.extract import _recorded_settings

    return _recorded_settings(settings, None)


# ---- stages -----------------------------------------------------------------------------------------------
def download_work(raw_dir: Path, status_dir: Path, options, retry_failed: str, cache: Cache) -> VideoWork:
    """Download one id to raw_dir/{id}.mp4 with its status JSON; an earlier success is cached, always (to download
    a video again, delete its status and raw file); an earlier failure is retried as `retry_failed` says
    (all | transient | none), or always when the stage is forced."""
    from ..media.download import PERMANENT, download_video, read_status

    def work(vid: str) -> str:
        out, status_path = raw_dir / f"{vid}.mp4", status_dir / f"{vid}.json"
        previous = read_status(status_path)
        if previous and previous.get("ok") and out.is_file():
            return "cached"   # even when forced: the local copy may be all that is left of a removed video
        if previous and not previous.get("ok") and cache.usable(vid) and (
                retry_failed == "none" or (retry_failed == "transient" and previous.get("kind") in PERMANENT)):
            raise StageFailure(str(previous.get("kind") or "download"),
                               f"{previous.get('reason') or 'download failed'} (not retried: "
                               f"download.retry_failed is {retry_failed})")
        if previous and previous.get("ok") and not out.is_file():
            status_path.unlink()   # the video was removed since: download it again
        status = download_video(vid, out, status_path, options)
        if not status.get("ok"):
            raise StageFailure(str(status.get("kind") or "download"), str(status.get("reason")))
        return "done"

    return work


def trim_work(windows: dict, raw_dir: Path, clips_dir: Path, threads: int | None, cache: Cache) -> VideoWork:
    """Cut raw_dir/{id}.mp4 to the list's [start, end] window into clips_dir/{id}.mp4; a clip newer than its
    download and cut from the same window (recorded beside it in {id}.trim.json) is cached."""
    from ..io import write_json
    from ..media.trim import trim_video

    def work(vid: str) -> str:
        entry = windows[vid]
        raw, clip, record = raw_dir / f"{vid}.mp4", clips_dir / f"{vid}.mp4", clips_dir / f"{vid}.trim.json"
        window = {"start": entry.start, "end": entry.end}
        try:
            recorded = json.loads(record.read_text())
        except (OSError, ValueError):
            recorded = None
        if cache.usable(vid) and recorded == window and newer_than_inputs([clip, record], [raw]):
            return "cached"
        trim_video(raw, clip, entry.start, entry.end, threads=threads)
        write_json(record, window)
        return "done"

    return work


class FlowWorker:
    """The flow stage: a video needs flow unless its I3D features were made from flow equal to what the settings
    give now (the flow file is removed once I3D used it) or its flow file is current; the flow computer is
    built on first need. `settings` are the flow's (config flow.*), which may differ from I3D's weights mode."""

    def __init__(self, settings, flow_dir: Path, i3d_dir: Path | None, cache: Cache) -> None:
        self.settings, self.flow_dir, self.i3d_dir, self.cache = settings, flow_dir, i3d_dir, cache
        self._computer = None

    def computer(self):
        """(flow computer, its weights' provenance entry), built once."""
        if self._computer is None:
            from ..device import resolve_device
            from ..features import models

            self._computer = models.flow_computer(self.settings, resolve_device(self.settings.device, "device"))
        return self._computer

    def _differences(self, meta: dict | None) -> list[str]:
        from ..features.flowjob import flow_differences_now

        return ["flow"] if meta is None else flow_differences_now(meta, *self.computer(), self.settings)

    def flow_file_current(self, video: Path, flow: Path) -> bool:
        from ..features.flowfile import read_flow_meta

        if not newer_than_inputs([flow], [video]):
            return False
        try:
            return not self._differences(read_flow_meta(flow))
        except UnavError:
            return False

    def i3d_current(self, vid: str, video: Path) -> bool:
        """The I3D part exists, is newer than the video and records flow made as the settings make it now."""
        from ..features.provenance import FeatureProvenance

        if self.i3d_dir is None or not newer_than_inputs([self.i3d_dir / f"{vid}.json"], [video]):
            return False
        try:
            return not self._differences(FeatureProvenance.read(self.i3d_dir / f"{vid}.json").flow)
        except UnavError:
            return False

    def write(self, vid: str, video: Path) -> Path:
        from ..features.flowjob import write_video_flow

        flow = self.flow_dir / f"{vid}.flow"
        computer, weights_entry = self.computer()
        write_video_flow(video, flow, self.settings, computer, weights_entry)
        return flow

    def __call__(self, vid: str, video: Path) -> str:
        if self.cache.usable(vid) and (self.i3d_current(vid, video)
                                       or self.flow_file_current(video, self.flow_dir / f"{vid}.flow")):
            return "cached"
        self.write(vid, video)
        return "done"


class ExtractWorker:
    """The i3d and vggish stages: one Extractor (built on first need) for the shard's videos. The i3d stage
    reads the video's flow file, writing it first with `flow` (a FlowWorker) when it is gone (`--forcerun i3d`
    after the files were removed), so the features always record flow of one kind; the file is removed
    afterwards unless `keep_flow`."""

    def __init__(self, settings, out_dir: Path, cache: Cache, flow: FlowWorker | None = None,
                 keep_flow: bool = True) -> None:
        self.settings, self.out_dir, self.cache = settings, out_dir, cache
        self.flow, self.keep_flow = flow, keep_flow
        self.expected = expected_settings(settings)
        self._extractor = None

    def extractor(self):
        if self._extractor is None:
            from ..features.extract import Extractor

            self._extractor = Extractor(self.settings)
        return self._extractor

    def __call__(self, vid: str, video: Path) -> str:
        from ..features.extract import check_video

        flow = self.flow.flow_dir / f"{vid}.flow" if self.flow is not None else None
        inputs = [video] + ([flow] if flow is not None and flow.is_file() else [])
        if self.cache.usable(vid) and features_current(self.out_dir, vid, self.expected, inputs):
            status = "cached"
        else:
            info = check_video(video, self.settings.streams)
            if flow is not None and not flow.is_file():
                self.flow.write(vid, video)
            self.extractor().extract(video, self.out_dir, flow_file=flow, info=info)
            status = "done"
        if flow is not None and not self.keep_flow:
            flow.unlink(missing_ok=True)
        return status


def merge_work(part_dirs: Sequence[Path], out_dir: Path, cache: Cache) -> VideoWork:
    """Copy a video's parts into the features folder with one merged provenance; cached when the folder holds
    exactly that provenance, newer than the parts."""
    from ..features.provenance import FeatureProvenance
    from .steps import _read_provenance, merge_features, merge_provenance

    def work(vid: str) -> str:
        parts = [_read_provenance(d / f"{vid}.json", vid) for d in part_dirs]
        part_files = [d / f"{vid}.json" for d in part_dirs] + [
            d / name for d, p in zip(part_dirs, parts) for name in p.files.values()]
        final = out_dir / f"{vid}.json"
        if cache.usable(vid) and final.is_file():
            try:
                current = FeatureProvenance.read(final)
            except UnavError:
                current = None
            merged = merge_provenance(parts)
            arrays = [out_dir / name for name in merged.files.values()]
            if current is not None and current.to_dict() == merged.to_dict() and \
                    newer_than_inputs([final, *arrays], part_files):
                return "cached"
        merge_features(vid, part_dirs, out_dir)
        return "done"

    return work


def video_paths(videos: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """id (file stem) -> path, refusing two videos with one id (their outputs would collide)."""
    from ..media.videolist import repeated_ids

    paths = [Path(v) for v in videos]
    dup = repeated_ids(p.stem for p in paths)
    if dup:
        raise UnavError(f"several videos share the id(s) {', '.join(dup)}; expected one video per id")
    return {p.stem: p for p in paths}
