"""Synthetic demo videos: valid mp4s with sound, loadable annotations, class patterns and sounds present exactly
where the plan puts them (events and distractors), deterministic given the seed."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unav.data.annotations import load_annotations
from unav.errors import UnavError
from unav.media.ffmpeg import input_arg, run_ffmpeg
from unav.media.probe import probe
from unav.media.synthetic_videos import (AUDIO_RATE, CLASSES, FPS, Event, make_demo_videos, parse_size, plan_video,
                                         render_audio, render_frames)
from unav.media.videolist import YOUTUBE_ID, read_video_list

W, H = 64, 48


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    info = make_demo_videos(out, num=4, seed=3, size=(W, H), min_s=6.0, max_s=8.0)
    return out, info


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """rgb frames [T, H, W, 3] uint8 and mono audio [N] float in [-1, 1]."""
    video = run_ffmpeg(["-i", input_arg(path), "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]).stdout
    audio = run_ffmpeg(["-i", input_arg(path), "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", str(AUDIO_RATE),
                        "-"]).stdout
    return (np.frombuffer(video, np.uint8).reshape(-1, H, W, 3),
            np.frombuffer(audio, np.int16).astype(np.float64) / 32768)


def _spans(ann_events: list[dict], distractors: list[dict], modality: str, label: str) -> list[tuple[float, float]]:
    spans = [tuple(e["segment"]) for e in ann_events if e["label"] == label]
    return spans + [tuple(d["segment"]) for d in distractors if d["label"] == label and d["modality"] == modality]


def test_files_and_annotations(demo) -> None:
    out, info = demo
    ann = load_annotations(out / "annotations.json")
    entries = read_video_list(out / "videos.csv")
    assert [e.youtube_id for e in entries] == list(ann.videos) and len(entries) == 4
    assert sorted(ann.subsets) == ["test", "train", "validation"]
    assert info["synthetic"] is True
    assert json.loads((out / "info.json").read_text())["url_template"].startswith("file://")
    for e in entries:
        assert YOUTUBE_ID.fullmatch(e.youtube_id) and e.start == 0
        v = probe(out / "videos" / f"{e.youtube_id}.mp4")
        assert v.has_video and v.has_audio and (v.width, v.height) == (W, H) and v.fps == FPS
        assert v.audio_rate == AUDIO_RATE and v.duration == pytest.approx(e.end, abs=0.1)
        video = ann.videos[e.youtube_id]
        assert video.duration == pytest.approx(e.end) and video.fps == FPS and video.num_events >= 1
        assert np.all(video.segments[:, 1] - video.segments[:, 0] >= 2.0 - 1e-6)


def test_patterns_and_sounds_follow_the_plan(demo) -> None:
    out, info = demo
    database = json.loads((out / "annotations.json").read_text())["database"]
    checked = 0
    for vid, entry in database.items():
        frames, audio = _decode(out / "videos" / f"{vid}.mp4")
        t_frames = np.arange(len(frames)) / FPS + 0.5 / FPS
        t_audio = np.arange(len(audio)) / AUDIO_RATE
        dis = info["distractors"][vid]
        for cls in CLASSES[:5]:
            # visual: share of pixels near the class colour, on vs off screen (with 0.2 s margins)
            shown = _spans(entry["annotations"], dis, "visual", cls.label)
            if shown:
                near = (np.abs(frames.astype(int) - np.array(cls.colour)).max(axis=-1) < 40).mean(axis=(1, 2))
                inside = np.zeros(len(frames), bool)
                outside = np.ones(len(frames), bool)
                for s, e in shown:
                    inside |= (t_frames > s + 0.2) & (t_frames < e - 0.2)
                    outside &= (t_frames < s - 0.2) | (t_frames > e + 0.2)
                assert near[inside].mean() > 0.08 and near[outside].max() < 0.01, (vid, cls.label)
                checked += 1
        # audio: loud inside every audible span, near silence where nothing sounds
        audible = [tuple(e["segment"]) for e in entry["annotations"]]
        audible += [tuple(d["segment"]) for d in dis if d["modality"] == "audio"]
        quiet = np.ones(len(audio), bool)
        for s, e in audible:
            inside = (t_audio > s + 0.1) & (t_audio < e - 0.1)
            assert np.sqrt(np.mean(audio[inside] ** 2)) > 0.05, vid
            quiet &= (t_audio < s - 0.1) | (t_audio > e + 0.1)
        if quiet.any():
            assert np.sqrt(np.mean(audio[quiet] ** 2)) < 0.01, vid
    assert checked >= 4


def test_visual_only_distractor_is_silent_and_unannotated() -> None:
    # a plan with one audio-visual event and one visual-only distractor of another class
    rng = np.random.default_rng(0)
    plan = plan_video(rng, "abcdefghijk", 0, 5, 8.0, 8.0)
    plan.events = [Event(0, 0, 75, "audio-visual"), Event(1, 100, 175, "visual"), Event(2, 100, 175, "audio")]
    frames = render_frames(plan, rng, W, H, 0, plan.frames)                    # [T, H, W, 3]
    green = (np.abs(frames.astype(int) - np.array(CLASSES[1].colour)).max(-1) < 20).mean(axis=(1, 2))
    assert green[110:170].min() > 0.1 and green[:95].max() == 0
    blue = (np.abs(frames.astype(int) - np.array(CLASSES[2].colour)).max(-1) < 20).mean(axis=(1, 2))
    assert blue.max() == 0                                                     # audio-only: never on screen
    audio = render_audio(plan, rng).astype(float) / 32767

    def rms(a: int, b: int) -> float:  # frames a..b, 640 samples per frame
        return float(np.sqrt(np.mean(audio[a * 640:b * 640] ** 2)))

    assert rms(5, 70) > 0.05 and rms(105, 170) > 0.05 and rms(80, 95) < 0.01


def test_deterministic_given_seed(demo, tmp_path: Path) -> None:
    out, _ = demo
    again = make_demo_videos(tmp_path, num=1, seed=3, size=(W, H), min_s=6.0, max_s=8.0)
    first = read_video_list(tmp_path / "videos.csv")[0].youtube_id
    assert first == read_video_list(out / "videos.csv")[0].youtube_id
    assert (tmp_path / "videos" / f"{first}.mp4").read_bytes() == (out / "videos" / f"{first}.mp4").read_bytes()
    assert again["subsets"] == {"train": 1, "validation": 0, "test": 0}
    other = plan_video(np.random.default_rng([4, 0]), "x" * 11, 0, 5, 6.0, 8.0)
    same = plan_video(np.random.default_rng([4, 0]), "x" * 11, 0, 5, 6.0, 8.0)
    assert other == same


def test_bad_parameters() -> None:
    assert parse_size("160x120") == (160, 120)
    for bad in ("160", "161x120", "16x12", "axb"):
        with pytest.raises(UnavError, match="size"):
            parse_size(bad)
    with pytest.raises(UnavError, match="num_classes"):
        make_demo_videos("/nonexistent", num=1, num_classes=9)
