"""Running Snakemake on the repository's workflow from a test: a subprocess in a working directory of its own
(`--directory`), with the repository's .venv/bin first on PATH so rules find `unav`."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = REPO / "Snakefile"
BIN = Path(sys.executable).parent


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("MPLBACKEND", "Agg")
    e["OMP_NUM_THREADS"] = e.get("OMP_NUM_THREADS", "1")
    return e


def write_config(path: Path, overlay: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(overlay), sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, configfile: Path | None = None, check: bool = True,
              timeout: float = 1800) -> subprocess.CompletedProcess:
    cmd = [str(BIN / "snakemake"), "--snakefile", str(SNAKEFILE), "--directory", str(workdir), "--cores", "2"]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    cmd += list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=timeout, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return proc


_ROW = re.compile(r"^(\w+)\s+(\d+)\s*$")


def job_counts(output: str) -> dict[str, int]:
    """The "Job stats" table of a (dry) run: rule -> number of jobs (without the total)."""
    counts: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("Job stats:"):
            in_table, counts = True, {}
            continue
        if in_table:
            m = _ROW.match(line.strip())
            if m:
                if m.group(1) == "total":
                    in_table = False
                    continue
                counts[m.group(1)] = int(m.group(2))
            elif line.strip() and not line.startswith("job") and not line.startswith("-"):
                in_table = False
    return counts


def dry_run(workdir: Path, *args: str, configfile: Path | None = None) -> dict[str, int]:
    proc = snakemake(workdir, "--dry-run", "--quiet", "rules", *args, configfile=configfile)
    return job_counts(proc.stdout + proc.stderr)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())
