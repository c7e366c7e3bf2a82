"""16 kHz mono audio: reference sample counts, channel mean, resampling to int(L*16000/sr), missing audio."""
from __future__ import annotations

import wave as wav_io
from pathlib import Path

import numpy as np
import pytest

from unav.errors import UnavError
from unav.media.audio import decode_pcm, load_audio_16k, resample_16k, to_mono_float
from unav.media.ffmpeg import run_ffmpeg


def tone_clip(path: Path, expr: str, rate: int, seconds: float, video: bool = True) -> Path:
    args = ["-y", "-v", "error"]
    if video:
        args += ["-f", "lavfi", "-i", f"testsrc=size=32x24:rate=25:duration={seconds}"]
    args += ["-f", "lavfi", "-i", f"aevalsrc={expr}:s={rate}:d={seconds}"]
    args += (["-c:v", "libx264"] if video else []) + ["-c:a", "pcm_s16le", "file:" + str(path)]
    run_ffmpeg(args)
    return path


def test_reference_sample_counts(media_dir: Path) -> None:
    pcm, sr = decode_pcm(media_dir / "v_GGSY1Qvo990.mp4")
    assert pcm.shape == (800768, 1) and pcm.dtype == np.int16 and sr == 44100
    wave = load_audio_16k(media_dir / "v_ZNVhz7ctTq0.mp4")
    assert wave.shape == (int(619520 * 16000 / 44100),) and wave.dtype == np.float32
    # The real UnAV-100 clip's edit list hides the AAC encoder's 1,024 priming samples (and 16 at the end): the
    # reference's ADTS route keeps them, a direct decode of the container does not.
    stereo, _ = decode_pcm(media_dir / "--HuBNHXu9I.mp4")
    direct, _ = decode_pcm(media_dir / "--HuBNHXu9I.mp4", route="direct")
    assert stereo.shape == (2647040, 2) and direct.shape == (2646000, 2)
    assert np.array_equal(stereo[1024:1024 + len(direct)], direct)


def reference_wav(clip: Path, folder: Path) -> np.ndarray:
    """features.md §2.1 literally: `-acodec copy <stem>.aac`, then `<stem>.aac -> <stem>.wav` (16-bit PCM)."""
    aac, wav = folder / f"{clip.stem}.aac", folder / f"{clip.stem}.wav"
    run_ffmpeg(["-loglevel", "panic", "-y", "-i", "file:" + str(clip), "-acodec", "copy", "file:" + str(aac)])
    run_ffmpeg(["-loglevel", "panic", "-y", "-i", "file:" + str(aac), "file:" + str(wav)])
    with wav_io.open(str(wav)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())


def test_aac_is_decoded_as_the_reference_decodes_it(media_dir: Path, tmp_path: Path) -> None:
    made = tmp_path / "made.mp4"   # ffmpeg's own AAC in MP4: an edit list skips the priming samples
    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=44100:duration=1.5",
                "-c:a", "aac", "file:" + str(made)])
    lengths = {}
    for clip in [*sorted(media_dir.glob("*.mp4")), made]:
        pcm, _ = decode_pcm(clip)
        assert np.array_equal(pcm, reference_wav(clip, tmp_path)), clip.name
        lengths[clip.name] = len(pcm) - len(decode_pcm(clip, route="direct")[0])
    assert lengths == {"--HuBNHXu9I.mp4": 1040, "v_GGSY1Qvo990.mp4": 0, "v_ZNVhz7ctTq0.mp4": 0,
                       "made.mp4": lengths["made.mp4"]} and lengths["made.mp4"] >= 1024


def test_channel_mean_and_resampling(tmp_path: Path) -> None:
    # left: 440 Hz at 0.8, right: silence -> mono mean is a 440 Hz tone of amplitude 0.4
    clip = tone_clip(tmp_path / "t.mov", "0.8*sin(2*PI*440*t)|0", 48000, 1.0)
    pcm, sr = decode_pcm(clip)
    assert sr == 48000 and pcm.shape == (48000, 2) and np.all(pcm[:, 1] == 0)
    wave = load_audio_16k(clip)
    assert wave.shape == (16000,)
    assert np.abs(wave[1000:-1000]).max() == pytest.approx(0.4, abs=0.01)
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.argmax(spectrum) == 440  # 1 Hz bins for a 1 s signal


def test_16k_source_is_not_resampled(tmp_path: Path) -> None:
    clip = tone_clip(tmp_path / "a.wav", "0.5*sin(2*PI*1000*t)", 16000, 0.5, video=False)
    pcm, sr = decode_pcm(clip)
    wave = load_audio_16k(clip, dtype=np.float64)
    assert sr == 16000 and np.array_equal(wave, pcm[:, 0] / 32768.0)


def test_resample_length_floor() -> None:
    x = np.random.default_rng(0).standard_normal(44101)
    assert resample_16k(x, 44100).shape == (int(44101 * 16000 / 44100),)
    assert to_mono_float(np.array([[-32768, 32767]], np.int16))[0] == pytest.approx(-0.5 / 32768)


def test_video_without_audio(tmp_path: Path) -> None:
    clip = tmp_path / "silent.mp4"
    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=25:duration=1",
                "-c:v", "libx264", "file:" + str(clip)])
    with pytest.raises(UnavError, match="no audio stream") as err:
        load_audio_16k(clip)
    assert "silent.mp4" in str(err.value)


def test_not_media(tmp_path: Path) -> None:
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(UnavError, match="x.mp4"):
        load_audio_16k(bad)
