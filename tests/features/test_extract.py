import json

import numpy as np
import pytest
import torch

from unav.errors import UnavError
from unav.features.extract import (ExtractSettings, Extractor, extract_video, extract_videos, flow_codes_to_input,
                                   rgb_to_input)
from unav.features.flowpost import flow_to_codes, pad_frames
from unav.features.provenance import FeatureProvenance
from unav.features.i3d import build_i3d
from unav.features.raft import build_raft
from unav.features.windows import window_count
from unav.media.ffmpeg import run_ffmpeg
from unav.media.frames import iter_frames

FAST = dict(flow_method="dis", min_side=32, crop=16, batch_size=64, progress=False)


def make_video(path, frames=41, size="170x128", audio=True):
    """A 25 fps lavfi test pattern (moving content) with an optional sine audio track."""
    seconds = frames / 25
    args = ["-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={seconds}"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p"] + (["-c:a", "aac", "-shortest"] if audio else []) + [str(path)]
    run_ffmpeg(args)
    return path


def test_preprocessing_ranges():
    assert rgb_to_input(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [-1.0, 1.0]
    q = torch.tensor([0, 128, 256], dtype=torch.int16)
    torch.testing.assert_close(flow_codes_to_input(q), torch.tensor([-1.0, 1 / 255, 257 / 255]))


def _reference_flow_rows(frames, raft, updates, crop, i3d):
    """video_features' way: per window, RAFT on its 25 frames (24 pairs in one call), crop of the padded flow,
    quantise, one window per I3D forward."""
    rows = []
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float()  # [N, 3, H, W] 0..255
    x = pad_frames(2 * (x / 255.0) - 1)  # sintel-mode replicate padding
    with torch.inference_mode():
        for k in range(window_count(len(frames))):
            win = x[8 * k: 8 * k + 25]  # 25 frames
            flow = raft(win[:-1], win[1:], num_flow_updates=updates)[-1]  # [24, 2, Hp, Wp], padded
            codes = torch.from_numpy(flow_to_codes(flow, crop).astype(np.int64))  # [24, 2, crop, crop]
            inp = (2 * codes.float() / 255 - 1).permute(1, 0, 2, 3)[None]  # [1, 2, 24, crop, crop]
            rows.append(i3d.features(inp)[0].numpy())
    return np.stack(rows), codes


def test_flow_pairs_once_equals_per_window_reference(tmp_path):
    torch.manual_seed(0)
    video = make_video(tmp_path / "clip.mp4", frames=33, size="133x128", audio=False)  # padded to 136x128
    prov = extract_video(video, tmp_path / "out", streams=("flow",), flow_method="raft", flow_updates=2,
                         min_side=128, crop=32, batch_size=16, seed=7, progress=False)
    got = np.load(tmp_path / "out" / "clip_flow.npy")
    assert got.shape == (2, 1024) and got.dtype == np.float32
    assert prov["rows"]["flow"] == 2 and prov["flow"]["method"] == "raft" and prov["flow"]["updates"] == 2

    frames = np.concatenate(list(iter_frames(video, min_side=128)))  # [33, 128, 133, 3]
    raft, _ = build_raft("random", seed=7)
    ref, last_codes = _reference_flow_rows(frames, raft, 2, 32, build_i3d("flow", "random", seed=7))
    assert len(np.unique(last_codes)) > 5  # the flow is not trivial
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())


def test_rgb_rows_use_frames_8k_to_8k_plus_23(tmp_path):
    video = make_video(tmp_path / "clip.mp4", frames=41, audio=False)
    extract_video(video, tmp_path, streams=("rgb",), **{**FAST, "crop": 32}, seed=3)
    got = np.load(tmp_path / "clip_rgb.npy")
    frames = np.concatenate(list(iter_frames(video, min_side=32)))  # [41, 32, 42, 3]
    crop = torch.from_numpy(frames[:, :, 5:37]).permute(3, 0, 1, 2)  # [3, 41, 32, 32], left = (42-32)//2
    model = build_i3d("rgb", seed=3)
    with torch.inference_mode():
        ref = torch.cat([model.features(rgb_to_input(crop[None, :, 8 * k: 8 * k + 24])) for k in range(3)])
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name, streams, rows, frames", [
    ("v_GGSY1Qvo990", ("rgb",), 54, 452),            # 19.62 fps, 18.09 s
    ("v_ZNVhz7ctTq0", ("rgb", "flow"), 41, 350),      # 30 fps, 14.0 s
])
def test_real_clip_row_counts(media_dir, tmp_path, name, streams, rows, frames):
    prov = extract_video(media_dir / f"{name}.mp4", tmp_path, streams=streams, **{**FAST, "crop": 8})
    # The reference measured 452 / 350 frames; some ffmpeg builds (e.g. Debian's 5.1) give 451 for the first
    # clip — the row count is the same either way.
    assert frames - 1 <= prov["frames"] <= frames
    assert prov["rows"] == {s: rows for s in streams}
    for stream in streams:
        arr = np.load(tmp_path / f"{name}_{stream}.npy")
        assert arr.shape == (rows, 128 if stream == "vggish" else 1024)
        assert arr.dtype == np.float32 and np.isfinite(arr).all()


