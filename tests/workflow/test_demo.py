"""The offline demo DAG end to end (default config.yaml, --cores 2): every stage ran (one job per shard of
videos for the per-video stages), wrote only its declared outputs and the per-video files of the UnAV-100
layout, one log and one benchmark per job; the metrics are far above chance; the Snakemake report builds;
a run killed mid-way resumes to the same metrics."""
from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from unav.pipeline.shards import read_manifest, shard_members

from .helpers import BIN, SNAKEFILE, cmdline, descendants, env, read_json, snakemake

PER_VIDEO = ("download", "trim", "flow", "i3d", "vggish", "features")
SHARDS = 4   # config.yaml


def _ok_ids(workdir: Path) -> list[str]:
    return (workdir / "results/download/ok.txt").read_text().split()


def test_every_stage_ran(demo_run):
    res = demo_run.workdir / "results"
    ids = _ok_ids(demo_run.workdir)
    assert len(ids) == 30
    assert (res / "download/failures.tsv").read_text().splitlines() == ["id\treason\tattempts\turl"]
    assert (res / "failures.tsv").read_text().splitlines() == ["id\tstage\tkind\treason"]
    assert (res / "report/failures.tsv").read_text().splitlines() == ["id\tstage\tkind\treason"]
    # every stage's shards together list every video once, each computed on this first run
    for stage in PER_VIDEO:
        rows = [r for m in sorted((res / "shards" / stage).glob("*.tsv")) for r in read_manifest(m)]
        assert sorted(r.id for r in rows) == sorted(ids), stage
        assert {r.status for r in rows} == {"done"}, stage
    for vid in ids:
        assert (res / "clips" / f"{vid}.mp4").is_file()
        prov = read_json(res / "features" / f"{vid}.json")
        assert prov["settings"]["streams"] == ["rgb", "flow", "vggish"]
        assert prov["settings"]["crop"] == 32 and prov["settings"]["weights"] == "random"
        assert prov["paper_compatible"] is False
    run = res / "runs/demo"
    for name in ("config.yaml", "metrics.jsonl", "last.pt", "best.pt", "training_curves.png", "predictions.json",
                 "metrics.json", "metrics_per_class_ap.png"):
        assert (run / name).is_file(), name
    for name in ("metrics.tsv", "per_class_ap.tsv", "summary.json"):
        assert (res / "report" / name).is_file(), name
    assert len(list((res / "report/timelines").glob("*.png"))) == 3
    assert (res / "stats/stats.json").is_file()


def test_flow_is_temporary(demo_run):
    """Each video's .flow file was written (its shard's flow log says so) and removed once I3D used it."""
    res = demo_run.workdir / "results"
    ids = _ok_ids(demo_run.workdir)
    assert ids
    logs = "".join(p.read_text() for p in (res / "logs" / "flow").glob("*.log"))
    for vid in ids:
        assert f"flow {vid}: done" in logs, vid
        assert not (res / "flow" / f"{vid}.flow").exists(), vid


def test_logs_and_benchmarks_per_job(demo_run):
    res = demo_run.workdir / "results"
    shards = [k for k, v in shard_members(_ok_ids(demo_run.workdir), SHARDS).items() if v]
    assert len(shards) > 1
    for rule in PER_VIDEO:
        assert sorted(p.stem for p in (res / "logs" / rule).glob("*.log")) == [str(k) for k in shards], rule
        bench = sorted((res / "benchmarks" / rule).glob("*.tsv"))
        assert len(bench) == len(shards), rule
        with open(bench[0]) as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        assert float(row["s"]) > 0 and "max_rss" in row
    for rule in ("demo_videos", "download_collect", "failures", "annotations", "train", "predict", "evaluate",
                 "report", "stats"):
        assert (res / "logs" / f"{rule}.log").is_file(), rule
        assert (res / "benchmarks" / f"{rule}.tsv").is_file(), rule


# per-video files the shard jobs write beside their manifests (the UnAV-100 layout, not declared one by one)
PER_VIDEO_DIRS = ("results/raw/", "results/download/status/", "results/clips/", "results/parts/i3d/",
                  "results/parts/vggish/", "results/features/")


