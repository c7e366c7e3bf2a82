"""How long Snakemake takes to build the DAG of the full UnAV-100 run (10,790 videos, the paper's preset with its
128 shards), dry run, in four states of the working directory, and how many jobs the run has:

  (1) nothing downloaded yet (download shards + the checkpoint, the rest behind it);
  (2) every video downloaded (the checkpoint done: trim, flow, i3d, vggish, features per shard, then training);
  (3) every video extracted (every shard manifest written: only training and what follows remain);
  (4) 1 % of the videos failed to download (the others extracted), as after a real download.

The states are faked with the files each stage leaves (status files, raw videos, shard manifests), so the figures
measure Snakemake's bookkeeping only.

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

from workflow.helpers import env, fake_downloads, job_counts  # noqa: E402

from unav.pipeline.shards import STAGES, Row, shard_members, write_manifest  # noqa: E402

PRESET = REPO / "resources" / "presets" / "unav100.yaml"
SHARDS = 128      # the preset's
RESULTS = "results/unav100"


def make_list(annotations: Path, workdir: Path) -> list[str]:
    """The video list matching the annotation file (id,0,duration); returns the ids."""
    db = json.loads(annotations.read_text())["database"]
    (workdir / "videos.csv").write_text("".join(f"{vid},0,{e['duration']}\n" for vid, e in db.items()))
    return list(db)


def fake_extracted(workdir: Path, ok: list[str]) -> None:
    """Every shard manifest of the stages after the download, as after a finished extraction."""
    res = workdir / RESULTS
    time.sleep(0.01)   # newer than the downloads
    for stage in STAGES[1:]:
        for k, ids in shard_members(ok, SHARDS).items():
            if ids:
                write_manifest(res / "shards" / stage / f"{k}.tsv", [Row(v, "done") for v in ids])


def dry_run(workdir: Path, annotations: Path) -> tuple[float, dict[str, int]]:
    cmd = [str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(workdir), "--configfile", str(PRESET), "--config", "videos_csv=videos.csv",
           f"annotations={annotations}", "--cores", "2", "--dry-run", "--quiet", "rules"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=workdir)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, job_counts(proc.stdout + proc.stderr)


def report(name: str, seconds: float, counts: dict[str, int]) -> None:
    rules = ", ".join(f"{k} {v}" for k, v in counts.items())
    print(f"{name:<34} DAG {seconds:5.1f} s   {sum(counts.values()):4d} jobs ({rules})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(os.environ.get("UNAV_SHARED", REPO.parent / "shared")) / "data/unav100/unav100_annotations.json"
    ap.add_argument("--annotations", type=Path, default=default)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    annotations = args.annotations.resolve()
    base = args.workdir or Path(tempfile.mkdtemp(prefix="unav-bench-dag-"))
    base.mkdir(parents=True, exist_ok=True)

    work = base / "fresh"
    work.mkdir(exist_ok=True)
    ids = make_list(annotations, work)
    print(f"UnAV-100 list: {len(ids)} videos, {SHARDS} shards, preset {PRESET.relative_to(REPO)}")
    s1, c1 = dry_run(work, annotations)
    report("(1) nothing downloaded", s1, c1)

    fake_downloads(work, {v: True for v in ids}, shards=SHARDS, results=RESULTS)
    s2, c2 = dry_run(work, annotations)
    report("(2) all downloaded", s2, c2)
    full = c1.get("download", 0) + c1.get("download_collect", 0) + sum(c2.values())

    fake_extracted(work, ids)
    s3, c3 = dry_run(work, annotations)
    report("(3) all extracted", s3, c3)

    failed_work = base / "failed"
    failed_work.mkdir(exist_ok=True)
    make_list(annotations, failed_work)
    failed = set(ids[::100])          # 1 %
    fake_downloads(failed_work, {v: v not in failed for v in ids}, shards=SHARDS, results=RESULTS)
    fake_extracted(failed_work, [v for v in ids if v not in failed])
    s4, c4 = dry_run(failed_work, annotations)
    report(f"(4) {len(failed)} downloads failed (1 %)", s4, c4)

    print(f"full run: {full} jobs in all (downloads included); slowest DAG {max(s1, s2, s3, s4):.1f} s")


if __name__ == "__main__":
    main()
