"""Synthetic demo videos with sound, annotated in the UnAV format (the offline default of the workflow).

Every class has its own visual pattern (a large coloured moving shape or texture on a neutral grey background)
and its own sound (tones, a gated tone, a chirp, noise bands) over a quiet noise floor. An audio-visual event
shows both for >= 2 s; events may overlap (different classes). Distractors show only one modality (a sound
without its object, a silent object) and are NOT annotated, so localizing needs both modalities. Patterns are
strong and cover much of the frame so that events stay separable through randomly initialised I3D / VGGish
features at a small crop.

Output (`make_demo_videos`):
  DIR/videos/{id}.mp4     H.264 + AAC (mono, 16 kHz), 25 fps, ids of 11 characters of [A-Za-z0-9_-]
  DIR/videos.csv          the download list `id,0,duration` (no header)
  DIR/annotations.json    UnAV format, subsets train/validation/test (~60/20/20), fps 25
  DIR/info.json           states that the data is synthetic; classes, distractors, the file:// URL template
Frames and audio are made with numpy; each video is ONE ffmpeg call (rgb24 frames piped on stdin, audio from a
temporary wav). Deterministic given the seed (video i depends only on (seed, i)).
"""
from __future__ import annotations

import logging
import subprocess
from concurrent.futures import ThreadPoolExecutor
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import UnavError
from ..io import atomic_path, remove_stale_temporaries, write_json, write_text
from .ffmpeg import base_args, input_arg, tail

log = logging.getLogger(__name__)

FPS = 25
AUDIO_RATE = 16000
BACKGROUND = 128          # neutral grey
FRAME_NOISE = 3           # +- grey levels of per-pixel noise
AUDIO_NOISE = 0.003       # std of the audio noise floor (full scale 1.0)
EVENT_GAIN = 0.25         # peak amplitude of one class sound
FADE_S = 0.01             # fade in/out of every sound
SAME_CLASS_GAP = FPS     # frames between two events of one class (any modality)
CHUNK_FRAMES = 50         # frames rendered per numpy batch
_ID_ALPHABET = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"))

# ---------------------------------------------------------------------------------------------- visuals
# Each mask function gets times t [T, 1, 1] (s) and pixel coordinates y [1, H, 1], x [1, 1, W] in units of the
# frame height (y in [0, 1), x in [0, W/H)), and returns a bool mask [T, H, W].


def _disc(t, y, x, aspect):  # red disc sweeping left-right
    cx = aspect / 2 + 0.3 * aspect * np.sin(2 * np.pi * t / 2.0)
    return (x - cx) ** 2 + (y - 0.5) ** 2 < 0.3 ** 2


def _square(t, y, x, aspect):  # green square bouncing up-down
    cy = 0.5 + 0.22 * np.sin(2 * np.pi * t / 1.6)
    return (np.abs(x - aspect / 2) < 0.24) & (np.abs(y - cy) < 0.24)


def _stripes(t, y, x, aspect):  # blue horizontal stripes scrolling down, full frame
    return (np.floor((y - 0.5 * t) / 0.1) % 2 == 0) & (x >= 0)


def _checker(t, y, x, aspect):  # yellow checkerboard flashing at 3 Hz in a central box
    box = (np.abs(x - aspect / 2) < 0.4 * aspect) & (np.abs(y - 0.5) < 0.4)
    cells = (np.floor(x / 0.125) + np.floor(y / 0.125) + np.floor(t * 6)) % 2 == 0
    return box & cells


def _ring(t, y, x, aspect):  # magenta ring pulsing
    r = 0.28 + 0.1 * np.sin(2 * np.pi * t / 1.2)
    d = np.sqrt((x - aspect / 2) ** 2 + (y - 0.5) ** 2)
    return np.abs(d - r) < 0.08


def _diagonal(t, y, x, aspect):  # cyan diagonal bars moving right
    return np.floor((x + y - 0.4 * t) / 0.15) % 2 == 0


# ----------------------------------------------------------------------------------------------- sounds
# Each sound function gets times s [N] (seconds since the event start) and a Generator; returns [N] in [-1, 1].


def _band_noise(n: int, rng: np.random.Generator, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / AUDIO_RATE)
    spec[(freqs < lo) | (freqs > hi)] = 0
    sig = np.fft.irfft(spec, n)
    return sig / (np.abs(sig).max() + 1e-9)


def _low_tone(s, rng):
    return (np.sin(2 * np.pi * 330 * s) + 0.5 * np.sin(2 * np.pi * 660 * s)) / 1.5


def _high_tone(s, rng):
    return np.sin(2 * np.pi * 1760 * s)


