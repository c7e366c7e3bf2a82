"""`unav demo-videos` end to end: the generated list validates against the annotations, and the first video
can be fetched from the file:// source and trimmed like a downloaded one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from unav.cli import main
from unav.media.probe import probe
from unav.media.videolist import read_video_list


def test_demo_videos_feed_download_and_trim(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo-videos", "--out-dir", str(out), "--num", "3", "--seed", "1", "--size", "64x48",
                 "--min-seconds", "5", "--max-seconds", "6", "--classes", "3"]) == 0
    assert "url template: file://" in capsys.readouterr().out
    assert main(["check-inputs", "--videos-csv", str(out / "videos.csv"), "--annotations",
                 str(out / "annotations.json"), "--video-dir", str(out / "videos"), "--probe"]) == 0
    info = json.loads((out / "info.json").read_text())
    assert info["synthetic"] and len(info["classes"]) == 3
    entry = read_video_list(out / "videos.csv")[0]
    pytest.importorskip("yt_dlp")
    raw, status = tmp_path / "raw" / f"{entry.youtube_id}.mp4", tmp_path / "raw" / f"{entry.youtube_id}.json"
    assert main(["download", f"--id={entry.youtube_id}", "--url-template", info["url_template"], "--out", str(raw),
                 "--status", str(status), "--strict"]) == 0
    assert json.loads(status.read_text())["ok"]
    clip = tmp_path / "clips" / f"{entry.youtube_id}.mp4"
    assert main(["trim", str(raw), "--start", str(entry.start), "--end", str(entry.end), "--out", str(clip)]) == 0
    got = probe(clip)
    assert got.has_audio and got.duration == pytest.approx(entry.end, abs=0.1)
