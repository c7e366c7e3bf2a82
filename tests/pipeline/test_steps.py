"""unav.pipeline.steps: merging the per-stream feature parts, restricting the annotations to available features."""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

from unav.data.features import check_provenance
from unav.errors import UnavError
from unav.features.provenance import FeatureProvenance
from unav.features.settings import ExtractSettings
from unav.pipeline.step_cli import main
from unav.pipeline.steps import merge_features, merge_provenance, subset_annotations


def _part(d, vid, streams, rows, extra=None):
    d.mkdir(parents=True, exist_ok=True)
    settings = {"streams": streams, "crop": 32, "seed": 0, "fps": 25.0, **(extra or {})}
    settings["streams"] = streams
    for s in streams:
        np.save(d / f"{vid}_{s}.npy", np.full((rows, 128 if s == "vggish" else 1024), len(s), np.float32))
    prov = {"id": vid, "settings": settings, "rows": {s: rows for s in streams}, "frames": rows * 8 + 16,
            "files": {s: f"{vid}_{s}.npy" for s in streams}, "weights": {s: "random" for s in streams}}
    (d / f"{vid}.json").write_text(json.dumps(prov))
    return prov


def test_merge_provenance_unites_streams():
    a = FeatureProvenance.from_dict({
        "id": "v", "settings": {"streams": ["rgb", "flow"], "crop": 32}, "rows": {"rgb": 4, "flow": 4},
        "files": {"rgb": "v_rgb.npy", "flow": "v_flow.npy"}, "weights": {"rgb": "random"}, "frames": 50})
    b = FeatureProvenance.from_dict({
        "id": "v", "settings": {"streams": ["vggish"], "crop": 32, "hop": 0.32}, "rows": {"vggish": 5},
        "files": {"vggish": "v_vggish.npy"}, "weights": {"vggish": "random"}, "paper_compatible": False})
    m = merge_provenance([b, a])
    assert m.settings["streams"] == ["rgb", "flow", "vggish"] and m.streams == m.settings["streams"]
    assert m.settings["hop"] == 0.32 and m.rows == {"rgb": 4, "flow": 4, "vggish": 5}
    assert m.rows_video == 4 and m.rows_audio == 5 and m.paper_compatible is False and m.frames == 50
    assert m.to_dict()["paper_compatible"] is False and m.weights == {"vggish": "random", "rgb": "random"}
    with pytest.raises(UnavError):
        merge_provenance([a, dataclasses.replace(b, video_id="w")])


def _extract_settings(streams, **values):
    """Settings as `unav extract --streams …` records them (every option, the frame grid)."""
    settings = {**dataclasses.asdict(ExtractSettings(**values)), "fps": 25.0, "stack": 24, "step": 8}
    settings.pop("progress")
    return {**settings, "streams": streams}


def test_merge_provenance_takes_each_setting_from_the_parts_it_shapes(tmp_path):
    """The workflow's parts: I3D with flow of 3 RAFT updates read from a .flow file on a GPU, VGGish on the CPU
    with extract's defaults for the flow options it does not use. The merge is what one run would record."""
    i3d = _part(tmp_path / "i3d", "v", ["rgb", "flow"], 6,
                _extract_settings(["rgb", "flow"], device="cuda", batch_size=32, flow_updates=3, dis_preset="fast"))
    vggish = _part(tmp_path / "vggish", "v", ["vggish"], 6, _extract_settings(["vggish"], hop_seconds=0.5))
    merged = merge_features("v", [tmp_path / "i3d", tmp_path / "vggish"], tmp_path / "feats").settings
    assert merged["flow_updates"] == 3 and merged["dis_preset"] == "fast" and merged["hop_seconds"] == 0.5
    assert merged["device"] == "cuda" and merged["batch_size"] == 32 and merged["streams"] == ["rgb", "flow", "vggish"]
    assert merged == dict(sorted(_extract_settings(["rgb", "flow", "vggish"], device="cuda", batch_size=32,
                                                   flow_updates=3, dis_preset="fast", hop_seconds=0.5).items()))
    assert i3d["settings"]["hop_seconds"] == 0.32 and vggish["settings"]["flow_updates"] == 20


