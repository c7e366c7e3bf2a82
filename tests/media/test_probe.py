"""probe(): facts about real and generated clips; clear errors for files that are not usable videos."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from unav.errors import UnavError
from unav.media.ffmpeg import ffmpeg_exe, run_ffmpeg
from unav.media.probe import parse_ffmpeg_info, probe


def make_clip(path: Path, seconds: float, rate: str = "25", audio: bool = True, size: str = "64x48",
              extra: list[str] | None = None) -> Path:
    args = ["-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    args += ["-c:v", "libx264", "-pix_fmt", "yuv420p"] + (["-c:a", "aac"] if audio else []) + (extra or [])
    run_ffmpeg(args + ["file:" + str(path)])
    return path


def test_real_clips(media_dir: Path) -> None:
    a = probe(media_dir / "v_GGSY1Qvo990.mp4")
    assert (a.width, a.height, a.fps) == (320, 240, 19.62)
    assert a.duration == pytest.approx(18.16) and a.has_audio and a.audio_rate == 44100 and a.audio_channels == 1
    b = probe(media_dir / "v_ZNVhz7ctTq0.mp4")
    assert (b.width, b.height, b.fps) == (480, 360, 30.0)


def test_id_with_leading_dashes(media_dir: Path, tmp_path: Path) -> None:
    info = probe(media_dir / "--HuBNHXu9I.mp4")
    assert (info.width, info.height, info.fps, info.audio_channels) == (320, 240, 14.99, 2)
    # a relative path that starts with '-' must not be read as an option
    link = tmp_path / "-x.mp4"
    shutil.copy(media_dir / "--HuBNHXu9I.mp4", link)
    assert probe(link).duration == pytest.approx(60.06)


def test_generated_clip_without_audio(tmp_path: Path) -> None:
    info = probe(make_clip(tmp_path / "v.mp4", 2, rate="30000/1001", audio=False))
    assert info.has_video and not info.has_audio
    assert info.fps == pytest.approx(29.97) and (info.width, info.height) == (64, 48)
    assert info.audio_rate == 0 and info.audio_channels == 0


def test_rotation_swaps_display_size() -> None:
    text = ("Input #0, mov\n  Duration: 00:00:02.00, start: 0.000000, bitrate: 1 kb/s\n"
            "  Stream #0:0[0x1](und): Video: h264 (High), yuv420p(progressive), 64x48, 25 fps, 25 tbr, 12800 tbn\n"
            "      Side data:\n        displaymatrix: rotation of -90.00 degrees\n"
            "  Stream #0:1[0x2](und): Audio: aac (LC), 48000 Hz, 5.1, fltp, 128 kb/s\n")
    info = parse_ffmpeg_info("x.mp4", text)
    assert (info.width, info.height, info.audio_rate, info.audio_channels) == (48, 64, 48000, 6)


def test_audio_only_needs_require_video_false(tmp_path: Path) -> None:
    path = tmp_path / "a.m4a"
    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1", "file:" + str(path)])
    assert probe(path, require_video=False).has_audio
    with pytest.raises(UnavError, match="no video stream"):
        probe(path)


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"hello, not a video\n" * 10, "not readable")])
def test_not_a_video(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(UnavError, match=message) as err:
        probe(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnavError, match="not found"):
        probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize("faststart", [False, True])
def test_truncated_mp4(tmp_path: Path, faststart: bool) -> None:
    full = make_clip(tmp_path / "full.mp4", 3, extra=["-movflags", "+faststart"] if faststart else [])
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnavError, match="truncated") as err:
        probe(cut)
    assert "cut.mp4" in str(err.value)


def test_ffmpeg_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from unav.media import ffmpeg as ff

    monkeypatch.setenv("UNAV_FFMPEG", str(tmp_path / "missing-ffmpeg"))
    with pytest.raises(UnavError, match="UNAV_FFMPEG"):
        ff.ffmpeg_exe()
    monkeypatch.delenv("UNAV_FFMPEG")
    assert Path(ff.ffmpeg_exe()).is_file()
    out = subprocess.run([ff.ffmpeg_exe(), "-version"], capture_output=True, check=True).stdout
    assert out.startswith(b"ffmpeg version")


def test_run_ffmpeg_error_quotes_stderr(tmp_path: Path) -> None:
    with pytest.raises(UnavError, match="status") as err:
        run_ffmpeg(["-i", "file:" + str(tmp_path / "absent.mp4"), "-f", "null", "-"], what="probe-test")
    assert "probe-test" in str(err.value) and "absent.mp4" in str(err.value)
    assert ffmpeg_exe()
