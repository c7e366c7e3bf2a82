"""Extraction with one worker process per device (`--device cpu,cpu` here; cuda:0,cuda:1 on a GPU machine):
the same features as one process (to float noise), each video's provenance naming its worker's device, a bad video failing alone."""
import json

import numpy as np
import pytest

from unav.cli import main
from unav.errors import UnavError
from unav.features.devices import extract_videos_on_devices, parse_devices
from unav.features.extract import ExtractSettings, extract_videos

from .test_extract import FAST, make_video


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    good = [make_video(d / f"v{i}.mp4", frames=30 + 8 * i) for i in range(3)]
    silent = make_video(d / "silent.mp4", frames=41, audio=False)   # VGGish needs audio: fails alone
    return good, silent


def test_two_workers_give_the_features_of_one_process(clips, tmp_path):
    good, silent = clips
    settings = ExtractSettings(weights="random", seed=3, **FAST)
    one = extract_videos(good, tmp_path / "one", settings)
    two = extract_videos_on_devices(good + [silent], tmp_path / "two", settings, ["cpu", "cpu"])
    assert sorted(two.done) == sorted(one.done) == ["v0", "v1", "v2"]
    assert list(two.failed) == ["silent"] and "audio" in two.failed["silent"]
    for vid in one.done:
        for stream in ("rgb", "flow", "vggish"):
            a = np.load(tmp_path / "one" / f"{vid}_{stream}.npy")
            b = np.load(tmp_path / "two" / f"{vid}_{stream}.npy")
            # each CPU worker runs on its share of the cores: another summation order, float-level noise only
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        prov = json.loads((tmp_path / "two" / f"{vid}.json").read_text())
        assert prov["settings"]["device"] == "cpu"
    assert not (tmp_path / "two" / "silent_rgb.npy").exists()


def test_cli_device_list_runs_the_workers_and_reports_the_failure(clips, tmp_path, capsys):
    good, silent = clips
    out = tmp_path / "feats"
    code = main(["extract", *map(str, good[:2]), str(silent), "--out-dir", str(out), "--device", "cpu,cpu",
                 "--weights", "random", "--flow-method", "dis", "--crop", "16", "--min-side", "32", "-q"])
    assert code == 1
    assert sorted(p.name for p in out.glob("*.json")) == ["v0.json", "v1.json"]
    assert "silent" in capsys.readouterr().err


def test_device_lists_are_checked_before_any_work():
    assert parse_devices("cpu, cpu") == ["cpu", "cpu"]
    with pytest.raises(UnavError, match="not a device"):
        parse_devices("cpu,gpu0")
    if not __import__("torch").cuda.is_available():
        with pytest.raises(UnavError, match="no CUDA device"):
            parse_devices("cuda:all")
