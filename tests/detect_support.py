"""Shared helpers of the detect tests: tiny lavfi clips, a checkpoint trained here on features extracted with
random weights (small crop, DIS flow) so that its feature provenance records those settings, and a minimal
WebDriver client for the headless-browser checks (chromedriver's W3C HTTP API through urllib)."""
from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import torch

from local_http import serve_directory as http_server  # noqa: F401  (re-exported for the detect tests)
from unav.media.ffmpeg import ffmpeg_exe

# extraction settings of the test checkpoints: random weights, tiny frames, DIS flow
FAST = dict(weights="random", flow_method="dis", min_side=32, crop=16, batch_size=32, seed=5, progress=False)
CLASSES = ("beep", "flash")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Browser checks need Debian's chromium and chromedriver (scripts/setup.sh --system installs both).
needs_browser = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                   reason="chromium/chromedriver not installed (scripts/setup.sh --system)")


def make_clip(path: Path, seconds: float, freq: int = 440, size: str = "64x48", fps: int = 25,
              audio: bool = True, colour: str | None = None) -> Path:
    """A small H.264/AAC mp4 from lavfi sources (test pattern or a plain colour, sine tone)."""
    video = f"color=c={colour}:s={size}:r={fps}:d={seconds}" if colour else \
        f"testsrc2=s={size}:r={fps}:d={seconds}"
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", video]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=f={freq}:sample_rate=44100:d={seconds}", "-c:a", "aac", "-shortest"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", str(path)]
    subprocess.run(cmd, check=True)
    return path


def _train(root: Path, feat_dir: Path, ann_path: Path, modalities: list[str], name: str) -> Path:
    from unav.config import load_config
    from unav.data.annotations import load_annotations
    from unav.engine.train import train

    cfg = load_config([Path(__file__).resolve().parents[1] / "unav" / "configs" / "demo.yaml"], {
        "seed": 1,
        "dataset": {"max_seq_len": 32, "num_workers": 0},
        "model": {"modalities": modalities, "embd_dim": 16, "n_head": 2, "self_att_layers": 1,
                  "dependency": {"hidden": 8}, "head": {"dim": 16}},
        "train": {"epochs": 1, "warmup_epochs": 1, "batch_size": 2, "eval_every": 0, "device": "cpu",
                  "log_every": 100},
        "test": {"pre_nms_thresh": 0.0}})
    out = root / name
    train(cfg, load_annotations(ann_path), feat_dir, out)
    return out / "best.pt"


def build_checkpoints(root: Path) -> dict[str, Path]:
    """Once per session (cached in `root`): {"av": audio-visual checkpoint, "audio": audio-only checkpoint,
    "features": their feature folder}. Four 4-6 s lavfi clips, two classes."""
    done = root / "checkpoints.json"
    if done.is_file():
        return {k: Path(v) for k, v in json.loads(done.read_text()).items()}
    from unav.features.extract import ExtractSettings, Extractor
    from unav.io import write_json

    root.mkdir(parents=True, exist_ok=True)
    clips, database = [], {}
    for i, seconds in enumerate((4.0, 5.0, 6.0, 4.5)):
        clip = make_clip(root / f"train{i}.mp4", seconds, freq=300 + 200 * i)
        clips.append(clip)
        database[clip.stem] = {"subset": "train", "duration": seconds, "annotations": [
            {"segment": [0.5, seconds / 2], "label": CLASSES[0], "label_id": 0},
            {"segment": [seconds / 2, seconds - 0.3], "label": CLASSES[1], "label_id": 1}]}
    feat_dir = root / "features"
    extractor = Extractor(ExtractSettings(**FAST))
    for clip in clips:
        extractor.extract(clip, feat_dir)
    ann_path = root / "annotations.json"
    write_json(ann_path, {"database": database})
    torch.manual_seed(0)
    paths = {"av": _train(root, feat_dir, ann_path, ["visual", "audio"], "run_av"),
             "audio": _train(root, feat_dir, ann_path, ["audio"], "run_audio"),
             "features": feat_dir, "annotations": ann_path}
    done.write_text(json.dumps({k: str(v) for k, v in paths.items()}))
    return paths


