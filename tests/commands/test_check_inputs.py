"""`unav check-inputs`: a summary for good inputs, exit 2 with the offending line for bad ones."""
from __future__ import annotations

import json
from pathlib import Path

from unav.cli import main

ANN = {"database": {"--HuBNHXu9I": {"subset": "train", "duration": 10},
                    "abcdefghijk": {"subset": "test", "duration": 9.5}}}


def _inputs(tmp_path: Path, csv: str) -> tuple[Path, Path]:
    (tmp_path / "videos.csv").write_text(csv)
    (tmp_path / "ann.json").write_text(json.dumps(ANN))
    return tmp_path / "videos.csv", tmp_path / "ann.json"


def test_good_inputs_summary(tmp_path: Path, capsys) -> None:
    csv, ann = _inputs(tmp_path, "--HuBNHXu9I,0,10\nabcdefghijk,30.5,40\n")
    rc = main(["check-inputs", "--videos-csv", str(csv), "--annotations", str(ann), "--out", str(tmp_path / "s.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "videos=2" in out and "total_seconds=19.5" in out and "inputs OK" in out
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["ok"] and summary["annotations"]["subsets"] == {"test": 1, "train": 1}


def test_bad_line_exits_2_naming_it(tmp_path: Path, capsys) -> None:
    csv, ann = _inputs(tmp_path, "--HuBNHXu9I,0,10\nabc;rm -rf /,0,10\n")
    assert main(["check-inputs", "--videos-csv", str(csv)]) == 2
    assert f"{csv}:2: video id 'abc;rm -rf /' contains unsafe character(s)" in capsys.readouterr().err
    csv.write_text("--HuBNHXu9I,12,10\n")
    assert main(["check-inputs", "--videos-csv", str(csv), "--out", str(tmp_path / "s.json")]) == 2
    assert f"{csv}:1: video --HuBNHXu9I: start 12 is not before end 10" in capsys.readouterr().err
    summary = json.loads((tmp_path / "s.json").read_text())   # the marker says what is wrong
    assert summary["ok"] is False and len(summary["problems"]) == 1 and "start 12" in summary["problems"][0]


def test_every_problem_is_checked_and_listed(tmp_path: Path, capsys) -> None:
    csv, ann = _inputs(tmp_path, "--HuBNHXu9I,0,10\nbad id,0,10\nzzzzzzzzzzz,0,10\nabcdefghijk,5,1\n")
    doc = json.loads(ann.read_text())
    doc["database"]["--HuBNHXu9I"]["subset"] = "trian"
    doc["database"]["abcdefghijk"]["duration"] = -1
    ann.write_text(json.dumps(doc))
    out = tmp_path / "s.json"
    rc = main(["check-inputs", "--videos-csv", str(csv), "--annotations", str(ann), "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    for needle in ("'trian' is not a known subset", "duration: expected a number > 0, got -1",
                   f"{csv}:2: video id 'bad id'", f"{csv}:4: video abcdefghijk: start 5",
                   "line 3: zzzzzzzzzzz", "5 problem(s)"):
        assert needle in err, needle
    summary = json.loads(out.read_text())
    assert summary["ok"] is False and len(summary["problems"]) == 5
    assert summary["video_list"]["videos"] == 2 and summary["annotations"]["problems"] == 2


def test_video_missing_from_annotations(tmp_path: Path, capsys) -> None:
    csv, ann = _inputs(tmp_path, "--HuBNHXu9I,0,10\nzzzzzzzzzzz,0,10\n")
    assert main(["check-inputs", "--videos-csv", str(csv), "--annotations", str(ann)]) == 2
    assert "line 2: zzzzzzzzzzz" in capsys.readouterr().err


def test_local_videos_probed(media_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["check-inputs", "--video-dir", str(media_dir), "--probe"]) == 0
    assert "videos=3" in capsys.readouterr().out
    _, ann = _inputs(tmp_path, "")
    assert main(["check-inputs", "--video-dir", str(media_dir), "--annotations", str(ann)]) == 2
    assert "v_GGSY1Qvo990.mp4" in capsys.readouterr().err
    bad = tmp_path / "v"
    bad.mkdir()
    (bad / "clip.mp4").write_text("<html></html>")
    assert main(["check-inputs", "--video-dir", str(bad), "--probe"]) == 2
    assert "clip.mp4" in capsys.readouterr().err
    assert main(["check-inputs"]) == 2
