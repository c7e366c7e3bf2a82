"""Cut a downloaded video to its [start, end] window (the UnAV-100 videos are trimmed around the original 10-s
VGGSound clip; the window is the CSV line's start/end).

The cut re-encodes (libx264 -preset veryfast -crf 18, AAC audio) so that it is frame-accurate rather than
snapped to keyframes; the first video stream and the first audio stream (if any) are kept, the frame rate is
unchanged. The output is written to a temporary name, checked with probe (video present, positive duration,
audio kept when the source had audio) and renamed into place. A source shorter than `end` is cut to its end
with a warning; a start at or past the source's end is an error naming the file.
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path

from ..errors import UnavError
from ..io import atomic_path, check_output_file, remove_stale_temporaries
from .ffmpeg import input_arg, run_ffmpeg
from .probe import VideoInfo, probe

log = logging.getLogger(__name__)

MIN_CLIP_S = 0.04  # shortest cut accepted (one frame at 25 fps)


def same_file(a: Path, b: Path) -> bool:
    """Whether two spellings name one file: the same resolved path (./a vs a, symlinks) or, for two existing
    paths, the same inode (hard links)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:   # one of them does not exist (yet)
        return False


def check_not_same_file(src: Path, dst: Path, option: str = "--out") -> None:
    """Refuse an output that is the input itself: writing it would destroy the input."""
    if same_file(src, dst):
        raise UnavError(f"{option} {dst} is the input video {src} itself; expected a different output path "
                        f"(the input is left unchanged)")


def trim_command(src: Path, dst: Path, start: float, length: float, has_audio: bool,
                 threads: int | None = None) -> list[str]:
    """ffmpeg arguments (without the program) cutting `length` seconds from `start` of `src` into `dst`."""
    args = ["-y", "-ss", f"{start:.6f}", "-i", input_arg(src), "-t", f"{length:.6f}",
            "-map", "0:v:0", "-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1",
            "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"]
    if has_audio:
        args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "192k"]
    if threads is not None:
        args += ["-threads", str(threads)]
    return args + ["-movflags", "+faststart", "-f", "mp4", "file:" + str(dst.resolve())]


def trim_video(src: str | Path, dst: str | Path, start: float, end: float,
               threads: int | None = None) -> VideoInfo:
    """Cut `src` to [start, end] seconds into `dst` (atomically); returns the probe of the output."""
    src, dst = Path(src), Path(dst)
    check_output_file(dst, "--out")
    check_not_same_file(src, dst)
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
        raise UnavError(f"{src}: cannot cut [{start:g}, {end:g}] s; expected 0 <= start < end (finite seconds)")
    if threads is not None and threads < 1:
        raise UnavError(f"{src}: {threads} ffmpeg threads; expected at least 1 (or none for ffmpeg's choice)")
    info = probe(src)
    if start >= info.duration - MIN_CLIP_S:
        raise UnavError(f"{src}: start {start:g} s is at or past the end of the video ({info.duration:g} s); "
                        f"expected a window inside the video")
    if end > info.duration + 1e-3:
        log.warning("%s: the video lasts %.3f s, shorter than the requested end %.3f s; cutting to its end",
                    src, info.duration, end)
        end = info.duration
    remove_stale_temporaries([dst])   # what a killed cut of this output left half-written
    with atomic_path(dst, suffix=".mp4") as tmp:
        run_ffmpeg(trim_command(src, tmp, start, end - start, info.has_audio, threads), what=f"trim {src}")
        try:
            out = probe(tmp)
        except UnavError as err:
            raise UnavError(f"{src}: the cut [{start:g}, {end:g}] s is not a valid video: {err}") from err
        if info.has_audio and not out.has_audio:
            raise UnavError(f"{src}: the cut [{start:g}, {end:g}] s lost the audio stream")
    out.path = str(dst)
    return out