def _hiss(s, rng):
    return _band_noise(len(s), rng, 2500, 4500)


def _beeps(s, rng):
    return np.sin(2 * np.pi * 880 * s) * (np.floor(s * 8) % 2 == 0)


def _chirp(s, rng):
    phase = s % 0.5  # 400 -> 1600 Hz sweep every 0.5 s
    return np.sin(2 * np.pi * (400 * phase + 0.5 * 2400 * phase ** 2))


def _rumble(s, rng):
    return _band_noise(len(s), rng, 80, 250)


@dataclass(frozen=True)
class DemoClass:
    label: str
    colour: tuple[int, int, int]
    visual: Callable
    sound: Callable
    visual_text: str
    sound_text: str


CLASSES: tuple[DemoClass, ...] = (
    DemoClass("red disc humming", (220, 40, 40), _disc, _low_tone, "red disc sweeping left-right",
              "330 Hz tone with its octave"),
    DemoClass("green square whistling", (40, 200, 60), _square, _high_tone, "green square bouncing up-down",
              "1760 Hz tone"),
    DemoClass("blue stripes hissing", (40, 70, 230), _stripes, _hiss, "blue stripes scrolling down",
              "noise band 2.5-4.5 kHz"),
    DemoClass("yellow checker beeping", (235, 215, 40), _checker, _beeps, "yellow checkerboard flashing 3 Hz",
              "880 Hz beeps at 4 Hz"),
    DemoClass("magenta ring chirping", (210, 50, 210), _ring, _chirp, "magenta ring pulsing",
              "400-1600 Hz chirps, 2 per second"),
    DemoClass("cyan bars rumbling", (40, 210, 210), _diagonal, _rumble, "cyan diagonal bars moving",
              "noise band 80-250 Hz"),
)


@dataclass
class Event:
    label_id: int
    start: int          # frame index (inclusive)
    end: int            # frame index (exclusive)
    modality: str       # "audio-visual" (annotated), "audio" or "visual" (distractors)


@dataclass
class VideoPlan:
    video_id: str
    frames: int
    events: list[Event]

    @property
    def duration(self) -> float:
        return self.frames / FPS


def _video_id(rng: np.random.Generator) -> str:
    first = rng.choice(_ID_ALPHABET[:62])  # no leading '-' or '_'
    return str(first) + "".join(rng.choice(_ID_ALPHABET, size=10))


