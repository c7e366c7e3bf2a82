"""Pick a free GPU for this process and hold it while the process works.

Snakemake's local executor counts GPU jobs (`--resources gpu=4`) but does not tell a job which GPU is its own,
so every job asking for plain `cuda` would open cuda:0. A job here takes an exclusive `flock` on
`{lock_dir}/gpu-{i}.lock` for the first free i and runs on `cuda:{i}`. A flock belongs to the open file, and the
kernel drops it when the process ends in any way (SIGKILL, out-of-memory kill, a node's job limit), so a killed
job never leaves a GPU locked and there is no stale lock to clean up.

Indices are torch's, i.e. relative to CUDA_VISIBLE_DEVICES: jobs that share a lock folder should see the same
devices (on SLURM each job sees only its own GPU, so nothing is locked there)."""
from __future__ import annotations

import errno
import fcntl
import logging
import math
import os
import tempfile
import time
from pathlib import Path
from typing import NoReturn, Sequence

from .errors import UnavError

log = logging.getLogger(__name__)

LOCK_DIR_ENV = "UNAV_GPU_LOCKS"
# a busy pool is reported at most this often, so a long wait leaves a few lines in the job's log, not thousands
REPORT_EVERY_S = 60.0


class Lease:
    """The device a job runs on; for a pooled GPU also the lock file held open (`index` is None otherwise)."""

    def __init__(self, device: str, index: int | None = None, path: Path | None = None,
                 fd: int | None = None) -> None:
        self.device, self.index, self.path, self._fd = device, index, path, fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def fileno(self) -> int | None:
        return self._fd

    def close(self) -> None:
        """Give the GPU back (idempotent); exiting the process does the same."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Lease({self.device!r}, held={self.held})"


def default_lock_dir() -> Path:
    """$UNAV_GPU_LOCKS, else one folder per user under the system temp dir (the lock files of another user's
    folder could not be opened for writing)."""
    env = os.environ.get(LOCK_DIR_ENV)
    return Path(env) if env else Path(tempfile.gettempdir()) / f"unav-gpu-locks-{os.getuid()}"


def _visible_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _try_lock(path: Path) -> int | None:
    """The open, exclusively locked file descriptor, or None when another process holds the lock."""
    # os.open makes a non-inheritable descriptor (PEP 446): a subprocess of the job does not keep the lock alive
    try:
        fd, writable = os.open(path, os.O_RDWR | os.O_CREAT, 0o666), True
    except PermissionError:   # another user's file in a shared $UNAV_GPU_LOCKS: flock needs no write access
        fd, writable = os.open(path, os.O_RDONLY), False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise
    if writable:   # the holder's pid, only for the "busy" message of whoever waits (the lock is the flock)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid else ""


def acquire_gpu(device: str = "cuda", lock_dir: Path | None = None, count: int | None = None,
                wait_s: float = math.inf, poll_s: float = 2.0) -> Lease:
    """A lease on the first free GPU when `device` is plain `cuda` and more than one CUDA device is visible
    (`count`: torch.cuda.device_count() unless given); otherwise a lease on `device` unchanged and nothing locked
    (`cuda:N` is the user's explicit choice, `auto` keeps its meaning: the first GPU).

    While every GPU is taken it polls every `poll_s` seconds, logging which are busy, and after `wait_s` seconds
    raises UnavError."""
    name = str(device).strip()
    if name != "cuda":
        return Lease(name)
    count = _visible_count() if count is None else int(count)
    if count <= 1:
        return Lease(name)
    folder = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"gpu-{i}.lock" for i in range(count)]
    start = time.monotonic()
    reported = -math.inf
    while True:
        for i, path in enumerate(paths):
            fd = _try_lock(path)
            if fd is not None:
                visible = os.environ.get("CUDA_VISIBLE_DEVICES")
                seen_as = f", CUDA_VISIBLE_DEVICES entry {visible_entry(i)}" if visible and visible.strip() else ""
                log.info("GPU cuda:%d of %d taken%s (lock %s)", i, count, seen_as, path)
                return Lease(f"cuda:{i}", i, path, fd)
        waited = time.monotonic() - start
        if waited >= wait_s:
            raise UnavError(f"all {count} GPUs stayed busy for {waited:.0f} s (locks in {folder}); "
                            f"each lock file names its holder's pid")
        if waited - reported >= REPORT_EVERY_S:
            reported = waited
            busy = ", ".join(f"cuda:{i}{_holder(p)}" for i, p in enumerate(paths))
            log.info("every GPU is busy (%s); waiting for one to be free (locks in %s)", busy, folder)
        time.sleep(max(0.0, min(poll_s, wait_s - waited)))


def visible_entry(index: int) -> str:
    """The CUDA_VISIBLE_DEVICES value that shows a child process only torch's device `index` of this process."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None or not visible.strip():
        return str(index)
    entries = [e.strip() for e in visible.split(",") if e.strip()]
    return entries[index]


def exec_on_free_gpu(argv: Sequence[str], lock_dir: Path | None = None, count: int | None = None,
                     wait_s: float = math.inf, poll_s: float = 2.0) -> NoReturn:
    """Replace this process with `argv`, seeing one free GPU (CUDA_VISIBLE_DEVICES) whose lock it keeps: the lock
    file stays open across exec, so the GPU is held exactly as long as the command runs, which therefore keeps
    its plain `--device cuda` (its cuda:0 is the leased GPU). With one GPU or none the command runs unchanged."""
    if not argv:
        raise UnavError("no command to run on a free GPU")
    lease = acquire_gpu("cuda", lock_dir=lock_dir, count=count, wait_s=wait_s, poll_s=poll_s)
    env = dict(os.environ)
    if lease.held:
        env["CUDA_VISIBLE_DEVICES"] = visible_entry(lease.index)
        os.set_inheritable(lease.fileno(), True)
    for handler in logging.getLogger().handlers:   # the exec drops Python's buffers: write the log lines now
        handler.flush()
    os.execvpe(argv[0], list(argv), env)
