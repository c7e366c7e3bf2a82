"""Downloads through the real yt-dlp from a local HTTP server: a good video, a 404 and a page that is not a
video. The failures manifest lists the two failures, and the rest of the DAG completes on the good videos."""
from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest
from local_http import serve_directory

from unav.media.ffmpeg import ffmpeg_exe

from .helpers import read_json, snakemake, write_config

GOOD = ["goodvideo01", "goodvideo02", "goodvideo03"]
MISSING = "missing0404"
NOT_VIDEO = "notavideo00"


def _video(path: Path, seconds: float, freq: int) -> None:
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size=64x48:rate=25:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency={freq}:duration={seconds}", "-shortest", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True)


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    for i, vid in enumerate(GOOD):
        _video(root / f"{vid}.mp4", 4.0, 300 + 200 * i)
    (root / f"{NOT_VIDEO}.mp4").write_text("<html><body>This video is not available.</body></html>")
    with serve_directory(root) as url:
        yield url


def test_failed_downloads_drop_out(server, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    ids = GOOD + [MISSING, NOT_VIDEO]
    # trim windows inside the 4 s videos: 0.5..3.5 s
    (work / "videos.csv").write_text("".join(f"{v},0.5,3.5\n" for v in ids))
    subsets = ["train", "validation", "test", "train", "test"]
    db = {v: {"subset": s, "duration": 3.0,
              "annotations": [{"segment": [0.5, 2.0], "label": "beep", "label_id": 0}]} for v, s in zip(ids, subsets)}
    (work / "ann.json").write_text(json.dumps({"database": db}))
    cfg = write_config(work / "cfg.yaml", {
        "source": "youtube", "videos_csv": "videos.csv", "annotations": "ann.json", "stats": False,
        "download": {"url_template": f"{server}/{{id}}.mp4", "retries": 0},
        "train": {"set": ["train.epochs=2", "train.warmup_epochs=1", "train.batch_size=1"]},
        "report": {"timelines": 1}})
    snakemake(work, configfile=cfg)
    res = work / "results"
    with open(res / "download/failures.tsv", newline="") as fh:
        failures = {r["id"]: r for r in csv.DictReader(fh, delimiter="\t")}
    assert set(failures) == {MISSING, NOT_VIDEO}
    assert "404" in failures[MISSING]["reason"]
    assert "not a video" in failures[NOT_VIDEO]["reason"]
    assert failures[MISSING]["url"].endswith(f"/{MISSING}.mp4")
    assert sorted((res / "download/ok.txt").read_text().split()) == GOOD
    assert sorted(read_json(res / "annotations.used.json")["database"]) == sorted(GOOD)
    for vid in GOOD:
        assert (res / "features" / f"{vid}_vggish.npy").is_file()
    for vid in (MISSING, NOT_VIDEO):
        assert not (res / "clips" / f"{vid}.mp4").exists()
        assert not read_json(res / "download/status" / f"{vid}.json")["ok"]
    metrics = read_json(res / "runs/demo/metrics.json")
    assert metrics["num_videos"] == 1
    assert sorted(read_json(res / "report/summary.json")["failed_videos"]) == sorted([MISSING, NOT_VIDEO])
    # the report's failures table: each failed video once, at the download stage, with its kind and reason
    with open(res / "report/failures.tsv", newline="") as fh:
        shown = {r["id"]: r for r in csv.DictReader(fh, delimiter="\t")}
    assert set(shown) == {MISSING, NOT_VIDEO}
    assert shown[MISSING]["stage"] == "download" and shown[MISSING]["kind"] == "not_found"
    assert shown[NOT_VIDEO]["kind"] == "not_a_video"