def test_provenance_contents(tmp_path):
    video = make_video(tmp_path / "-dashed_id.mp4", frames=33)
    prov = extract_video(video, tmp_path / "out", seed=11, hop_seconds=0.32, **FAST)
    text = (tmp_path / "out" / "-dashed_id.json").read_text()
    assert json.loads(text) == prov
    typed = FeatureProvenance.read(tmp_path / "out" / "-dashed_id.json")
    assert typed.to_json() == text and typed.video_id == "-dashed_id" and typed.rows == {"rgb": 2, "flow": 2, "vggish": 2}
    assert list(prov) == ["id", "video", "settings", "weights", "versions", "video_duration", "frames",
                          "frames_duration", "rows", "rows_video", "rows_audio", "files", "flow", "paper_compatible"]
    assert prov["id"] == "-dashed_id"
    assert prov["settings"]["streams"] == ["rgb", "flow", "vggish"]
    for key in ("device", "batch_size", "weights", "seed", "flow_method", "crop", "min_side", "hop_seconds",
                "reencode", "allow_unverified_weights", "flow_updates"):
        assert key in prov["settings"]
    assert prov["settings"]["crop"] == 16 and prov["settings"]["seed"] == 11
    assert prov["weights"]["i3d_rgb"] == {"weights": "random", "seed": 11}
    assert set(prov["weights"]) == {"i3d_rgb", "i3d_flow", "vggish"}
    assert prov["flow"]["method"] == "dis" and prov["flow"]["paper_compatible"] is False
    assert "not paper-compatible" in prov["flow"]["note"]
    assert prov["paper_compatible"] is False
    assert prov["versions"]["torch"] == torch.__version__ and prov["versions"]["unav"]
    assert prov["frames"] == 33 and prov["frames_duration"] == pytest.approx(1.32)
    assert prov["video_duration"] == pytest.approx(1.32, abs=0.05)
    assert prov["rows_video"] == 2 and prov["rows_audio"] == prov["rows"]["vggish"] == 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "-dashed_id.json", "-dashed_id_flow.npy", "-dashed_id_rgb.npy", "-dashed_id_vggish.npy"]


def test_video_shorter_than_one_window_is_refused(tmp_path):
    """24 frames give no I3D row (the window needs 25): refused before decoding, nothing written; 25 give one."""
    video = make_video(tmp_path / "short.mp4", frames=24, audio=False)
    with pytest.raises(UnavError, match=r"short: .*short.mp4 lasts 0.96 s: too short .* at least 1 s"):
        extract_video(video, tmp_path / "out", streams=("rgb", "flow"), **FAST)
    assert not (tmp_path / "out").exists()
    prov = extract_video(make_video(tmp_path / "one.mp4", frames=25, audio=False), tmp_path / "out",
                         streams=("rgb", "flow"), **FAST)
    assert prov["rows"] == {"rgb": 1, "flow": 1} and prov["frames"] == 25


