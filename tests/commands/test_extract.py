import hashlib
import json

import numpy as np
import pytest
import torch

from unav.cli import main
from unav.features.i3d import build_i3d
from unav.media.ffmpeg import run_ffmpeg

FAST = ["--weights", "random", "--flow-method", "dis", "--min-side", "32", "--crop", "8", "--batch-size", "64",
        "--no-progress"]


def make_video(path, frames=33, audio=True):
    seconds = frames / 25
    args = ["-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=48x32:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=300:sample_rate=16000:duration={seconds}"]
    run_ffmpeg(args + ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-shortest", str(path)])
    return path


def test_real_clip_with_dashed_id(media_dir, tmp_path):
    # --HuBNHXu9I: 60.1 s at 25 fps -> 1502 frames -> 185 I3D rows.
    rc = main(["extract", str(media_dir / "--HuBNHXu9I.mp4"), "--out-dir", str(tmp_path), "--streams", "rgb", *FAST])
    assert rc == 0
    prov = json.loads((tmp_path / "--HuBNHXu9I.json").read_text())
    assert prov["frames"] == 1502 and prov["rows"] == {"rgb": 185}
    assert np.load(tmp_path / "--HuBNHXu9I_rgb.npy").shape == (185, 1024)


def test_bad_video_does_not_stop_the_others(tmp_path, capsys):
    good = make_video(tmp_path / "good.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    out = tmp_path / "out"
    rc = main(["extract", str(bad), str(good), "--out-dir", str(out), *FAST])
    assert rc == 1
    assert "1 of 2 video(s) failed: bad" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["good.json", "good_flow.npy", "good_rgb.npy", "good_vggish.npy"]


def test_inputs_sharing_an_id_are_refused(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = make_video(tmp_path / "a" / "same.mp4")
    second = make_video(tmp_path / "b" / "same.mp4", frames=40)
    out = tmp_path / "out"
    out.mkdir()
    (out / "same_rgb.npy").write_bytes(b"features made earlier")
    assert main(["extract", str(first), str(second), "--out-dir", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert "same" in err and str(first) in err and str(second) in err
    assert sorted(p.name for p in out.iterdir()) == ["same_rgb.npy"]       # nothing written, nothing replaced
    assert (out / "same_rgb.npy").read_bytes() == b"features made earlier"


def test_streams_subset_and_option_errors(tmp_path, capsys):
    video = make_video(tmp_path / "v.mp4", audio=False)
    assert main(["extract", str(video), "--out-dir", str(tmp_path / "o"), "--streams", "flow", *FAST]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["v.json", "v_flow.npy"]
    with pytest.raises(SystemExit):
        main(["extract", str(video), "--out-dir", str(tmp_path), "--streams", "rgb,depth"])
    assert main(["extract", str(video), "--out-dir", str(tmp_path), "--flow", "a.flow", "--flow", "b.flow", *FAST]) == 2
    assert "one flow file per video" in capsys.readouterr().err


def _registry(tmp_path, sha_rgb):
    reg = tmp_path / "weights.yaml"
    reg.write_text(
        "weights:\n"
        f"  i3d_rgb: {{file: i3d_rgb.pt, url: 'https://example.invalid/i3d_rgb.pt', sha256: '{sha_rgb}'}}\n")
    return reg


def test_pretrained_weights_are_verified_and_stamped(tmp_path, monkeypatch):
    wdir = tmp_path / "w"
    wdir.mkdir()
    state = {k: v for k, v in build_i3d("rgb", seed=42).state_dict().items() if "num_batches" not in k}
    torch.save(state, wdir / "i3d_rgb.pt")
    sha = hashlib.sha256((wdir / "i3d_rgb.pt").read_bytes()).hexdigest()
    video = make_video(tmp_path / "v.mp4", audio=False)
    args = ["extract", str(video), "--streams", "rgb", "--weights-dir", str(wdir), *FAST[2:]]

    monkeypatch.setenv("UNAV_WEIGHTS_REGISTRY", str(_registry(tmp_path, sha)))
    assert main([*args, "--weights", "pretrained", "--out-dir", str(tmp_path / "a")]) == 0
    prov = json.loads((tmp_path / "a" / "v.json").read_text())
    assert prov["weights"]["i3d_rgb"] == {"weights": "i3d_rgb.pt", "sha256": sha, "status": "verified"}
    assert "unverified" not in prov
    # the loaded weights are really used: same rows as the seed-42 random model
    assert main([*args, "--weights", "random", "--seed", "42", "--out-dir", str(tmp_path / "r")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "a" / "v_rgb.npy"), np.load(tmp_path / "r" / "v_rgb.npy"),
                               rtol=1e-5, atol=1e-6)

    monkeypatch.setenv("UNAV_WEIGHTS_REGISTRY", str(_registry(tmp_path, "0" * 64)))
    assert main([*args, "--weights", "pretrained", "--out-dir", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "b").exists()
    assert main([*args, "--weights", "pretrained", "--allow-unverified-weights", "--out-dir", str(tmp_path / "c")]) == 0
    prov = json.loads((tmp_path / "c" / "v.json").read_text())
    assert prov["weights"]["i3d_rgb"]["status"] == "unverified" and prov["unverified"] is True
