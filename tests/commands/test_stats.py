import json

import pytest

from unav.cli import main
from unav.data.stats import PLOT_FILES


def write_annotations(path, database):
    path.write_text(json.dumps({"version": "test", "database": database}))
    return path


DATABASE = {
    "v1": {"subset": "train", "duration": 10, "annotations": [
        {"segment": [0, 4], "label": "dog barking", "label_id": 0},
        {"segment": [2, 6], "label": "man speaking", "label_id": 1}]},
    "v2": {"subset": "test", "duration": 20, "annotations": [
        {"segment": [1, 3], "label": "dog barking", "label_id": 0}]},
}


def test_cli_writes_stats_and_plots(tmp_path, capsys):
    ann = write_annotations(tmp_path / "ann.json", DATABASE)
    out = tmp_path / "out"
    assert main(["stats", "--annotations", str(ann), "--out-dir", str(out), "--min-pair-videos", "1"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["videos"] == 2 and stats["events"] == 3 and stats["classes"] == 2
    assert stats["frac_concurrent"] == pytest.approx(0.5)
    assert stats["top_npmi_simultaneous"][0]["count"] == 1
    assert stats["source"] == str(ann)
    for name in PLOT_FILES:
        assert (out / name).stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "videos with concurrent events" in printed and "50.0 %" in printed


def test_cli_no_plots(tmp_path):
    ann = write_annotations(tmp_path / "ann.json", DATABASE)
    out = tmp_path / "out"
    assert main(["stats", "--annotations", str(ann), "--out-dir", str(out), "--no-plots"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["stats.json"]


def test_cli_on_the_real_file(unav100_annotations, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["stats", "--annotations", str(unav100_annotations), "--out-dir", str(out)]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["videos"], stats["events"], stats["classes"]) == (10790, 30059, 100)
    assert all((out / name).stat().st_size > 10_000 for name in PLOT_FILES)
    assert "10790" in capsys.readouterr().out


def test_cli_errors_name_the_file_and_video(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["stats", "--annotations", str(tmp_path / "nope.json"), "--out-dir", str(out)]) == 2
    assert "nope.json does not exist" in capsys.readouterr().err

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["stats", "--annotations", str(bad), "--out-dir", str(out)]) == 2
    assert "bad.json is not valid JSON" in capsys.readouterr().err

    broken = {k: dict(v) for k, v in DATABASE.items()}
    broken["v2"]["annotations"] = {}
    ann = write_annotations(tmp_path / "broken.json", broken)
    assert main(["stats", "--annotations", str(ann), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "broken.json" in err and "video 'v2'" in err and "annotations: expected a list" in err
    assert not out.exists()   # nothing written on error


def test_cli_refuses_what_train_refuses(tmp_path, capsys):
    """Negative starts, events past the end, one label_id for two names: refused, every one listed."""
    broken = json.loads(json.dumps(DATABASE))
    broken["v1"]["annotations"][0]["segment"] = [-2, 4]
    broken["v1"]["annotations"][1]["segment"] = [2, 16]
    broken["v2"]["annotations"][0]["label"] = "cat meowing"
    ann = write_annotations(tmp_path / "broken.json", broken)
    out = tmp_path / "out"
    assert main(["stats", "--annotations", str(ann), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "3 problems" in err and "annotations[0].segment: [-2.0, 4.0] lies outside" in err
    assert "annotations[1].segment: [2.0, 16.0] lies outside the video [0, 10" in err
    assert "label_id 0 is 'cat meowing' here but 'dog barking'" in err
    assert not out.exists()


def test_cli_out_at_a_file_is_refused_first(tmp_path, capsys):
    ann = write_annotations(tmp_path / "ann.json", DATABASE)
    out = tmp_path / "stats.json"
    out.write_text("mine")
    assert main(["stats", "--annotations", str(ann), "--out-dir", str(out)]) == 2
    assert "--out-dir" in capsys.readouterr().err and out.read_text() == "mine"
