import json
import logging

import numpy as np
import pytest

from unav.data.features import check_provenance, load_video_features, missing_feature_files
from unav.errors import UnavError


def _write(d, vid, rgb=10, flow=None, audio=None, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    flow = rgb if flow is None else flow
    audio = rgb if audio is None else audio
    arrays = {"rgb": rng.standard_normal((rgb, 1024)).astype(dtype),
              "flow": rng.standard_normal((flow, 1024)).astype(dtype),
              "vggish": rng.standard_normal((audio, 128)).astype(np.float32)}
    for k, a in arrays.items():
        np.save(d / f"{vid}_{k}.npy", a)
    return arrays


def test_load_concatenates_and_casts(tmp_path):
    a = _write(tmp_path, "-vid", rgb=12, audio=12)
    f = load_video_features(tmp_path, "-vid")
    assert f.visual.dtype == np.float32 and f.visual.shape == (12, 2048)
    assert f.audio.dtype == np.float32 and f.audio.shape == (12, 128)
    np.testing.assert_array_equal(f.visual[:, :1024], a["rgb"].astype(np.float32))
    np.testing.assert_array_equal(f.visual[:, 1024:], a["flow"].astype(np.float32))
    g = load_video_features(tmp_path, "-vid", visual_streams=("flow", "rgb"))
    np.testing.assert_array_equal(g.visual[:, :1024], a["flow"].astype(np.float32))
    h = load_video_features(tmp_path, "-vid", visual_streams=("rgb",))
    assert h.visual.shape == (12, 1024)


def test_truncates_to_shorter_modality(tmp_path, caplog):
    _write(tmp_path, "v", rgb=12, audio=11)
    with caplog.at_level(logging.WARNING):
        f = load_video_features(tmp_path, "v")
    assert f.visual.shape[0] == f.audio.shape[0] == 11
    assert (f.rows_visual, f.rows_audio) == (12, 11)
    assert not caplog.records  # within tolerance: silent
    _write(tmp_path, "w", rgb=20, audio=12)
    with caplog.at_level(logging.WARNING):
        f = load_video_features(tmp_path, "w", max_row_mismatch=3)
    assert f.num_rows == 12
    assert any("'w'" in r.getMessage() and "20" in r.getMessage() for r in caplog.records)


def test_single_modality_keeps_common_time_axis(tmp_path):
    _write(tmp_path, "v", rgb=12, audio=10)
    a = load_video_features(tmp_path, "v", load_visual=False)
    assert a.visual is None and a.audio.shape == (10, 128)
    v = load_video_features(tmp_path, "v", load_audio=False)
    assert v.audio is None and v.visual.shape == (10, 2048)
    (tmp_path / "v_vggish.npy").unlink()  # the other modality absent: nothing to align to
    assert load_video_features(tmp_path, "v", load_audio=False).visual.shape == (12, 2048)


def test_rgb_flow_mismatch_is_error(tmp_path):
    _write(tmp_path, "v", rgb=12, flow=11)
    with pytest.raises(UnavError, match=r"'v'.*rgb: 12, flow: 11"):
        load_video_features(tmp_path, "v")


@pytest.mark.parametrize("case,array,needle", [
    ("nan", "nan", "NaN or Inf"),
    ("inf", "inf", "NaN or Inf"),
    ("1d", np.zeros(1024), "expected [rows, 1024]"),
    ("width", np.zeros((5, 512)), "expected [rows, 1024]"),
    ("empty", np.zeros((0,)), "no rows"),
    ("zero rows", np.zeros((0, 1024)), "no rows"),
    ("int", np.zeros((5, 1024), dtype=np.int32), "floating point"),
])
def test_bad_rgb_file(tmp_path, case, array, needle):
    _write(tmp_path, "bad", rgb=5)
    if isinstance(array, str):
        array = np.zeros((5, 1024))
        array[3, 7] = np.nan if case == "nan" else np.inf
    np.save(tmp_path / "bad_rgb.npy", array)
    with pytest.raises(UnavError) as err:
        load_video_features(tmp_path, "bad")
    assert needle in str(err.value) and "'bad'" in str(err.value) and "bad_rgb.npy" in str(err.value)


def test_missing_and_unreadable(tmp_path):
    _write(tmp_path, "v", rgb=5)
    (tmp_path / "v_vggish.npy").unlink()
    with pytest.raises(UnavError, match=r"v_vggish\.npy is missing"):
        load_video_features(tmp_path, "v")
    assert load_video_features(tmp_path, "v", load_audio=False).visual.shape == (5, 2048)
    (tmp_path / "v_flow.npy").write_bytes(b"not an array")
    with pytest.raises(UnavError, match="v_flow.npy"):
        load_video_features(tmp_path, "v", load_audio=False)
    assert missing_feature_files(tmp_path, ["v", "x"], ["rgb", "vggish"]) == {
        "v": ["v_vggish.npy"], "x": ["x_rgb.npy", "x_vggish.npy"]}


def test_provenance(tmp_path, caplog):
    assert check_provenance(tmp_path, ["a", "b"]) is None
    s = {"fps": 25, "stack": 24, "weights": "i3d:abc"}
    (tmp_path / "a.json").write_text(json.dumps({"settings": s, "frames": 100}))
    (tmp_path / "b.json").write_text(json.dumps({"settings": dict(reversed(list(s.items()))), "frames": 7}))
    assert check_provenance(tmp_path, ["a", "b"]) == s
    with caplog.at_level(logging.WARNING):
        check_provenance(tmp_path, ["a", "b", "c"])
    assert any("no provenance" in r.getMessage() for r in caplog.records)
    (tmp_path / "c.json").write_text(json.dumps({"settings": {**s, "weights": "random"}}))
    with pytest.raises(UnavError) as err:
        check_provenance(tmp_path, ["a", "b", "c"])
    assert "'a'" in str(err.value) and "'c'" in str(err.value) and "weights" in str(err.value)
    # how the features were computed (device, batch size) is not a different setting
    (tmp_path / "c.json").write_text(json.dumps({"settings": {**s, "device": "cuda:1", "batch_size": 64}}))
    assert check_provenance(tmp_path, ["a", "b", "c"]) == s
    (tmp_path / "c.json").write_text(json.dumps({"frames": 3}))
    with pytest.raises(UnavError, match="'c'.*settings"):
        check_provenance(tmp_path, ["a", "c"])


def test_provenance_files_are_read_as_feature_provenance(tmp_path):
    """The synthetic demo's files (video_id, weights named by a string) pass; a malformed entry is refused naming
    the video and the file."""
    s = {"source": "synthetic-features", "seed": 0, "num_classes": 6}
    for vid in ("a", "b"):
        (tmp_path / f"{vid}.json").write_text(json.dumps({"video_id": vid, "settings": s, "weights": "synthetic",
                                                          "rows_video": 9, "rows_audio": 9}))
    assert check_provenance(tmp_path, ["a", "b"]) == s
    (tmp_path / "b.json").write_text(json.dumps({"settings": s, "rows": [9]}))
    with pytest.raises(UnavError, match=r"video 'b': provenance file .*b\.json: 'rows' is \[9\]; expected a mapping"):
        check_provenance(tmp_path, ["a", "b"])
