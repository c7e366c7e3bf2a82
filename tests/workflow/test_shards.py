"""The shard jobs of the per-video stages, run by Snakemake on clips of the demo (4-s windows, `source: youtube`
from a file:// mirror, 4 shards): per-video caching, growth of the list, a changed extraction option,
`--forcerun i3d`, redoing one video, isolation of bad videos, and a shard killed mid-way.

One working directory is built once (its first run is killed inside an i3d shard and resumed); each test works
on a copy of it."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from unav.media.ffmpeg import ffmpeg_exe
from unav.pipeline.shards import read_manifest, shard_members, shard_of

from .helpers import BIN, SNAKEFILE, cmdline, descendants, dry_run, env, read_json, snakemake, write_config

SHARDS = 4
SILENT = "silentclip0"     # downloads and cuts fine; VGGish refuses it (no audio)
SHORT = "shortclip00"      # 0.6 s: shorter than one I3D window
STAGES = ("trim", "flow", "i3d", "vggish", "features")


@dataclass
class Sharded:
    workdir: Path
    ids: list[str]            # the good videos of the first list
    extra: list[str]          # demo videos left out of the first list, all in one shard (growth)
    killed_shard: int
    finished_before_kill: list[str]


def _lavfi_clip(path: Path, seconds: float, audio: bool) -> None:
    args = [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
            f"testsrc2=size=160x120:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=500:duration={seconds}", "-shortest", "-c:a", "aac"]
    subprocess.run(args + ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True)


def _write_list(work: Path, ids: list[str]) -> None:
    windows = {SHORT: 0.6}
    (work / "videos.csv").write_text("".join(f"{v},0,{windows.get(v, 4.0)}\n" for v in ids))


def _manifests(work: Path, stage: str) -> dict[str, str]:
    """id -> status over every shard manifest of a stage."""
    return {r.id: r.status for m in (work / "results/shards" / stage).glob("*.tsv") for r in read_manifest(m)}


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}


def _run_killing_one_i3d_shard(work: Path, cfg: Path, shard: int, first: str) -> None:
    """Run the stages up to the failures table; kill the i3d job of `shard` (its shell and the unav process) once
    it has written the features of `first`, the shard's first video."""
    cmd = [str(BIN / "snakemake"), "--snakefile", str(SNAKEFILE), "--directory", str(work), "--cores", "2",
           "failures", "--configfile", str(cfg)]
    log = open(work / "interrupted.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env(), cwd=work)
    marker = work / "results/parts/i3d" / f"{first}.json"
    victims: list[int] = []
    deadline = time.monotonic() + 600
    while not victims and time.monotonic() < deadline and proc.poll() is None:
        if marker.is_file():
            victims = [pid for pid in descendants(proc.pid)
                       if "shard i3d" in cmdline(pid) and f"shards/i3d/{shard}.tsv" in cmdline(pid)]
        time.sleep(0.05)
    assert victims, "the i3d shard never ran: " + (work / "interrupted.log").read_text()[-3000:]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=600)
    log.close()
    assert proc.returncode != 0, (work / "interrupted.log").read_text()[-3000:]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> Sharded:
    root = tmp_path_factory.mktemp("sharded")
    source = root / "source"
    subprocess.run([str(BIN / "unav"), "demo-videos", "--out-dir", str(source), "--num", "10", "--seed", "3",
                    "--size", "160x120"], check=True, capture_output=True, env=env())
    demo_ids = [ln.split(",")[0] for ln in (source / "videos.csv").read_text().splitlines() if ln.strip()]
    # the videos left out of the first list: those of one shard that keeps others in the list
    members = shard_members(demo_ids, SHARDS)
    k_extra = next(k for k, v in members.items() if len(v) >= 1 and sum(map(len, members.values())) - len(v) >= 6)
    extra = members[k_extra][:2]
    ids = [v for v in demo_ids if v not in extra]
    _lavfi_clip(source / "videos" / f"{SILENT}.mp4", 4.0, audio=False)
    _lavfi_clip(source / "videos" / f"{SHORT}.mp4", 0.6, audio=True)
    ann = read_json(source / "annotations.json")
    for vid, dur in ((SILENT, 4.0), (SHORT, 0.6)):
        ann["database"][vid] = {"subset": "train", "duration": dur, "annotations": [
            {"segment": [0.0, dur / 2], "label": ann["database"][ids[0]]["annotations"][0]["label"],
             "label_id": ann["database"][ids[0]]["annotations"][0]["label_id"]}]}
    work = root / "work"
    work.mkdir()
    (work / "ann.json").write_text(json.dumps(ann))
    _write_list(work, ids + [SILENT, SHORT])
    cfg = write_config(work / "cfg.yaml", {
        "source": "youtube", "videos_csv": "videos.csv", "annotations": "ann.json", "shards": SHARDS,
        "stats": False, "download": {"url_template": f"file://{source}/videos/{{id}}.mp4", "retries": 0}})
    # the first run is killed inside the i3d job of the shard holding the most good videos, then resumed
    good = shard_members(ids, SHARDS)
    killed = max(good, key=lambda k: len(good[k]))
    assert len(good[killed]) >= 2
    _run_killing_one_i3d_shard(work, cfg, killed, good[killed][0])
    done = [v for v in good[killed] if (work / "results/parts/i3d" / f"{v}.json").is_file()]
    assert not (work / "results/shards/i3d" / f"{killed}.tsv").exists()   # a killed job leaves no manifest
    snakemake(work, "failures", configfile=cfg)   # the default profile has rerun-incomplete
    return Sharded(work, ids, extra, killed, done)


