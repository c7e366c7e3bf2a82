"""Shared fixtures. The shared material (real clips, the UnAV-100 annotation file) comes from the
directory named by UNAV_SHARED, which .ci/run and scripts/test.sh set; tests that need it fail without it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
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
