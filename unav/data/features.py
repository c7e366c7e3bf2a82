"""Per-video feature files: load, validate, align the modalities, check provenance.

Files in `feat_dir` (design.md, features.md §0): `{id}_rgb.npy` [R, 1024], `{id}_flow.npy` [R, 1024],
`{id}_vggish.npy` [Ra, 128]; released I3D files are float64 and are cast to float32 here.
Visual = the I3D streams side by side in the order of `visual_streams` ([T, 1024*k]).

Alignment: like the release, visual and audio are truncated to the shorter row count. The release does
it silently; here a difference larger than `max_row_mismatch` rows (default MAX_ROW_MISMATCH = 3 rows,
about 1 s) is logged as a warning naming the video. When only one modality is requested, the other
modality's row count is still read from its file header (if the file exists), so A-only and V-only runs
see the same time axis as A&V runs. rgb and flow must have equal row counts (they come from the same
windows): a difference is an error.

Provenance: an optional `{id}.json` beside the features holds a "settings" mapping (extractor settings,
weights identity). `check_provenance` refuses a set of videos whose "settings" differ; videos without a
provenance file (e.g. the released features) are accepted, with a warning when mixed with ones that have one.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import UnavError
from ..features.provenance import FeatureProvenance, differing_settings

log = logging.getLogger(__name__)

STREAM_WIDTH = {"rgb": 1024, "flow": 1024, "vggish": 128}
VISUAL_STREAMS = ("rgb", "flow")
AUDIO_STREAM = "vggish"
MAX_ROW_MISMATCH = 3


@dataclass
class VideoFeatures:
    visual: np.ndarray | None   # [T, 1024*k] float32 (None when not loaded)
    audio: np.ndarray | None    # [T, 128] float32 (None when not loaded)
    rows_visual: int | None     # rows in the visual files before alignment (None: no file/not read)
    rows_audio: int | None      # rows in the audio file before alignment

    @property
    def num_rows(self) -> int:
        arr = self.visual if self.visual is not None else self.audio
        return 0 if arr is None else int(arr.shape[0])


def feature_path(feat_dir: str | Path, video_id: str, stream: str) -> Path:
    return Path(feat_dir) / f"{video_id}_{stream}.npy"


def provenance_path(feat_dir: str | Path, video_id: str) -> Path:
    return Path(feat_dir) / f"{video_id}.json"


def _header_shape(path: Path, video_id: str) -> tuple[int, ...]:
    """Shape of a .npy file from its header, without reading the data."""
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, _ = np.lib.format.read_array_header_1_0(fh)
            else:
                shape, _, _ = np.lib.format.read_array_header_2_0(fh)
    except (OSError, ValueError) as err:
        raise UnavError(f"video {video_id!r}: {path}: not a readable .npy file ({err})") from err
    return tuple(shape)


NPY_MAGIC = b"\x93NUMPY"


def _check_npy_magic(path: Path, video_id: str, width: int) -> None:
    """A text or foreign file named .npy gets a plain message (numpy would fall back to unpickling it)."""
    with open(path, "rb") as fh:
        head = fh.read(len(NPY_MAGIC))
    if head != NPY_MAGIC:
        raise UnavError(f"video {video_id!r}: {path} is not a .npy file (it does not start with the .npy "
                        f"magic bytes; expected a [rows, {width}] float array written by numpy.save)")


def load_stream(path: Path, video_id: str, width: int) -> np.ndarray:
    """One feature file -> [R, width] float32, validated (exists, 2-D, width, rows > 0, finite)."""
    if not path.is_file():
        raise UnavError(f"video {video_id!r}: feature file {path} is missing "
                        f"(expected a [rows, {width}] .npy array)")
    _check_npy_magic(path, video_id, width)
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        # numpy's own text may advise loading unsafely; object arrays are never loaded, so say what is expected.
        raise UnavError(f"video {video_id!r}: {path}: not a readable numeric .npy array ({type(err).__name__}: "
                        f"truncated, or holding objects); expected a [rows, {width}] float array "
                        f"written by numpy.save") from err
    if arr.size == 0:
        raise UnavError(f"video {video_id!r}: {path} has no rows (shape {arr.shape}; expected "
                        f"[rows > 0, {width}] - is the video shorter than one feature window?)")
    if arr.ndim != 2 or arr.shape[1] != width:
        raise UnavError(f"video {video_id!r}: {path} has shape {arr.shape}, expected [rows, {width}]")
    if not np.issubdtype(arr.dtype, np.floating):
        raise UnavError(f"video {video_id!r}: {path} has dtype {arr.dtype}, expected floating point")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise UnavError(f"video {video_id!r}: {path} holds NaN or Inf values in {bad} row(s); "
                        f"expected finite features")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _rows_if_present(feat_dir: Path, video_id: str, streams: Sequence[str]) -> int | None:
    """Row count of the (first existing) stream file from its header, or None."""
    rows = []
    for s in streams:
        p = feature_path(feat_dir, video_id, s)
        if p.is_file():
            shape = _header_shape(p, video_id)
            rows.append(shape[0] if len(shape) >= 1 else 0)
    return min(rows) if rows else None


def load_video_features(feat_dir: str | Path, video_id: str,
                        visual_streams: Sequence[str] = VISUAL_STREAMS, load_audio: bool = True,
                        load_visual: bool = True,
                        max_row_mismatch: int = MAX_ROW_MISMATCH) -> VideoFeatures:
    """Load one video's features, cast to float32 and truncate both modalities to the shorter one."""
    feat_dir = Path(feat_dir)
    if not load_visual and not load_audio:
        raise ValueError("load_video_features: nothing to load (load_visual and load_audio are False)")
    for s in visual_streams:
        if s not in VISUAL_STREAMS:
            raise UnavError(f"unknown visual stream {s!r} (expected one of {VISUAL_STREAMS})")

    visual = audio = None
    rows_visual = rows_audio = None
    if load_visual:
        parts = [load_stream(feature_path(feat_dir, video_id, s), video_id, STREAM_WIDTH[s])
                 for s in visual_streams]
        counts = [p.shape[0] for p in parts]
        if len(set(counts)) > 1:
            desc = ", ".join(f"{s}: {c}" for s, c in zip(visual_streams, counts))
            raise UnavError(f"video {video_id!r}: visual streams in {feat_dir} have different row "
                            f"counts ({desc}); expected equal (same I3D windows)")
        visual = parts[0] if len(parts) == 1 else np.hstack(parts)   # [R, 1024*k]
        rows_visual = counts[0]
    else:
        rows_visual = _rows_if_present(feat_dir, video_id, visual_streams)
    if load_audio:
        audio = load_stream(feature_path(feat_dir, video_id, AUDIO_STREAM), video_id,
                            STREAM_WIDTH[AUDIO_STREAM])                   # [Ra, 128]
        rows_audio = audio.shape[0]
    else:
        rows_audio = _rows_if_present(feat_dir, video_id, [AUDIO_STREAM])

    if rows_visual is not None and rows_audio is not None:
        if abs(rows_visual - rows_audio) > max_row_mismatch:
            log.warning("video %r: visual has %d rows but audio has %d (more than %d apart); "
                        "both truncated to %d", video_id, rows_visual, rows_audio, max_row_mismatch,
                        min(rows_visual, rows_audio))
        t = min(rows_visual, rows_audio)
        if t == 0:
            raise UnavError(f"video {video_id!r}: a feature file in {feat_dir} has no rows")
        if visual is not None:
            visual = visual[:t]
        if audio is not None:
            audio = audio[:t]
    return VideoFeatures(visual=visual, audio=audio, rows_visual=rows_visual, rows_audio=rows_audio)


