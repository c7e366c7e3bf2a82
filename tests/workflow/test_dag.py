"""Dry-run DAG tests: jobs per rule for each source, --forcerun/--until, and what a changed parameter reruns."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .helpers import dry_run, write_config

IDS = ["aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc", "ddddddddddd"]
SUBSETS = ["train", "validation", "test", "test"]
PER_VIDEO = ("trim", "flow", "i3d", "vggish", "features")
AFTER = {"annotations": 1, "train": 1, "predict": 1, "evaluate": 1, "report": 1, "stats": 1, "all": 1}


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
        d = tmp / "results" / "download"
        (d / "status").mkdir(parents=True)
        (tmp / "results" / "raw").mkdir(parents=True)
        for vid, ok in downloaded.items():
            (d / "status" / f"{vid}.json").write_text(json.dumps({"id": vid, "ok": ok, "kind": "ok" if ok else "not_found",
                                                                  "reason": "" if ok else "HTTP 404"}))
            if ok:
                (tmp / "results" / "raw" / f"{vid}.mp4").write_bytes(b"\0")
        (d / "ok.txt").write_text("".join(f"{v}\n" for v, ok in downloaded.items() if ok))
        (d / "failures.tsv").write_text("id\treason\tattempts\turl\n" +
                                        "".join(f"{v}\tHTTP 404\t1\tx\n" for v, ok in downloaded.items() if not ok))
    return tmp / "cfg.yaml"


def test_youtube_before_download(tmp_path):
    counts = dry_run(tmp_path, configfile=youtube_workdir(tmp_path))
    # per-video stages appear once the checkpoint download_collect has run
    assert counts == {"download": len(IDS), "download_collect": 1, **AFTER}


def test_youtube_after_download_failed_videos_drop_out(tmp_path):
    cfg = youtube_workdir(tmp_path, downloaded={v: v != IDS[1] for v in IDS})
    counts = dry_run(tmp_path, configfile=cfg)
    assert counts == {**{r: len(IDS) - 1 for r in PER_VIDEO}, **AFTER}


def test_local_videos(tmp_path):
    (tmp_path / "videos").mkdir()
    for vid in IDS:
        (tmp_path / "videos" / f"{vid}.mp4").write_bytes(b"\0")
    annotations(tmp_path / "ann.json")
    cfg = write_config(tmp_path / "cfg.yaml", {"source": "local", "video_dir": "videos", "annotations": "ann.json"})
    counts = dry_run(tmp_path, configfile=cfg)
    assert counts == {**{r: len(IDS) for r in PER_VIDEO if r != "trim"}, **AFTER}


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
    assert counts == {"demo_videos": 1, "download_collect": 1, **AFTER}


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


def test_forcerun_i3d_until_i3d(demo_run):
    counts = dry_run(demo_run.workdir, "--forcerun", "i3d", "--until", "i3d")
    n = len((demo_run.workdir / "results/download/ok.txt").read_text().split())
    # flow files are temp(): removed after I3D used them, so redoing I3D regenerates them; nothing else runs
    assert counts == {"i3d": n, "flow": n}


def test_extraction_parameter_reruns_downstream(demo_run, tmp_path):
    cfg = write_config(tmp_path / "x.yaml", {"extract": {"seed": 1}})
    counts = dry_run(demo_run.workdir, configfile=cfg)
    n = len((demo_run.workdir / "results/download/ok.txt").read_text().split())
    assert counts == {"flow": n, "i3d": n, "vggish": n, "features": n, "annotations": 1, "train": 1,
                      "predict": 1, "evaluate": 1, "report": 1, "all": 1}


def test_training_parameter_keeps_features(demo_run, tmp_path):
    cfg = write_config(tmp_path / "t.yaml", {"train": {"set": ["train.lr=5e-4"]}})
    counts = dry_run(demo_run.workdir, configfile=cfg)
    assert counts == {"train": 1, "predict": 1, "evaluate": 1, "report": 1, "all": 1}
