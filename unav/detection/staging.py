"""Folders written all or nothing: built under a hidden scratch folder beside the final place, then renamed onto
it, so a failure or a killed run never leaves a half-written folder under the final name."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def scratch_folder(parent: Path, prefix: str) -> Iterator[Path]:
    """A new hidden folder inside `parent` (created when absent), removed with all it still holds on exit."""
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def install_folder(partial: Path, final: Path) -> None:
    """Replace `final` by the complete folder `partial` (a rename; an old folder is removed afterwards)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(partial, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
