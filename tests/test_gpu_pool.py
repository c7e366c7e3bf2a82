"""unav/gpu_pool.py: a plain `cuda` job takes the first free GPU of a workstation and holds it with a flock (real
lock files, real threads and processes); other devices pass unchanged; the shard step and on-free-gpu use it."""
from __future__ import annotations

import argparse
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from unav.errors import UnavError
from unav.gpu_pool import Lease, acquire_gpu

REPO = Path(__file__).resolve().parents[1]


def locked_elsewhere(path: Path) -> bool:
    """Whether some open file (of this process or another) holds the flock: a new open file cannot take it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)   # also drops the lock if it was taken
    return False


def holder_process(lock_dir: Path, count: int) -> tuple[subprocess.Popen, str]:
    """A python process that takes a lease and sleeps; (the process, the device it printed)."""
    code = ("import sys, time; from pathlib import Path; from unav.gpu_pool import acquire_gpu; "
            f"lease = acquire_gpu('cuda', lock_dir=Path({str(lock_dir)!r}), count={count}, wait_s=10, poll_s=0.05); "
            "print(lease.device, flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO)
    return proc, proc.stdout.readline().strip()


def test_three_leases_take_three_gpus_and_a_fourth_waits_for_the_first_released(tmp_path, caplog):
    locks = tmp_path / "locks"
    leases = [acquire_gpu("cuda", lock_dir=locks, count=3, wait_s=1, poll_s=0.02) for _ in range(3)]
    try:
        assert [lease.device for lease in leases] == ["cuda:0", "cuda:1", "cuda:2"]
        assert all(locked_elsewhere(locks / f"gpu-{i}.lock") for i in range(3))
        releaser = threading.Timer(0.3, leases[1].close)
        releaser.start()
        t0 = time.monotonic()
        with caplog.at_level(logging.INFO, logger="unav.gpu_pool"):
            with acquire_gpu("cuda", lock_dir=locks, count=3, wait_s=10, poll_s=0.02) as fourth:
                assert fourth.device == "cuda:1"
                assert time.monotonic() - t0 >= 0.25
        releaser.join()
        busy = [r.getMessage() for r in caplog.records if "busy" in r.getMessage()]
        assert busy and all(f"cuda:{i} (pid {os.getpid()})" in busy[0] for i in range(3)), busy
        assert any("cuda:1 of 3 taken" in r.getMessage() for r in caplog.records)
        assert not locked_elsewhere(locks / "gpu-1.lock")   # the context exit released it
    finally:
        for lease in leases:
            lease.close()


def test_all_busy_past_wait_s_is_an_error(tmp_path):
    with acquire_gpu("cuda", lock_dir=tmp_path, count=2) as a, acquire_gpu("cuda", lock_dir=tmp_path, count=2) as b:
        assert (a.device, b.device) == ("cuda:0", "cuda:1")
        with pytest.raises(UnavError, match="all 2 GPUs stayed busy"):
            acquire_gpu("cuda", lock_dir=tmp_path, count=2, wait_s=0.1, poll_s=0.02)


def test_a_killed_holder_frees_its_gpu(tmp_path):
    proc, device = holder_process(tmp_path, count=2)
    try:
        assert device == "cuda:0"
        assert (tmp_path / "gpu-0.lock").read_text().strip() == str(proc.pid)
        with acquire_gpu("cuda", lock_dir=tmp_path, count=2, wait_s=0) as other:
            assert other.device == "cuda:1"   # cuda:0 is the subprocess's
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    with acquire_gpu("cuda", lock_dir=tmp_path, count=2, wait_s=0) as again:
        assert again.device == "cuda:0"


@pytest.mark.parametrize("device, count", [("cuda", 1), ("cuda", 0), ("cuda:1", 3), ("cpu", 3), ("auto", 3)])
def test_other_devices_and_one_gpu_lock_nothing(tmp_path, device, count):
    locks = tmp_path / "locks"
    lease = acquire_gpu(device, lock_dir=locks, count=count)
    assert (lease.device, lease.held, lease.index) == (device, False, None)
    lease.close()
    assert not locks.exists()


def test_default_lock_dir_is_the_env_folder_created_if_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("UNAV_GPU_LOCKS", str(tmp_path / "a" / "b"))
    with acquire_gpu("cuda", count=2) as lease:
        assert lease.path == tmp_path / "a" / "b" / "gpu-0.lock"


def test_shard_step_runs_on_the_leased_gpu(tmp_path, monkeypatch):
    """run_shard_step turns a plain --device cuda into the first free GPU and holds it until the manifest is
    written; other stages keep their device and lock nothing. torch is told of two GPUs, and the stage's worker
    (which would load models onto the GPU) only records the device it was given."""
    import torch

    from unav.pipeline import shard_step, step_cli

    locks = tmp_path / "locks"
    monkeypatch.setenv("UNAV_GPU_LOCKS", str(locks))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    seen = {}

    def worker(args, cache):
        seen[args.stage] = (args.device, locked_elsewhere(locks / "gpu-1.lock"))
        return (lambda vid: "done"), ["a"]

    monkeypatch.setattr(shard_step, "_worker", worker)
    with acquire_gpu("cuda", count=2) as first:   # another job holds cuda:0
        assert first.device == "cuda:0"
        code = step_cli.main(["shard", "vggish", "--manifest", str(tmp_path / "0.tsv"), "--out-dir",
                              str(tmp_path / "out"), "--device", "cuda", "--", "a.mp4"])
        assert code == 0 and seen["vggish"] == ("cuda:1", True)
        assert not locked_elsewhere(locks / "gpu-1.lock")   # released when the shard ended
        code = step_cli.main(["shard", "features", "--manifest", str(tmp_path / "1.tsv"), "--parts",
                              str(tmp_path), "--out-dir", str(tmp_path / "out"), "--device", "cuda", "--", "a"])
        assert code == 0 and seen["features"] == ("cuda", False)


def test_lease_shard_device_with_a_count(tmp_path):
    from unav.pipeline.shard_step import lease_shard_device

    args = argparse.Namespace(stage="i3d", device="cuda")
    with lease_shard_device(args, lock_dir=tmp_path, count=3) as lease:
        assert args.device == lease.device == "cuda:0" and lease.held
    for stage, device in [("flow", "cpu"), ("i3d", "cuda:2"), ("trim", "cuda")]:
        args = argparse.Namespace(stage=stage, device=device)
        lease = lease_shard_device(args, lock_dir=tmp_path / stage, count=3)
        assert isinstance(lease, Lease) and not lease.held and args.device == device
        assert not (tmp_path / stage).exists()


def test_exec_on_free_gpu_shows_the_command_its_gpu_and_holds_it_while_it_runs(tmp_path):
    """The command sees only the leased GPU (named as CUDA_VISIBLE_DEVICES named it) and keeps the lock across
    exec until it ends."""
    child = ("import fcntl, os; from pathlib import Path; "
             f"fd = os.open(Path({str(tmp_path)!r}) / 'gpu-1.lock', os.O_RDWR)\n"
             "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); held = False\n"
             "except BlockingIOError:\n    held = True\n"
             "print(os.environ['CUDA_VISIBLE_DEVICES'], held)")
    wrapper = ("import sys; from pathlib import Path; from unav.gpu_pool import exec_on_free_gpu; "
               f"exec_on_free_gpu([sys.executable, '-c', {child!r}], lock_dir=Path({str(tmp_path)!r}), count=2)")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="5,7")
    with acquire_gpu("cuda", lock_dir=tmp_path, count=2) as first:
        assert first.device == "cuda:0"
        wrapper = "import logging; logging.basicConfig(level=logging.INFO); " + wrapper
        out = subprocess.run([sys.executable, "-c", wrapper], env=env, cwd=REPO, capture_output=True, text=True,
                             timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["7", "True"]
    assert "GPU cuda:1 of 2 taken, CUDA_VISIBLE_DEVICES entry 7" in out.stderr
    with acquire_gpu("cuda", lock_dir=tmp_path, count=2, wait_s=0) as again:
        assert again.device == "cuda:0"


def test_on_free_gpu_step_runs_the_command_unchanged_without_gpus(tmp_path):
    """`unav workflow-step on-free-gpu -- CMD …` (as localize.smk runs train and predict): on a machine with no
    or one GPU the command runs as it is, its options untouched and its exit status kept."""
    env = dict(os.environ, UNAV_GPU_LOCKS=str(tmp_path / "locks"), CUDA_VISIBLE_DEVICES="")
    cmd = [sys.executable, "-m", "unav.pipeline.step_cli", "on-free-gpu", "--", sys.executable, "-c",
           "import sys; print(sys.argv[1:]); sys.exit(3)", "--device", "cuda"]
    out = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 3, out.stderr
    assert out.stdout.strip() == "['--device', 'cuda']"
    assert not (tmp_path / "locks").exists()
