"""trim_video: frame-accurate cuts with audio kept, clipping to the source's end, clear errors."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from unav.cli import main
from unav.errors import UnavError
from unav.media.ffmpeg import input_arg, run_ffmpeg
from unav.media.probe import probe
from unav.media.trim import trim_video


def _clip(path: Path, seconds: float = 5.0, audio: bool = True) -> Path:
    args = ["-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size=64x48:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={seconds}"]
    # keyframes only every 2 s: a keyframe-snapped cut would be visibly wrong
    args += ["-c:v", "libx264", "-g", "50", "-pix_fmt", "yuv420p"] + (["-c:a", "aac"] if audio else [])
    run_ffmpeg(args + [f"file:{path}"])
    return path


def _frames(path: Path) -> int:
    err = run_ffmpeg(["-i", input_arg(path), "-map", "0:v:0", "-f", "null", "-"]).stderr.decode()
    return int(re.findall(r"frame=\s*(\d+)", err)[-1])


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return _clip(tmp_path_factory.mktemp("trim") / "-src.mp4")


def test_cut_is_frame_accurate_and_keeps_audio(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "clips" / "-cut.mp4"
    info = trim_video(source, out, 1.0, 3.0)
    assert info.path == str(out) and probe(out).has_video
    assert info.has_audio and info.duration == pytest.approx(2.0, abs=0.06)
    assert _frames(out) == 50
    assert [p.name for p in out.parent.iterdir()] == ["-cut.mp4"]  # no temporary left


def test_end_past_source_is_cut_to_its_end(source: Path, tmp_path: Path, caplog) -> None:
    info = trim_video(source, tmp_path / "tail.mp4", 3.5, 60.0)
    assert info.duration == pytest.approx(1.5, abs=0.06) and _frames(tmp_path / "tail.mp4") in (37, 38)
    assert "shorter than the requested end 60.000 s" in caplog.text


def test_video_without_audio(tmp_path: Path) -> None:
    src = _clip(tmp_path / "mute.mp4", seconds=2.0, audio=False)
    info = trim_video(src, tmp_path / "out.mp4", 0.4, 1.2)
    assert not info.has_audio and _frames(tmp_path / "out.mp4") == 20


def test_bad_windows_name_the_file(source: Path, tmp_path: Path) -> None:
    with pytest.raises(UnavError, match=r"-src.mp4: cannot cut \[3, 1\] s; expected 0 <= start < end"):
        trim_video(source, tmp_path / "x.mp4", 3.0, 1.0)
    with pytest.raises(UnavError, match=r"-src.mp4: start 9 s is at or past the end of the video"):
        trim_video(source, tmp_path / "x.mp4", 9.0, 12.0)
    (tmp_path / "fake.mp4").write_text("not a video")
    with pytest.raises(UnavError, match="fake.mp4"):
        trim_video(tmp_path / "fake.mp4", tmp_path / "x.mp4", 0.0, 1.0)
    assert not (tmp_path / "x.mp4").exists()


def test_cli(source: Path, tmp_path: Path, capsys) -> None:
    assert main(["trim", str(source), "--start", "0.5", "--end", "1.5", "--out", str(tmp_path / "c.mp4")]) == 0
    assert "audio: yes" in capsys.readouterr().out
    assert main(["trim", str(source), "--start", "2", "--end", "1", "--out", str(tmp_path / "d.mp4")]) == 2
    assert "cannot cut" in capsys.readouterr().err
