"""HTML viewer: inert embedded data, no network references, and in headless chromium: events render, clicking
one seeks the video and moves the cursor."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from detect_support import Browser, check_page, make_clip, needs_browser
from unav.views.html_view import WAVE_BINS, entry_in_folder, reduce_envelope, render_page, video_entry, write_page

EVENTS = [{"start": 0.5, "end": 1.5, "label": "beep", "score": 0.9},
          {"start": 2.0, "end": 3.5, "label": "flash", "score": 0.5},
          {"start": 3.0, "end": 3.8, "label": "beep", "score": 0.3}]


def _entry(src="video.mp4", events=EVENTS, **kw):
    thumbs = np.full((3, 12, 16, 3), 90, dtype=np.uint8)
    wave = np.stack([-np.ones(50) * 0.2, np.ones(50) * 0.2], axis=1)
    return video_entry("clip", 4.0, events, [src], waveform=wave, thumbs=thumbs, classes=["beep", "flash"], **kw)


def _data(page: str) -> dict:
    text = re.search(r'<script type="application/json" id="unav-data">(.*?)</script>', page, re.S).group(1)
    return json.loads(text)


def test_page_is_self_contained_and_data_inert():
    evil = [{"start": 0.0, "end": 1.0, "label": "</script><script>alert(1)</script>", "score": 0.5}]
    page = render_page([_entry(events=evil)], "a <b> title")
    assert page.count("</script>") == 2                    # the data cannot close its script element
    data = _data(page)
    assert data["videos"][0]["events"][0]["label"] == evil[0]["label"]
    assert "a &lt;b&gt; title" in page
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)   # nothing fetched from a network
    assert data["videos"][0]["thumbnails"].startswith("data:image/jpeg;base64,")
    assert data["videos"][0]["sources"] == [{"src": "video.mp4", "type": "video/mp4"}]
    assert data["videos"][0]["rows"] == [evil[0]["label"]]
    assert _data(render_page([_entry()], "t"))["videos"][0]["rows"] == ["beep", "flash"]


def test_sources_are_url_quoted():
    entry = video_entry("a b", 1.0, [], ["a b/video #1.webm"])
    assert entry["sources"][0] == {"src": "a%20b/video%20%231.webm", "type": "video/webm"}


def test_reduce_envelope():
    wave = np.stack([-np.arange(10.0), np.arange(10.0)], axis=1)
    small = reduce_envelope(wave, 3)
    assert small.tolist() == [[-2, 2], [-5, 5], [-9, 9]]
    assert reduce_envelope(wave, 20) is wave


def test_long_waveform_is_reduced_for_the_page():
    wave = np.stack([-np.linspace(0, 1, 5000), np.linspace(0, 1, 5000)], axis=1)   # [5000, 2]
    kept = video_entry("clip", 4.0, [], ["video.mp4"], waveform=wave)["waveform"]
    assert len(kept) == WAVE_BINS and kept[-1] == [-1.0, 1.0]


def test_index_entries_point_into_each_videos_folder():
    entry = video_entry("a b", 1.0, [], ["video.webm", "video.mp4"])
    moved = entry_in_folder(entry, "a b")
    assert [s["src"] for s in moved["sources"]] == ["a%20b/video.webm", "a%20b/video.mp4"]
    assert entry["sources"][0]["src"] == "video.webm"                  # the video's own page is unchanged


@needs_browser
def test_headless_browser_plays_clicks_and_seeks(tmp_path):
    make_clip(tmp_path / "video.mp4", 4.0)
    page = write_page(tmp_path / "view.html", [_entry()], "clip")
    seen = check_page(page, expect_events=3)
    assert seen["ready"][1] == pytest.approx(4.0, abs=0.1)
    assert seen["rows"] == 2
    assert seen["start"] == 2.0                                      # last bar in the page: the flash row
    assert seen["current_time"] == pytest.approx(2.0, abs=0.05)
    assert float(seen["cursor"].rstrip("%")) == pytest.approx(50.0, abs=1.0)
    assert seen["active"] >= 1 and not seen["errors"]
    assert all(r.startswith("file:") for r in seen["resources"])


@needs_browser
def test_index_page_with_two_videos_and_table_rows(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        make_clip(tmp_path / name / "video.mp4", 4.0)
    page = write_page(tmp_path / "index.html", [_entry("a/video.mp4"), _entry("b/video.mp4", events=EVENTS[:1])],
                      "two")
    browser = Browser()
    try:
        browser.open(page.as_uri())
        assert browser.wait("return document.querySelectorAll('video').length === 2 && "
                            "Array.from(document.querySelectorAll('video')).every(v => v.readyState >= 1);", 20)
        assert len(browser.find_all("#video-0 .ev")) == 3 and len(browser.find_all("#video-1 .ev")) == 1
        rows = browser.find_all("#video-0 tr.item")
        browser.click(rows[1])                                       # table row of the event at 2.0 s
        t = browser.wait("var v = document.querySelectorAll('video')[0]; return Math.abs(v.currentTime - 2) < "
                         "0.05 && v.currentTime;", 10)
        assert t == pytest.approx(2.0, abs=0.05)
        assert browser.js("return document.querySelectorAll('video')[1].currentTime;") == 0
    finally:
        browser.close()