def test_merge_provenance_refuses_parts_that_disagree(tmp_path):
    """Weights mode, seed (every stream) and the frame size (I3D, recorded by both) must agree: the error names
    both part files and every disagreeing key; nothing is written."""
    _part(tmp_path / "i3d", "v", ["rgb", "flow"], 6,
          _extract_settings(["rgb", "flow"], weights="pretrained", seed=1, min_side=320))
    _part(tmp_path / "vggish", "v", ["vggish"], 6, _extract_settings(["vggish"], weights="random", seed=2))
    with pytest.raises(UnavError) as err:
        merge_features("v", [tmp_path / "i3d", tmp_path / "vggish"], tmp_path / "feats")
    msg = str(err.value)
    assert str(tmp_path / "i3d" / "v.json") in msg and str(tmp_path / "vggish" / "v.json") in msg
    assert "weights ('pretrained'" in msg and "seed (1" in msg and "'random'" in msg
    assert "min_side" not in msg   # the VGGish part does not use the frame size: its default is no disagreement
    assert not (tmp_path / "feats").exists()


def test_merge_features_copies_arrays_and_writes_one_provenance(tmp_path):
    for vid in ("v1", "v2"):
        _part(tmp_path / "i3d", vid, ["rgb", "flow"], 6)
        _part(tmp_path / "vggish", vid, ["vggish"], 7)
        merge_features(vid, [tmp_path / "i3d", tmp_path / "vggish"], tmp_path / "feats")
    out = tmp_path / "feats"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{v}{s}" for v in ("v1", "v2") for s in ("_rgb.npy", "_flow.npy", "_vggish.npy", ".json"))
    assert np.load(out / "v1_vggish.npy").shape == (7, 128)
    # a copy, not a hard link: touching an output (as Snakemake does) must not move its input's mtime, else
    # Snakemake finds another output "older than its input" and fails or reruns the merge
    part = tmp_path / "i3d/v1_rgb.npy"
    assert not os.path.samefile(out / "v1_rgb.npy", part)
    assert (out / "v1_rgb.npy").read_bytes() == part.read_bytes()
    before = part.stat().st_mtime_ns
    os.utime(out / "v1_rgb.npy", ns=(before + 5 * 10**9, before + 5 * 10**9))
    assert part.stat().st_mtime_ns == before
    settings = check_provenance(out, ["v1", "v2"])    # both videos agree: the merged settings are consistent
    assert settings["streams"] == ["rgb", "flow", "vggish"]


def test_merge_features_missing_array(tmp_path):
    _part(tmp_path / "i3d", "v1", ["rgb", "flow"], 6)
    (tmp_path / "i3d/v1_flow.npy").unlink()
    with pytest.raises(UnavError, match="v1_flow.npy"):
        merge_features("v1", [tmp_path / "i3d"], tmp_path / "feats")
    assert not (tmp_path / "feats").exists() or not any((tmp_path / "feats").iterdir())


def test_subset_annotations(tmp_path):
    db = {v: {"subset": "train", "duration": 5.0, "annotations": []} for v in ("a", "b", "c")}
    (tmp_path / "ann.json").write_text(json.dumps({"version": "x", "database": db}))
    res = subset_annotations(tmp_path / "ann.json", ["c", "a"], tmp_path / "out.json")
    assert res == {"kept": 2, "dropped": ["b"]}
    out = json.loads((tmp_path / "out.json").read_text())
    assert list(out["database"]) == ["a", "c"] and out["version"] == "x"
    with pytest.raises(UnavError, match="zz"):
        subset_annotations(tmp_path / "ann.json", ["zz"], tmp_path / "o2.json")


def test_subset_annotations_cli_keeps_videos_with_features(tmp_path):
    db = {v: {"subset": "test", "duration": 5.0} for v in ("a", "b")}
    (tmp_path / "ann.json").write_text(json.dumps({"database": db}))
    (tmp_path / "f").mkdir()
    (tmp_path / "f/b.json").write_text("{}")
    assert main(["subset-annotations", "--annotations", str(tmp_path / "ann.json"), "--features",
                 str(tmp_path / "f"), "--out", str(tmp_path / "o.json")]) == 0
    assert list(json.loads((tmp_path / "o.json").read_text())["database"]) == ["b"]


def test_typed_cli_config():
    from unav.pipeline.steps import typed_cli_config

    raw = {"html": "true", "threshold": "0.5", "runtime": "30", "lr": "3e-4", "weights_dir": "null",
           "videos": "my_videos", "set": ["train.lr=3e-4"], "url": "http://127.0.0.1:8000/{id}.mp4"}
    assert typed_cli_config(raw) == {"html": True, "threshold": 0.5, "runtime": 30, "lr": 3e-4, "weights_dir": None,
                                     "videos": "my_videos", "set": ["train.lr=3e-4"],
                                     "url": "http://127.0.0.1:8000/{id}.mp4"}
