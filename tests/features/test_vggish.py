"""VGGish: log-mel front end against a NumPy transcription of the reference recipe, torchvggish layout, strict
loading, optional PCA, row counts on the real clips, short and silent inputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from unav.errors import UnavError
from unav.features.vggish import (VGGish, build_vggish, extract_vggish, log_mel_examples, mel_matrix,
                                  vggish_rows)
from unav.media.audio import load_audio_16k
from unav.media.ffmpeg import run_ffmpeg


@pytest.fixture(scope="module")
def model() -> VGGish:
    return build_vggish("random", seed=0)


def numpy_examples(wave: np.ndarray, hop_frames: int) -> np.ndarray:
    """features.md §2.2 in plain NumPy, loop-free, float64."""
    n_frames = 1 + (len(wave) - 400) // 160
    idx = np.arange(400)[None, :] + 160 * np.arange(n_frames)[:, None]          # [F, 400]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    spec = np.abs(np.fft.rfft(wave[idx] * window, 512))                          # [F, 257]
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    bins = mel(np.linspace(0, 8000, 257))
    edges = np.linspace(mel(125.0), mel(7500.0), 66)
    lo, ce, hi = edges[:-2], edges[1:-1], edges[2:]
    w = np.maximum(0.0, np.minimum((bins[:, None] - lo) / (ce - lo), (hi - bins[:, None]) / (hi - ce)))
    w[0, :] = 0.0
    log_mel = np.log(spec @ w + 0.01)                                            # [F, 64]
    n = 1 + (n_frames - 96) // hop_frames
    ex = np.arange(96)[None, :] + hop_frames * np.arange(n)[:, None]             # [n, 96]
    return log_mel[ex][:, None].astype(np.float32)                               # [n, 1, 96, 64]


@pytest.mark.parametrize("hop_seconds, hop_frames", [(0.32, 32), (0.96, 96)])
def test_front_end_matches_numpy_recipe(hop_seconds: float, hop_frames: int) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(int(3.3 * 16000)) / 16000
    wave = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))
    got = log_mel_examples(wave, hop_seconds)
    ref = numpy_examples(wave, hop_frames)
    assert got.shape == ref.shape == (1 + (1 + (len(wave) - 400) // 160 - 96) // hop_frames, 1, 96, 64)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=2e-5)


def test_mel_matrix_shape_and_peak() -> None:
    w = mel_matrix()
    assert w.shape == (257, 64) and float(w[0].abs().sum()) == 0.0
    assert float(w.max()) <= 1.0 and bool((w.sum(0) > 0).all())
    # a 1 kHz tone peaks in the band whose centre is nearest 1 kHz on the mel scale
    t = np.arange(16000) / 16000
    ex = log_mel_examples(np.sin(2 * np.pi * 1000 * t), 0.96)[0, 0]  # [96, 64]
    centres = 700 * (np.exp(np.linspace(1127 * np.log1p(125 / 700), 1127 * np.log1p(7500 / 700), 66)[1:-1] / 1127) - 1)
    assert int(ex.mean(0).argmax()) == int(np.abs(centres - 1000).argmin())


def test_short_audio_gives_no_examples() -> None:
    assert log_mel_examples(np.zeros(15000), 0.32).shape == (0, 1, 96, 64)  # 0.94 s < 0.975 s
    assert log_mel_examples(np.zeros(15600), 0.32).shape == (1, 1, 96, 64)
    assert log_mel_examples(np.zeros(100), 0.32).shape == (0, 1, 96, 64)


def test_rows_formula() -> None:
    assert vggish_rows(800768, 44100, 0.32) == 54 and vggish_rows(800768, 44100, 0.96) == 18
    assert vggish_rows(619520, 44100, 0.32) == 41 and vggish_rows(619520, 44100, 0.96) == 14
    assert vggish_rows(15600, 16000) == 1 and vggish_rows(15599, 16000) == 0 and vggish_rows(10, 44100) == 0
    for n in (15600, 16000, 20000, 33333):
        assert vggish_rows(n, 16000, 0.32) == log_mel_examples(np.zeros(n), 0.32).shape[0]


def test_layout_is_torchvggish() -> None:
    state = VGGish().state_dict()
    expected = {"features.0.weight": (64, 1, 3, 3), "features.3.weight": (128, 64, 3, 3),
                "features.6.weight": (256, 128, 3, 3), "features.8.weight": (256, 256, 3, 3),
                "features.11.weight": (512, 256, 3, 3), "features.13.weight": (512, 512, 3, 3),
                "embeddings.0.weight": (4096, 12288), "embeddings.2.weight": (4096, 4096),
                "embeddings.4.weight": (128, 4096)}
    assert len(state) == 18
    for name, shape in expected.items():
        assert tuple(state[name].shape) == shape
        assert tuple(state[name.replace("weight", "bias")].shape) == (shape[0],)


def test_nhwc_flatten_and_final_relu(model: VGGish) -> None:
    x = torch.randn(2, 1, 96, 64)
    with torch.no_grad():
        feats = model.features(x)                                   # [2, 512, 6, 4]
        nhwc = model.embeddings(feats.permute(0, 2, 3, 1).reshape(2, -1))
        nchw = model.embeddings(feats.reshape(2, -1))
        out = model(x)
    assert out.shape == (2, 128) and bool((out >= 0).all())
    assert torch.allclose(out, nhwc) and not torch.allclose(out, nchw)


def test_seeded_random_and_strict_loading(model: VGGish, tmp_path: Path) -> None:
    same, other = build_vggish("random", 0), build_vggish("random", 1)
    assert torch.equal(model.features[0].weight, same.features[0].weight)
    assert not torch.equal(model.features[0].weight, other.features[0].weight)
    path = tmp_path / "vggish-10086976.pth"
    torch.save(other.state_dict(), path)
    loaded = build_vggish(path)
    assert torch.equal(loaded.embeddings[4].weight, other.embeddings[4].weight) and not loaded.training
    state = {k: v for k, v in other.state_dict().items() if k.startswith("features.") and k != "features.0.bias"}
    state["features.16.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(UnavError, match="bad.pth") as err:
        build_vggish(tmp_path / "bad.pth")
    assert "features.0.bias" in str(err.value) and "features.16.weight" in str(err.value)


def test_optional_pca_postprocess(model: VGGish, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vecs, means = np.linalg.qr(rng.standard_normal((128, 128)))[0], rng.standard_normal(128) * 0.1
    pca = tmp_path / "vggish_pca_params-970ea276.pth"
    torch.save({"pca_eigen_vectors": vecs, "pca_means": means}, pca)
    raw, post = model, build_vggish("random", 0, pca_params=pca)
    x = torch.randn(3, 1, 96, 64)
    with torch.no_grad():
        e, q = raw(x), post(x)
    y = (vecs @ (e.double().numpy().T - means[:, None])).T
    expected = np.round((np.clip(y, -2, 2) + 2) * 255 / 4)
    assert np.abs(q.numpy() - expected).max() <= 1 and q.min() >= 0 and q.max() <= 255
    assert not torch.allclose(e, q)  # off by default: raw embeddings differ from the post-processed ones


def test_rows_on_reference_clips(media_dir: Path, model: VGGish) -> None:
    emb = extract_vggish(media_dir / "v_ZNVhz7ctTq0.mp4", model)
    assert emb.shape == (41, 128) and emb.dtype == np.float32 and float(emb.min()) >= 0.0
    wave = load_audio_16k(media_dir / "v_GGSY1Qvo990.mp4", dtype=np.float64)
    assert log_mel_examples(wave, 0.32).shape[0] == 54 and log_mel_examples(wave, 0.96).shape[0] == 18


def test_wave_input_and_batching_agree(model: VGGish) -> None:
    rng = np.random.default_rng(1)
    wave = rng.standard_normal(16000 * 3) * 0.1
    one = extract_vggish(wave, model, batch_size=128)
    small = extract_vggish(wave, model, batch_size=2)
    assert one.shape == (1 + (1 + (48000 - 400) // 160 - 96) // 32, 128)
    np.testing.assert_allclose(one, small, rtol=1e-4, atol=1e-5)


def _clip(path: Path, seconds: float, audio: bool) -> Path:
    args = ["-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size=32x24:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=duration={seconds}", "-c:a", "aac"]
    run_ffmpeg(args + ["-c:v", "libx264", "file:" + str(path)])
    return path


def test_half_second_clip_is_empty(model: VGGish, tmp_path: Path) -> None:
    emb = extract_vggish(_clip(tmp_path / "short.mp4", 0.5, audio=True), model)
    assert emb.shape == (0, 128) and emb.dtype == np.float32


def test_video_without_audio_is_an_error(model: VGGish, tmp_path: Path) -> None:
    with pytest.raises(UnavError, match="no audio stream"):
        extract_vggish(_clip(tmp_path / "mute.mp4", 1.0, audio=False), model)