def _copy(sharded: Sharded, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(sharded.workdir, work, symlinks=True)
    return work


def test_bad_videos_are_isolated_and_reported(sharded):
    """The silent clip fails at vggish (no_audio), the 0.6-s clip at i3d (too_short); both are in the failures
    table with their reasons, every other video of their shards has its features."""
    res = sharded.workdir / "results"
    rows = {r["id"]: r for r in _tsv(res / "failures.tsv")}
    assert set(rows) == {SILENT, SHORT}
    assert (rows[SILENT]["stage"], rows[SILENT]["kind"]) == ("vggish", "no_audio")
    assert (rows[SHORT]["stage"], rows[SHORT]["kind"]) == ("i3d", "too_short")
    assert "too short" in rows[SHORT]["reason"]
    for vid in sharded.ids:
        assert (res / "features" / f"{vid}.json").is_file(), vid
    for vid in (SILENT, SHORT):
        assert not (res / "features" / f"{vid}.json").exists()
    assert _manifests(sharded.workdir, "features")[SILENT] == "skipped"


def _tsv(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_killed_shard_resumes_without_redoing_finished_videos(sharded):
    """The i3d shard killed after its first video(s): the rerun took those from the cache, computed the rest,
    and no temporary file is left."""
    res = sharded.workdir / "results"
    rows = {r.id: r.status for r in read_manifest(res / "shards/i3d" / f"{sharded.killed_shard}.tsv")}
    assert sharded.finished_before_kill
    for vid, status in rows.items():
        if vid in (SILENT, SHORT):
            continue
        assert status == ("cached" if vid in sharded.finished_before_kill else "done"), (vid, status)
    assert any(s == "done" for s in rows.values())       # killed mid-shard: some videos were still to do
    assert not [p for p in res.rglob(".*.tmp*")]


def test_second_run_schedules_nothing(sharded, tmp_path):
    work = _copy(sharded, tmp_path)
    assert dry_run(work, "failures", configfile=work / "cfg.yaml") == {}


def test_growing_the_list_computes_only_the_new_videos(sharded, tmp_path):
    """Two videos added to the list, both in one shard: only that shard's jobs run; its other videos come from
    the cache (their features files untouched), the new ones are computed; other shards do not rerun."""
    work = _copy(sharded, tmp_path)
    feats_before = _mtimes(work / "results/features")
    manifests_before = _mtimes(work / "results/shards/features")
    _write_list(work, sharded.ids + [SILENT, SHORT] + sharded.extra)
    snakemake(work, "failures", configfile=work / "cfg.yaml")
    k = shard_of(sharded.extra[0], SHARDS)
    for stage in STAGES:
        status = _manifests(work, stage)
        for vid in sharded.extra:
            assert status[vid] == "done", (stage, vid)
        for vid in shard_members(sharded.ids, SHARDS)[k]:
            assert status[vid] == "cached", (stage, vid)
    after = _mtimes(work / "results/features")
    assert all(after[name] == t for name, t in feats_before.items())
    changed = {name for name, t in _mtimes(work / "results/shards/features").items()
               if manifests_before.get(name) != t}
    assert changed == {f"{k}.tsv"}


def test_changed_extraction_option_recomputes_what_it_affects(sharded, tmp_path):
    """Another seed for the random extractor weights: I3D and VGGish features of every video are recomputed; the
    DIS flow does not depend on it and is not (its shards rerun and find it current)."""
    work = _copy(sharded, tmp_path)
    overlay = write_config(tmp_path / "seed.yaml", {"extract": {"seed": 1}})
    snakemake(work, "failures", "--configfile", str(work / "cfg.yaml"), str(overlay))   # both, in this order
    for stage in ("i3d", "vggish", "features"):
        status = _manifests(work, stage)
        assert all(status[v] == "done" for v in sharded.ids), (stage, status)
    assert all(_manifests(work, "flow")[v] == "cached" for v in sharded.ids)
    assert read_json(work / "results/features" / f"{sharded.ids[0]}.json")["settings"]["seed"] == 1


def test_forcerun_i3d_recomputes_that_stage_only(sharded, tmp_path):
    work = _copy(sharded, tmp_path)
    vggish_before = _mtimes(work / "results/parts/vggish")
    i3d_before = _mtimes(work / "results/parts/i3d")
    snakemake(work, "failures", "--forcerun", "i3d", configfile=work / "cfg.yaml")
    assert all(_manifests(work, "i3d")[v] == "done" for v in sharded.ids)
    assert all(_manifests(work, "features")[v] == "done" for v in sharded.ids)   # merged from the new parts
    assert _mtimes(work / "results/parts/vggish") == vggish_before
    after = _mtimes(work / "results/parts/i3d")
    assert all(after[f"{v}.json"] != i3d_before[f"{v}.json"] for v in sharded.ids)
    # a later run without --forcerun does not redo it again
    assert dry_run(work, "failures", configfile=work / "cfg.yaml") == {}


def test_redo_one_video(sharded, tmp_path):
    """`touch results/raw/ID.mp4 && snakemake` (README): that video is recomputed from its download, the other
    videos of its shard come from the cache, other shards do not rerun."""
    work = _copy(sharded, tmp_path)
    vid = sharded.ids[0]
    k = shard_of(vid, SHARDS)
    before = {s: _mtimes(work / "results/shards" / s) for s in STAGES}
    features_before = _mtimes(work / "results/features")
    subprocess.run(["touch", "--", f"results/raw/{vid}.mp4"], cwd=work, check=True)
    snakemake(work, "failures", configfile=work / "cfg.yaml")
    for stage in STAGES:
        rows = {r.id: r.status for r in read_manifest(work / "results/shards" / stage / f"{k}.tsv")}
        assert rows[vid] == "done", stage
        assert all(s in ("cached", "failed", "skipped") for v, s in rows.items() if v != vid), (stage, rows)
        after = _mtimes(work / "results/shards" / stage)
        assert {n for n, t in after.items() if before[stage].get(n) != t} == {f"{k}.tsv"}, stage
    after = _mtimes(work / "results/features")
    assert {n for n, t in after.items() if features_before[n] != t} == {
        f"{vid}{x}" for x in ("_rgb.npy", "_flow.npy", "_vggish.npy", ".json")}
