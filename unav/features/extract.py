"""Per-video feature extraction: I3D RGB + I3D flow (RAFT) rows on the 24/8 window grid, VGGish rows, and a
provenance JSON — written atomically, all or nothing.

One decode pass feeds both I3D streams: each 25 fps chunk is centre-cropped for RGB and handed to the flow
computer, which computes every consecutive pair once; windows are unfolded from the streamed frames / flow codes
and batched through the networks. Models are built once per `Extractor` (and cached per process for
`extract_video`), so many videos reuse them.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch

from .. import __version__
from ..errors import UnavError
from ..io import atomic_path
from ..device import resolve_device
from . import models
from .flowsource import (check_flow_file, codes_tensor, computed_flow_meta, file_flow_meta, file_weights_entry,
                         flow_code_chunks, open_flow_file)
from .i3d import FEATURE_DIM, I3D
from .precision import network_precision, precision_note
from .vggish import audio_examples, embed_examples
from .provenance import FeatureProvenance
from .settings import FPS, STREAMS, ExtractSettings, stream_weights
from .windows import STACK, STEP, WindowStream, window_count

if TYPE_CHECKING:
    from ..media.probe import VideoInfo

log = logging.getLogger(__name__)

MIN_FRAMES = STACK + 1   # one I3D row needs the reference's 25-frame buffer
VGGISH_DIM = 128
DECODE_AHEAD = 2         # decoded chunks (64 frames each at the default) waiting for the networks


def video_id(path: str | os.PathLike) -> str:
    """Feature file id = the file stem (YouTube ids may start with '-')."""
    return Path(path).stem


def minimum_seconds(streams: Iterable[str]) -> float:
    """The shortest video that gives a row of every stream: 1 s for I3D (a 25-frame window at 25 fps), 0.975 s
    for VGGish (one 0.96-s example of 25-ms frames)."""
    from .vggish import MIN_SECONDS

    streams = set(streams)
    return max([MIN_FRAMES / FPS] * bool(streams & {"rgb", "flow"}) + [MIN_SECONDS] * ("vggish" in streams))


def too_short(vid: str, path: str | os.PathLike, what: str, streams: Iterable[str]) -> UnavError:
    """The refusal of a video without a single feature row; `what` says what was measured."""
    from .vggish import MIN_SECONDS

    return UnavError(f"{vid}: {path} {what}: too short for features; expected a video of at least "
                     f"{minimum_seconds(streams):g} s (one I3D window is {MIN_FRAMES} frames at {FPS:g} fps, one "
                     f"VGGish example {MIN_SECONDS:g} s of audio)")


def check_video(path: str | os.PathLike, streams: Iterable[str]) -> VideoInfo:
    """Probe `path` and refuse, before any work, a video that cannot give features of every stream: unreadable,
    without the audio VGGish needs, or shorter than `minimum_seconds` (no rows). Returns the VideoInfo."""
    from ..media.probe import probe
    from .vggish import MIN_SECONDS

    path, streams = Path(path), set(streams)
    vid = video_id(path)
    try:
        info = probe(path)
    except UnavError as err:
        raise UnavError(f"{vid}: {err}") from err
    if "vggish" in streams and not info.has_audio:
        raise UnavError(f"{vid}: {path} has no audio track; VGGish needs one (expected a video with sound, "
                        f"or leave vggish out of the streams)")
    frames = int(round(info.duration * FPS))
    if (streams & {"rgb", "flow"} and frames < MIN_FRAMES) or ("vggish" in streams and info.duration < MIN_SECONDS):
        raise too_short(vid, path, f"lasts {info.duration:.2f} s", streams)
    return info


def check_outputs_spare_inputs(paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                               streams: Iterable[str], flow_files: Sequence[str | os.PathLike | None]) -> None:
    """Refuse outputs that would overwrite an input (a video or flow file named like a feature file), however
    spelt: the same resolved path (./a, symlinks) or the same file (hard links). One pass, any number of videos."""
    inputs: dict[object, Path] = {}
    for given in [*paths, *(f for f in flow_files if f is not None)]:
        given = Path(given)
        inputs[given.resolve()] = given
        with contextlib.suppress(OSError):
            st = given.stat()
            inputs[(st.st_dev, st.st_ino)] = given
    for path in paths:
        for out in output_paths(out_dir, video_id(path), streams).values():
            hit = inputs.get(out.resolve())
            if hit is None and out.exists():
                st = out.stat()
                hit = inputs.get((st.st_dev, st.st_ino))
            if hit is not None:
                raise UnavError(f"{video_id(path)}: output {out} is the input {hit} itself; expected inputs "
                                f"outside the --out-dir names {{id}}_{{stream}}.npy and {{id}}.json (rename it, "
                                f"or choose another --out-dir)")


def output_paths(out_dir: str | os.PathLike, vid: str, streams: Iterable[str]) -> dict[str, Path]:
    out = Path(out_dir)
    paths = {s: out / f"{vid}_{s}.npy" for s in streams}
    paths["json"] = out / f"{vid}.json"
    return paths


def rgb_to_input(frames: torch.Tensor) -> torch.Tensor:  # uint8 [B, 3, T, H, W] -> float [B, 3, T, H, W]
    """RGB pre-processing of the reference: x -> 2x/255 - 1 (no mean/std)."""
    return frames.float() * (2.0 / 255.0) - 1.0


def flow_codes_to_input(codes: torch.Tensor) -> torch.Tensor:  # codes [B, 2, T, H, W] (0..256) -> float
    """Flow pre-processing of the reference: quantised code q -> 2q/255 - 1 (range [-1, 1.00784])."""
    return codes.float() * (2.0 / 255.0) - 1.0


def crop_frames(frames: np.ndarray, crop: int, vid: str = "") -> torch.Tensor:
    """[n, H, W, 3] uint8 -> centre crop (floor rule) [n, 3, crop, crop] uint8 tensor."""
    from ..media.frames import center_crop_offsets

    h, w = frames.shape[1:3]
    if crop > h or crop > w:
        raise UnavError(f"{vid}: crop {crop} does not fit frames of {h}x{w} (expected --crop <= shorter side)")
    top, left = center_crop_offsets(h, w, crop)
    x = torch.from_numpy(np.ascontiguousarray(frames[:, top:top + crop, left:left + crop]))  # [n, crop, crop, 3]
    return x.permute(0, 3, 1, 2).contiguous()  # [n, 3, crop, crop]


class StreamFeatures:
    """Windows of one I3D stream, batched through its network as items arrive; rows kept in order.

    Items move to the device once as they arrive (each frame/flow pair then serves its 3 windows there); ready
    windows wait until a full batch is available (or `finish`), so the network always sees `batch_size` windows
    except for the last batch. Memory: the pending items of WindowStream plus at most one batch of windows."""

    def __init__(self, model: I3D, to_input: Callable[[torch.Tensor], torch.Tensor], lookahead: int,
                 batch_size: int, device: torch.device, bar: Any = None, precision: str = "fp32") -> None:
        self.model, self.to_input, self.batch_size, self.device = model, to_input, batch_size, device
        self.precision = precision
        self.windows = WindowStream(STACK, STEP, lookahead)
        self.rows: list[torch.Tensor] = []
        self.ready: list[torch.Tensor] = []  # strided window views [w, C, 24, H, W] not yet run
        self.n_ready = 0
        self.bar = bar

    @torch.inference_mode()
    def push(self, items: torch.Tensor) -> None:  # [n, C, H, W] integer items (frames or flow codes)
        windows = self.windows.push(items.to(self.device, non_blocking=True))  # [w, C, 24, H, W] views
        if windows.shape[0]:
            self.ready.append(windows)
            self.n_ready += windows.shape[0]
        while self.n_ready >= self.batch_size:
            self._run(self.batch_size)

    @torch.inference_mode()
    def finish(self) -> None:
        """Run the windows still waiting for a full batch."""
        while self.n_ready:
            self._run(min(self.n_ready, self.batch_size))

    def _run(self, size: int) -> None:
        parts, got = [], 0
        while got < size:
            head = self.ready[0]
            take = min(size - got, head.shape[0])
            parts.append(head[:take])
            got += take
            if take == head.shape[0]:
                self.ready.pop(0)
            else:
                self.ready[0] = head[take:]
        self.n_ready -= size
        # One contiguous copy per batch (convolutions on the strided views would be very slow).
        batch = self.to_input(torch.cat(parts) if len(parts) > 1 else parts[0].contiguous())  # [b, C, 24, H, W]
        with network_precision(self.device, self.precision):   # the I3D forward only; inputs made in float32
            rows = self.model.features(batch)
        self.rows.append(rows.float())  # [b, 1024] float32 on the device
        if self.bar is not None:
            self.bar.update(size)

    def result(self) -> np.ndarray:  # [R, 1024] float32
        self.finish()
        if not self.rows:
            return np.zeros((0, FEATURE_DIM), dtype=np.float32)
        return torch.cat(self.rows).cpu().numpy().astype(np.float32, copy=False)


def _bar(desc: str, total: int | None, enabled: bool, unit: str = "row"):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False, dynamic_ncols=True)


class Extractor:
    """Holds the models for a set of settings; `extract(path, out_dir)` writes one video's features."""

    def __init__(self, settings: ExtractSettings | None = None, **overrides: Any) -> None:
        settings = settings or ExtractSettings()
        if overrides:
            settings = dataclasses.replace(settings, **overrides)
        self.settings = settings
        self.device = resolve_device(settings.device, "--device")
        self.models: dict[str, Any] = {}
        self.weights: dict[str, dict] = {}
        self._flow = None
        for stream in ("rgb", "flow"):
            if stream in settings.streams:
                path, entry = models.resolve_weights(stream_weights(stream), settings)
                self.models[stream] = models.i3d_model(stream, path, settings.seed, self.device)
                self.weights[f"i3d_{stream}"] = entry
        if "vggish" in settings.streams:
            path, entry = models.resolve_weights(stream_weights("vggish"), settings)
            self.models["vggish"] = models.vggish_model(path, settings.seed, self.device)
            self.weights["vggish"] = entry

    # ---- flow -------------------------------------------------------------------------------------------
    def flow_computer(self):
        """The flow computer for the settings (built on first use, then reused)."""
        if self._flow is None:
            self._flow, entry = models.flow_computer(self.settings, self.device)
            if entry is not None:
                self.weights["raft"] = entry
        return self._flow

    def flow_meta(self) -> dict:
        return computed_flow_meta(self.flow_computer(), self.settings.flow_method)

    # ---- one video ----------------------------------------------------------------------------------------
    def extract(self, path: str | os.PathLike, out_dir: str | os.PathLike,
                flow_file: str | os.PathLike | None = None, info: VideoInfo | None = None) -> dict:
        """Write `{id}_{stream}.npy` for the requested streams and `{id}.json`; returns that JSON document.
        Nothing is written unless every stream succeeds. `info`: what `check_video` returned for this path,
        when the caller checked it already."""
        from ..io import remove_stale_temporaries

        s = self.settings
        path = Path(path)
        vid = video_id(path)
        info = info or check_video(path, s.streams)
        outputs = output_paths(out_dir, vid, s.streams)
        remove_stale_temporaries(outputs.values())   # what a killed run of these outputs left half-written
        arrays: dict[str, np.ndarray] = {}
        frames = 0
        flow_meta: dict | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="unav-audio") as audio:
            # VGGish's front end (audio decode, resampling, log-mel) runs beside the visual networks.
            examples = (audio.submit(audio_examples, path, s.hop_seconds, s.audio_decode)
                        if "vggish" in s.streams else None)
            if "rgb" in s.streams or "flow" in s.streams:
                frames, visual, file_meta = self._visual(path, vid, info, flow_file)
                arrays.update(visual)
                if "flow" in s.streams:
                    flow_meta = self.flow_meta() if flow_file is None else file_flow_meta(flow_file, file_meta)
            if examples is not None:
                with _bar(f"{vid} vggish", None, s.progress, unit="video") as bar:
                    try:
                        emb = embed_examples(examples.result(), self.models["vggish"], self.device,
                                             precision=s.precision)
                    except UnavError as err:
                        raise UnavError(f"{vid}: {err}") from err
                    bar.update(1)
                arrays["vggish"] = np.asarray(emb, dtype=np.float32).reshape(-1, VGGISH_DIM)
                if not len(arrays["vggish"]):
                    raise too_short(vid, path, f"has audio of less than {minimum_seconds(['vggish']):g} s",
                                    s.streams)
        prov = self._provenance(vid, path, info, frames, arrays, flow_meta, flow_file)
        write_outputs(outputs, arrays, prov)
        return prov.to_dict()

    def _visual(self, path: Path, vid: str, info, flow_file) -> tuple[int, dict[str, np.ndarray], dict | None]:
        """Decode once; feed RGB windows and flow codes (computed or read from `flow_file`)."""
        from ..media.frames import iter_frames
        from ..media.prefetch import prefetched

        s = self.settings
        expected_rows = window_count(int(round(info.duration * FPS)))
        bars = contextlib.ExitStack()
        rgb = flow = file_meta = None
        with bars:
            if "rgb" in s.streams:
                rgb = StreamFeatures(self.models["rgb"], rgb_to_input, 1, s.batch_size, self.device,
                                     bars.enter_context(_bar(f"{vid} i3d rgb", expected_rows, s.progress)),
                                     s.precision)
            if "flow" in s.streams:
                flow = StreamFeatures(self.models["flow"], flow_codes_to_input, 0, s.batch_size, self.device,
                                      bars.enter_context(_bar(f"{vid} i3d flow", expected_rows, s.progress)),
                                      s.precision)
            frame_bar = bars.enter_context(_bar(f"{vid} frames", int(round(info.duration * FPS)), s.progress,
                                                unit="frame"))
            counter = {"frames": 0}

            def frames_with_rgb() -> Iterator[np.ndarray]:
                # Decoding and resizing run a chunk or two ahead in a thread, overlapping the network forwards.
                for chunk in prefetched(iter_frames(path, fps=FPS, min_side=s.min_side, chunk=s.chunk,
                                                    reencode=s.reencode, info=info), DECODE_AHEAD):  # [n, H, W, 3]
                    counter["frames"] += len(chunk)
                    frame_bar.update(len(chunk))
                    if rgb is not None:
                        rgb.push(crop_frames(chunk, s.crop, vid))  # [n, 3, crop, crop]
                    yield chunk

            try:
                if flow is None:
                    for _ in frames_with_rgb():
                        pass
                elif flow_file is not None:
                    file_meta, chunks = open_flow_file(flow_file, vid, s)  # framing checked before decoding
                    if rgb is not None:  # the flow file already holds the pairs: decode only for RGB
                        for _ in frames_with_rgb():
                            pass
                    for codes in chunks:
                        flow.push(codes_tensor(codes))
                    if rgb is None:  # frames as the flow stage decoded them
                        counter["frames"] = int(file_meta.get("frames") or (flow.windows.seen + 1))
                else:
                    for codes in flow_code_chunks(self.flow_computer(), frames_with_rgb(), s.crop):
                        flow.push(codes)  # [m, 2, crop, crop]
                for part in (rgb, flow):
                    if part is not None:
                        part.finish()
            except UnavError as err:
                raise err if str(err).startswith(vid) else UnavError(f"{vid}: {err}") from err
        n = counter["frames"]
        out = {}
        if rgb is not None:
            out["rgb"] = rgb.result()
        if flow is not None:
            out["flow"] = flow.result()
            if flow_file is not None and flow.windows.seen != max(n - 1, 0) and n:
                raise UnavError(f"{vid}: flow file {flow_file} holds {flow.windows.seen} pairs, expected "
                                f"{max(n - 1, 0)} for {n} frames at 25 fps")
        for name, arr in out.items():
            if arr.shape[0] != window_count(n):
                raise UnavError(f"{vid}: {name} stream produced {arr.shape[0]} rows, expected {window_count(n)}")
        if window_count(n) == 0:
            raise too_short(vid, path, f"decodes to {n} frame(s) at {FPS:g} fps", s.streams)
        return n, out, file_meta

    def _weights_used(self, flow_file, flow_meta: dict | None) -> dict[str, dict]:
        """Provenance entries of the weights behind this video's features; the RAFT entry is the flow file's
        when the flow was read from one (this run's RAFT, if any, served other videos)."""
        used = {k: v for k, v in self.weights.items() if k != "raft"}
        if "flow" in self.settings.streams and self.settings.flow_method == "raft":
            raft = self.weights.get("raft") if flow_file is None else file_weights_entry(flow_meta or {})
            if raft is not None:
                used["raft"] = raft
        return used

    def _provenance(self, vid: str, path: Path, info, frames: int, arrays: dict[str, np.ndarray],
                    flow_meta: dict | None, flow_file) -> FeatureProvenance:
        s = self.settings
        rows = {k: int(v.shape[0]) for k, v in arrays.items()}
        weights = self._weights_used(flow_file, flow_meta)
        rows_video, rows_audio = FeatureProvenance.rows_of(rows)
        note = precision_note(s.precision)   # like DIS flow / random weights: said, and not paper-compatible
        return FeatureProvenance(
            video_id=vid, video=str(path), settings=_recorded_settings(s, flow_meta if flow_file else None),
            weights=weights,
            versions={"unav": __version__, "torch": torch.__version__, "numpy": np.__version__,
                      "python": platform.python_version()},
            video_duration=float(info.duration), frames=int(frames), frames_duration=frames / FPS,
            rows=rows, rows_video=rows_video, rows_audio=rows_audio,
            files={k: f"{vid}_{k}.npy" for k in arrays}, flow=flow_meta,
            unverified=any(e.get("unverified") for e in weights.values()),
            paper_compatible=not (s.weights == "random" or note is not None
                                  or (flow_meta or {}).get("paper_compatible") is False),
            extra={} if note is None else {"note": note})


