"""`unav evaluate` end to end on a tiny annotation/prediction pair."""
from __future__ import annotations

import json

import numpy as np

from unav.cli import main


def _write(tmp_path, predictions):
    database = {
        "a": {"subset": "test", "duration": 30.0, "annotations": [
            {"segment": [0.0, 10.0], "label": "dog barking", "label_id": 0},
            {"segment": [12.0, 20.0], "label": "man speaking", "label_id": 1}]},
        "b": {"subset": "test", "duration": 30.0, "annotations": [
            {"segment": [5.0, 15.0], "label": "dog barking", "label_id": 0}]},
        "c": {"subset": "train", "duration": 30.0, "annotations": [
            {"segment": [5.0, 15.0], "label": "dog barking", "label_id": 0}]},
    }
    ann = tmp_path / "annotations.json"
    ann.write_text(json.dumps({"database": database}))
    pred = tmp_path / "predictions.json"
    pred.write_text(json.dumps(predictions))
    return ann, pred


def test_evaluate_writes_metrics_table_and_plot(tmp_path, capsys):
    results = {"a": [{"segment": [0.0, 7.0], "label": "dog barking", "label_id": 0, "score": 0.9},
                     {"segment": [12.0, 20.0], "label": "man speaking", "label_id": 1, "score": 0.8}],
               "b": [{"segment": [5.0, 15.0], "label": "dog barking", "label_id": 0, "score": 0.7}]}
    ann, pred = _write(tmp_path, {"results": results})
    out = tmp_path / "eval" / "metrics.json"
    rc = main(["evaluate", "--annotations", str(ann), "--predictions", str(pred), "--split", "test", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    # dog barking: [0, 7] has tIoU 0.7 exactly (misses at 0.7..0.9), b is found -> AP 1 up to 0.6, then
    # precision [0, 1/2], recall [0, 1/2] -> 1/4. man speaking: 1 everywhere.
    # mAP: 1 at 0.5, 0.6; (1/4 + 1) / 2 = 0.625 at 0.7..0.9; average (6 + 3 * 0.625) / 9 = 0.875.
    assert "tIoU   0.5   0.6   0.7   0.8   0.9   Avg." in text
    assert "mAP  100.0 100.0  62.5  62.5  62.5   87.5" in text
    metrics = json.loads(out.read_text())
    np.testing.assert_allclose(metrics["mAP"], [1] * 6 + [0.625] * 3)
    assert metrics["average_mAP"] == 0.875
    assert set(metrics["per_class_AP"]) == {"dog barking", "man speaking"}
    assert metrics["num_videos"] == 2 and metrics["num_predictions"] == 3
    plot = tmp_path / "eval" / "metrics_per_class_ap.png"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_evaluate_explicit_plot_path_and_split(tmp_path, capsys):
    results = {"c": [{"segment": [5.0, 15.0], "label": "dog barking", "label_id": 0, "score": 0.5}]}
    ann, pred = _write(tmp_path, {"results": results})
    out, plot = tmp_path / "m.json", tmp_path / "figs" / "ap.png"
    rc = main(["evaluate", "--annotations", str(ann), "--predictions", str(pred), "--split", "train",
               "--out", str(out), "--plot", str(plot)])
    assert rc == 0
    assert json.loads(out.read_text())["average_mAP"] == 1.0
    assert plot.is_file() and not (tmp_path / "m_per_class_ap.png").exists()


def test_evaluate_bad_prediction_entry_exits_2_naming_the_video(tmp_path, capsys):
    results = {"a": [{"segment": [0.0, 7.0], "label_id": 0, "score": 0.9}],
               "b": [{"segment": [5.0, 15.0], "label_id": 0, "score": "high"}]}
    ann, pred = _write(tmp_path, {"results": results})
    out = tmp_path / "metrics.json"
    rc = main(["evaluate", "--annotations", str(ann), "--predictions", str(pred), "--out", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "'b'" in err and "score" in err and str(pred) in err
    assert not out.exists()


def test_evaluate_predictions_without_results_exits_2(tmp_path, capsys):
    ann, pred = _write(tmp_path, {"a": []})
    rc = main(["evaluate", "--annotations", str(ann), "--predictions", str(pred), "--out", str(tmp_path / "m.json")])
    assert rc == 2
    assert "'results'" in capsys.readouterr().err
