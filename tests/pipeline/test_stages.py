"""The workflow's shard stages (unav.pipeline.stages through `unav workflow-step shard`) on real clips: failures
isolated per video, the per-video cache (done/cached, provenance, freshness, flow files, trim windows), a killed
shard, the features merge, `failures` and the download stage's recorded failures.

The extraction tests share one tree (flow, i3d, vggish and features stages already run once over two good clips,
a silent one and a junk file), copied per test with its mtimes, which are set an hour back so that anything a
test rewrites is visibly newer."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from unav.features.flowfile import read_flow_meta
from unav.media.ffmpeg import ffmpeg_exe
from unav.pipeline.shards import read_manifest
from unav.pipeline.step_cli import main

EXTRACT_OPTS = ["--flow-method", "dis", "--weights", "random", "--crop", "32", "--min-side", "40",
                "--dis-preset", "ultrafast", "--device", "cpu"]
IDS = ["a", "b", "silent", "junk"]
GOOD = {"flow": ["a", "b", "silent"], "i3d": ["a", "b", "silent"], "vggish": ["a", "b"], "features": ["a", "b"]}
ORDER = ("flow", "i3d", "vggish", "features")
STAGE_ARGS = {
    "flow": ["--flow-dir", "flow", "--i3d-dir", "parts/i3d"],
    "i3d": ["--flow-dir", "flow", "--out-dir", "parts/i3d", "--upstream", "shards/flow/0.tsv"],
    "vggish": ["--out-dir", "parts/vggish"],
    "features": ["--parts", "parts/i3d", "parts/vggish", "--out-dir", "feats", "--upstream", "shards/i3d/0.tsv",
                 "--upstream", "shards/vggish/0.tsv"],
}
HOUR = 3600


def make_clip(path: Path, seconds: float = 1.5, audio: bool = True) -> Path:
    args = [ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i",
            f"testsrc2=size=64x48:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=400:duration={seconds}", "-shortest"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p"] + (["-c:a", "aac"] if audio else []) + [str(path)]
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(args, check=True)
    return path


def make_clips(folder: Path) -> None:
    make_clip(folder / "a.mp4")
    make_clip(folder / "b.mp4")
    make_clip(folder / "silent.mp4", audio=False)
    (folder / "junk.mp4").write_bytes(b"this is no video, only a name that says so\n" * 20)


def stage(name: str, *extra: str, ids=IDS) -> dict:
    """Run one shard job of `name` over `ids` in the current folder; {id: Row} of its manifest."""
    items = ids if name == "features" else [f"clips/{v}.mp4" for v in ids]
    opts = EXTRACT_OPTS if name in ("flow", "i3d", "vggish") else []
    manifest = f"shards/{name}/0.tsv"
    assert main(["shard", name, "--manifest", manifest, *STAGE_ARGS[name], *opts, *extra, "--", *items]) == 0
    return {r.id: r for r in read_manifest(manifest)}


def statuses(rows: dict, ids) -> set[str]:
    return {rows[v].status for v in ids}


def snapshot(*folders: str) -> dict[str, int]:
    """relative path -> mtime_ns of every file below the folders."""
    return {str(p): p.stat().st_mtime_ns for f in folders for p in sorted(Path(f).rglob("*")) if p.is_file()}


def shift_mtimes(root: Path, seconds: float) -> None:
    for p in root.rglob("*"):
        st = p.stat()
        delta = int(seconds * 1e9)
        os.utime(p, ns=(st.st_atime_ns + delta, st.st_mtime_ns + delta))


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One intra-op thread: on the 2-core test machine, shared with other jobs, torch's spinning workers cost
    more than they give (results do not depend on it)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def base_tree(tmp_path_factory) -> Path:
    """clips/ + every stage run once (the flow files removed by i3d), all files an hour old."""
    root = tmp_path_factory.mktemp("stages")
    make_clips(root / "clips")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        first = {name: stage(name) for name in ORDER}
    finally:
        os.chdir(cwd)
    (root / "first_rows.json").write_text(json.dumps(
        {name: {v: [r.status, r.kind, r.reason] for v, r in rows.items()} for name, rows in first.items()}))
    shift_mtimes(root, -HOUR)
    return root


@pytest.fixture
def tree(base_tree, tmp_path, monkeypatch) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(base_tree, root)    # copy2: the mtimes come along
    monkeypatch.chdir(root)
    return root


OUTPUTS = ("flow", "parts", "feats")


# ---- isolation ------------------------------------------------------------------------------------------------
def test_failures_are_isolated_and_skipped_downstream(tree):
    first = json.loads((tree / "first_rows.json").read_text())
    assert {v: s for v, (s, _, _) in first["flow"].items()} == {"a": "done", "b": "done", "silent": "done",
                                                                "junk": "failed"}
    assert first["flow"]["junk"][1] == "decode" and "junk.mp4" in first["flow"]["junk"][2]
    assert {v: s[:2] for v, s in first["i3d"].items()} == {
        "a": ["done", ""], "b": ["done", ""], "silent": ["done", ""], "junk": ["skipped", "upstream"]}
    assert {v: s[:2] for v, s in first["vggish"].items()} == {
        "a": ["done", ""], "b": ["done", ""], "silent": ["failed", "no_audio"], "junk": ["failed", "decode"]}
    assert {v: s[:2] for v, s in first["features"].items()} == {
        "a": ["done", ""], "b": ["done", ""], "silent": ["skipped", "upstream"], "junk": ["skipped", "upstream"]}
    # the manifests list every video in item order
    assert [r.id for r in read_manifest("shards/vggish/0.tsv")] == IDS

    # the good videos' files are complete; the failed ones left nothing
    assert sorted(p.name for p in Path("feats").iterdir()) == sorted(
        f"{v}{s}" for v in ("a", "b") for s in ("_rgb.npy", "_flow.npy", "_vggish.npy", ".json"))
    assert not list(Path("parts/vggish").glob("silent*")) and not list(Path("parts/i3d").glob("junk*"))
    assert sorted(p.name for p in Path("parts/i3d").glob("*.json")) == ["a.json", "b.json", "silent.json"]
    prov = json.loads(Path("feats/a.json").read_text())
    assert prov["settings"]["streams"] == ["rgb", "flow", "vggish"]
    assert np.load("feats/a_rgb.npy").shape == (prov["rows"]["rgb"], 1024)
    assert np.load("feats/a_vggish.npy").shape == (prov["rows"]["vggish"], 128)
    assert list(Path("flow").iterdir()) == []     # i3d removed the flow files it used

    # `failures`: each failed video once, at its first failing stage (manifests given in any order)
    manifests = [f"shards/{s}/0.tsv" for s in ("features", "vggish", "i3d", "flow")]
    assert main(["failures", *manifests, "--out", "failures.tsv"]) == 0
    lines = [ln.split("\t") for ln in Path("failures.tsv").read_text().splitlines()]
    assert lines[0] == ["id", "stage", "kind", "reason"]
    assert [ln[:3] for ln in lines[1:]] == [["junk", "flow", "decode"], ["silent", "vggish", "no_audio"]]
    assert "no audio track" in lines[2][3]
    # a manifest outside a stage-named folder is refused
    shutil.copy("shards/flow/0.tsv", "elsewhere.tsv")
    assert main(["failures", "elsewhere.tsv", "--out", "f2.tsv"]) == 2
    assert not Path("f2.tsv").exists()


# ---- caching --------------------------------------------------------------------------------------------------
def test_rerun_is_cached_and_recompute_redoes_everything(tree):
    before = snapshot(*OUTPUTS)
    assert len(before) == 3 * 3 + 2 * 2 + 2 * 4     # i3d: 3 videos x 3 files, vggish 2 x 2, features 2 x 4
    for name in ORDER:
        rows = stage(name)
        assert statuses(rows, GOOD[name]) == {"cached"}, name
        assert rows["junk"].status in ("failed", "skipped")     # failures are not cached: tried again
    assert snapshot(*OUTPUTS) == before    # nothing rewritten (the flow stage wrote no flow file either)

    for name in ORDER:
        rows = stage(name, "--recompute")
        assert statuses(rows, GOOD[name]) == {"done"}, name
        assert rows["junk"].status in ("failed", "skipped")
    after = snapshot(*OUTPUTS)
    assert set(after) == set(before)       # the flow files written by the flow stage were used and removed
    assert [p for p in before if after[p] == before[p]] == []    # every output rewritten


def test_settings_change_recomputes_but_execution_options_do_not(tree):
    for name in ("i3d", "vggish"):
        rows = stage(name, "--seed", "1")
        assert statuses(rows, GOOD[name]) == {"done"}, name
    assert json.loads(Path("parts/i3d/a.json").read_text())["settings"]["seed"] == 1
    assert json.loads(Path("parts/vggish/b.json").read_text())["settings"]["seed"] == 1
    seeded = snapshot("parts")
    # the same settings run another way (batch size) are the same features
    for name, batch in (("i3d", "2"), ("vggish", "3")):
        rows = stage(name, "--seed", "1", "--batch-size", batch)
        assert statuses(rows, GOOD[name]) == {"cached"}, name
    assert snapshot("parts") == seeded


def test_a_newer_clip_recomputes_that_video_only(tree):
    before = snapshot(*OUTPUTS)
    touched = time.time() - 60              # newer than every output (an hour old), older than what comes now
    os.utime("clips/b.mp4", (touched, touched))
    for name in ORDER:
        rows = stage(name)
        assert rows["b"].status == "done", name
        assert statuses(rows, [v for v in GOOD[name] if v != "b"]) == {"cached"}, name
    after = snapshot(*OUTPUTS)
    changed = sorted(p for p in before if after.get(p) != before[p])
    assert changed and all(Path(p).name.startswith("b") for p in changed)
    assert len(changed) == 3 + 2 + 4        # b's i3d, vggish and features files
    # and then it is current again
    for name in ORDER:
        assert statuses(stage(name), GOOD[name]) == {"cached"}, name


# ---- flow files ------------------------------------------------------------------------------------------------
def test_flow_files_kept_removed_cached_and_rewritten(tree):
    good = GOOD["flow"]
    # i3d removed the flow files it used; its outputs record flow made as the settings make it now, so the
    # flow stage has nothing to do and writes no file
    assert list(Path("flow").iterdir()) == []
    rows = stage("flow")
    assert statuses(rows, good) == {"cached"} and rows["junk"].status == "failed"
    assert list(Path("flow").iterdir()) == []

    # --recompute of i3d without flow files: it writes the flow itself and, with --keep-flow, keeps it
    i3d_before = snapshot("parts/i3d")
    assert statuses(stage("i3d", "--recompute", "--keep-flow"), good) == {"done"}
    assert sorted(p.name for p in Path("flow").iterdir()) == ["a.flow", "b.flow", "silent.flow"]
    assert all(snapshot("parts/i3d")[p] != t for p, t in i3d_before.items())
    flow = json.loads(Path("parts/i3d/a.json").read_text())["flow"]
    assert flow["method"] == "dis" and flow["preset"] == "ultrafast" and flow["shape"] == [2, 32, 32]
    assert read_flow_meta("flow/a.flow")["pairs"] == flow["pairs"]
    # without --keep-flow the files it used (here for cached outputs) are removed
    i3d_before = snapshot("parts/i3d")
    assert statuses(stage("i3d"), good) == {"cached"}
    assert list(Path("flow").iterdir()) == [] and snapshot("parts/i3d") == i3d_before

    # another DIS preset: the recorded flow is not what the settings make now
    assert statuses(stage("flow", "--dis-preset", "fast"), good) == {"done"}
    assert read_flow_meta("flow/a.flow")["preset"] == "fast"
    assert statuses(stage("flow", "--dis-preset", "fast"), good) == {"cached"}    # its file is current now


# ---- merge ---------------------------------------------------------------------------------------------------
def test_merge_is_cached_until_a_part_is_rewritten(tree):
    before = snapshot("feats")
    assert statuses(stage("features"), GOOD["features"]) == {"cached"}
    assert snapshot("feats") == before
    vggish = np.load("parts/vggish/a_vggish.npy")
    np.save("parts/vggish/a_vggish.npy", vggish)      # same values, written later
    rows = stage("features")
    assert rows["a"].status == "done" and rows["b"].status == "cached"
    after = snapshot("feats")
    assert sorted(p for p in before if after[p] != before[p]) == sorted(
        f"feats/a{s}" for s in ("_rgb.npy", "_flow.npy", "_vggish.npy", ".json"))
    assert np.array_equal(np.load("feats/a_vggish.npy"), vggish)
    # a part whose provenance no longer merges is a failure of that video only
    Path("parts/vggish/b.json").write_text("{not json")
    rows = stage("features")
    assert rows["b"].status == "failed" and "b" in rows["b"].reason and rows["a"].status == "cached"


def unrecord_setting(key: str, value: object) -> None:
    """Make every provenance of the tree look written before `key` existed (each recorded `value`), mtimes kept."""
    for path in [*Path("parts").rglob("*.json"), *Path("feats").glob("*.json")]:
        doc = json.loads(path.read_text())
        assert doc["settings"].pop(key) == value
        stamp = path.stat().st_mtime_ns
        path.write_text(json.dumps(doc, indent=2) + "\n")
        os.utime(path, ns=(stamp, stamp))


def test_precision_reruns_its_stages_and_files_without_it_count_as_fp32(tree):
    """Features written before the precision setting existed (no "precision" recorded) are current for an fp32
    run, at every stage; a bf16 run recomputes the videos, and parts of different precisions do not merge."""
    before = snapshot(*OUTPUTS)
    unrecord_setting("precision", "fp32")
    for name in ORDER[1:]:
        assert statuses(stage(name), GOOD[name]) == {"cached"}, name
    assert {p for p, t in snapshot(*OUTPUTS).items() if before.get(p) != t} == set()
    rows = stage("vggish", "--precision", "bf16")
    assert statuses(rows, GOOD["vggish"]) == {"done"}
    doc = json.loads(Path("parts/vggish/a.json").read_text())
    assert doc["settings"]["precision"] == "bf16" and doc["paper_compatible"] is False
    assert statuses(stage("vggish", "--precision", "bf16"), GOOD["vggish"]) == {"cached"}
    rows = stage("features")
    assert statuses(rows, GOOD["features"]) == {"failed"} and "precision ('fp32'" in rows["a"].reason


def test_vggish_parts_without_audio_decode_are_recomputed_and_visual_parts_are_not(tree):
    """VGGish features written before the audio_decode setting existed decoded the container directly (its edit
    list applied); the default now is the reference's ADTS route, so those parts are stale. The setting shapes
    VGGish only: flow and I3D parts that do not record it stay current."""
    unrecord_setting("audio_decode", "adts")
    assert statuses(stage("flow"), GOOD["flow"]) == {"cached"}
    assert statuses(stage("i3d"), GOOD["i3d"]) == {"cached"}
    assert statuses(stage("vggish"), GOOD["vggish"]) == {"done"}
    assert json.loads(Path("parts/vggish/a.json").read_text())["settings"]["audio_decode"] == "adts"
    assert statuses(stage("features"), GOOD["features"]) == {"done"}
    assert json.loads(Path("feats/a.json").read_text())["settings"]["audio_decode"] == "adts"


# ---- trim ----------------------------------------------------------------------------------------------------
def test_trim_cached_until_its_window_or_download_changes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b, c = "AAAAAAAAAAA", "BBBBBBBBBBB", "CCCCCCCCCCC"     # c: never downloaded
    make_clip(Path("raw") / f"{a}.mp4")
    make_clip(Path("raw") / f"{b}.mp4")

    def trim(windows):
        Path("list.csv").write_text("".join(f"{v},{s},{e}\n" for v, (s, e) in windows.items()))
        assert main(["shard", "trim", "--manifest", "shards/trim/0.tsv", "--list", "list.csv", "--raw-dir", "raw",
                     "--clips-dir", "clips", "--", a, b, c]) == 0
        return {r.id: r for r in read_manifest("shards/trim/0.tsv")}

    windows = {a: (0, 1), b: (0.2, 1.2), c: (0, 1)}
    rows = trim(windows)
    assert (rows[a].status, rows[b].status, rows[c].status) == ("done", "done", "failed")
    assert json.loads(Path(f"clips/{b}.trim.json").read_text()) == {"start": 0.2, "end": 1.2}
    assert not Path(f"clips/{c}.mp4").exists()
    shift_mtimes(tmp_path / "raw", -2 * HOUR)
    shift_mtimes(tmp_path / "clips", -HOUR)
    before = snapshot("clips")
    rows = trim(windows)
    assert (rows[a].status, rows[b].status) == ("cached", "cached") and snapshot("clips") == before
    rows = trim({**windows, b: (0.5, 1.2)})                     # another window: cut again
    assert (rows[a].status, rows[b].status) == ("cached", "done")
    assert json.loads(Path(f"clips/{b}.trim.json").read_text()) == {"start": 0.5, "end": 1.2}
    os.utime(Path("raw") / f"{a}.mp4")                          # downloaded again: cut again
    rows = trim({**windows, b: (0.5, 1.2)})
    assert (rows[a].status, rows[b].status) == ("done", "cached")
    # an id the list has no window for is refused before any work
    Path("list.csv").write_text(f"{a},0,1\n")
    assert main(["shard", "trim", "--manifest", "shards/trim/1.tsv", "--list", "list.csv", "--raw-dir", "raw",
                 "--clips-dir", "clips", "--", a, b]) == 2
    assert not Path("shards/trim/1.tsv").exists()


# ---- a killed shard ------------------------------------------------------------------------------------------
def test_killed_shard_leaves_complete_files_and_its_rerun_skips_them(tmp_path):
    ids = ["k1", "k2", "k3", "k4"]
    for vid in ids:
        make_clip(tmp_path / "clips" / f"{vid}.mp4")
    out = tmp_path / "parts/i3d"
    manifest = tmp_path / "shards/i3d/0.tsv"
    cmd = [sys.executable, "-m", "unav.cli", "workflow-step", "shard", "i3d", "--manifest", str(manifest),
           "--flow-dir", str(tmp_path / "flow"), "--out-dir", str(out), *EXTRACT_OPTS, "--",
           *[str(tmp_path / "clips" / f"{v}.mp4") for v in ids]]
    log = open(tmp_path / "log.txt", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        # the first video's provenance, and the arrays renamed just after it (write_outputs renames the json
        # first), so that k1 is certainly finished when the kill lands
        first = [out / n for n in ("k1.json", "k1_flow.npy", "k1_rgb.npy")]
        deadline = time.monotonic() + 300
        while not all(p.exists() for p in first) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert rc == -signal.SIGKILL, (tmp_path / "log.txt").read_text()   # killed mid-shard, not finished
    assert not manifest.exists()

    # under final names only complete files: every array has its provenance, and loads
    finished = []
    for prov_path in sorted(out.glob("*.json")):
        prov = json.loads(prov_path.read_text())
        arrays = [out / name for name in prov["files"].values()]
        if all(a.is_file() for a in arrays):
            finished.append(prov["id"])
    for arr in out.glob("*.npy"):
        vid = arr.name.rsplit("_", 1)[0]
        assert (out / f"{vid}.json").is_file(), arr
        assert np.load(arr).shape[1] == 1024
    assert "k1" in finished and len(finished) < len(ids)

    assert main(["shard", "i3d", "--manifest", str(manifest), "--flow-dir", str(tmp_path / "flow"),
                 "--out-dir", str(out), *EXTRACT_OPTS, "--",
                 *[str(tmp_path / "clips" / f"{v}.mp4") for v in ids]]) == 0
    rows = {r.id: r.status for r in read_manifest(manifest)}
    assert rows == {v: "cached" if v in finished else "done" for v in ids}
    assert [p.name for p in out.iterdir() if re.fullmatch(r"\..*\.tmp.*", p.name)] == []
    assert [p.name for p in (tmp_path / "flow").iterdir()] == []   # no flow file nor its temporary left
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{v}{s}" for v in ids for s in ("_rgb.npy", "_flow.npy", ".json"))


# ---- download ------------------------------------------------------------------------------------------------
@pytest.fixture
def closed_port():
    """A local port bound but not listening: any connection to it is refused at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def _download(tmp_path, port, retry_failed, ids):
    manifest = tmp_path / "shards/download/0.tsv"
    assert main(["shard", "download", "--manifest", str(manifest), "--raw-dir", str(tmp_path / "raw"),
                 "--status-dir", str(tmp_path / "status"), "--url-template", f"http://127.0.0.1:{port}/{{id}}.mp4",
                 "--retries", "0", "--retry-failed", retry_failed, "--", *ids]) == 0
    return {r.id: r for r in read_manifest(manifest)}


