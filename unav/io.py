"""Atomic file writes: a killed job never leaves a half-written output behind."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import UnavError


def check_output_file(path: str | os.PathLike, option: str = "--out") -> Path:
    """Refuse, before any work, an output file path that cannot be written: an existing folder, or a path
    below an existing file. `option` names the command-line option in the message."""
    path = Path(path)
    if path.is_dir():
        raise UnavError(f"{option} {path} is a folder; expected a file path (e.g. {path / 'NAME'} with the "
                        f"file name the command writes)")
    _check_parents(path, option)
    return path


def check_output_dir(path: str | os.PathLike, option: str = "--out-dir") -> Path:
    """Refuse, before any work, an output folder that is an existing file or lies below one."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UnavError(f"{option} {path} is a file; expected a folder (a new or existing directory)")
    _check_parents(path, option)
    return path


def _check_parents(path: Path, option: str) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UnavError(f"{option} {path}: {parent} is a file, so nothing can be written below it")
            if not os.access(parent, os.W_OK | os.X_OK) and not (parent / path.relative_to(parent).parts[0]).exists():
                raise UnavError(f"{option} {path}: no permission to write in {parent}")
            return


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = check_output_file(path, "output")
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix if suffix is not None else "".join(path.suffixes[-1:])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the output the usual permissions (umask applied).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=indent) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array)


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Temporary files that `atomic_path` left beside `path` when a run was killed mid-write: exactly its names,
    `.NAME.` + mkstemp's 8 random characters + `.tmp[.EXT]`, so no file of the user's can match."""
    import re

    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp(\.[^.]+)?")
    return [p for p in path.parent.glob(f".{glob_escape(path.name)}.*.tmp*")
            if p.is_file() and pattern.fullmatch(p.name)]


def remove_stale_temporaries(paths: Any) -> list[Path]:
    """Remove what a killed run left half-written beside these outputs; returns the removed files. Only files
    named by atomic_path for exactly these outputs are touched, never anything else."""
    removed = []
    for path in paths:
        for tmp in stale_temporaries(path):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


def torch_load_safely(path: str | os.PathLike, what: str, expected: str = "") -> Any:
    """`torch.load(path, weights_only=True)` on the CPU. A damaged or foreign file is an UnavError naming the file,
    why it failed and `expected`; torch's own text (which suggests loading unsafely) is never passed on."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:   # UnpicklingError, RuntimeError (bad zip), EOFError, IsADirectoryError, …
        raise UnavError(f"{what} {path} could not be read: {load_failure_reason(err)}"
                        f"{'; expected ' + expected if expected else ''}") from err


def load_failure_reason(err: BaseException) -> str:
    """Why torch/numpy could not load a file, in words that never advise switching safe loading off."""
    import re

    text = str(err)
    if "weights only load failed" in text.lower() or type(err).__name__ == "UnpicklingError":
        found = re.search(r"GLOBAL ([\w.]+)", text)
        return ("it holds Python objects, which are never unpickled (only tensors and plain data are read"
                + (f"; found {found.group(1)}" if found else "") + ")")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if "weights_only" in first or "allow_pickle" in first:
        first = ""
    return f"{type(err).__name__}{': ' + first[:200] if first else ''} (truncated, or not a PyTorch file)"