def _place(rng: np.random.Generator, frames: int, length: int, cls: int, events: list[Event],
           near: Event | None = None) -> tuple[int, int] | None:
    """A [start, end) frame span of `length` at least SAME_CLASS_GAP frames away from every event of class `cls`;
    starting inside `near` (so that the two overlap) if given."""
    for _ in range(20):
        if near is not None:  # start inside `near` so that the two overlap
            lo, hi = near.start, max(near.start + 1, min(near.end - FPS // 2, frames - length + 1))
            start = int(rng.integers(lo, hi)) if hi > lo else lo
        else:
            start = int(rng.integers(0, frames - length + 1))
        start = min(start, frames - length)
        end = start + length
        if all(e.label_id != cls or end + SAME_CLASS_GAP <= e.start or start >= e.end + SAME_CLASS_GAP
               for e in events):
            return start, end
    return None


def plan_video(rng: np.random.Generator, video_id: str, first_class: int, num_classes: int,
               min_s: float, max_s: float) -> VideoPlan:
    """Draw the length, the annotated events (1-3, >= 2 s, the first of class `first_class`, sometimes
    overlapping) and 0-2 one-modality distractors of a video."""
    frames = int(rng.integers(round(min_s * FPS), round(max_s * FPS) + 1))
    events: list[Event] = []
    max_len = max(2 * FPS, min(6 * FPS, frames // 2))
    for k in range(int(rng.integers(1, 4))):
        cls = first_class if k == 0 else int(rng.integers(num_classes))
        length = int(rng.integers(2 * FPS, max_len + 1))
        near = events[0] if k > 0 and rng.random() < 0.5 else None
        span = _place(rng, frames, length, cls, events, near)
        if span is not None:
            events.append(Event(cls, span[0], span[1], "audio-visual"))
    for _ in range(int(rng.integers(0, 3))):
        cls = int(rng.integers(num_classes))
        length = int(rng.integers(2 * FPS, min(4 * FPS, frames // 2) + 1))
        span = _place(rng, frames, length, cls, events)
        if span is not None:
            events.append(Event(cls, span[0], span[1], "audio" if rng.random() < 0.5 else "visual"))
    return VideoPlan(video_id, frames, events)


def render_audio(plan: VideoPlan, rng: np.random.Generator, classes: tuple[DemoClass, ...] = CLASSES) -> np.ndarray:
    """Mono int16 samples [N] of the whole video: noise floor plus the sound of every audible event."""
    n = int(round(plan.duration * AUDIO_RATE))
    audio = AUDIO_NOISE * rng.standard_normal(n)                       # [N]
    fade = int(FADE_S * AUDIO_RATE)
    for ev in plan.events:
        if ev.modality == "visual":
            continue
        a, b = ev.start * AUDIO_RATE // FPS, ev.end * AUDIO_RATE // FPS
        s = np.arange(b - a) / AUDIO_RATE                               # [n_ev] seconds since the start
        env = np.minimum(1.0, np.minimum(np.arange(b - a) + 1, np.arange(b - a)[::-1] + 1) / fade)
        audio[a:b] += EVENT_GAIN * env * classes[ev.label_id].sound(s, rng)
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)


def _visible(plan: VideoPlan, num_classes: int) -> np.ndarray:
    """[K, T] bool: class k is on screen at frame t."""
    on = np.zeros((num_classes, plan.frames), dtype=bool)
    for ev in plan.events:
        if ev.modality != "audio":
            on[ev.label_id, ev.start:ev.end] = True
    return on


def render_frames(plan: VideoPlan, rng: np.random.Generator, width: int, height: int, start: int, stop: int,
                  classes: tuple[DemoClass, ...] = CLASSES) -> np.ndarray:
    """uint8 rgb frames [stop-start, H, W, 3] of the video (frames start..stop-1)."""
    on = _visible(plan, len(classes))[:, start:stop]                   # [K, T]
    t = (np.arange(start, stop) / FPS)[:, None, None]                  # [T, 1, 1]
    y = (np.arange(height) / height)[None, :, None]                    # [1, H, 1]
    x = (np.arange(width) / height)[None, None, :]                     # [1, 1, W]
    frames = np.full((stop - start, height, width, 3), BACKGROUND, dtype=np.int16)
    for k, cls in enumerate(classes):
        if not on[k].any():
            continue
        mask = np.broadcast_to(cls.visual(t, y, x, width / height), frames.shape[:3]) & on[k][:, None, None]
        frames[mask] = cls.colour                                      # later classes are drawn on top
    frames += rng.integers(-FRAME_NOISE, FRAME_NOISE + 1, size=frames.shape, dtype=np.int16)
    return np.clip(frames, 0, 255).astype(np.uint8)


def _write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(AUDIO_RATE)
        w.writeframes(samples.tobytes())


def encode_video(plan: VideoPlan, out: Path, rng: np.random.Generator, width: int, height: int,
                 classes: tuple[DemoClass, ...] = CLASSES) -> None:
    """Render `plan` and encode it with one ffmpeg call (frames on stdin, audio from a temporary wav)."""
    with tempfile.TemporaryDirectory(prefix="unav-demo-") as tmpdir, atomic_path(out, suffix=".mp4") as tmp:
        wav = Path(tmpdir) / "audio.wav"
        _write_wav(wav, render_audio(plan, rng, classes))
        cmd = base_args() + [
            "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(FPS), "-i", "pipe:0",
            "-i", input_arg(wav), "-map", "0:v:0", "-map", "1:a:0",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-g", str(FPS),
            "-c:a", "aac", "-aac_coder", "fast", "-b:a", "96k", "-ar", str(AUDIO_RATE), "-ac", "1",
            "-t", f"{plan.duration:.3f}", "-map_metadata", "-1", "-movflags", "+faststart",
            "-f", "mp4", "file:" + str(tmp.resolve())]
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err)
            try:
                for start in range(0, plan.frames, CHUNK_FRAMES):
                    stop = min(plan.frames, start + CHUNK_FRAMES)
                    proc.stdin.write(render_frames(plan, rng, width, height, start, stop, classes).tobytes())
            except BrokenPipeError:
                pass
            finally:
                proc.stdin.close()
                code = proc.wait()
            if code != 0:
                err.seek(0)
                raise UnavError(f"{out}: ffmpeg failed to encode the synthetic video (status {code}):\n"
                                f"{tail(err.read())}")


def _split(n: int, splits: tuple[float, float], rng: np.random.Generator) -> list[str]:
    n_val = int(round(splits[1] * n))
    n_test = n - int(round(splits[0] * n)) - n_val
    if n >= 3:
        n_val, n_test = max(1, n_val), max(1, n_test)
    n_train = n - n_val - n_test
    subsets = np.array(["train"] * n_train + ["validation"] * n_val + ["test"] * n_test)
    return list(subsets[rng.permutation(n)])


MAX_SIDE = 4096   # frames are rendered in memory, several at a time


def parse_size(text: str) -> tuple[int, int]:
    """'160x120' -> (160, 120); even sizes of 32 .. MAX_SIDE (H.264 4:2:0)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UnavError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 160x120") from None
    if not (32 <= w <= MAX_SIDE and 32 <= h <= MAX_SIDE) or w % 2 or h % 2:
        raise UnavError(f"--size {text!r}: expected even width and height of 32 to {MAX_SIDE} pixels")
    return w, h


def make_demo_videos(out_dir: str | Path, num: int = 30, seed: int = 0, size: tuple[int, int] = (160, 120),
                     num_classes: int = 5, min_s: float = 8.0, max_s: float = 20.0,
                     splits: tuple[float, float] = (0.6, 0.2), workers: int = 2) -> dict:
    """Write the demo dataset to `out_dir` (see the module docstring); returns the info dict."""
    if not 1 <= num_classes <= len(CLASSES):
        raise UnavError(f"num_classes {num_classes}: expected 1..{len(CLASSES)}")
    if num < 1:
        raise UnavError(f"num {num}: expected at least one video")
    if not 4.0 <= min_s <= max_s < float("inf"):
        raise UnavError(f"durations [{min_s}, {max_s}] s: expected 4 <= min <= max (finite)")
    if seed < 0 or workers < 1:
        raise UnavError(f"seed {seed}, workers {workers}: expected seed >= 0 and at least one worker")
    out = Path(out_dir).resolve()
    width, height = size
    classes = CLASSES[:num_classes]
    subsets = _split(num, splits, np.random.default_rng([seed, 1_000_003]))
    # The first event of each video cycles through the classes within each subset, so every split sees all.
    counters: dict[str, int] = {}
    plans: list[VideoPlan] = []
    rngs: list[np.random.Generator] = []
    seen: set[str] = set()
    for i in range(num):
        rng = np.random.default_rng([seed, i])
        vid = _video_id(rng)
        while vid in seen:
            vid = _video_id(rng)
        seen.add(vid)
        first = counters.get(subsets[i], 0)
        counters[subsets[i]] = first + 1
        plans.append(plan_video(rng, vid, first % num_classes, num_classes, min_s, max_s))
        rngs.append(rng)  # each video renders from its own generator: parallel encoding stays deterministic

    def encode(i: int) -> None:
        encode_video(plans[i], out / "videos" / f"{plans[i].video_id}.mp4", rngs[i], width, height, classes)
        log.debug("%s: %.2f s, %d event(s)", plans[i].video_id, plans[i].duration, len(plans[i].events))

    # numpy rendering and the ffmpeg subprocess both run outside the GIL, so threads overlap well.
    remove_stale_temporaries([out / "videos" / f"{p.video_id}.mp4" for p in plans]
                             + [out / name for name in ("annotations.json", "videos.csv", "info.json")])
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(encode, range(num)))

    database = {}
    distractors = {}
    for plan, subset in zip(plans, subsets):
        events = sorted((e for e in plan.events if e.modality == "audio-visual"), key=lambda e: (e.start, e.end))
        database[plan.video_id] = {
            "subset": subset, "duration": round(plan.duration, 3), "fps": FPS,
            "annotations": [{"segment": [round(e.start / FPS, 3), round(e.end / FPS, 3)],
                             "label": classes[e.label_id].label, "label_id": e.label_id} for e in events]}
        distractors[plan.video_id] = [{"segment": [round(e.start / FPS, 3), round(e.end / FPS, 3)],
                                       "label": classes[e.label_id].label, "modality": e.modality}
                                      for e in plan.events if e.modality != "audio-visual"]
    write_json(out / "annotations.json", {"version": "unav-synthetic-demo", "database": database})
    write_text(out / "videos.csv", "".join(f"{p.video_id},0,{p.duration:g}\n" for p in plans))
    info = {
        "synthetic": True,
        "description": "Synthetic demo videos made by `unav demo-videos` for the offline workflow; not real "
                       "data. Each class has its own visual pattern and sound; annotated events show both, "
                       "distractors (not annotated) show only one of them.",
        "seed": seed, "num_videos": num, "size": [width, height], "fps": FPS, "audio_rate": AUDIO_RATE,
        "url_template": (out / "videos").as_uri() + "/{id}.mp4",
        "classes": [{"label_id": k, "label": c.label, "visual": c.visual_text, "sound": c.sound_text}
                    for k, c in enumerate(classes)],
        "subsets": {s: subsets.count(s) for s in ("train", "validation", "test")},
        "distractors": distractors,
    }
    write_json(out / "info.json", info)
    return info