def test_failure_leaves_no_partial_outputs(tmp_path, monkeypatch):
    out = tmp_path / "out"
    silent = make_video(tmp_path / "silent.mp4", frames=33, audio=False)  # video fine, VGGish must fail
    with pytest.raises(UnavError, match="silent: .*no audio track"):
        extract_video(silent, out, **FAST)
    assert not out.exists() or list(out.iterdir()) == []
    # a failure after the I3D streams were computed (VGGish on an undecodable audio track) writes nothing either
    import unav.features.extract as extract_mod

    def broken_audio(*args, **kwargs):   # (runs in the audio thread, beside the visual streams)
        raise UnavError("audio decode failed")

    monkeypatch.setattr(extract_mod, "audio_examples", broken_audio)
    with pytest.raises(UnavError, match="ok: audio decode failed"):
        extract_video(make_video(tmp_path / "ok.mp4", frames=33), out, **FAST)
    assert not out.exists() or list(out.iterdir()) == []
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(make_video(tmp_path / "whole.mp4", frames=33).read_bytes()[:3000])
    with pytest.raises(UnavError, match="broken"):
        extract_video(broken, out, **FAST)
    assert not out.exists() or list(out.iterdir()) == []


def test_many_videos_reuse_models_and_survive_a_bad_one(tmp_path):
    good = make_video(tmp_path / "good.mp4", frames=33)
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    extractor = Extractor(ExtractSettings(streams=("rgb", "vggish"), **FAST))
    model = extractor.models["rgb"]
    result = extract_videos([bad, good], tmp_path / "out", extractor=extractor)
    assert set(result.done) == {"good"} and set(result.failed) == {"bad"}
    assert "bad.mp4" in result.failed["bad"]
    assert Extractor(ExtractSettings(streams=("rgb",), **FAST)).models["rgb"] is model  # cached per process


def test_flow_file_gives_the_same_features(tmp_path):
    from unav.features.dis import DisFlowComputer
    from unav.features.flowfile import write_flow_file

    video = make_video(tmp_path / "clip.mp4", frames=41, audio=False)
    direct = extract_video(video, tmp_path / "a", streams=("flow",), **FAST)
    codes = DisFlowComputer(crop=16).codes_for_frames(iter_frames(video, min_side=32))
    write_flow_file(tmp_path / "clip.flow", codes, {"method": "dis", "min_side": 32, "frames": 41, "crop": 16})
    from_file = extract_video(video, tmp_path / "b", streams=("flow",), flow_file=tmp_path / "clip.flow", **FAST)
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "clip_flow.npy"), np.load(tmp_path / "b" / "clip_flow.npy"))
    assert direct["rows"] == from_file["rows"] and from_file["flow"]["file"].endswith("clip.flow")
    assert from_file["flow"]["paper_compatible"] is False
    with pytest.raises(UnavError, match="min side"):
        extract_video(video, tmp_path / "c", streams=("flow",), flow_file=tmp_path / "clip.flow",
                      **{**FAST, "min_side": 48})


def test_audio_decode_route_is_a_recorded_vggish_setting(media_dir, tmp_path):
    """The real UnAV-100 clip's MP4 edit list hides 1,024 AAC priming samples: `--audio-decode adts` (the
    default, the released features' route) keeps them, `direct` does not; every VGGish row moves 23 ms, and the
    provenance records which route made the file."""
    from unav.cli import main
    from unav.features.vggish import vggish_rows

    clip = media_dir / "--HuBNHXu9I.mp4"
    feats = {}
    for route in ("adts", "direct"):
        out = tmp_path / route
        assert main(["extract", "--streams", "vggish", "--weights", "random", "--device", "cpu", "--audio-decode",
                     route, "--out-dir", str(out), "-q", "--", str(clip)]) == 0
        assert json.loads((out / "--HuBNHXu9I.json").read_text())["settings"]["audio_decode"] == route
        feats[route] = np.load(out / "--HuBNHXu9I_vggish.npy")
    assert feats["adts"].shape == (vggish_rows(2647040, 44100), 128)
    assert feats["direct"].shape == (vggish_rows(2646000, 44100), 128)
    rows = min(len(feats["adts"]), len(feats["direct"]))
    a, d = feats["adts"][:rows], feats["direct"][:rows]
    assert np.linalg.norm(a - d) / np.linalg.norm(a) > 1e-3
