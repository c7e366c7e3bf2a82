"""The offline demo DAG, run once per test session (`snakemake --cores 2` with the default config.yaml) and
shared by the tests that inspect its outputs; tests that change it work on a copy."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import snakemake


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
