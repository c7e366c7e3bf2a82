"""unav.detection.detector and its stages: the checkpoint's feature settings (reproduced exactly or refused with a reason),
the localizer without a length cap, event lists and all-or-nothing per-video folders."""
from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np
import pytest
import torch

from detect_support import FAST, _single_thread, checkpoints, make_clip  # noqa: F401
from unav.config import load_config
from unav.data.features import VideoFeatures
from unav.detection.detector import Detector
from unav.detection.inputs import expand_inputs
from unav.detection.settings import extract_settings, recorded_settings
from unav.features.settings import EXECUTION_KEYS, required_weights
from unav.errors import UnavError
from unav.detection.event_files import events_csv, to_events
from unav.features.extract import ExtractSettings


def _ckpt(provenance, **cfg_overrides):
    return {"feature_provenance": provenance, "config": load_config(overrides=cfg_overrides), "classes": ["a"]}


def test_recorded_settings_refuse_what_cannot_be_reproduced(checkpoints):
    ckpt = torch.load(checkpoints["av"], weights_only=True)
    settings = recorded_settings(ckpt, "ck.pt")
    assert settings["crop"] == FAST["crop"] and settings["flow_method"] == "dis" and settings["seed"] == 5
    with pytest.raises(UnavError, match="no feature provenance"):
        recorded_settings({"feature_provenance": None}, "ck.pt")
    with pytest.raises(UnavError, match="synthetic features"):
        recorded_settings({"feature_provenance": {"source": "synthetic-features", "seed": 0}}, "ck.pt")
    with pytest.raises(UnavError, match="key.*colour_space.*does not know"):
        recorded_settings({"feature_provenance": {**settings, "colour_space": "yuv"}}, "ck.pt")
    with pytest.raises(UnavError, match="lack key.*crop"):
        recorded_settings({"feature_provenance": {k: v for k, v in settings.items() if k != "crop"}}, "ck.pt")
    with pytest.raises(UnavError, match="fps 30"):
        recorded_settings({"feature_provenance": {**settings, "fps": 30.0}}, "ck.pt")
    with pytest.raises(UnavError, match="provenance 'released-v0'"):
        recorded_settings({"feature_provenance": {"settings": "released-v0"}}, "ck.pt")
    released = recorded_settings({"feature_provenance": {"settings": "unav100-released"}}, "ck.pt")
    assert (released["weights"], released["flow_method"], released["crop"]) == ("pretrained", "raft", 224)


def test_extract_settings_reproduce_the_checkpoint_exactly(checkpoints):
    ckpt = torch.load(checkpoints["av"], weights_only=True)
    recorded = recorded_settings(ckpt, "ck.pt")
    got = dataclasses.asdict(extract_settings(ckpt, "ck.pt", device="cpu", batch_size=3, progress=False))
    for key, value in recorded.items():
        if key not in EXECUTION_KEYS and key not in ("fps", "stack", "step"):
            assert got[key] == (tuple(value) if key == "streams" else value), key
    assert got["batch_size"] == 3
    audio = torch.load(checkpoints["audio"], weights_only=True)
    assert extract_settings(audio, "ck.pt", progress=False).streams == ("vggish",)   # only what the model reads


def test_features_without_audio_decode_are_reproduced_with_the_direct_decode(checkpoints):
    # Features extracted before the setting existed decoded the container directly; the release used ADTS.
    ckpt = torch.load(checkpoints["av"], weights_only=True)
    settings = recorded_settings(ckpt, "ck.pt")
    assert settings["audio_decode"] == "adts"
    legacy = {**ckpt, "feature_provenance": {k: v for k, v in settings.items() if k != "audio_decode"}}
    assert extract_settings(legacy, "ck.pt", progress=False).audio_decode == "direct"
    assert recorded_settings({"feature_provenance": {"settings": "unav100-released"}}, "ck.pt")["audio_decode"] == "adts"


def test_model_grid_and_streams_must_match(checkpoints):
    settings = recorded_settings(torch.load(checkpoints["av"], weights_only=True), "ck.pt")
    with pytest.raises(UnavError, match="feature grid"):
        extract_settings(_ckpt(settings, dataset={"feat_stride": 4}), "ck.pt")
    with pytest.raises(UnavError, match="reads stream.*vggish"):
        extract_settings(_ckpt({**settings, "streams": ["rgb", "flow"]}), "ck.pt")


