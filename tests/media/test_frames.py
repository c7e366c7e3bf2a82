"""Frame decoding at 25 fps: frame selection equal to ffmpeg's fps filter (nearest timestamp), the reference
frame counts, Pillow-exact resize, bounded chunks, and the optional x264 re-encode."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from unav.errors import UnavError
from unav.media.ffmpeg import ffmpeg_exe, run_ffmpeg
from unav.media.frames import (center_crop_offsets, count_frames_25fps, iter_frames, resize_frames,
                               target_size)


def numbered_clip(path: Path, n: int, rate: str, step: int = 4, size: tuple[int, int] = (40, 30)) -> Path:
    """A lossless clip whose frame i is flat grey level step*i (so decoded frames reveal their index)."""
    w, h = size
    levels = (np.arange(n) * step).astype(np.uint8)  # [n]
    frames = np.broadcast_to(levels[:, None, None, None], (n, h, w, 3)).copy()  # [n, h, w, 3]
    cmd = [ffmpeg_exe(), "-hide_banner", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", rate, "-i", "pipe:0", "-c:v", "libx264rgb", "-qp", "0", "file:" + str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True)
    return path


def nearest_rule(n_in: int, fps_in: float, fps_out: float = 25.0) -> np.ndarray:
    """Input index chosen for each output frame by the fps filter: output j takes the last input whose
    timestamp, rounded (half up) to the output grid, is <= j; count = round(n_in / fps_in * fps_out)."""
    rounded = np.floor(np.arange(n_in) / fps_in * fps_out + 0.5)  # [n_in]
    n_out = int(np.floor(n_in / fps_in * fps_out + 0.5))
    return np.searchsorted(rounded, np.arange(n_out), side="right") - 1  # [n_out]


def test_target_size_truncates() -> None:
    assert target_size(320, 240) == (341, 256)
    assert target_size(480, 360) == (341, 256)
    assert target_size(240, 320) == (256, 341)
    assert target_size(256, 500) == (256, 500)  # shorter side already 256: unchanged
    assert target_size(1280, 720) == (455, 256)
    assert target_size(100, 60) == (426, 256)  # upscaling too


def test_center_crop_offsets_floor() -> None:
    assert center_crop_offsets(256, 341) == (16, 58)
    assert center_crop_offsets(256, 344) == (16, 60)
    assert center_crop_offsets(225, 225) == (0, 0)


@pytest.mark.parametrize("shape", [(3, 30, 40, 3), (2, 48, 20, 3), (2, 300, 400, 3)])
def test_resize_matches_pillow(shape: tuple[int, ...]) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, shape, dtype=np.uint8)
    w2, h2 = target_size(shape[2], shape[1])
    ref = np.stack([np.asarray(Image.fromarray(f).resize((w2, h2), Image.BILINEAR)) for f in frames])
    exact = resize_frames(frames)
    assert exact.shape == (shape[0], h2, w2, 3) and exact.dtype == np.uint8
    assert np.array_equal(exact, ref)
    fast = resize_frames(frames, method="torch")
    assert np.abs(fast.astype(int) - ref.astype(int)).max() <= 1


def test_resize_noop_and_bad_input() -> None:
    x = np.zeros((2, 256, 300, 3), np.uint8)
    assert resize_frames(x) is x
    with pytest.raises(ValueError):
        resize_frames(np.zeros((2, 20, 20), np.uint8))


@pytest.mark.parametrize("name, expected", [("v_GGSY1Qvo990.mp4", 452), ("v_ZNVhz7ctTq0.mp4", 350),
                                            ("--HuBNHXu9I.mp4", 1502)])
def test_reference_frame_counts(media_dir: Path, name: str, expected: int) -> None:
    assert count_frames_25fps(media_dir / name) == expected


def test_iter_frames_real_clip(media_dir: Path) -> None:
    chunks = list(iter_frames(media_dir / "v_ZNVhz7ctTq0.mp4", chunk=100))
    assert [len(c) for c in chunks] == [100, 100, 100, 50]
    assert all(c.shape[1:] == (256, 341, 3) and c.dtype == np.uint8 for c in chunks)


@pytest.mark.parametrize("n_in, rate, fps_in", [(60, "30000/1001", 30000 / 1001), (31, "15", 15.0),
                                                (41, "981/50", 19.62)])
def test_selection_is_nearest_timestamp(tmp_path: Path, n_in: int, rate: str, fps_in: float) -> None:
    clip = numbered_clip(tmp_path / "n.mp4", n_in, rate)
    frames = np.concatenate(list(iter_frames(clip, min_side=30, chunk=7)))  # [N, 30, 40, 3]
    got = np.round(frames.reshape(len(frames), -1).mean(axis=1) / 4).astype(int)
    expected = nearest_rule(n_in, fps_in)
    assert count_frames_25fps(clip) == len(expected)
    assert np.array_equal(got, expected)


def test_chunks_bounded_and_consistent(tmp_path: Path) -> None:
    clip = numbered_clip(tmp_path / "n.mp4", 50, "30")
    small = list(iter_frames(clip, min_side=64, chunk=5))
    assert max(len(c) for c in small) == 5
    big = np.concatenate(list(iter_frames(clip, min_side=64, chunk=64)))
    assert np.array_equal(np.concatenate(small), big) and big.shape[1:] == (64, 85, 3)


def test_early_close_stops_decoder(tmp_path: Path) -> None:
    clip = numbered_clip(tmp_path / "n.mp4", 60, "30")
    gen = iter_frames(clip, min_side=30, chunk=2)
    first = next(gen)
    gen.close()  # must not hang or leak: the ffmpeg process is killed
    assert first.shape == (2, 30, 40, 3)


def test_reencode_same_selection(tmp_path: Path) -> None:
    clip = numbered_clip(tmp_path / "n.mp4", 45, "30000/1001", size=(64, 48))
    direct = np.concatenate(list(iter_frames(clip, min_side=48)))
    again = np.concatenate(list(iter_frames(clip, min_side=48, reencode=True)))
    assert direct.shape == again.shape == (len(nearest_rule(45, 30000 / 1001)), 48, 64, 3)
    # one lossy x264 generation: close to, not necessarily equal to, the direct decode
    assert np.abs(direct.astype(int) - again.astype(int)).mean() < 3


def test_bad_inputs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(UnavError, match="bad.mp4"):
        next(iter_frames(bad))
    with pytest.raises(UnavError, match="bad.mp4"):
        count_frames_25fps(bad)


def test_short_clip(tmp_path: Path) -> None:
    clip = tmp_path / "short.mp4"
    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x24:rate=30:duration=0.5",
                "-c:v", "libx264", "file:" + str(clip)])
    frames = np.concatenate(list(iter_frames(clip, min_side=24)))
    assert len(frames) == count_frames_25fps(clip) == 13  # 15 frames @30 fps (0.5 s) -> round(12.5) = 13
