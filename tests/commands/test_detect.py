"""`unav detect` end to end on the real clips: a folder (batch, one model load) and a local-URL input, valid
JSON/CSV/PNG/HTML, the page checked in headless chromium; bad inputs give clear errors and leave no outputs."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detect_support import (_single_thread, check_page, checkpoints, edited_checkpoint, http_server,  # noqa: F401
                            make_clip)
from unav.cli import main
from unav.views.timeline import timeline_size

REAL = ("--HuBNHXu9I", "v_GGSY1Qvo990", "v_ZNVhz7ctTq0")



def _check_outputs(folder: Path, ground_truth: bool = False) -> dict:
    doc = json.loads((folder / "events.json").read_text())
    assert doc["video_id"] == folder.name and doc["duration"] > 0
    for e in doc["events"]:
        assert set(e) == {"start", "end", "label", "score"}
        assert 0 <= e["start"] <= e["end"] <= doc["duration"] + 1e-6 and e["score"] >= doc["threshold"]
        assert e["label"] in doc["classes"]
    rows = list(csv.DictReader((folder / "events.csv").open()))
    assert len(rows) == len(doc["events"])
    assert [float(r["start"]) for r in rows] == pytest.approx([e["start"] for e in doc["events"]], abs=1e-4)
    labels = {e["label"] for e in doc["events"]} | {g["label"] for g in (doc["ground_truth"] or [])}
    img = np.asarray(Image.open(folder / "timeline.png").convert("RGB"))
    assert (img.shape[1], img.shape[0]) == timeline_size(len(labels), waveform=True, thumbnails=True)
    assert img.std() > 20 and len(np.unique(img[::4, ::4].reshape(-1, 3), axis=0)) > 100   # not blank
    assert (doc["ground_truth"] is not None) == ground_truth
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]              # no temporaries
    return doc


def test_real_clips_folder_batch_with_html(checkpoints, media_dir, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["detect", str(media_dir), "--checkpoint", str(checkpoints["audio"]), "--out-dir", str(out), "--html",
               "--threshold", "0", "--no-progress", "--device", "cpu"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert all(vid in printed for vid in REAL) and "index.html" in printed
    durations = {}
    for vid in REAL:
        doc = _check_outputs(out / vid)
        durations[vid] = doc["duration"]
        assert doc["events"] and doc["feature_settings"]["streams"] == ["vggish"]
        assert (out / vid / "view.html").is_file() and (out / vid / "video.mp4").is_file()
    assert durations["--HuBNHXu9I"] == pytest.approx(60.06, abs=0.1)
    if Path("/usr/bin/chromedriver").exists():
        seen = check_page(out / "index.html")
        assert seen["bars"] == sum(len(json.loads((out / v / "events.json").read_text())["events"]) for v in REAL)
        assert seen["current_time"] == pytest.approx(seen["start"], abs=0.05) and not seen["errors"]


def test_real_clip_from_a_local_url_with_ground_truth(checkpoints, media_dir, tmp_path, capsys):
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"database": {"v_ZNVhz7ctTq0": {"subset": "test", "duration": 14.05, "annotations": [
        {"segment": [2.0, 6.5], "label": "dog barking", "label_id": 0}]}}}))
    out = tmp_path / "out"
    with http_server(media_dir) as base:
        url = f"{base}/v_ZNVhz7ctTq0.mp4"
        rc = main(["detect", url, "--checkpoint", str(checkpoints["av"]), "--out-dir", str(out), "--threshold", "0.0",
                   "--annotations", str(ann), "--html", "--html-video", "both", "--no-progress", "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    folder = out / "v_ZNVhz7ctTq0"
    doc = _check_outputs(folder, ground_truth=True)
    assert doc["source"] == url and doc["ground_truth"] == [{"start": 2.0, "end": 6.5, "label": "dog barking"}]
    assert doc["feature_rows"] == {"rgb": 41, "flow": 41, "vggish": 41}
    assert (folder / "video.mp4").stat().st_size == (media_dir / "v_ZNVhz7ctTq0.mp4").stat().st_size
    assert (folder / "video.webm").read_bytes()[:4] == b"\x1a\x45\xdf\xa3"      # EBML: a WebM copy too
    assert set(doc["timing"]) == {"download", "features", "localize", "timeline", "html"}
    if Path("/usr/bin/chromedriver").exists():
        seen = check_page(folder / "view.html", expect_events=len(doc["events"]))
        assert seen["ready"][2].endswith("video.webm")                          # the VP9/Opus copy plays
        assert seen["rows"] == len({e["label"] for e in doc["events"]} | {"dog barking"})
        assert seen["current_time"] == pytest.approx(seen["start"], abs=0.05)
        assert all(r.startswith("file:") for r in seen["resources"])


def test_missing_file_is_refused_before_any_work(checkpoints, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["detect", str(tmp_path / "nope.mp4"), "--checkpoint", str(checkpoints["audio"]), "--out-dir", str(out)])
    assert rc == 2
    assert "input(s) not found" in capsys.readouterr().err and not out.exists()


def test_non_video_gives_a_clear_error_and_no_output(checkpoints, tmp_path, capsys):
    fake = tmp_path / "holiday.mp4"
    fake.write_text("this is text, not a video\n" * 10)
    out = tmp_path / "out"
    rc = main(["detect", str(fake), "--checkpoint", str(checkpoints["audio"]), "--out-dir", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "holiday" in err and "expected a complete video" in err
    assert not out.exists()


def test_one_bad_video_does_not_stop_the_others(checkpoints, tmp_path, capsys):
    good = make_clip(tmp_path / "good.mp4", 3.0)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    out = tmp_path / "out"
    rc = main(["detect", str(bad), str(good), "--checkpoint", str(checkpoints["audio"]), "--out-dir", str(out),
               "--threshold", "0", "--no-progress"])
    assert rc == 1
    assert "1 of 2 input(s) failed" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["good"]
    _check_outputs(out / "good")


def test_checkpoint_feature_mismatch_is_refused_with_the_reason(checkpoints, tmp_path, capsys):
    clip = make_clip(tmp_path / "c.mp4", 2.0)
    ckpt = checkpoints["av"]
    import torch

    settings = torch.load(ckpt, weights_only=True)["feature_provenance"]
    cases = {
        "unknown_key": ({**settings, "gamma": 2.2}, "gamma"),
        "synthetic": ({"source": "synthetic-features", "seed": 0, "num_classes": 2}, "synthetic features"),
        "none": (None, "no feature provenance"),
        "official": ({"settings": "unav100-released"}, "unav weights fetch i3d_rgb i3d_flow raft_sintel vggish"),
    }
    for name, (prov, expected) in cases.items():
        bad = edited_checkpoint(ckpt, tmp_path / f"{name}.pt", feature_provenance=prov)
        out = tmp_path / f"out_{name}"
        rc = main(["detect", str(clip), "--checkpoint", str(bad), "--out-dir", str(out), "--weights-dir",
                   str(tmp_path / "no-weights")])
        assert rc == 2, name
        assert expected in capsys.readouterr().err, name
        assert not out.exists(), name


def test_download_failure_is_reported(checkpoints, tmp_path, capsys):
    out = tmp_path / "out"
    with http_server(tmp_path) as base:
        rc = main(["detect", f"{base}/missing.mp4", "--checkpoint", str(checkpoints["audio"]), "--out-dir", str(out),
                   "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "download with yt-dlp failed" in err and "404" in err
    assert not out.exists()
