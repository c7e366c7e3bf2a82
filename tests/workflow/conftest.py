"""Shared fixtures of the workflow tests: the offline demo DAG, run once per test session (`snakemake --cores 2`
with the default config.yaml) and shared by the tests that inspect its outputs (tests that change it work on a
copy); a real single-node SLURM cluster (Debian slurm-wlm + munge, scripts/slurm_test_cluster.sh)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import REPO, env, snakemake


@dataclass
class DemoRun:
    workdir: Path
    seconds: float
    stdout: str


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    workdir = tmp_path_factory.mktemp("demo")
    t0 = time.perf_counter()
    proc = snakemake(workdir)
    seconds = time.perf_counter() - t0
    print(f"\ndemo DAG: {seconds:.0f} s wall on --cores 2")
    return DemoRun(workdir, seconds, proc.stdout + proc.stderr)


@pytest.fixture
def slurm(tmp_path):
    """Start munged, slurmctld and slurmd for one test; yields the environment its clients need."""
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue") if shutil.which(b) is None
               and not Path(f"/usr/sbin/{b}").exists()]
    assert not missing, f"SLURM/munge binaries missing: {missing} (scripts/setup.sh --system installs them)"
    script = REPO / "scripts" / "slurm_test_cluster.sh"
    state = tmp_path / "slurm"
    e = env()
    e["PATH"] = f"{e['PATH']}{os.pathsep}/usr/sbin"
    proc = subprocess.run(["bash", str(script), "start", str(state)], capture_output=True, text=True, env=e,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    e["SLURM_CONF"] = str(state / "slurm.conf")
    e["PATH"] = f"{state / 'bin'}{os.pathsep}{e['PATH']}"
    try:
        yield e
    finally:
        subprocess.run(["bash", str(script), "stop", str(state)], env=e, timeout=60)
