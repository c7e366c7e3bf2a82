"""unav.features.flowjob: whether a flow file's metadata is what the current settings would write (hand-made
metadata), and a real DIS flow file written by write_video_flow compared with its settings."""
from __future__ import annotations

import dataclasses
import subprocess

from unav.features.flowfile import read_flow_meta
from unav.features.flowjob import flow_differences_now, flow_file_differences, flow_header, write_video_flow
from unav.features.settings import ExtractSettings
from unav.media.ffmpeg import ffmpeg_exe

HEADER = {"method": "dis", "preset": "ultrafast", "crop": 32, "padding": "sintel-replicate-8",
          "paper_compatible": False, "note": "not paper-compatible", "updates": None, "weights": None,
          "fps": 25.0, "min_side": 40, "reencode": False}


def _meta(**changes):
    """A flow file's trailer: the header plus the file's own bookkeeping (video, frames, pairs, shape, …)."""
    meta = {**HEADER, "video": "clips/v.mp4", "video_id": "v", "frames": 75, "pairs": 74, "chunks": 2,
            "shape": [2, 32, 32], "format_version": 1}
    meta.update(changes)
    return meta


def test_equal_metadata_differs_in_nothing():
    assert flow_file_differences(_meta(), HEADER, 32) == []
    # the bookkeeping of the file's making is never compared (another video, frame count, chunking, …)
    assert flow_file_differences(_meta(video="elsewhere/w.mp4", video_id="w", frames=9, pairs=8, chunks=1,
                                       format_version=7), HEADER, 32) == []
    # also when the header compared with carries bookkeeping of its own (a file's meta as it starts streaming)
    started = {**HEADER, "video": "clips/other.mp4", "video_id": "other", "frames": 0, "format_version": 2}
    assert flow_file_differences(_meta(), started, 32) == []
    # nor are keys the header does not hold (e.g. the "file" an I3D provenance adds)
    assert flow_file_differences(_meta(file="flow/v.flow"), HEADER, 32) == []


def test_changed_setting_is_named():
    assert flow_file_differences(_meta(preset="fast"), HEADER, 32) == ["preset"]
    assert flow_file_differences(_meta(preset="fast", min_side=256, reencode=True), HEADER, 32) == \
        ["min_side", "preset", "reencode"]
    missing = _meta()
    del missing["method"]
    assert flow_file_differences(missing, HEADER, 32) == ["method"]


def test_wrong_shape_is_named():
    assert flow_file_differences(_meta(shape=[2, 16, 16]), HEADER, 32) == ["shape"]
    assert flow_file_differences(_meta(), HEADER, 16) == ["shape"]        # the crop asked for now
    assert flow_file_differences(_meta(shape=None), HEADER, 32) == ["shape"]
    assert flow_file_differences(_meta(shape=(2, 32, 32)), HEADER, 32) == []   # a tuple is the same shape
    assert flow_file_differences(_meta(preset="fast", shape=[2, 8, 8]), HEADER, 32) == ["preset", "shape"]


def test_written_flow_file_matches_its_settings_only(tmp_path):
    """write_video_flow with a real DIS computer: the file is current for its settings, not for another preset
    or crop; the header holds the frame grid and frame size."""
    from unav.features import models

    video = tmp_path / "v.mp4"
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25:duration=1",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(video)], check=True)
    settings = ExtractSettings(streams=("flow",), flow_method="dis", dis_preset="ultrafast", crop=32, min_side=40,
                               progress=False)
    computer, entry = models.flow_computer(settings, "cpu")
    header = flow_header(computer, entry, settings)
    assert header["fps"] == 25.0 and header["min_side"] == 40 and header["reencode"] is False
    assert header["method"] == "dis" and header["preset"] == "ultrafast"

    out = tmp_path / "flow" / "v.flow"
    written = write_video_flow(video, out, settings, computer, entry)
    meta = read_flow_meta(out)
    assert meta["video_id"] == "v" and meta["frames"] == 25 and meta["pairs"] == 24 == written["pairs"]
    assert [p.name for p in out.parent.iterdir()] == ["v.flow"]          # no temporary left
    assert flow_differences_now(meta, computer, entry, settings) == []

    fast = dataclasses.replace(settings, dis_preset="fast")
    assert flow_differences_now(meta, *models.flow_computer(fast, "cpu"), fast) == ["preset"]
    small = dataclasses.replace(settings, crop=16)
    assert "shape" in flow_differences_now(meta, *models.flow_computer(small, "cpu"), small)
    bigger = dataclasses.replace(settings, min_side=48)
    assert flow_differences_now(meta, computer, entry, bigger) == ["min_side"]