def _recorded_settings(s: ExtractSettings, file_flow: dict | None) -> dict[str, Any]:
    """The "settings" a provenance file records: every option but progress, the streams as a list, and the frame
    grid. Flow read from a `unav flow` file (`file_flow`, its metadata) was made with that file's settings, not
    this run's defaults, and they describe the features (`unav detect` reproduces extraction from them)."""
    settings = dataclasses.asdict(s)
    settings["streams"] = list(s.streams)
    settings["fps"] = FPS
    settings["stack"] = STACK
    settings["step"] = STEP
    settings.pop("progress", None)
    if file_flow is not None:
        if file_flow.get("method") == "raft" and file_flow.get("updates") is not None:
            settings["flow_updates"] = int(file_flow["updates"])
        if file_flow.get("method") == "raft" and file_flow.get("raft_weights"):
            settings["raft_weights"] = file_flow["raft_weights"]
        if file_flow.get("method") == "dis" and file_flow.get("preset"):
            settings["dis_preset"] = file_flow["preset"]
    return settings


def write_outputs(paths: dict[str, Path], arrays: dict[str, np.ndarray], prov: FeatureProvenance) -> None:
    """Write every array and the provenance JSON; renames happen only after all temporaries are complete,
    so an error leaves none of this call's files behind."""
    with contextlib.ExitStack() as stack:
        # entered first, so renamed last: a kill between renames never leaves a new {id}.json beside old arrays
        order = ["json"] + [key for key in paths if key != "json"]
        temps = {key: stack.enter_context(atomic_path(paths[key], suffix=paths[key].suffix)) for key in order}
        for key, arr in arrays.items():
            with open(temps[key], "wb") as fh:
                np.save(fh, np.ascontiguousarray(arr, dtype=np.float32))
        temps["json"].write_text(prov.to_json())


