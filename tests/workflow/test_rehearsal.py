"""The paper's run, rehearsed offline exactly as the README tells a user, with only the substitutions an offline
cluster makes (README, "Full UnAV-100 run"):

- videos: `source: youtube` from resources/presets/unav100.yaml; `download.url_template` points at a mirror (a
  local HTTP server serving the three shared real clips and two synthetic ones) and real yt-dlp fetches them; one
  listed id answers 404 and ends up in failures.tsv while the rest go on;
- weights: `unav weights fetch` from the mirror through a registry file ($UNAV_WEIGHTS_REGISTRY) whose entries are
  files in the exact published layouts with their real sha256, so `extract.weights: pretrained`, RAFT flow and
  checksum verification run as for a user; a corrupted mirror file is refused;
- SLURM: exactly `--profile workflow/profiles/slurm` on a real single-node cluster (scripts/slurm_test_cluster.sh),
  nothing else on the command line; the submitted jobs carry what the profile says;
- installs: the rules run the `unav` of a non-editable install (a wheel) in a separate virtual environment;
- only the budget is shrunk (budget.yaml: small crop, few RAFT updates, narrow localizer, 2 epochs, device: cpu).

Then a second invocation schedules nothing, `--forcerun i3d` plans i3d and only what depends on it, the report
builds, and `unav detect` with the trained checkpoint runs on a shared clip."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from local_http import serve_directory
from packaged_install import install_wheel_venv
from published_weights import sha256, write_mirror_registry, write_published_files
from unav.media.ffmpeg import ffmpeg_exe

from .helpers import BIN, REPO, job_counts, read_json, shard_count

pytestmark = pytest.mark.slow

MISSING = "gone404gone"                 # listed and annotated, but the mirror answers 404
SYNTHETIC = ("synthclipA1", "synthclip-B")
# YouTube id -> (shared clip, subset, start, end of the list's window); windows keep the CPU budget small
REAL = {"--HuBNHXu9I": ("--HuBNHXu9I.mp4", "test", 10.0, 22.0),
        "GGSY1Qvo990": ("v_GGSY1Qvo990.mp4", "train", 2.0, 12.0),
        "ZNVhz7ctTq0": ("v_ZNVhz7ctTq0.mp4", "validation", 0.0, 10.0)}
SYNTHETIC_SECONDS = 6.0
LABELS = ("beep", "flash")
PROFILE_FILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"


def _synthetic_clip(path: Path, seconds: float, freq: int) -> None:
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=320x240:rate=25:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency={freq}:duration={seconds}", "-shortest", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True)


def _copy_checkout(dst: Path) -> Path:
    """The repository as a user has it after `git clone` (plus this session's uncommitted files)."""
    ignore = shutil.ignore_patterns(".git", ".venv", "results", ".snakemake", "weights", "__pycache__", "*.pyc",
                                    "*.egg-info", "build", "dist", ".pytest_cache")
    shutil.copytree(REPO, dst, symlinks=True, ignore=ignore)
    return dst


def _video_list_and_annotations(data: Path) -> None:
    windows = {**{vid: v[2:] for vid, v in REAL.items()}, SYNTHETIC[0]: (0.0, SYNTHETIC_SECONDS),
               SYNTHETIC[1]: (0.0, SYNTHETIC_SECONDS),
               MISSING: (0.0, 10.0)}
    subsets = {**{vid: v[1] for vid, v in REAL.items()}, SYNTHETIC[0]: "train", SYNTHETIC[1]: "test",
               MISSING: "train"}
    data.mkdir(parents=True)
    (data / "download_video.csv").write_text("".join(f"{vid},{s},{e}\n" for vid, (s, e) in windows.items()))
    db = {}
    for i, (vid, (start, end)) in enumerate(windows.items()):
        dur = end - start
        events = [{"segment": [round(0.1 * dur, 2), round(0.5 * dur, 2)], "label": LABELS[i % 2], "label_id": i % 2},
                  {"segment": [round(0.4 * dur, 2), round(0.9 * dur, 2)], "label": LABELS[(i + 1) % 2],
                   "label_id": (i + 1) % 2}]
        db[vid] = {"subset": subsets[vid], "duration": dur, "annotations": events}
    (data / "unav100_annotations.json").write_text(json.dumps({"database": db}))


def _budget(path: Path) -> Path:
    """Only the budget shrinks: the preset's pipeline (RAFT + pretrained I3D/VGGish, the paper's localizer
    config) runs at a small frame size, with few RAFT updates, a narrow localizer and 2 epochs on the CPU."""
    path.write_text(yaml.safe_dump({
        "device": "cpu",
        "flow": {"updates": 1, "batch_size": 8},
        "extract": {"crop": 64, "min_side": 128, "batch_size": 8},
        "train": {"set": ["model.embd_dim=64", "model.n_head=4", "model.dependency.hidden=16", "model.head.dim=64",
                          "train.epochs=2", "train.warmup_epochs=1", "train.batch_size=2",
                          "test.batch_size=2", "dataset.num_workers=0"]},
        "report": {"timelines": 1},
    }, sort_keys=False))
    return path


def _jobs(env: dict) -> list[dict[str, str]]:
    out = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i|%T|%j"], capture_output=True, text=True,
                         env=env, check=True).stdout
    jobs = []
    for line in out.splitlines():
        jid, state, _ = line.split("|", 2)
        info = subprocess.run(["scontrol", "show", "job", jid], capture_output=True, text=True, env=env).stdout
        fields = dict(tok.split("=", 1) for tok in info.split() if "=" in tok)
        jobs.append({"id": jid, "state": state, "info": info, **fields})
    return jobs


