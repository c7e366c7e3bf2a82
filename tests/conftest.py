"""Shared fixtures. The shared material (real clips, the UnAV-100 annotation file) comes from the
directory named by UNAV_SHARED, which .ci/run and scripts/test.sh set; tests that need it fail without it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _hide_system_ffmpeg() -> None:
    """Put failing `ffmpeg`/`ffprobe` stand-ins first on PATH for this session and its subprocesses.

    A clean machine has no system ffmpeg: unav and the tests use the pinned imageio-ffmpeg binary
    (`unav.media.ffmpeg.ffmpeg_exe()`). Without this, a machine where someone installed ffmpeg by hand
    hides a test or a code path that calls the system one."""
    import tempfile

    shim_dir = Path(tempfile.mkdtemp(prefix="unav-no-system-ffmpeg-"))
    for name in ("ffmpeg", "ffprobe"):
        shim = shim_dir / name
        shim.write_text("#!/bin/sh\n"
                        f"echo '{name} from PATH was called: use unav.media.ffmpeg.ffmpeg_exe() (the pinned "
                        "imageio-ffmpeg binary); a clean machine has no system ffmpeg' >&2\n"
                        "exit 127\n")
        shim.chmod(0o755)
    os.environ["PATH"] = f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}"


_hide_system_ffmpeg()
# Slow literal references used by parity tests (tests/reference/*) import as `reference.<module>`.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    root = os.environ.get("UNAV_SHARED")
    if not root:
        pytest.fail("UNAV_SHARED is not set: point it at the shared material (../shared); .ci/run sets it")
    path = Path(root)
    if not (path / "data" / "unav100" / "unav100_annotations.json").is_file():
        pytest.fail(f"UNAV_SHARED={root} does not hold data/unav100/unav100_annotations.json")
    return path


@pytest.fixture(scope="session")
def unav100_annotations(shared_dir: Path) -> Path:
    return shared_dir / "data" / "unav100" / "unav100_annotations.json"


@pytest.fixture(scope="session")
def media_dir(shared_dir: Path) -> Path:
    return shared_dir / "media"
