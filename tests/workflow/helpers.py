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
    cmd += list(args)
    if configfile is not None:   # last: --configfile takes several values, it would swallow a target after it
        cmd += ["--configfile", str(configfile)]
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
    proc = snakemake(workdir, *args, "--dry-run", "--quiet", "rules", configfile=configfile)
    return job_counts(proc.stdout + proc.stderr)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def fake_downloads(workdir: Path, downloaded: Mapping[str, bool], shards: int = 4, results: str = "results") -> None:
    """The files a finished download stage leaves (id -> ok): status JSONs, raw videos of the ok ones, one
    manifest per shard, the ok list and the failures table, written in that order (the checkpoint's outputs
    last, so they are newer than its inputs)."""
    from unav.pipeline.shards import Row, shard_members, write_manifest

    res = workdir / results
    (res / "download/status").mkdir(parents=True, exist_ok=True)
    (res / "raw").mkdir(parents=True, exist_ok=True)
    for vid, ok in downloaded.items():
        status = {"id": vid, "ok": ok, "kind": "ok" if ok else "not_found", "reason": "" if ok else "HTTP 404",
                  "attempts": 1, "url": f"https://example.org/{vid}"}
        (res / "download/status" / f"{vid}.json").write_text(json.dumps(status))
        if ok:
            (res / "raw" / f"{vid}.mp4").write_bytes(b"\0")
    for k, ids in shard_members(downloaded, shards).items():
        if ids:
            write_manifest(res / "shards/download" / f"{k}.tsv",
                           [Row(v, "done") if downloaded[v] else Row(v, "failed", "not_found", "HTTP 404")
                            for v in ids])
    (res / "download/ok.txt").write_text("".join(f"{v}\n" for v, ok in downloaded.items() if ok))
    (res / "download/failures.tsv").write_text(
        "id\treason\tattempts\turl\n" + "".join(f"{v}\tHTTP 404\t1\tx\n" for v, ok in downloaded.items() if not ok))


def shard_count(ids, shards: int = 4) -> int:
    """How many shard jobs a stage runs for these ids (non-empty shards)."""
    from unav.pipeline.shards import shard_of

    return len({shard_of(v, shards) for v in ids})


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, …)."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout
    children: dict[int, list[int]] = {}
    for line in out.splitlines():
        p, pp = map(int, line.split())
        children.setdefault(pp, []).append(p)
    todo, found = [pid], []
    while todo:
        for c in children.get(todo.pop(), []):
            found.append(c)
            todo.append(c)
    return found


def cmdline(pid: int) -> str:
    """A process's command line ("" once it has ended)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
