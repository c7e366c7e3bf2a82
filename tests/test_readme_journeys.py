"""The README's two journeys, run command by command exactly as the README shows them (read from README.md, so an
edit there is what gets tested), through the installed `unav` console script, in a fresh folder with a fresh HOME.

Offline substitutions, and only these:
- `unav100_official.pth.tar` (Google Drive) is a file in the official checkpoint's exact layout (every name and
  shape of shared/reference/unav_official_state_dict.tsv) with seeded random values;
- `unav weights fetch` downloads from a mirror on 127.0.0.1 ($UNAV_WEIGHTS_REGISTRY): the published files' layouts
  with seeded random values and their real sha256, into the default folder ~/.cache/unav/weights;
- `my.mp4` is the first 2 s of a real UnAV-100 video (shared/media/--HuBNHXu9I.mp4), to keep CPU time small;
- the released features `av_features/` are random arrays in the released layout (float64 I3D, float32 VGGish,
  no provenance file) for 10 real videos of the annotation file (4 train, 2 validation, 4 test), and
  `unav100_annotations.json` of that journey holds those 10 videos;
- `unav train` gets TRAIN_BUDGET appended: the paper's model and settings, but one epoch of batches of 2 without
  warm-up. The paper's 45 epochs of batches of 16 cost about 145 s and 20 GB per batch on 2 CPU cores (the
  dependency block expands every row to 100 x 128 channels), far beyond a test; everything else is as written.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from local_http import serve_directory
from published_weights import PUBLISHED, write_mirror_registry, write_published_files
from reference.official_checkpoint import fake_official, official_layout
from unav.media.ffmpeg import ffmpeg_exe

REPO = Path(__file__).resolve().parents[1]
UNAV = Path(sys.executable).parent / "unav"     # the console script pip installed into .venv/bin
REAL_VIDEO = "--HuBNHXu9I"
TRAIN_BUDGET = " --batch-size 2 --epochs 1 --set train.warmup_epochs=0"


def readme_journeys() -> list[list[str]]:
    """The commands of each ```bash block of the README's "Journeys" section (comments and blank lines dropped)."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Journeys\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [[line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
            for block in blocks]


def run_as_written(command: str, cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    argv = shlex.split(command)
    assert argv[0] == "unav", f"a README journey command that is not `unav …`: {command}"
    proc = subprocess.run([str(UNAV), *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"`{command}` failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return proc


@pytest.fixture(scope="module")
def journeys() -> list[list[str]]:
    blocks = readme_journeys()
    assert len(blocks) >= 2, "the README's Journeys section lost a command block"
    return blocks


@pytest.fixture(scope="module")
def clean_env(tmp_path_factory) -> dict[str, str]:
    """The user's environment: a fresh HOME (so ~/.cache/unav/weights is empty), two threads, no unav overrides."""
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNAV_")}
    env.update(HOME=str(home), OMP_NUM_THREADS="2", MKL_NUM_THREADS="2")
    return env


@pytest.fixture(scope="module")
def video_journey(journeys, clean_env, shared_dir, media_dir, unav100_annotations, tmp_path_factory) -> dict:
    """Journey "I have a video", run once; returns the folder, the environment and each command's output."""
    commands = journeys[0]
    assert [shlex.split(c)[1] for c in commands] == ["import-checkpoint", "weights", "detect"], commands
    work = tmp_path_factory.mktemp("video-journey")
    torch.save(fake_official(official_layout(shared_dir), seed=3), work / "unav100_official.pth.tar")
    (work / "unav100_annotations.json").symlink_to(unav100_annotations)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(media_dir / f"{REAL_VIDEO}.mp4"), "-t", "2",
                    "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(work / "my.mp4")], check=True)
    mirror = tmp_path_factory.mktemp("weights-mirror")
    files = write_published_files(mirror)
    env = dict(clean_env)
    outputs = {}
    with serve_directory(mirror) as base_url:
        env["UNAV_WEIGHTS_REGISTRY"] = str(write_mirror_registry(mirror / "registry.yaml", base_url, files))
        for command in commands:
            outputs[shlex.split(command)[1]] = run_as_written(command, work, env)
    return {"work": work, "env": env, "outputs": outputs, "home": Path(clean_env["HOME"])}


def test_video_journey_import_writes_the_checkpoint_with_the_annotation_classes(video_journey, unav100_annotations):
    from unav.model.checkpoint import load_checkpoint

    ckpt = load_checkpoint(video_journey["work"] / "unav100.pt")
    classes = sorted({a["label"] for v in json.loads(unav100_annotations.read_text())["database"].values()
                      for a in v["annotations"]})
    assert sorted(ckpt["classes"]) == classes and len(classes) == 100


def test_video_journey_fetch_fills_the_default_weights_folder(video_journey):
    folder = video_journey["home"] / ".cache" / "unav" / "weights"
    assert sorted(p.name for p in folder.iterdir() if p.suffix in (".pt", ".pth")) == sorted(PUBLISHED.values())


def test_video_journey_detect_writes_what_the_readme_says(video_journey):
    out = video_journey["work"] / "detections" / "my"
    for name in ("events.json", "events.csv", "timeline.png", "view.html"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, f"{name} missing in {out}"
    doc = json.loads((out / "events.json").read_text())
    assert doc["checkpoint"].endswith("unav100.pt") and doc["weights"] == "ema"
    settings = doc["feature_settings"]    # the paper's recipe with the fetched (mirrored) published weights
    assert settings["weights"] == "pretrained" and doc["paper_compatible"] is True
    assert (settings["flow_method"], settings["crop"], settings["stack"], settings["step"]) == ("raft", 224, 24, 8)
    assert abs(doc["duration"] - 2.0) < 0.2
    for event in doc["events"]:
        assert 0.0 <= event["start"] < event["end"] <= doc["duration"] + 1e-6
    with open(out / "events.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(doc["events"])
    assert doc["files"]["html"] == "view.html" and all((out / v).is_file() for v in doc["files"]["video"])
    assert all(v in (out / "view.html").read_text() for v in doc["files"]["video"])


def released_features(ids: list[str], durations: dict[str, float], folder: Path, seed: int = 0) -> None:
    """Random arrays in the released layout: 25 fps / stride 8 rows for I3D (float64), VGGish rows (float32)."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for vid in ids:
        rows = max(int(durations[vid] * 25 / 8) - 2, 8)
        np.save(folder / f"{vid}_rgb.npy", rng.random((rows, 1024)))
        np.save(folder / f"{vid}_flow.npy", rng.random((rows, 1024)))
        np.save(folder / f"{vid}_vggish.npy", rng.random((rows, 128), dtype=np.float32) * 2)


@pytest.fixture(scope="module")
def features_journey(journeys, clean_env, unav100_annotations, video_journey, tmp_path_factory) -> dict:
    """Journey "I have the released UnAV-100 features", as written, then the README's remark run literally:
    `unav predict --checkpoint unav100.pt` with the checkpoint the video journey imported."""
    commands = journeys[1]
    assert [shlex.split(c)[1] for c in commands] == ["train", "predict", "evaluate"], commands
    work = tmp_path_factory.mktemp("features-journey")
    full = json.loads(unav100_annotations.read_text())
    by_split: dict[str, list[str]] = {}
    for vid, entry in sorted(full["database"].items()):
        by_split.setdefault(entry["subset"], []).append(vid)
    ids = by_split["train"][:4] + by_split["validation"][:2] + by_split["test"][:4]
    subset = dict(full, database={vid: full["database"][vid] for vid in ids})
    (work / "unav100_annotations.json").write_text(json.dumps(subset))
    released_features(ids, {vid: full["database"][vid]["duration"] for vid in ids}, work / "av_features")
    outputs = {shlex.split(c)[1]: run_as_written(c + (TRAIN_BUDGET if shlex.split(c)[1] == "train" else ""),
                                                 work, clean_env) for c in commands}
    (work / "unav100.pt").symlink_to(video_journey["work"] / "unav100.pt")
    predict = next(c for c in commands if shlex.split(c)[1] == "predict")
    official = predict.replace("--checkpoint runs/paper/best.pt", "--checkpoint unav100.pt") \
        .replace("--out pred.json", "--out pred_official.json")
    assert official != predict
    run_as_written(official, work, clean_env)
    return {"work": work, "ids": ids, "outputs": outputs}


def test_features_journey_trains_the_paper_configuration(features_journey):
    run = features_journey["work"] / "runs" / "paper"
    assert (run / "best.pt").is_file()
    import yaml
    saved = yaml.safe_load((run / "config.yaml").read_text())
    from unav.config import load_config

    paper = load_config([], {})
    budget = {("train", "epochs"): 1, ("train", "batch_size"): 2, ("train", "warmup_epochs"): 0}
    for section in ("model", "dataset", "train", "test"):
        for key, value in paper[section].items():
            expected = budget.get((section, key), value)
            assert saved[section][key] == expected, f"{section}.{key}: {saved[section][key]!r} != {expected!r}"
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in epochs] == [1] and epochs[0]["step"] == 2 and np.isfinite(epochs[0]["final_loss"])


@pytest.mark.parametrize("name", ["pred.json", "pred_official.json"])
def test_features_journey_predicts_the_test_videos(features_journey, name):
    doc = json.loads((features_journey["work"] / name).read_text())
    results = doc["results"]
    test_ids = set(features_journey["ids"][6:])
    assert set(results) == test_ids
    for segments in results.values():
        for seg in segments:
            assert seg["segment"][0] <= seg["segment"][1] and 0.0 <= seg["score"] <= 1.0


def test_features_journey_evaluates_with_the_paper_metrics(features_journey):
    metrics = json.loads((features_journey["work"] / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["num_videos"] == 4
    assert metrics["tiou_thresholds"] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    assert all(0.0 <= m <= 1.0 for m in metrics["mAP"]) and 0.0 <= metrics["average_mAP"] <= 1.0
    assert "mAP" in features_journey["outputs"]["evaluate"].stdout + features_journey["outputs"]["evaluate"].stderr


def test_table2_commands_train_the_baselines_they_name_with_the_parameters_the_readme_states():
    """The README's Table 2 block: each `unav train --config …` parses, names a packaged variant of the model it
    promises, and the parameter counts stated there are those of the paper configurations (100 classes)."""
    from unav.cli import command_parser
    from unav.config import load_config
    from unav.model.registry import arch_of, build_model

    text = (REPO / "README.md").read_text()
    table2 = text.split("**Table 2, whole.**", 1)[1]
    block = re.search(r"```bash\n(.*?)```", table2, flags=re.S).group(1)
    parser, _ = command_parser("train")
    archs = {}
    for command in (line for line in block.splitlines() if line.strip()):
        argv = shlex.split(command)
        assert argv[:2] == ["unav", "train"], command
        args = parser.parse_args(argv[2:])
        cfg = load_config(args.config, {})
        archs[args.config[0]] = arch_of(cfg), cfg
    assert {name: arch for name, (arch, _) in archs.items()} == {
        "tadtr_concat": "tadtr", "vsgn_concat": "vsgn", "actionformer_concat": "unav"}
    stated = dict(re.findall(r"(TadTR|VSGN|ActionFormer|UnAV)\s+(\d+\.\d+) M", table2.split("| model |")[0]))
    configs = {"TadTR": archs["tadtr_concat"][1], "VSGN": archs["vsgn_concat"][1],
               "ActionFormer": archs["actionformer_concat"][1], "UnAV": load_config([], {})}
    for name, cfg in configs.items():
        params = sum(p.numel() for p in build_model(cfg, 100).parameters()) / 1e6
        digits = len(stated[name].split(".")[1])
        assert f"{params:.{digits}f}" == stated[name], (name, params, stated[name])
