"""unav.views.report / `unav report`: tables, timeline choice and the report files."""
from __future__ import annotations

import json

import pytest

from unav.cli import main
from unav.errors import UnavError
from unav.views.report import build_report, choose_timeline_videos, metrics_table, per_class_table

METRICS = {"tiou_thresholds": [0.1, 0.5, 0.9], "mAP": [0.8, 0.5, 0.1], "average_mAP": 0.4666,
           "num_videos": 2, "num_classes": 2,
           "per_class_AP": {"dog": {"label_id": 0, "AP": [1, 0.5, 0], "average": 0.5, "num_gt": 3},
                            "car": {"label_id": 1, "AP": [1, 1, 0.4], "average": 0.8, "num_gt": 1}}}
DB = {"v1": {"subset": "test", "duration": 10.0, "annotations": [{"segment": [1, 2], "label": "dog", "label_id": 0}]},
      "v2": {"subset": "test", "duration": 8.0, "annotations": [
          {"segment": [1, 2], "label": "dog", "label_id": 0}, {"segment": [3, 6], "label": "car", "label_id": 1}]},
      "v3": {"subset": "train", "duration": 5.0, "annotations": [{"segment": [1, 2], "label": "dog", "label_id": 0}] * 5}}


def test_metrics_table():
    assert metrics_table(METRICS).splitlines() == ["tIoU\tmAP (%)", "0.1\t80.00", "0.5\t50.00", "0.9\t10.00",
                                                   "average\t46.66"]
    with pytest.raises(UnavError):
        metrics_table({"tiou_thresholds": [0.1], "mAP": []})


def test_per_class_table_best_first():
    rows = per_class_table(METRICS).splitlines()
    assert rows[0] == "class\tlabel_id\tnum_gt\tAP (%)"
    assert rows[1].startswith("car\t1\t1\t80.00") and rows[2].startswith("dog\t0\t3\t50.00")


def test_timeline_videos_most_events_of_the_split():
    assert choose_timeline_videos(DB, "test", 1) == ["v2"]
    assert choose_timeline_videos(DB, "test", 5) == ["v2", "v1"]
    assert choose_timeline_videos(DB, "test", 0) == []


def test_build_report_and_cli(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(METRICS))
    preds = {"results": {"v2": [{"segment": [3.2, 5.5], "label": "car", "label_id": 1, "score": 0.9}]}}
    (tmp_path / "p.json").write_text(json.dumps(preds))
    (tmp_path / "a.json").write_text(json.dumps({"database": DB}))
    (tmp_path / "failures.tsv").write_text("id\treason\tattempts\turl\nzz\tHTTP 404\t1\thttp://x/zz\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"epoch": 1, "val_average_mAP": 0.2}\n{"epoch": 2, "val_average_mAP": 0.3}\n')
    rc = main(["report", "--metrics", str(tmp_path / "m.json"), "--predictions", str(tmp_path / "p.json"),
               "--annotations", str(tmp_path / "a.json"), "--out-dir", str(tmp_path / "rep"), "--run", str(run),
               "--failures", str(tmp_path / "failures.tsv"), "--timelines", "2"])
    assert rc == 0
    out = tmp_path / "rep"
    assert sorted(p.name for p in (out / "timelines").iterdir()) == ["v1.png", "v2.png"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed_videos"] == ["zz"] and summary["best_epoch"] == {"epoch": 2, "val_average_mAP": 0.3}
    assert summary["timeline_videos"] == ["v2", "v1"] and summary["mAP"]["0.5"] == 0.5
    assert (out / "metrics.tsv").read_text().startswith("tIoU")


def test_missing_metrics_is_an_error(tmp_path):
    with pytest.raises(UnavError, match="does not exist"):
        build_report(tmp_path / "none.json", tmp_path / "p.json", tmp_path / "a.json", tmp_path / "out")