def missing_feature_files(feat_dir: str | Path, ids: Iterable[str], streams: Sequence[str]) -> dict[str, list[str]]:
    """{video_id: [missing file names]} for the requested streams (one directory listing)."""
    try:
        present = set(os.listdir(feat_dir))
    except OSError:
        present = set()
    out: dict[str, list[str]] = {}
    for vid in ids:
        lacking = [f"{vid}_{s}.npy" for s in streams if f"{vid}_{s}.npy" not in present]
        if lacking:
            out[vid] = lacking
    return out


def recorded_settings_of(provenance: object) -> object:
    """The extractor settings a checkpoint's `feature_provenance` records: training stores the settings
    themselves, imported checkpoints wrap a name ({"settings": "unav100-released"})."""
    if isinstance(provenance, dict) and "settings" in provenance:
        return provenance["settings"]
    return provenance


def check_provenance(feat_dir: str | Path, ids: Iterable[str]) -> dict | None:
    """Refuse features of different provenance; return the common "settings" (None: no files).

    Each `{id}.json` must be a provenance file (`FeatureProvenance`: a JSON object with a "settings" mapping).
    Settings are compared as canonical JSON (key order ignored) without the execution keys (device, batch size,
    …); the first difference is reported with both video ids and the differing keys.
    """
    feat_dir = Path(feat_dir)
    try:
        present = set(os.listdir(feat_dir))
    except OSError:
        present = set()
    ids = list(ids)
    ref_id: str | None = None
    ref: dict = {}
    without = 0
    for vid in ids:
        if f"{vid}.json" not in present:
            without += 1
            continue
        try:
            settings = FeatureProvenance.read(provenance_path(feat_dir, vid)).settings
        except UnavError as err:
            raise UnavError(f"video {vid!r}: {err}") from None
        if ref_id is None:
            ref_id, ref = vid, settings
            continue
        diff = differing_settings(ref, settings)
        if diff:
            detail = "differing keys: " + ", ".join(f"{k} ({ref.get(k)!r} vs {settings.get(k)!r})" for k in diff[:5])
            raise UnavError(f"features in {feat_dir} mix extractor settings: video {ref_id!r} and video "
                            f"{vid!r} ({provenance_path(feat_dir, vid).name}) differ; {detail}. "
                            f"Re-extract so all videos share one setting.")
    if ref_id is not None and without:
        log.warning("%d of %d videos in %s have no provenance file (%s.json); they are assumed to match "
                    "the others (settings of %r)", without, len(ids), feat_dir, "{id}", ref_id)
    return ref if ref_id is not None else None