def extract_video(path: str | os.PathLike, out_dir: str | os.PathLike, streams: Sequence[str] = STREAMS,
                  device: str = "cpu", batch_size: int = 8, weights_mode: str = "random",
                  flow_method: str = "raft", flow_file: str | os.PathLike | None = None, crop: int = 224,
                  min_side: int = 256, hop_seconds: float = 0.32, seed: int = 0,
                  allow_unverified_weights: bool = False, reencode: bool = False,
                  weights_dir: str | None = None, flow_updates: int = 20, progress: bool = True,
                  precision: str = "fp32", audio_decode: str = "adts") -> dict:
    """Extract one video's features into `out_dir` (models are cached per process); returns the provenance."""
    settings = ExtractSettings(streams=tuple(streams), device=device, batch_size=batch_size, weights=weights_mode,
                               weights_dir=weights_dir, allow_unverified_weights=allow_unverified_weights,
                               seed=seed, flow_method=flow_method, flow_updates=flow_updates, crop=crop,
                               min_side=min_side, hop_seconds=hop_seconds, reencode=reencode, progress=progress,
                               precision=precision, audio_decode=audio_decode)
    return Extractor(settings).extract(path, out_dir, flow_file)


@dataclass
class BatchResult:
    done: dict[str, dict] = field(default_factory=dict)     # id -> provenance
    failed: dict[str, str] = field(default_factory=dict)    # id -> error message


