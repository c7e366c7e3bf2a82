"""Bad inputs stop the workflow before any job starts, with a message naming the key, the line or the file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import snakemake, write_config

IDS = ["aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"]


def _annotations(path: Path, ids=IDS) -> Path:
    db = {vid: {"subset": s, "duration": 10.0,
                "annotations": [{"segment": [1.0, 4.0], "label": "dog barking", "label_id": 0}]}
          for vid, s in zip(ids, ["train", "validation", "test"])}
    path.write_text(json.dumps({"database": db}))
    return path


def _fails(tmp_path: Path, csv_text: str, ann_ids=IDS, extra: dict | None = None) -> str:
    (tmp_path / "videos.csv").write_text(csv_text)
    _annotations(tmp_path / "ann.json", ann_ids)
    cfg = write_config(tmp_path / "cfg.yaml", {"source": "youtube", "videos_csv": "videos.csv",
                                               "annotations": "ann.json", **(extra or {})})
    proc = snakemake(tmp_path, "--dry-run", configfile=cfg, check=False)
    assert proc.returncode != 0, proc.stdout
    assert not (tmp_path / "results").exists(), "a job started"
    return proc.stdout + proc.stderr


def test_valid_list_passes(tmp_path):
    (tmp_path / "videos.csv").write_text("".join(f"{v},0,10\n" for v in IDS))
    _annotations(tmp_path / "ann.json")
    cfg = write_config(tmp_path / "cfg.yaml", {"source": "youtube", "videos_csv": "videos.csv",
                                               "annotations": "ann.json"})
    proc = snakemake(tmp_path, "--dry-run", configfile=cfg)
    assert "download" in proc.stdout


def test_malformed_line(tmp_path):
    out = _fails(tmp_path, f"{IDS[0]},0,10\n{IDS[1]};0;10\n{IDS[2]},0,10\n")
    assert "videos.csv:2" in out


def test_shell_metacharacters_in_id(tmp_path):
    out = _fails(tmp_path, f"{IDS[0]},0,10\n$(rm -rf x),0,10\n")
    assert "videos.csv:2" in out and "unsafe" in out


def test_start_after_end(tmp_path):
    out = _fails(tmp_path, f"{IDS[0]},0,10\n{IDS[1]},0,10\n{IDS[2]},9,3\n")
    assert "videos.csv:3" in out


def test_video_missing_from_annotations(tmp_path):
    out = _fails(tmp_path, "".join(f"{v},0,10\n" for v in IDS), ann_ids=IDS[:2] + ["zzzzzzzzzzz"])
    assert "line 3" in out and IDS[2] in out


@pytest.mark.parametrize("key,value", [("source", "ftp"), ("flow", {"method": "farneback"}),
                                       ("extract", {"crop": "big"}), ("unknown_key", 1)])
def test_config_schema_names_the_key(tmp_path, key, value):
    (tmp_path / "videos.csv").write_text("".join(f"{v},0,10\n" for v in IDS))
    out = _fails(tmp_path, "".join(f"{v},0,10\n" for v in IDS), extra={key: value})
    assert key in out or str(value) in out


def test_config_on_the_command_line(tmp_path):
    """--config videos_csv=… annotations=… replaces the top-level keys (and is validated like a file)."""
    (tmp_path / "videos.csv").write_text(f"{IDS[0]},0,10\n{IDS[1]},5,1\n")
    _annotations(tmp_path / "ann.json")
    proc = snakemake(tmp_path, "--dry-run", "--config", "source=youtube", "videos_csv=videos.csv",
                     "annotations=ann.json", check=False)
    assert proc.returncode != 0
    assert "videos.csv:2" in proc.stdout + proc.stderr