def _minutes(limit: str) -> float:
    """SLURM TimeLimit ([D-]HH:MM:SS) in minutes."""
    days, _, hms = limit.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":"))
    return (int(days or 0) * 24 + h) * 60 + m + s / 60


def test_paper_run_rehearsed(slurm, tmp_path, media_dir):
    checkout = _copy_checkout(tmp_path / "unav")
    venv = install_wheel_venv(tmp_path / "install")

    # the mirror: videos under videos/{id}.mp4, weights under weights/
    mirror = tmp_path / "mirror"
    (mirror / "videos").mkdir(parents=True)
    for vid, (clip, *_) in REAL.items():
        shutil.copyfile(media_dir / clip, mirror / "videos" / f"{vid}.mp4")
    for i, vid in enumerate(SYNTHETIC):
        _synthetic_clip(mirror / "videos" / f"{vid}.mp4", SYNTHETIC_SECONDS, 400 + 300 * i)
    published = write_published_files(mirror / "weights")

    with serve_directory(mirror) as base:
        registry = write_mirror_registry(tmp_path / "mirror_registry.yaml", f"{base}/weights", published)
        _video_list_and_annotations(checkout / "data" / "unav100")
        (checkout / "mirror.yaml").write_text(yaml.safe_dump({"download": {"url_template": f"{base}/videos/{{id}}.mp4",
                                                                           "retries": 0}}))
        _budget(checkout / "budget.yaml")

        env = dict(slurm)
        env["PATH"] = os.pathsep.join([str(venv["bin"]), env["PATH"]])   # rules run the installed wheel's unav
        env["UNAV_WEIGHTS_REGISTRY"] = str(registry)
        configs = ["--configfile", "resources/presets/unav100.yaml", "mirror.yaml", "budget.yaml"]
        snakemake = str(BIN / "snakemake")

        def run(*args: str, timeout: float = 2400) -> subprocess.CompletedProcess:
            return subprocess.run([snakemake, *args], cwd=checkout, env=env, capture_output=True, text=True,
                                  timeout=timeout)

        # the README's SLURM command, verbatim but for the two offline config files
        proc = run("--profile", "workflow/profiles/slurm", *configs)
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log[-8000:]

        res = checkout / "results" / "unav100"
        listed = list(REAL) + list(SYNTHETIC)
        # downloads: the 404 is recorded and the rest went on
        with open(res / "download/failures.tsv", newline="") as fh:
            failures = {r["id"]: r for r in csv.DictReader(fh, delimiter="\t")}
        assert set(failures) == {MISSING} and "404" in failures[MISSING]["reason"]
        shown = {r["id"]: r for r in csv.DictReader((res / "report/failures.tsv").read_text().splitlines(),
                                                    delimiter="\t")}
        assert set(shown) == {MISSING} and shown[MISSING]["kind"] == "not_found"
        assert sorted((res / "download/ok.txt").read_text().split()) == sorted(listed)

        # weights were fetched from the mirror, verified, and are what every feature file was made with
        for name, src in published.items():
            assert sha256(checkout / "weights" / src.name) == sha256(src), name
        for vid in listed:
            prov = read_json(res / "features" / f"{vid}.json")
            assert prov["settings"]["flow_method"] == "raft" and prov["settings"]["weights"] == "pretrained", prov
            assert prov["flow"]["method"] == "raft", prov["flow"]
            assert "unverified" not in prov and prov.get("paper_compatible") is not False, prov
            assert set(prov["rows"]) == {"rgb", "flow", "vggish"}
            assert sha256(published["i3d_rgb"]) in json.dumps(prov["weights"]), prov["weights"]
        assert (res / "runs/unav100/best.pt").is_file()
        metrics = read_json(res / "runs/unav100/metrics.json")
        assert metrics["num_videos"] == 2                       # the two test videos with features

        # SLURM: what the profile says reached the scheduler; downloads and weights stayed on this host
        profile = yaml.safe_load(PROFILE_FILE.read_text())
        jobs = _jobs(env)
        assert jobs and all(j["state"] == "COMPLETED" for j in jobs), [(j["id"], j["state"]) for j in jobs]
        names = [j["info"] for j in jobs]
        assert not any("rule_download" in i or "group_download" in i or "rule_weights" in i for i in names)
        shard_jobs = [j for j in jobs if "group_shard" in j["info"]]
        n_shards = shard_count(listed, 128)                # the preset's 128 shards; 5 videos fill a few
        assert len(shard_jobs) == n_shards                 # one SLURM job per shard: its 5 stages grouped
        for vj in shard_jobs:
            assert int(vj["NumCPUs"]) <= profile["cores"]
            assert _minutes(vj["TimeLimit"]) < 5 * 60, vj["TimeLimit"]     # sized by the clips' durations
        assert not any("rule_trim" in i or "rule_i3d" in i for i in names)   # never one job per stage
        (train_job,) = [j for j in jobs if "rule_train" in j["info"]]
        assert int(train_job["NumCPUs"]) == 2                # the rule's threads, not a profile-wide 1
        assert _minutes(train_job["TimeLimit"]) == profile["set-resources"]["train"]["runtime"]

        # a second invocation schedules nothing
        again = run("--profile", "workflow/profiles/slurm", *configs, "--dry-run", "--quiet", "rules")
        assert again.returncode == 0, again.stderr[-4000:]
        assert job_counts(again.stdout + again.stderr) == {}, again.stdout[-3000:]
        # --forcerun i3d: i3d and only what depends on it (the i3d shards write the flow they need themselves)
        force = run("--profile", "workflow/profiles/slurm", *configs, "--forcerun", "i3d", "--dry-run",
                    "--quiet", "rules")
        assert force.returncode == 0, force.stderr[-4000:]
        assert job_counts(force.stdout + force.stderr) == {
            "i3d": n_shards, "features": n_shards, "failures": 1, "annotations": 1, "train": 1, "predict": 1,
            "evaluate": 1, "report": 1, "all": 1}
        # the report
        rep = run(*configs, "--report", "results/unav100/report.html", timeout=600)
        assert rep.returncode == 0, rep.stderr[-4000:]
        assert (checkout / "results/unav100/report.html").stat().st_size > 10_000

        # unav detect with the trained checkpoint on a shared clip (its extractor settings come from the checkpoint)
        det = subprocess.run([str(venv["bin"] / "unav"), "detect", str(media_dir / "v_ZNVhz7ctTq0.mp4"),
                              "--checkpoint", "results/unav100/runs/unav100/best.pt", "--weights-dir", "weights",
                              "--device", "cpu", "--out-dir", "detect", "--no-progress"],
                             cwd=checkout, env=env, capture_output=True, text=True, timeout=900)
        assert det.returncode == 0, det.stdout[-3000:] + det.stderr[-3000:]
        events = read_json(checkout / "detect" / "v_ZNVhz7ctTq0" / "events.json")
        assert isinstance(events["events"], list)

        # a corrupted mirror file is refused with the expected and the actual hash
        bad = mirror / "weights" / "i3d_rgb.pt"
        good_hash = sha256(bad)
        data = bad.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
        fetch = subprocess.run([str(venv["bin"] / "unav"), "weights", "fetch", "i3d_rgb",
                                "--weights-dir", str(tmp_path / "fresh_weights")],
                               cwd=checkout, env=env, capture_output=True, text=True, timeout=300)
        assert fetch.returncode != 0
        assert good_hash in fetch.stderr and sha256(bad) in fetch.stderr, fetch.stderr
        assert not (tmp_path / "fresh_weights" / "i3d_rgb.pt").exists()
