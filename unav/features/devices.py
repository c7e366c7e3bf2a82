"""Extraction on several devices at once (`unav extract --device cuda:0,cuda:1`, `--device cuda:all`): one worker
process per device, each loading the models once; videos go to whichever worker is free, so long and short videos
balance themselves. The checks before any work (ids, --out-dir, probing) run once in the parent, a failing video
is recorded and the others go on, and a worker that dies (out of memory, a driver fault) fails only the videos it
held, naming its device."""
from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Sequence

from ..errors import UnavError
from .extract import BatchResult, _record_failure, checked_inputs, in_input_order, video_id
from .settings import ExtractSettings

if TYPE_CHECKING:
    from .extract import Extractor
    from ..media.probe import VideoInfo

log = logging.getLogger(__name__)

def parse_devices(text: str) -> list[str]:
    """`cuda:0,cuda:1` -> both; `cuda:all` -> every visible GPU; one name -> [name]. Each is checked here."""
    from ..device import resolve_device

    names = [n.strip() for n in str(text).split(",") if n.strip()]
    if names == ["cuda:all"]:
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UnavError("--device is cuda:all but no CUDA device is available here (use auto or cpu)")
        names = [f"cuda:{i}" for i in range(count)]
    if not names:
        raise UnavError(f"--device {text!r} names no device")
    return [str(resolve_device(n, "--device")) for n in names]


# ---- worker side ------------------------------------------------------------------------------------------
_WORKER: dict = {}


def _start_worker(devices: "multiprocessing.Queue[str]", settings: ExtractSettings, cpu_threads: int) -> None:
    """Pool initializer: take this process's device; the models load at its first video."""
    device = devices.get()
    if device == "cpu":
        import torch

        torch.set_num_threads(cpu_threads)   # CPU workers share the cores instead of oversubscribing them
    _WORKER.update(device=device, settings=dataclasses.replace(settings, device=device, progress=False))


def _extractor() -> "Extractor":
    if "extractor" not in _WORKER:
        from .extract import Extractor

        _WORKER["extractor"] = Extractor(_WORKER["settings"])
    return _WORKER["extractor"]


def _extract_one(path: str, out_dir: str, flow_file: str | None, info: "VideoInfo") -> tuple[str, bool, object]:
    """(device, True, provenance) or (device, False, the error's message): a video's failure stays its own."""
    try:
        return _WORKER["device"], True, _extractor().extract(path, out_dir, flow_file, info=info)
    except (UnavError, OSError, RuntimeError, ValueError) as err:
        return _WORKER["device"], False, str(err)


# ---- parent side ------------------------------------------------------------------------------------------
def extract_videos_on_devices(paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                              settings: ExtractSettings, devices: Sequence[str],
                              flow_files: Sequence[str | None] | None = None) -> BatchResult:
    """`extract.extract_videos` with one worker process per entry of `devices` (a device may repeat)."""
    from tqdm.auto import tqdm

    result, checked = checked_inputs(paths, out_dir, settings.streams, flow_files)
    if not checked:
        return in_input_order(result, paths)
    workers = min(len(devices), len(checked))
    ctx = multiprocessing.get_context("spawn")   # CUDA cannot be used in forked children
    queue = ctx.Queue()
    for device in list(devices)[:workers]:
        queue.put(device)
    n_cpu = sum(d == "cpu" for d in list(devices)[:workers])
    cpu_threads = max(1, (os.cpu_count() or 1) // max(1, n_cpu))
    log.info("extracting %d video(s) with %d workers (%s)", len(checked), workers, ", ".join(list(devices)[:workers]))
    announce = len(paths) > 1
    bar = tqdm(total=len(checked), desc="videos", unit="video", disable=not settings.progress, dynamic_ncols=True)
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_start_worker,
                             initargs=(queue, settings, cpu_threads)) as pool:
        futures = {pool.submit(_extract_one, str(path), str(out_dir), None if f is None else str(f), info):
                   video_id(path) for path, f, info in checked}
        for future in as_completed(futures):
            vid = futures[future]
            try:
                device, ok, payload = future.result()
            except BrokenProcessPool as err:
                _record_failure(result, vid, UnavError(f"{vid}: the extraction worker died ({err or 'killed'}); "
                                                       "rerun to retry it (finished videos are kept)"), announce)
            else:
                if ok:
                    result.done[vid] = payload
                    log.debug("%s done on %s", vid, device)
                else:
                    _record_failure(result, vid, UnavError(str(payload)), announce)
            bar.update(1)
    bar.close()
    return in_input_order(result, paths)