def test_download_recorded_failures_and_successes(tmp_path, closed_port):
    status = tmp_path / "status"
    status.mkdir()
    recorded = {
        "gone": {"id": "gone", "ok": False, "kind": "not_found", "reason": "HTTP 404"},
        "flaky": {"id": "flaky", "ok": False, "kind": "network", "reason": "connection reset"},
        "have": {"id": "have", "ok": True, "kind": "ok", "reason": "", "attempts": 1, "url": "x",
                 "duration": 3.0, "has_audio": True},
    }
    for vid, doc in recorded.items():
        (status / f"{vid}.json").write_text(json.dumps(doc))
    make_clip(tmp_path / "raw" / "have.mp4")
    texts = {vid: (status / f"{vid}.json").read_text() for vid in recorded}
    raw_before = snapshot(str(tmp_path / "raw"))

    rows = _download(tmp_path, closed_port, "none", list(recorded))
    assert (rows["gone"].status, rows["gone"].kind) == ("failed", "not_found")
    assert "HTTP 404" in rows["gone"].reason and "not retried" in rows["gone"].reason
    assert (rows["flaky"].status, rows["flaky"].kind) == ("failed", "network")
    assert rows["have"].status == "cached"
    assert {vid: (status / f"{vid}.json").read_text() for vid in recorded} == texts   # nothing attempted
    assert snapshot(str(tmp_path / "raw")) == raw_before

    rows = _download(tmp_path, closed_port, "transient", list(recorded))
    assert (rows["gone"].status, rows["gone"].kind) == ("failed", "not_found") and rows["have"].status == "cached"
    assert (status / "gone.json").read_text() == texts["gone"] and (status / "have.json").read_text() == texts["have"]
    # the transient failure is tried again: against the closed port, which a new status records
    assert rows["flaky"].status == "failed" and "not retried" not in rows["flaky"].reason
    retried = json.loads((status / "flaky.json").read_text())
    assert retried["attempts"] == 1 and str(closed_port) in retried["url"] and not retried["ok"]
    assert not (tmp_path / "raw/gone.mp4").exists() and not (tmp_path / "raw/flaky.mp4").exists()
    assert snapshot(str(tmp_path / "raw")) == raw_before


def test_only_settings_that_shape_a_stage_s_streams_invalidate_it():
    """A new crop leaves VGGish features current but not I3D ones; a new hop the reverse; the seed and the frame
    grid (not an extractor option) count for both."""
    from unav.pipeline.stages import shaping_differences

    audio = {"streams": ["vggish"], "crop": 32, "seed": 0, "hop_seconds": 0.32, "fps": 25.0, "device": "cpu"}
    video = {**audio, "streams": ["rgb", "flow"]}
    assert shaping_differences(audio, {**audio, "crop": 64}) == []
    assert shaping_differences(video, {**video, "crop": 64}) == ["crop"]
    assert shaping_differences(audio, {**audio, "hop_seconds": 0.5}) == ["hop_seconds"]
    assert shaping_differences(video, {**video, "hop_seconds": 0.5}) == []
    assert shaping_differences(audio, {**audio, "seed": 1}) == ["seed"]
    assert shaping_differences(video, {**video, "fps": 30.0}) == ["fps"]
    assert shaping_differences(video, {**video, "device": "cuda"}) == []     # how, not what
