"""benchmarks/gpu.sh, the one script behind the README's GPU figures: every benchmark it runs takes the options it
is given, the limits fit one 10-minute call, and without a GPU it stops at once instead of measuring the CPU."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "gpu.sh"


def planned_runs():
    """(name, limit, script, options) of each `run NAME LIMIT $py benchmarks/X.py ARGS` line (continuations joined)."""
    text = SCRIPT.read_text().replace("\\\n", " ")
    runs = []
    for line in text.splitlines():
        if line.startswith("run "):
            words = shlex.split(line)
            script = next(w for w in words if w.endswith(".py"))
            runs.append((words[1], int(words[2]), script, [w for w in words if w.startswith("--")]))
    return runs


def test_every_benchmark_accepts_its_options():
    runs = planned_runs()
    assert {name for name, *_ in runs} == {"train_step", "e2e", "precision", "amp"}
    for name, _, script, options in runs:
        help_text = subprocess.run([sys.executable, str(REPO / script), "--help"], capture_output=True, text=True,
                                   check=True, cwd=REPO).stdout
        for option in options:
            assert re.search(rf"{re.escape(option)}\b", help_text), (name, option)


def test_limits_fit_one_device_call():
    assert sum(limit for _, limit, *_ in planned_runs()) <= 540   # + set-up, within a 600-s call


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_refuses_to_run_without_a_gpu(tmp_path):
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, cwd=REPO,
                          env={"PATH": f"{REPO / '.venv' / 'bin'}:/usr/bin:/bin", "OUT": str(tmp_path),
                               "PYTHON": sys.executable})
    assert proc.returncode != 0
    assert "no CUDA device" in proc.stdout + proc.stderr
    assert not list(tmp_path.glob("*.log"))   # nothing was measured