def test_official_checkpoint_names_the_weights_to_fetch(tmp_path):
    with pytest.raises(UnavError) as err:
        extract_settings(_ckpt({"settings": "unav100-released"}), "official.pt", weights_dir=str(tmp_path))
    msg = str(err.value)
    assert f"unav weights fetch i3d_rgb i3d_flow raft_sintel vggish --weights-dir {tmp_path}" in msg
    assert "RAFT flow, 224 crop" in msg
    settings = dataclasses.replace(ExtractSettings(), weights="pretrained", flow_method="dis")
    assert required_weights(settings) == ["i3d_rgb", "i3d_flow", "vggish"]


def test_detect_reproduces_the_training_features(checkpoints, tmp_path):
    det = Detector(checkpoints["av"], device="cpu", threshold=0.0, progress=False)
    clip = checkpoints["features"].parent / "train1.mp4"
    res = det.detect(str(clip), tmp_path / "out", keep_features=True)
    for stream in ("rgb", "flow", "vggish"):
        ours = np.load(res.folder / "features" / f"train1_{stream}.npy")
        theirs = np.load(checkpoints["features"] / f"train1_{stream}.npy")
        assert np.array_equal(ours, theirs), stream
    doc = json.loads((res.folder / "events.json").read_text())
    assert doc["feature_settings"]["crop"] == FAST["crop"] and doc["paper_compatible"] is False
    assert doc["events"] == res.events and len(res.events) > 0
    assert all(0 <= e["start"] <= e["end"] <= doc["duration"] + 1e-6 for e in res.events)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["train1"]     # no temporaries left


def test_localize_has_no_length_cap(checkpoints):
    det = Detector(checkpoints["av"], device="cpu", threshold=0.0, progress=False)
    rows = 300                                         # ~10x the training max_seq_len of 32 rows
    rng = np.random.default_rng(0)
    feats = VideoFeatures(visual=rng.standard_normal((rows, 2048)).astype(np.float32),
                          audio=rng.standard_normal((rows, 128)).astype(np.float32), rows_visual=rows, rows_audio=rows)
    duration = (rows * 8 + 16) / 25
    results = det.localize(feats, duration, "long")
    assert results and all(0 <= r["segment"][0] <= r["segment"][1] <= duration for r in results)
    assert max(r["segment"][1] for r in results) > 32 * 8 / 25 * 2    # events beyond the training window


def test_events_threshold_order_and_csv():
    results = [{"segment": [5.0, 6.0], "label": "b", "label_id": 1, "score": 0.5},
               {"segment": [1.0, 2.0], "label": "a", "label_id": 0, "score": 0.2},
               {"segment": [1.0, 3.0], "label": "a", "label_id": 0, "score": 0.7}]
    events = to_events(results, 0.3)
    assert [(e["start"], e["score"]) for e in events] == [(1.0, 0.7), (5.0, 0.5)]
    rows = list(csv.DictReader(io.StringIO(events_csv(events))))
    assert [r["label"] for r in rows] == ["a", "b"] and float(rows[1]["end"]) == 6.0


def test_expand_inputs(tmp_path):
    (tmp_path / "v").mkdir()
    for name in ("b.mp4", "a.MKV", "notes.txt", ".hidden.mp4"):
        (tmp_path / "v" / name).write_bytes(b"x")
    assert expand_inputs([str(tmp_path / "v"), "https://example.org/x"]) == \
        [str(tmp_path / "v" / "a.MKV"), str(tmp_path / "v" / "b.mp4"), "https://example.org/x"]
    with pytest.raises(UnavError, match="not found: .*nope.mp4"):
        expand_inputs([str(tmp_path / "nope.mp4")])
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "b.webm").write_bytes(b"x")
    with pytest.raises(UnavError, match="share the video id.*b"):
        expand_inputs([str(tmp_path / "v"), str(tmp_path / "w")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnavError, match="no video files"):
        expand_inputs([str(tmp_path / "empty")])


def test_bad_videos_leave_nothing_behind(checkpoints, tmp_path):
    det = Detector(checkpoints["audio"], device="cpu", progress=False)
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    short = make_clip(tmp_path / "short.mp4", 0.4)         # shorter than one feature window
    out = tmp_path / "out"
    with pytest.raises(UnavError, match="fake"):
        det.detect(str(fake), out)
    with pytest.raises(UnavError, match="short"):
        det.detect(str(short), out)
    assert list(out.iterdir()) == []
