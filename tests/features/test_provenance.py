"""FeatureProvenance: the `{id}.json` format read and written in one place (extract's files byte for byte, the
synthetic demo's files, unknown keys kept), with errors that name the file; the settings' stream classes."""
from __future__ import annotations

import dataclasses
import json

import pytest

from unav.errors import UnavError
from unav.features.provenance import FeatureProvenance
from unav.features.settings import EXECUTION_KEYS, SETTING_STREAMS, STREAMS, ExtractSettings

EXTRACTED = {  # as `unav extract --streams rgb,flow` writes it (settings shortened)
    "id": "-abc", "video": "clips/-abc.mp4", "settings": {"streams": ["rgb", "flow"], "crop": 224, "fps": 25.0},
    "weights": {"i3d_rgb": {"weights": "i3d_rgb.pt", "sha256": "ab" * 32, "status": "unverified", "unverified": True},
                "raft": {"weights": "random", "seed": 0}},
    "versions": {"unav": "0.1.0", "torch": "2", "numpy": "2", "python": "3.11"}, "video_duration": 10.02,
    "frames": 250, "frames_duration": 10.0, "rows": {"rgb": 29, "flow": 29}, "rows_video": 29, "rows_audio": None,
    "files": {"rgb": "-abc_rgb.npy", "flow": "-abc_flow.npy"}, "flow": {"method": "raft", "updates": 20},
    "unverified": True, "paper_compatible": False}


def test_extract_files_round_trip_byte_for_byte(tmp_path) -> None:
    text = json.dumps(EXTRACTED, indent=2) + "\n"
    prov = FeatureProvenance.from_json(text, "x.json")
    assert prov.to_json() == text and prov.video_id == "-abc" and prov.streams == ["rgb", "flow"]
    assert prov.unverified and not prov.paper_compatible and prov.rows_audio is None
    prov.write(tmp_path / "-abc.json")
    assert (tmp_path / "-abc.json").read_text() == text and FeatureProvenance.read(tmp_path / "-abc.json") == prov
    plain = {k: v for k, v in EXTRACTED.items() if k not in ("flow", "unverified", "paper_compatible")}
    assert FeatureProvenance.from_dict(plain).to_dict() == plain   # the optional keys only when they say something


def test_other_producers_and_unknown_keys() -> None:
    synthetic = {"video_id": "syn0001", "settings": {"source": "synthetic-features", "seed": 0},
                 "weights": "synthetic", "rows_video": 40, "rows_audio": 40}
    prov = FeatureProvenance.from_dict(synthetic)
    assert prov.video_id == "syn0001" and prov.weights == "synthetic" and prov.rows_video == 40 and prov.rows == {}
    later = FeatureProvenance.from_dict({**EXTRACTED, "gpu": "H200"})
    assert later.extra == {"gpu": "H200"} and later.to_dict()["gpu"] == "H200"


@pytest.mark.parametrize("text, message", [
    ("{not json", "x/v.json is not valid JSON"),
    ("[1, 2]", "x/v.json has no 'settings' entry"),
    ('{"settings": "released"}', "x/v.json has no 'settings' entry"),
    ('{"settings": {}, "rows": {"rgb": 2.5}}', "x/v.json: 'rows' holds {'rgb': 2.5}; expected whole row counts"),
    ('{"settings": {}, "frames": "many"}', "x/v.json: 'frames' is 'many'; expected a frame count"),
    ('{"settings": {}, "unverified": "yes"}', "x/v.json: 'unverified' is 'yes'; expected true or false"),
    ('{"settings": {}, "id": 7}', "x/v.json: 'id' is 7; expected a video id"),
])
def test_malformed_files_are_refused_naming_them(text: str, message: str) -> None:
    with pytest.raises(UnavError) as err:
        FeatureProvenance.from_json(text, "x/v.json")
    assert message in str(err.value)


def test_missing_file_is_named(tmp_path) -> None:
    with pytest.raises(UnavError, match=f"provenance file {tmp_path / 'v.json'} is missing"):
        FeatureProvenance.read(tmp_path / "v.json")


def test_every_setting_says_which_streams_it_shapes() -> None:
    names = [f.name for f in dataclasses.fields(ExtractSettings)]
    assert list(SETTING_STREAMS) == names
    assert all(set(streams) <= set(STREAMS) for streams in SETTING_STREAMS.values())
    assert set(EXECUTION_KEYS) == {"device", "batch_size", "weights_dir", "allow_unverified_weights", "chunk",
                                   "progress"}
    assert {k for k, v in SETTING_STREAMS.items() if not v} == set(EXECUTION_KEYS)
    assert SETTING_STREAMS["hop_seconds"] == ("vggish",) and SETTING_STREAMS["flow_updates"] == ("flow",)
    assert SETTING_STREAMS["audio_decode"] == ("vggish",)