def edited_checkpoint(src: Path, dest: Path, **changes) -> Path:
    """A copy of checkpoint `src` with top-level entries replaced (e.g. feature_provenance)."""
    ckpt = torch.load(src, map_location="cpu", weights_only=True)
    ckpt.update(changes)
    torch.save(ckpt, dest)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """Headless chromium driven through chromedriver's W3C WebDriver HTTP API."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        self.profile = tempfile.TemporaryDirectory(prefix="unav-chromium-")
        for _ in range(200):
            try:
                self._call("GET", "/status")
                break
            except OSError:
                time.sleep(0.05)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
                f"--user-data-dir={self.profile.name}"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM, "args": args}}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())["value"]

    def open(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def js(self, script: str, *args):
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)})

    def find_all(self, css: str) -> list[str]:
        found = self._call("POST", f"/session/{self.session}/elements", {"using": "css selector", "value": css})
        return [next(iter(e.values())) for e in found]

    def click(self, element: str) -> None:
        self._call("POST", f"/session/{self.session}/element/{element}/click", {})

    def wait(self, script: str, timeout: float = 10.0, *args):
        """Poll `script` until it returns a truthy value; returns it (or the last value after `timeout`)."""
        end = time.time() + timeout
        value = None
        while time.time() < end:
            value = self.js(script, *args)
            if value:
                return value
            time.sleep(0.1)
        return value

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call("DELETE", f"/session/{self.session}")
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.profile.cleanup()


def check_page(page: Path, expect_events: int | None = None) -> dict:
    """Load `page` in headless chromium; check the events render, click one and check that the video seeked
    and the cursor followed. Returns what was seen."""
    browser = Browser()
    try:
        browser.open(page.resolve().as_uri())
        ready = browser.wait("var v = document.querySelector('video'); return v && v.readyState >= 1 && "
                             "[v.readyState, v.duration, v.currentSrc];", 20.0)
        assert ready, "the video did not load its metadata (codec or path problem)"
        bars = browser.find_all(".ev")
        if expect_events is not None:
            assert len(bars) == expect_events
        seen = {"ready": ready, "bars": len(bars), "rows": len(browser.find_all(".row.cls"))}
        if bars:
            target = {"element-6066-11e4-a52e-4f735466cecf": bars[-1]}   # W3C element reference
            start = float(browser.js("return parseFloat(arguments[0].dataset.start);", target))
            browser.click(bars[-1])
            video = "var s = arguments[0].closest('section'); var v = s.querySelector('video'); "
            t = browser.wait(video + "return Math.abs(v.currentTime - arguments[1]) < 0.05 && v.currentTime;",
                             10.0, target, start)
            seen["start"], seen["current_time"] = start, float(t or 0)
            seen["cursor"] = browser.js(video + "return s.querySelector('.cursor').style.left;", target)
            seen["duration"] = float(browser.js(video + "return v.duration;", target))
            seen["resources"] = browser.js("return performance.getEntriesByType('resource').map(e => e.name);")
            seen["active"] = len(browser.find_all(".ev.active"))
        seen["errors"] = browser.js("return Array.from(document.querySelectorAll('video'))"
                                    ".map(v => v.error && v.error.code).filter(Boolean);")
        return seen
    finally:
        browser.close()


@contextlib.contextmanager
def one_thread():
    """Run torch single-threaded inside the block (tiny tensors: threads only add waiting on a busy CI box)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# Shared fixtures: test modules import them by name (pytest registers imported fixtures).
@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
    with one_thread():
        return build_checkpoints(tmp_path_factory.getbasetemp() / "detect-checkpoints")


@pytest.fixture(autouse=True)
def _single_thread():
    with one_thread():
        yield
