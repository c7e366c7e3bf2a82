"""What a media file holds (duration, frame rate, size, audio), read from `ffmpeg -i` diagnostics so that the
bundled ffmpeg (which ships no ffprobe) is enough. Unreadable, truncated, empty or stream-less files raise
UnavError naming the file and what was expected."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnavError
from .ffmpeg import input_arg, run_ffmpeg, tail

# channel layout name -> channel count (libavutil's named layouts)
_LAYOUTS = {
    "mono": 1, "stereo": 2, "downmix": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3, "4.0": 4, "quad": 4,
    "quad(side)": 4, "3.1": 4, "3.1.2": 6, "5.0": 5, "5.0(side)": 5, "4.1": 5, "5.1": 6, "5.1(side)": 6,
    "6.0": 6, "6.0(front)": 6, "hexagonal": 6, "6.1": 7, "6.1(back)": 7, "6.1(front)": 7, "7.0": 7,
    "7.0(front)": 7, "7.1": 8, "7.1(wide)": 8, "7.1(wide-side)": 8, "7.1(top)": 8, "octagonal": 8,
    "cube": 8, "5.1.2": 8, "5.1.4": 10, "7.1.2": 10, "7.1.4": 12, "hexadecagonal": 16, "22.2": 24,
}

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_STREAM = re.compile(r"^\s*Stream #\d+:\d+.*?: (Video|Audio): (.*)$", re.MULTILINE)
_SIZE = re.compile(r"(?:^|[ ,])(\d{1,6})x(\d{1,6})(?:[ ,\[]|$)")
_FPS = re.compile(r"([\d.]+)(k?) (fps|tbr)")
_RATE = re.compile(r"(\d+) Hz")
_CHANNELS = re.compile(r"Hz, ([^,]+),")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")
_FATAL = ("Invalid data found when processing input", "moov atom not found", "No such file or directory",
          "Error opening input", "could not find codec parameters", "partial file")


@dataclass
class VideoInfo:
    path: str
    duration: float          # seconds (container duration)
    fps: float               # nominal video frame rate (0.0 without video)
    width: int               # display width after rotation (0 without video)
    height: int              # display height after rotation (0 without video)
    has_video: bool
    has_audio: bool
    audio_rate: int          # Hz (0 without audio)
    audio_channels: int      # (0 without audio)
    audio_codec: str = ""    # ffmpeg's decoder name of the first audio stream, e.g. "aac" ("" without audio)


def _fps(desc: str) -> float:
    values = {kind: float(num) * (1000.0 if k else 1.0) for num, k, kind in _FPS.findall(desc)}
    return values.get("fps") or values.get("tbr") or 0.0


def _channels(desc: str) -> int:
    m = _CHANNELS.search(desc)
    if not m:
        return 0
    name = m.group(1).strip()
    if name in _LAYOUTS:
        return _LAYOUTS[name]
    n = re.match(r"(\d+) channels", name)
    return int(n.group(1)) if n else 0


def parse_ffmpeg_info(path: str, stderr: str) -> VideoInfo:
    """VideoInfo from the stderr text of `ffmpeg -i <path>` (first video and first audio stream)."""
    m = _DURATION.search(stderr)
    duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else 0.0
    video = audio = None
    for kind, desc in _STREAM.findall(stderr):
        if kind == "Video" and video is None and "attached pic" not in desc:
            video = desc
        elif kind == "Audio" and audio is None:
            audio = desc
    width = height = 0
    fps = 0.0
    if video is not None:
        size = _SIZE.search(video)
        if size:
            width, height = int(size.group(1)), int(size.group(2))
        fps = _fps(video)
        rot = _ROTATION.search(stderr)
        if rot and round(abs(float(rot.group(1)))) % 180 == 90:
            width, height = height, width
    rate = channels = 0
    codec = ""
    if audio is not None:
        r = _RATE.search(audio)
        rate = int(r.group(1)) if r else 0
        channels = _channels(audio)
        codec = audio.split(None, 1)[0].rstrip(",") if audio.strip() else ""
    return VideoInfo(path=path, duration=duration, fps=fps, width=width, height=height,
                     has_video=video is not None, has_audio=audio is not None,
                     audio_rate=rate, audio_channels=channels, audio_codec=codec)


_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"uuid", b"meta", b"moof", b"mfra",
              b"styp", b"sidx", b"pdin", b"udta", b"emsg", b"prft"}


def iso_bmff_truncation(path: str | os.PathLike) -> str | None:
    """For an ISO base media file (.mp4/.m4a/.mov), walk the top-level boxes and describe the first one that
    runs past the end of the file (a cut download); None when complete or not an ISO BMFF file."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8 or head[4:8] != b"ftyp":
            return None
        offset = 0
        while offset < size:
            fh.seek(offset)
            head = fh.read(16)
            if len(head) < 8:
                return f"{size - offset} stray byte(s) at offset {offset}"
            box_size, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if box_size == 1:
                if len(head) < 16:
                    return f"box {kind!r} header cut at offset {offset}"
                box_size = int.from_bytes(head[8:16], "big")
            elif box_size == 0:  # extends to the end of the file
                return None
            if box_size < 8:
                return f"invalid box size {box_size} at offset {offset}"
            if offset + box_size > size:
                name = kind.decode("latin-1")
                return (f"box '{name}' at offset {offset} needs {box_size} bytes but only "
                        f"{size - offset} remain" if kind in _ISO_BOXES else f"box '{name}' cut at offset {offset}")
            offset += box_size
    return None


