"""Dry-run DAG tests: jobs per rule for each source (one job per non-empty shard for the per-video stages),
--forcerun/--until, and what a changed parameter reruns."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .helpers import dry_run, fake_downloads, shard_count, write_config

IDS = ["aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc", "ddddddddddd"]
SUBSETS = ["train", "validation", "test", "test"]
PER_VIDEO = ("trim", "flow", "i3d", "vggish", "features")
AFTER = {"annotations": 1, "train": 1, "predict": 1, "evaluate": 1, "report": 1, "stats": 1, "all": 1}
# a failures table of every shard manifest for the report (not with released features: nothing is extracted)
FAILURES = {"failures": 1}


def annotations(path: Path, ids=IDS) -> Path:
    db = {vid: {"subset": s, "duration": 10.0,
                "annotations": [{"segment": [1.0, 4.0], "label": "dog barking", "label_id": 0}]}
          for vid, s in zip(ids, SUBSETS)}
    path.write_text(json.dumps({"database": db}))
    return path


def youtube_workdir(tmp: Path, downloaded: dict[str, bool] | None = None) -> Path:
    """A youtube-source working directory; `downloaded` fakes finished downloads (id -> ok)."""
    (tmp / "videos.csv").write_text("".join(f"{v},{i},{i + 10}\n" for i, v in enumerate(IDS)))
    annotations(tmp / "ann.json")
    write_config(tmp / "cfg.yaml", {"source": "youtube", "videos_csv": "videos.csv", "annotations": "ann.json"})
    if downloaded is not None:
        fake_downloads(tmp, downloaded)
    return tmp / "cfg.yaml"


def test_youtube_before_download(tmp_path):
    counts = dry_run(tmp_path, configfile=youtube_workdir(tmp_path))
    # one download job per non-empty shard; the later stages appear once the checkpoint download_collect has run
    assert counts == {"download": shard_count(IDS), "download_collect": 1, **FAILURES, **AFTER}


def test_youtube_after_download_failed_videos_drop_out(tmp_path):
    cfg = youtube_workdir(tmp_path, downloaded={v: v != IDS[1] for v in IDS})
    counts = dry_run(tmp_path, configfile=cfg)
    ok = [v for v in IDS if v != IDS[1]]
    assert shard_count(ok) < shard_count(IDS)      # IDS[1] is alone in its shard: that shard drops out
    assert counts == {**{r: shard_count(ok) for r in PER_VIDEO}, **FAILURES, **AFTER}


def test_local_videos(tmp_path):
    (tmp_path / "videos").mkdir()
    for vid in IDS:
        (tmp_path / "videos" / f"{vid}.mp4").write_bytes(b"\0")
    annotations(tmp_path / "ann.json")
    cfg = write_config(tmp_path / "cfg.yaml", {"source": "local", "video_dir": "videos", "annotations": "ann.json"})
    counts = dry_run(tmp_path, configfile=cfg)
    assert counts == {**{r: shard_count(IDS) for r in PER_VIDEO if r != "trim"}, **FAILURES, **AFTER}


def test_released_features(tmp_path):
    feats = tmp_path / "feats"
    feats.mkdir()
    for vid in IDS:
        for s, w in (("rgb", 1024), ("flow", 1024), ("vggish", 128)):
            np.save(feats / f"{vid}_{s}.npy", np.zeros((3, w), np.float32))
    annotations(tmp_path / "ann.json")
    cfg = write_config(tmp_path / "cfg.yaml", {"source": "features", "features_dir": "feats",
                                               "annotations": "ann.json", "stats": False})
    counts = dry_run(tmp_path, configfile=cfg)
    assert counts == {k: v for k, v in AFTER.items() if k != "stats"}


def test_demo_fresh(tmp_path):
    counts = dry_run(tmp_path)
    assert counts == {"demo_videos": 1, "download_collect": 1, **FAILURES, **AFTER}


def test_pretrained_weights_rule(tmp_path):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / f"{IDS[0]}.mp4").write_bytes(b"\0")
    annotations(tmp_path / "ann.json", IDS[:1])
    cfg = write_config(tmp_path / "cfg.yaml", {"source": "local", "video_dir": "videos", "annotations": "ann.json",
                                               "flow": {"method": "raft", "weights": "pretrained"},
                                               "extract": {"weights": "pretrained"}})
    counts = dry_run(tmp_path, "--until", "features", configfile=cfg)
    assert counts == {"weights": 1, "flow": 1, "i3d": 1, "vggish": 1, "features": 1}


# ---- on the finished demo run ------------------------------------------------------------------------------
def test_demo_is_complete(demo_run):
    assert dry_run(demo_run.workdir) == {}


def _demo_shards(demo_run) -> int:
    return shard_count((demo_run.workdir / "results/download/ok.txt").read_text().split())


def test_forcerun_i3d_until_i3d(demo_run):
    counts = dry_run(demo_run.workdir, "--forcerun", "i3d", "--until", "i3d")
    # one job per shard; the flow files are gone, so each i3d job writes its flow itself: no flow job runs
    assert counts == {"i3d": _demo_shards(demo_run)}


def test_extraction_parameter_reruns_downstream(demo_run, tmp_path):
    cfg = write_config(tmp_path / "x.yaml", {"extract": {"seed": 1}})
    counts = dry_run(demo_run.workdir, configfile=cfg)
    n = _demo_shards(demo_run)
    assert counts == {"flow": n, "i3d": n, "vggish": n, "features": n, "failures": 1, "annotations": 1,
                      "train": 1, "predict": 1, "evaluate": 1, "report": 1, "all": 1}


def test_training_parameter_keeps_features(demo_run, tmp_path):
    cfg = write_config(tmp_path / "t.yaml", {"train": {"set": ["train.lr=5e-4"]}})
    counts = dry_run(demo_run.workdir, configfile=cfg)
    assert counts == {"train": 1, "predict": 1, "evaluate": 1, "report": 1, "all": 1}