def extract_videos(paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                   settings: ExtractSettings | None = None, flow_files: Sequence[str | None] | None = None,
                   extractor: Extractor | None = None) -> BatchResult:
    """Extract many videos with one set of models; a failing video is recorded and the others go on. Inputs
    that share a video id (the file name stem names the outputs), an --out-dir that is a file and outputs that
    would overwrite an input are refused before any work. Every video is checked (`check_video`) before the
    models load, so a command line of bad videos fails fast."""
    streams = (extractor.settings if extractor is not None else settings or ExtractSettings()).streams
    result, checked = checked_inputs(paths, out_dir, streams, flow_files)
    if checked and extractor is None:
        extractor = Extractor(settings)   # models load only when some video needs them
    for path, flow_file, info in checked:
        vid = video_id(path)
        try:
            result.done[vid] = extractor.extract(path, out_dir, flow_file, info=info)
        except (UnavError, OSError, RuntimeError, ValueError) as err:
            _record_failure(result, vid, err, len(paths) > 1)
    return in_input_order(result, paths)


def checked_inputs(paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike, streams: Sequence[str],
                   flow_files: Sequence[str | None] | None) -> tuple[BatchResult, list[tuple[Any, Any, VideoInfo]]]:
    """The checks before any model loads: ids unique, --out-dir usable, outputs sparing the inputs (refused as a
    whole), then each video probed (`check_video`; a bad one is recorded as failed). Returns the result so far
    and the (path, flow file, info) of the videos to extract."""
    from ..io import check_output_dir
    from ..media.videolist import repeated_ids

    ids = [video_id(p) for p in paths]
    dup = repeated_ids(ids)
    if dup:
        clash = [str(p) for p, vid in zip(paths, ids) if vid in dup]
        raise UnavError(f"several inputs share the video id(s) {', '.join(dup)} ({', '.join(clash)}): their "
                        f"features would overwrite each other in {out_dir}; rename one, or extract them into "
                        f"separate --out-dir folders")
    check_output_dir(out_dir, "--out-dir")
    flow_files = list(flow_files) if flow_files is not None else [None] * len(paths)
    check_outputs_spare_inputs(paths, out_dir, streams, flow_files)
    result = BatchResult()
    checked = []
    for path, flow_file in zip(paths, flow_files):
        try:
            info = check_video(path, streams)
            if flow_file is not None:
                check_flow_file(flow_file, video_id(path))
            checked.append((path, flow_file, info))
        except UnavError as err:
            _record_failure(result, video_id(path), err, len(paths) > 1)
    return result, checked


def in_input_order(result: BatchResult, paths: Sequence[str | os.PathLike]) -> BatchResult:
    ids = [video_id(p) for p in paths]
    result.failed = {vid: result.failed[vid] for vid in ids if vid in result.failed}
    return result


def _record_failure(result: BatchResult, vid: str, err: Exception, announce: bool) -> None:
    """Keep the failure for the summary; with several videos, also say it as it happens."""
    if announce:
        log.error("%s", err if str(err).startswith(vid) else f"{vid}: {err}")
    result.failed[vid] = str(err)