def check_media_path(path: Path, expected: str = "a video file") -> None:
    """Refuse a path that is not a file, saying what it is instead: absent, a folder, or something else."""
    if path.is_dir():
        raise UnavError(f"{path} is a folder; expected {expected}")
    if not path.exists():
        raise UnavError(f"{path}: file not found; expected {expected}")
    if not path.is_file():
        raise UnavError(f"{path} is not a regular file (a device, pipe or socket); expected {expected}")


def probe(path: str | os.PathLike, require_video: bool = True) -> VideoInfo:
    """Inspect `path`. Raises UnavError for a missing, empty, unreadable or truncated file, and (when
    `require_video`) for a file without a video stream or with zero duration."""
    p = Path(path)
    check_media_path(p)
    if p.stat().st_size == 0:
        raise UnavError(f"{p}: file is empty (0 bytes); expected a video file")
    cut = iso_bmff_truncation(p)
    if cut:
        raise UnavError(f"{p}: truncated media file ({cut}); expected a complete video file")
    proc = run_ffmpeg(["-i", input_arg(p)], check=False, what=str(p))
    err = proc.stderr.decode("utf-8", errors="replace")
    fatal = [f for f in _FATAL if f in err]
    if fatal:
        cut = "partial file" in fatal or ("moov atom not found" in fatal and "low score" not in err)
        kind = "truncated or incomplete" if cut else "not readable"
        lines = [ln.strip() for ln in err.splitlines() if any(f in ln for f in _FATAL)]
        raise UnavError(f"{p}: {kind} media file; expected a complete video (e.g. .mp4) "
                        f"readable by ffmpeg: " + "; ".join(lines[:4]))
    if "Input #0" not in err:
        raise UnavError(f"{p}: ffmpeg could not read this file as media:\n{tail(err, 600)}")
    info = parse_ffmpeg_info(str(p), err)
    if require_video:
        if not info.has_video:
            raise UnavError(f"{p}: no video stream; expected a video file")
        if info.width <= 0 or info.height <= 0:
            raise UnavError(f"{p}: could not read the video frame size; expected a decodable video stream")
        if info.duration <= 0:
            raise UnavError(f"{p}: zero or unknown duration; expected a video of positive length")
    elif not (info.has_video or info.has_audio):
        raise UnavError(f"{p}: no audio or video stream; expected a media file")
    return info
