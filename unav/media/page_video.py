"""The video next to an HTML page: the input itself when a browser's <video> opens its container, else (or also)
a browser-playable copy, VP9 video (at most 480 lines) and Opus audio in WebM.

Modes: "auto" (copy the input when its container plays in a browser, else transcode), "copy", "webm", "both"."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import UnavError
from ..io import atomic_path
from .ffmpeg import base_args, input_arg
from .probe import VideoInfo

BROWSER_SUFFIXES = (".mp4", ".m4v", ".webm", ".ogv")      # containers a browser's <video> opens directly


def webm_copy(src: str | os.PathLike, dest: str | os.PathLike, duration: float, has_audio: bool,
              progress: bool = False, max_height: int = 480) -> Path:
    """A browser-playable VP9/Opus copy of `src` (at most `max_height` lines), written atomically."""
    from tqdm.auto import tqdm

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


def place_video(src: Path, folder: Path, mode: str, info: VideoInfo, moved: bool,
                progress: bool = False) -> list[str]:
    """Put the video for a page into `folder` as video.EXT and/or video.webm by `mode` (the modes above);
    `moved`: the input is a temporary file, moved rather than copied. Returns the file names (the page's
    sources, in preference order)."""
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
