"""The inputs of `unav detect`: files and http(s) URLs as given, folders expanded to their videos (checked before
any work), and the local file of one input (a URL downloaded with yt-dlp by `media.download`)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..errors import UnavError

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".flv", ".mpg", ".mpeg", ".3gp", ".ogv",
                  ".wmv", ".ts")
# yt-dlp format: video with audio of at most 720 lines (extraction resizes frames far below that anyway)
URL_FORMAT = "bv*[height<=720]+ba/b[height<=720]/bv*+ba/b"


def is_url(text: str) -> bool:
    return str(text).lower().startswith(("http://", "https://"))


def folder_videos(folder: str | os.PathLike) -> list[Path]:
    """Video files of a folder, sorted, hidden files skipped; [] when the folder does not exist."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(q for q in folder.iterdir() if q.is_file() and q.suffix.lower() in VIDEO_SUFFIXES
                  and not q.name.startswith("."))


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
            found = folder_videos(p)
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
    from ..media.videolist import repeated_ids

    dup = repeated_ids(Path(x).stem for x in out if not is_url(x))
    if dup:
        raise UnavError(f"several inputs share the video id(s) {', '.join(dup)} (the file name stem names the "
                        f"output folder); rename them")
    return out


def local_video(source: str, download_dir: str | os.PathLike) -> Path:
    """The video file of one input: the file itself, or a URL downloaded into `download_dir` (named by its id)."""
    if not is_url(source):
        return Path(source)
    from ..media.download import DownloadOptions, download_url

    return download_url(source, download_dir, DownloadOptions(format=URL_FORMAT))
