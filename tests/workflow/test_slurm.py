"""The demo DAG's extraction and training through a real single-node SLURM (Debian slurm-wlm + munge, started
by hand: scripts/slurm_test_cluster.sh) with the workflow's SLURM profile: per-video jobs are grouped into one
SLURM job, GPU rules request the node's (fake) GPU."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .helpers import BIN, REPO, SNAKEFILE, env, read_json, write_config

SCRIPT = REPO / "scripts" / "slurm_test_cluster.sh"


@pytest.fixture
def slurm(tmp_path):
    missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue") if shutil.which(b) is None
               and not Path(f"/usr/sbin/{b}").exists()]
    assert not missing, f"SLURM/munge binaries missing: {missing} (scripts/setup.sh --system installs them)"
    state = tmp_path / "slurm"
    e = env()
    e["PATH"] = f"{e['PATH']}{os.pathsep}/usr/sbin"
    proc = subprocess.run(["bash", str(SCRIPT), "start", str(state)], capture_output=True, text=True, env=e,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    e["SLURM_CONF"] = str(state / "slurm.conf")
    e["PATH"] = f"{state / 'bin'}{os.pathsep}{e['PATH']}"
    try:
        yield e
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(state)], env=e, timeout=60)


def _squeue(e: dict) -> list[dict[str, str]]:
    out = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i|%T"], capture_output=True, text=True, env=e,
                         check=True).stdout
    jobs = []
    for line in out.splitlines():
        jid, state = line.split("|")
        info = subprocess.run(["scontrol", "show", "job", jid], capture_output=True, text=True, env=e).stdout
        jobs.append({"id": jid, "state": state, "info": info})
    return jobs


def test_demo_through_slurm(slurm, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    cfg = write_config(work / "cfg.yaml", {"demo": {"num": 9}, "stats": False,
                                           "train": {"set": ["train.epochs=3", "train.warmup_epochs=1"]}})
    cmd = [str(BIN / "snakemake"), "--snakefile", str(SNAKEFILE), "--directory", str(work),
           "--profile", str(REPO / "workflow/profiles/slurm"), "--configfile", str(cfg),
           # this node: 2 CPUs, one fake GPU; the demo runs on the CPU but asks SLURM for the GPU as a GPU run would
           "--cores", "2", "--resources", "mem_mb=8000", "gpu=1", "--set-resources", "i3d:gpu=1", "train:gpu=1",
           "--slurm-no-account", "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
           "--latency-wait", "10", "--until", "train"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=slurm, cwd=work, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    ids = (work / "results/download/ok.txt").read_text().split()
    assert len(ids) == 9
    for vid in ids:
        assert (work / "results/features" / f"{vid}_rgb.npy").is_file()
    assert (work / "results/runs/demo/best.pt").is_file()
    assert len(read_json(work / "results/annotations.used.json")["database"]) == 9

    jobs = _squeue(slurm)
    assert jobs and all(j["state"] == "COMPLETED" for j in jobs), [(j["id"], j["state"]) for j in jobs]
    logs = [j["info"] for j in jobs]
    video_jobs = [i for i in logs if "group_video" in i]
    train_jobs = [i for i in logs if "rule_train" in i]
    # the 9 videos x (trim, flow, i3d, vggish, features) = 45 jobs went to SLURM as ONE group job
    assert len(video_jobs) == 1
    assert "gpu" in video_jobs[0] and len(train_jobs) == 1 and "gpu" in train_jobs[0]
    assert sum("group_download" in i for i in logs) == 1