def test_only_declared_outputs(demo_run):
    """Every file under results/ is a declared output (files inside declared directories included), log or
    benchmark, or a per-video file of a shard job named after a listed video."""
    proc = snakemake(demo_run.workdir, "--list-untracked")
    untracked = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("results/")]
    allowed = ("results/logs/", "results/benchmarks/",
               "results/demo/videos/", "results/report/timelines/")   # the last two: directory() outputs
    unexpected = [p for p in untracked if not p.startswith(allowed + PER_VIDEO_DIRS)]
    assert unexpected == []
    ids = set(_ok_ids(demo_run.workdir))
    per_video = [p for p in untracked if p.startswith(PER_VIDEO_DIRS)]
    assert len(per_video) >= 10 * len(ids)
    strays = [p for p in per_video if Path(p).name.split(".")[0].removesuffix("_rgb").removesuffix("_flow")
              .removesuffix("_vggish") not in ids]
    assert strays == []


def test_metrics_far_above_chance(demo_run):
    metrics = read_json(demo_run.workdir / "results/runs/demo/metrics.json")
    summary = read_json(demo_run.workdir / "results/report/summary.json")
    print(f"\ndemo average mAP {100 * metrics['average_mAP']:.1f} (wall {demo_run.seconds:.0f} s)")
    # chance: random segments of the right classes score a few percent at most
    assert metrics["average_mAP"] > 0.3
    assert summary["average_mAP"] == metrics["average_mAP"]
    table = (demo_run.workdir / "results/report/metrics.tsv").read_text().splitlines()
    assert table[0] == "tIoU\tmAP (%)" and table[-1].startswith("average\t")


def test_snakemake_report(demo_run, tmp_path):
    out = tmp_path / "report.zip"
    snakemake(demo_run.workdir, "--report", str(out))
    import zipfile

    names = zipfile.ZipFile(out).namelist()
    assert any(n.endswith("metrics.tsv") for n in names)
    assert any(n.endswith("per_class_ap.tsv") for n in names)
    assert any(n.endswith("training_curves.png") for n in names)
    assert any(n.endswith("metrics_per_class_ap.png") for n in names)
    timelines = read_json(demo_run.workdir / "results/report/summary.json")["timeline_videos"]
    assert len(timelines) == 3 and all(any(n.endswith(f"/{vid}.png") for n in names) for vid in timelines)
    assert any(n.endswith("report.html") for n in names)


def test_killed_job_resumes_to_same_metrics(demo_run, tmp_path):
    """Redo training in a copy of the finished demo, kill the training process mid-way, rerun: the workflow
    completes and the metrics equal the first run's."""
    work = tmp_path / "demo"
    shutil.copytree(demo_run.workdir, work, symlinks=True)
    before = read_json(work / "results/runs/demo/metrics.json")
    cmd = [str(BIN / "snakemake"), "--snakefile", str(SNAKEFILE), "--directory", str(work), "--cores", "2",
           "--forcerun", "train"]
    log = open(tmp_path / "interrupted.log", "w")   # a file, not a pipe nobody reads while we wait
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env(), cwd=work)
    victims: list[int] = []
    deadline = time.monotonic() + 300
    while not victims and time.monotonic() < deadline and proc.poll() is None:
        metrics_log = work / "results/runs/demo/metrics.jsonl"
        if metrics_log.is_file() and metrics_log.read_text().count("\n") >= 2:
            # At least two epochs done: a genuinely half-finished run. Kill the job's shell AND the training
            # process itself, as a scheduler or a power cut would (killing only the shell leaves the trainer
            # running on as an orphan that keeps writing its outputs).
            victims = [pid for pid in descendants(proc.pid)
                       if " train " in cmdline(pid) and "unav" in cmdline(pid)]
        time.sleep(0.5)
    assert victims, "training never started"
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=300)
    log.close()
    assert proc.returncode != 0, (tmp_path / "interrupted.log").read_text()[-3000:]
    snakemake(work)   # the default profile has rerun-incomplete
    after = read_json(work / "results/runs/demo/metrics.json")
    assert after["average_mAP"] == before["average_mAP"]
    assert after["mAP"] == before["mAP"]
