"""The offline demo DAG end to end (default config.yaml, --cores 2): every stage ran, wrote only its declared
outputs, one log and one benchmark per job; the metrics are far above chance; the Snakemake report builds;
a run killed mid-way resumes to the same metrics."""
from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .helpers import BIN, SNAKEFILE, env, read_json, snakemake

PER_VIDEO = ("download", "trim", "flow", "i3d", "vggish", "features")


def _ok_ids(workdir: Path) -> list[str]:
    return (workdir / "results/download/ok.txt").read_text().split()


def test_every_stage_ran(demo_run):
    res = demo_run.workdir / "results"
    ids = _ok_ids(demo_run.workdir)
    assert len(ids) == 30
    assert (res / "download/failures.tsv").read_text().splitlines() == ["id\treason\tattempts\turl"]
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
    """Each video's .flow file was written (its log says where) and removed once I3D used it (temp())."""
    res = demo_run.workdir / "results"
    ids = _ok_ids(demo_run.workdir)
    assert ids
    for vid in ids:
        written = f"-> results/flow/{vid}.flow"
        assert written in (res / "logs" / "flow" / f"{vid}.log").read_text(), vid
        assert not (res / "flow" / f"{vid}.flow").exists(), vid


def test_logs_and_benchmarks_per_job(demo_run):
    res = demo_run.workdir / "results"
    n = len(_ok_ids(demo_run.workdir))
    for rule in PER_VIDEO:
        assert len(list((res / "logs" / rule).glob("*.log"))) == n, rule
        bench = sorted((res / "benchmarks" / rule).glob("*.tsv"))
        assert len(bench) == n, rule
        with open(bench[0]) as fh:
            row = next(csv.DictReader(fh, delimiter="\t"))
        assert float(row["s"]) > 0 and "max_rss" in row
    for rule in ("demo_videos", "download_collect", "annotations", "train", "predict", "evaluate", "report", "stats"):
        assert (res / "logs" / f"{rule}.log").is_file(), rule
        assert (res / "benchmarks" / f"{rule}.tsv").is_file(), rule


def test_only_declared_outputs(demo_run):
    """Every file under results/ is a declared output (files inside declared directories included), log or
    benchmark; the raw downloads are the one exception: `unav download` writes them beside its status file,
    the declared output, since a failed download has none."""
    proc = snakemake(demo_run.workdir, "--list-untracked")
    untracked = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("results/")]
    allowed = ("results/raw/", "results/logs/", "results/benchmarks/",
               "results/demo/videos/", "results/report/timelines/")   # the last two: directory() outputs
    unexpected = [p for p in untracked if not p.startswith(allowed)]
    assert unexpected == []


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


def _descendants(pid: int) -> list[int]:
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


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


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
            victims = [pid for pid in _descendants(proc.pid)
                       if " train " in _cmdline(pid) and "unav" in _cmdline(pid)]
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
