"""Video lists: the UnAV-100 download list and local video sources, validated before any job starts.

Download list (design.md): CSV without header, one video per line, `youtube_id,start_seconds,end_seconds`
(the UnAV-100 `download_video.csv`). Blank lines and lines starting with '#' are skipped. Every problem of
the file is collected (one UnavError lists them all), each naming `file:line` and what was expected: wrong
field count, a non-numeric or non-finite time, a negative start, start >= end, an id that does not match
`[A-Za-z0-9_-]{11}` (which also rejects shell metacharacters, spaces and path separators), an id listed twice.

Local sources: a folder of video files, or a text/CSV file with one video path per line (relative paths are
taken relative to the list file). The video id is the file stem; stems must be safe names (letters, digits,
'_', '-', '.', not starting with '.') and unique.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..data.annotations import Annotations
from ..errors import UnavError, UnavProblems

YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
SAFE_STEM = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v")
_SHELL_CHARS = set(";&|$`<>()[]{}*?!~#'\"\\ \t")


@dataclass(frozen=True)
class VideoEntry:
    line_no: int        # 1-based line in the list file
    youtube_id: str
    start: float        # seconds
    end: float          # seconds

    @property
    def duration(self) -> float:
        return self.end - self.start


def repeated_ids(ids: Iterable[str]) -> list[str]:
    """Ids that occur more than once (sorted): inputs whose outputs, named by id, would overwrite each other."""
    from collections import Counter

    return sorted(vid for vid, n in Counter(ids).items() if n > 1)


def _describe_bad_id(value: str) -> str:
    bad = sorted({c for c in value if c in _SHELL_CHARS or not (c.isascii() and c.isprintable())})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        return f"video id {value!r} contains unsafe character(s) {shown}; expected 11 characters of [A-Za-z0-9_-]"
    return f"video id {value!r} has {len(value)} character(s) or characters outside [A-Za-z0-9_-]; " \
           f"expected 11 characters of [A-Za-z0-9_-]"


def check_youtube_id(value: str) -> str:
    """Return `value` if it is a valid YouTube id, else raise UnavError saying why."""
    if not YOUTUBE_ID.fullmatch(value):
        raise UnavError(_describe_bad_id(value))
    return value


def check_safe_stem(value: str) -> str:
    """Return `value` if it is a safe file stem / video id for local files, else raise UnavError."""
    if not SAFE_STEM.fullmatch(value):
        raise UnavError(f"video id {value!r} is not a safe name; expected letters, digits, '_', '-' and '.' "
                        f"(not starting with '.'), without spaces or shell metacharacters")
    return value


def _seconds(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UnavError(f"{where}: {what} {text!r} is not a number; expected seconds, e.g. 30 or 12.5") from None
    if not math.isfinite(value):
        raise UnavError(f"{where}: {what} {text!r} is not a finite number of seconds")
    return value


def parse_video_line(line: str, where: str, line_no: int) -> VideoEntry:
    """One `youtube_id,start,end` line (already known to be non-blank) -> VideoEntry."""
    fields = [f.strip() for f in line.split(",")]
    if len(fields) != 3:
        hint = " (the list has no header line)" if line_no == 1 and fields and fields[0].lower() in (
            "youtube_id", "id", "video_id", "vid") else ""
        raise UnavError(f"{where}: expected 3 comma-separated fields youtube_id,start_seconds,end_seconds, "
                        f"got {len(fields)}: {line.strip()!r}{hint}")
    vid, start_text, end_text = fields
    if not YOUTUBE_ID.fullmatch(vid):
        hint = " (the list has no header line)" if line_no == 1 and vid.lower() in ("youtube_id", "video_id") else ""
        raise UnavError(f"{where}: {_describe_bad_id(vid)}{hint}")
    start = _seconds(start_text, "start", where)
    end = _seconds(end_text, "end", where)
    if start < 0:
        raise UnavError(f"{where}: video {vid}: start {start:g} is negative; expected seconds >= 0")
    if start >= end:
        raise UnavError(f"{where}: video {vid}: start {start:g} is not before end {end:g}; expected start < end")
    return VideoEntry(line_no=line_no, youtube_id=vid, start=start, end=end)


def parse_video_list(path: str | Path) -> tuple[list[VideoEntry], list[str]]:
    """The valid entries of a download list (file order) and every problem of it, each naming file:line."""
    path = Path(path)
    if path.is_dir():
        return [], [f"video list {path} is a folder; expected a CSV youtube_id,start_seconds,end_seconds"]
    if not path.is_file():
        return [], [f"video list {path} does not exist (expected a CSV youtube_id,start_seconds,end_seconds)"]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        return [], [f"video list {path} is not UTF-8 text: {err}"]
    entries: list[VideoEntry] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}:{line_no}"
        try:
            entry = parse_video_line(line, where, line_no)
        except UnavError as err:
            problems.append(str(err))
            continue
        first = seen.get(entry.youtube_id)
        if first is not None:
            problems.append(f"{where}: video {entry.youtube_id} is listed twice (first on line {first}); "
                            f"expected each id once")
            continue
        seen[entry.youtube_id] = line_no
        entries.append(entry)
    if not entries and not problems:
        problems.append(f"video list {path} lists no videos (expected lines youtube_id,start_seconds,end_seconds)")
    return entries, problems


def read_video_list(path: str | Path) -> list[VideoEntry]:
    """Read and validate a download list; entries in file order. UnavProblems lists every bad line."""
    entries, problems = parse_video_list(path)
    if problems:
        raise UnavProblems(problems, header=f"video list {path}")
    return entries


def missing_from_annotations(entries: Iterable[VideoEntry], annotations: Annotations,
                             list_name: str = "video list") -> str | None:
    """The problem of the list's videos the annotation file does not hold (every one, by line), or None.
    Videos whose annotation entry has problems of its own count as held: those problems are reported there."""
    held = annotations.database if annotations.document is not None else annotations.videos
    missing = [e for e in entries if e.youtube_id not in held]
    if not missing:
        return None
    shown = "; ".join(f"line {e.line_no}: {e.youtube_id}" for e in missing[:20])
    more = f"; … and {len(missing) - 20} more" if len(missing) > 20 else ""
    return (f"{list_name}: {len(missing)} video(s) missing from annotation file {annotations.source}: "
            f"{shown}{more}")


def check_against_annotations(entries: Iterable[VideoEntry], annotations: Annotations,
                              list_name: str = "video list") -> None:
    """Raise UnavError listing (by line) every video of the list that the annotation file does not hold."""
    problem = missing_from_annotations(entries, annotations, list_name)
    if problem is not None:
        raise UnavError(problem)


def scan_local_videos(path_or_dir: str | Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """The valid local videos as (video_id, path) and every problem, each naming the file or list line: a
    folder (its video files, sorted by name) or a list file with one path per line (file order; relative to
    the list file; blank and '#' lines skipped). id = file stem."""
    src = Path(path_or_dir)
    items: list[tuple[str, Path, str]] = []     # (id, path, where)
    problems: list[str] = []
    if src.is_dir():
        files = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
                       and not p.name.startswith("."))
        if not files:
            return [], [f"video folder {src} holds no video files ({', '.join(VIDEO_EXTENSIONS)})"]
        items = [(p.stem, p, str(p)) for p in files]
    elif src.is_file():
        try:
            text = src.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            return [], [f"video path list {src} is not UTF-8 text: {err}"]
        for line_no, line in enumerate(text.splitlines(), start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            where = f"{src}:{line_no}"
            p = Path(text)
            p = p if p.is_absolute() else src.parent / p
            if not p.is_file():
                problems.append(f"{where}: video file {p} does not exist")
                continue
            items.append((p.stem, p, where))
        if not items and not problems:
            return [], [f"video path list {src} lists no files (expected one video path per line)"]
    else:
        return [], [f"{src} is neither a folder of videos nor a file listing video paths"]
    seen: dict[str, str] = {}
    out: list[tuple[str, Path]] = []
    for vid, p, where in items:
        try:
            check_safe_stem(vid)
        except UnavError as err:
            problems.append(f"{where}: {err}")
            continue
        if vid in seen:
            problems.append(f"{where}: video id {vid!r} (file stem) is used twice (also {seen[vid]}); "
                            f"expected unique file names")
            continue
        seen[vid] = where
        out.append((vid, p))
    return out, problems


def list_local_videos(path_or_dir: str | Path) -> list[tuple[str, Path]]:
    """Local videos as (video_id, path) (see scan_local_videos); UnavProblems lists every problem."""
    items, problems = scan_local_videos(path_or_dir)
    if problems:
        raise UnavProblems(problems, header=f"local videos {path_or_dir}")
    return items
