"""How long Snakemake takes to build the DAG of the full UnAV-100 list (10,790 videos), dry run:
(1) before any download (download jobs + the checkpoint), (2) after the checkpoint (every video downloaded:
trim, flow, i3d, vggish and features per video, about 54,000 jobs).

    UNAV_SHARED=../shared .venv/bin/python benchmarks/bench_dag.py [--annotations FILE] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from workflow.helpers import env, job_counts  # noqa: E402


def make_inputs(annotations: Path, workdir: Path) -> Path:
    """The video list matching the annotation file (id,0,duration) and a config pointing at both."""
    db = json.loads(annotations.read_text())["database"]
    (workdir / "videos.csv").write_text("".join(f"{vid},0,{e['duration']}\n" for vid, e in db.items()))
    cfg = workdir / "cfg.yaml"
    cfg.write_text(f"source: youtube\nvideos_csv: videos.csv\nannotations: {annotations}\n")
    return cfg


def fake_downloads(workdir: Path) -> int:
    """Mark every listed video as downloaded (status, raw file, ok list), as after the checkpoint."""
    ids = [ln.split(",")[0] for ln in (workdir / "videos.csv").read_text().splitlines()]
    status = workdir / "results/download/status"
    raw = workdir / "results/raw"
    status.mkdir(parents=True, exist_ok=True)
    raw.mkdir(parents=True, exist_ok=True)
    for vid in ids:
        (status / f"{vid}.json").write_text(json.dumps({"id": vid, "ok": True, "kind": "ok"}))
        (raw / f"{vid}.mp4").write_bytes(b"")
    time.sleep(0.01)
    (workdir / "results/download/ok.txt").write_text("".join(f"{v}\n" for v in ids))
    (workdir / "results/download/failures.tsv").write_text("id\treason\tattempts\turl\n")
    return len(ids)


def dry_run(workdir: Path, cfg: Path) -> tuple[float, dict[str, int]]:
    cmd = [str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(cfg), "--cores", "2", "--dry-run", "--quiet", "rules"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=workdir)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, job_counts(proc.stdout + proc.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(os.environ.get("UNAV_SHARED", REPO.parent / "shared")) / "data/unav100/unav100_annotations.json"
    ap.add_argument("--annotations", type=Path, default=default)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="unav-bench-dag-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = make_inputs(args.annotations.resolve(), workdir)
    s1, c1 = dry_run(workdir, cfg)
    print(f"before downloads: {sum(c1.values())} jobs ({c1.get('download', 0)} downloads), DAG in {s1:.1f} s")
    n = fake_downloads(workdir)
    s2, c2 = dry_run(workdir, cfg)
    print(f"after the checkpoint ({n} videos downloaded): {sum(c2.values())} jobs "
          f"({', '.join(f'{k} {v}' for k, v in c2.items())}), DAG in {s2:.1f} s")


if __name__ == "__main__":
    main()
