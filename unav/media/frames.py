"""Video frames at a fixed rate, resized the way the reference extractor does (shorter side 256, Pillow
bilinear), decoded in ONE streaming ffmpeg pass with bounded memory.

Frame selection is ffmpeg's own `fps=<rate>` filter (output frame i = the input frame whose timestamp is
nearest to i/rate, starting at the first timestamp; duplicated/dropped as needed) placed in the decode graph,
exactly the filter the reference runs in its re-encode step. `reencode=True` additionally reproduces that
lossy x264 re-encode through a temporary .mp4 (closest pixel parity, slower)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Literal

import numpy as np

from ..errors import UnavError
from .ffmpeg import base_args, input_arg, run_ffmpeg, tail
from .probe import VideoInfo, probe

Resizer = Literal["pillow", "torch"]


def target_size(w: int, h: int, min_side: int = 256) -> tuple[int, int]:
    """(w2, h2) with the shorter side = min_side and the other side truncated (`int()`), as the reference:
    320x240 and 480x360 -> (341, 256); unchanged when the shorter side already equals min_side."""
    if min(w, h) == min_side:
        return w, h
    if w < h:
        return min_side, int(min_side * h / w)
    return int(min_side * w / h), min_side


def center_crop_offsets(h: int, w: int, size: int = 224) -> tuple[int, int]:
    """(top, left) of a centred size x size crop, floor rule: (256, 341) -> (16, 58)."""
    return (h - size) // 2, (w - size) // 2


def resize_frames(frames: np.ndarray, min_side: int = 256, method: Resizer = "pillow") -> np.ndarray:
    """[N, H, W, 3] uint8 -> [N, H2, W2, 3] uint8 with (W2, H2) = target_size(W, H).
    "pillow": Pillow BILINEAR (antialiased triangle filter) per frame, bit-identical to the reference.
    "torch": torchvision bilinear antialias=True on the whole batch; within 1 level of Pillow."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected [N, H, W, 3] uint8 frames, got {frames.shape} {frames.dtype}")
    n, h, w, _ = frames.shape
    w2, h2 = target_size(w, h, min_side)
    if (w2, h2) == (w, h) or n == 0:
        return frames.reshape(n, h2, w2, 3) if n == 0 else frames
    if method == "pillow":
        from PIL import Image

        out = np.empty((n, h2, w2, 3), dtype=np.uint8)
        for i in range(n):  # each call is one C resize; Pillow has no batched API
            out[i] = np.asarray(Image.fromarray(frames[i]).resize((w2, h2), Image.BILINEAR))
        return out
    if method == "torch":
        import torch
        from torchvision.transforms.v2 import functional as TF

        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # [N, 3, H, W]
        y = TF.resize(x, [h2, w2], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        return y.permute(0, 2, 3, 1).contiguous().numpy()  # [N, H2, W2, 3]
    raise ValueError(f"unknown resize method {method!r} (expected 'pillow' or 'torch')")


def _fps_filter(fps: float) -> str:
    return f"fps=fps={fps:.10g}"


def reencode_fps(path: str | os.PathLike, out: str | os.PathLike, fps: float = 25.0) -> None:
    """The reference's re-encode: `-filter:v fps=fps=<fps>` into an .mp4 with libx264 defaults (CRF 23,
    preset medium, pixel format kept). Audio is left out (the reference re-encodes it but never reads it)."""
    run_ffmpeg(["-y", "-i", input_arg(path), "-map", "0:v:0", "-an", "-sn", "-dn",
                "-filter:v", _fps_filter(fps), "-c:v", "libx264", "-f", "mp4", input_arg(out)],
               what=f"{path}: re-encode to {fps:g} fps")


def _decode_cmd(path: str | os.PathLike, fps: float | None) -> list[str]:
    vf = ["-vf", _fps_filter(fps)] if fps else []
    return base_args() + ["-v", "error", "-i", input_arg(path), "-map", "0:v:0", "-an", "-sn", "-dn",
                          *vf, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]


def iter_raw_frames(path: str | os.PathLike, fps: float | None, width: int, height: int,
                    chunk: int = 64) -> Iterator[np.ndarray]:
    """Stream [n<=chunk, height, width, 3] uint8 RGB frames from one ffmpeg process (no resize)."""
    frame_bytes = width * height * 3
    with tempfile.TemporaryFile() as err, contextlib.ExitStack() as stack:
        proc = subprocess.Popen(_decode_cmd(path, fps), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err, bufsize=0)
        stack.callback(_stop, proc)
        while True:
            buf = _read_exact(proc.stdout, frame_bytes * chunk)
            n = len(buf) // frame_bytes
            if n:
                yield np.frombuffer(buf[: n * frame_bytes], dtype=np.uint8).reshape(n, height, width, 3)
            if len(buf) < frame_bytes * chunk:
                break
        rc = proc.wait()
        if rc != 0:
            err.seek(0)
            raise UnavError(f"{path}: ffmpeg failed to decode the video (status {rc}):\n{tail(err.read())}")


def _read_exact(stream, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        b = stream.read(size - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if proc.stdout:
        proc.stdout.close()


def iter_frames(path: str | os.PathLike, fps: float = 25.0, min_side: int = 256, chunk: int = 64,
                reencode: bool = False, resize: Resizer = "pillow",
                info: VideoInfo | None = None) -> Iterator[np.ndarray]:
    """Frames of `path` at `fps` (ffmpeg fps filter selection), RGB, resized so the shorter side is
    `min_side`: yields [n<=chunk, H2, W2, 3] uint8 chunks; memory stays bounded whatever the length.
    reencode=True first writes the reference's lossy x264 25 fps re-encode to a temporary file."""
    info = info or probe(path)
    if not reencode:
        for raw in iter_raw_frames(path, fps, info.width, info.height, chunk):
            yield resize_frames(raw, min_side, resize)
        return
    with tempfile.TemporaryDirectory(prefix="unav-reencode-") as tmp:
        out = Path(tmp) / "video_new_fps.mp4"
        reencode_fps(path, out, fps)
        for raw in iter_raw_frames(out, None, info.width, info.height, chunk):
            yield resize_frames(raw, min_side, resize)


def count_frames_25fps(path: str | os.PathLike, fps: float = 25.0) -> int:
    """Number of frames the `fps` filter yields for `path` (the reference's frame count at 25 fps)."""
    probe(path)
    proc = run_ffmpeg(["-v", "error", "-nostats", "-progress", "pipe:1", "-i", input_arg(path), "-map", "0:v:0",
                       "-an", "-sn", "-dn", "-vf", _fps_filter(fps), "-f", "null", "-"],
                      what=f"{path}: count frames at {fps:g} fps")
    frames = [int(line.split(b"=", 1)[1]) for line in proc.stdout.splitlines() if line.startswith(b"frame=")]
    if not frames:
        raise UnavError(f"{path}: ffmpeg reported no frame count:\n{tail(proc.stderr)}")
    return frames[-1]
