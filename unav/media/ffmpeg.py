"""Locate and run the ffmpeg binary. Always argument lists (never a shell string); callers pass input
paths through `input_arg` so that names starting with '-' (YouTube ids such as "--HuBNHXu9I") are safe."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from ..errors import UnavError

_TAIL = 1500  # characters of ffmpeg's stderr quoted in an error


@functools.lru_cache(maxsize=None)
def _find(env_value: str | None) -> str:
    if env_value:
        if not (Path(env_value).is_file() and os.access(env_value, os.X_OK)):
            raise UnavError(f"UNAV_FFMPEG={env_value!r} is not an executable file; expected the path of an ffmpeg binary")
        return env_value
    # The pinned binary of the imageio-ffmpeg wheel comes first: frame selection and decoded pixels depend on the
    # ffmpeg version (e.g. Debian's 5.1 yields 451 frames at 25 fps where 9.x and the reference yield 452), so the
    # same unav install gives the same features on every machine.
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        pass
    system = shutil.which("ffmpeg")
    if system:
        return system
    raise UnavError("no ffmpeg found: install the extraction extra (`pip install \"unav[extract]\"`, which pins "
                    "the ffmpeg binary), install ffmpeg, or set UNAV_FFMPEG")


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: $UNAV_FFMPEG, then imageio-ffmpeg's bundled one, then `ffmpeg` on PATH."""
    return _find(os.environ.get("UNAV_FFMPEG") or None)


def input_arg(path: str | os.PathLike) -> str:
    """An ffmpeg URL for a local file that cannot be mistaken for an option or another protocol."""
    return "file:" + str(Path(path).resolve())


def tail(text: str | bytes, n: int = _TAIL) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = text.strip()
    return text if len(text) <= n else "…" + text[-n:]


def base_args() -> list[str]:
    """Program name plus options every call shares (no banner, no stdin interaction)."""
    return [ffmpeg_exe(), "-hide_banner", "-nostdin"]


def run_ffmpeg(args: list[str], check: bool = True, what: str = "ffmpeg",
               timeout: float | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """Run ffmpeg with `args` (not including the program name); capture stdout/stderr as bytes. `stdin` is fed
    to ffmpeg's standard input (an input of `pipe:0`). A non-zero exit raises UnavError quoting the tail of
    stderr (when `check`)."""
    cmd = base_args() + [str(a) for a in args]
    try:
        proc = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              check=False)
    except OSError as err:
        raise UnavError(f"could not start ffmpeg ({cmd[0]}): {err}") from err
    except subprocess.TimeoutExpired as err:
        raise UnavError(f"{what}: ffmpeg did not finish within {timeout} s") from err
    if check and proc.returncode != 0:
        raise UnavError(f"{what}: ffmpeg exited with status {proc.returncode}:\n{tail(proc.stderr)}")
    return proc
