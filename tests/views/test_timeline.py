"""Timeline figure: fixed pixel size, content drawn, waveform envelope and thumbnails read from real media."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest
from PIL import Image

from unav.media.ffmpeg import ffmpeg_exe
from unav.views.timeline import (LAYOUT, class_colours, plot_detection_timeline, row_labels, thumbnail_count, thumbnails,
                           timeline_size, waveform_envelope)

EVENTS = [{"start": 1.0, "end": 4.0, "label": "dog", "score": 0.9},
          {"start": 6.0, "end": 9.5, "label": "car", "score": 0.4}]


def _clip(path, seconds=4.0, tone=True):
    """Red first half, blue second half, 64x48 at 25 fps; a 440 Hz tone for the first half only."""
    half = seconds / 2
    video = (f"color=c=red:s=64x48:r=25:d={half}[a];color=c=blue:s=64x48:r=25:d={half}[b];"
             f"[a][b]concat=n=2:v=1:a=0[v]")
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-filter_complex", video]
    if tone:
        cmd += ["-f", "lavfi", "-i", f"sine=f=440:sample_rate=16000:d={half}", "-f", "lavfi", "-i",
                f"anullsrc=r=16000:cl=mono:d={half}", "-filter_complex", "[0][1]concat=n=2:v=0:a=1[s]",
                "-map", "[v]", "-map", "[s]", "-c:a", "aac"]
    else:
        cmd += ["-map", "[v]"]
    subprocess.run(cmd + ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_png_has_the_announced_size_and_is_not_blank(tmp_path):
    wave = np.stack([-np.linspace(0, 1, 500), np.linspace(0, 1, 500)], axis=1).astype(np.float32)
    thumbs = np.zeros((5, 30, 40, 3), dtype=np.uint8)
    thumbs[:, :, :, 1] = 200
    path = plot_detection_timeline(tmp_path / "t.png", 10.0, EVENTS, title="clip", waveform=wave, thumbs=thumbs,
                                   classes=["car", "dog"])
    img = np.asarray(Image.open(path).convert("RGB"))
    assert (img.shape[1], img.shape[0]) == timeline_size(2) == (1400, 383)
    assert img.std() > 20 and len(np.unique(img.reshape(-1, 3), axis=0)) > 50
    assert ((img[..., 1] > 180) & (img[..., 0] < 40)).sum() > 1000        # the green thumbnail strip
    assert not list(tmp_path.glob(".*"))                                   # no temporary left


def test_size_grows_with_rows_and_panels(tmp_path):
    assert timeline_size(5)[1] - timeline_size(2)[1] == round(3 * LAYOUT.row * LAYOUT.dpi)
    assert timeline_size(2, waveform=False, thumbnails=False)[1] < timeline_size(2)[1]
    path = plot_detection_timeline(tmp_path / "e.png", 5.0, [])              # no events: one empty row
    assert Image.open(path).size == timeline_size(0, waveform=False, thumbnails=False)


def test_ground_truth_is_drawn_beside_predictions(tmp_path):
    gt = [{"start": 2.0, "end": 5.0, "label": "dog"}, {"start": 0.0, "end": 3.0, "label": "bird"}]
    assert row_labels(EVENTS, gt, ["bird", "car", "dog"]) == ["bird", "car", "dog"]
    a = np.asarray(Image.open(plot_detection_timeline(tmp_path / "a.png", 10.0, EVENTS, ground_truth=gt,
                                                      waveform=None, thumbs=None)).convert("L"))
    b = np.asarray(Image.open(plot_detection_timeline(tmp_path / "b.png", 10.0, EVENTS, ground_truth=None,
                                                      waveform=None, thumbs=None)).convert("L"))
    assert a.shape[0] > b.shape[0]           # the extra "bird" row (ground truth only)


def test_class_colours_are_distinct_for_neighbours():
    colours = class_colours([f"c{i}" for i in range(20)])
    assert len(set(colours.values())) == 20
    assert np.abs(np.subtract(colours["c0"], colours["c1"])).sum() > 0.3


def test_waveform_envelope_follows_the_sound(tmp_path):
    clip = _clip(tmp_path / "c.mp4")
    env = waveform_envelope(clip, 40)  # [40, 2]
    assert env.shape == (40, 2) and env.dtype == np.float32
    assert (env[:, 0] <= env[:, 1]).all()
    loud, quiet = env[3:17], env[23:37]
    assert loud[:, 1].min() > 0.1 and loud[:, 0].max() < -0.1   # lavfi sine peaks at 1/8
    assert np.abs(quiet).max() < 0.01                            # silence in the second
    assert waveform_envelope(_clip(tmp_path / "mute.mp4", tone=False), 10) is None


def test_thumbnails_sample_the_video_in_order(tmp_path):
    clip = _clip(tmp_path / "c.mp4", tone=False)
    th = thumbnails(clip, 4, height=24)
    assert th.shape == (4, 24, 32, 3) and th.dtype == np.uint8
    red = th[..., 0].mean(axis=(1, 2)) > th[..., 2].mean(axis=(1, 2))
    assert red.tolist() == [True, True, False, False]
    assert thumbnail_count(4 / 3) == round(LAYOUT.axes_width / (LAYOUT.thumbs * 4 / 3))


def test_missing_video_is_a_clear_error(tmp_path):
    from unav.errors import UnavError

    with pytest.raises(UnavError, match="not found"):
        thumbnails(tmp_path / "nope.mp4", 3)
