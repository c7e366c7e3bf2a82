"""`unav train` never overwrites an existing run: without --resume it refuses (naming --resume and --force), and
--force moves the old run aside, never deleting it."""
from __future__ import annotations

import hashlib
import json

import pytest

from unav.cli import main
from unav.errors import UnavError
from unav.engine.train import prepare_run_dir

ANN = {"database": {"v1": {"subset": "train", "duration": 10.0,
                           "annotations": [{"segment": [1.0, 3.0], "label": "dog", "label_id": 0}]}}}


def _old_run(run):
    run.mkdir(parents=True)
    (run / "best.pt").write_bytes(b"a better run's weights")
    (run / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": 2}\n')
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir()}


def test_train_refuses_an_existing_run(tmp_path, capsys):
    run = tmp_path / "run"
    before = _old_run(run)
    (tmp_path / "ann.json").write_text(json.dumps(ANN))
    rc = main(["train", "--annotations", str(tmp_path / "ann.json"), "--features", str(tmp_path / "feats"),
               "--out-dir", str(run)])
    assert rc == 2
    err = capsys.readouterr().err
    assert str(run) in err and "--resume" in err and "--force" in err
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.iterdir()} == before
    assert main(["train", "--annotations", str(tmp_path / "ann.json"), "--features", str(tmp_path / "feats"),
                 "--out-dir", str(run), "--resume", "--force"]) == 2


def test_force_moves_the_old_run_aside(tmp_path):
    run = tmp_path / "run"
    before = _old_run(run)
    aside = prepare_run_dir(run, force=True)
    assert aside is not None and aside.name.startswith("run.old-") and not run.exists()
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in aside.iterdir()} == before
    _old_run(run)
    second = prepare_run_dir(run, force=True)        # a second move in the same second gets its own name
    assert second != aside and second.is_dir() and aside.is_dir()


def test_resume_and_empty_folders_pass(tmp_path):
    run = tmp_path / "run"
    _old_run(run)
    assert prepare_run_dir(run, resume=True) is None and (run / "best.pt").is_file()
    (tmp_path / "empty").mkdir()
    assert prepare_run_dir(tmp_path / "empty") is None and prepare_run_dir(tmp_path / "new") is None
    with pytest.raises(UnavError):
        prepare_run_dir(run)
