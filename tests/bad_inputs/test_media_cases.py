"""Bad inputs to the media and extraction side: flow, trim, extract, download, weights (fetch, verify, list) and
demo-videos. Every refusal comes before any work, names the option or file, the value and what is allowed, and
leaves the user's files as they were. No network: downloads use bad ids, file:// sources or a closed local
port; extraction uses random weights, DIS flow and tiny frames.

The last tests kill nothing but plant what a killed run leaves behind (`.NAME.XXXXXXXX.tmp.EXT` beside an
output) and show that the next run of the same command removes exactly those files."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import yaml

from .casebook import Case, Context, both, parametrize, run_case, write

FLOW = ["flow", "{video}", "--out", "{tmp}/o.flow", "--no-progress"]
FAST_FLOW = ["--flow-method", "dis", "--dis-preset", "ultrafast", "--min-side", "32", "--crop", "16"]
TRIM = ["trim", "{video_copy}", "--start", "0", "--end", "1"]
FAST_EXTRACT = ["--weights", "random", "--flow-method", "dis", "--dis-preset", "ultrafast", "--min-side", "32",
                "--crop", "16", "--batch-size", "64", "--no-progress"]
DOWNLOAD = ["download", "vid1", "--out", "{tmp}/raw/vid1.mp4", "--status", "{tmp}/raw/vid1.json", "--retries", "0"]
NOWHERE = ["--url-template", "file:///nonexistent-unav-source/{id}.mp4"]   # a source that fails at once
DEMO = ["demo-videos", "--out-dir", "{tmp}/demo", "--num", "1", "--min-seconds", "4", "--max-seconds", "4",
        "--size", "32x32"]
CLOSED_PORT = "http://127.0.0.1:9"   # the discard port: nothing listens, the connection is refused at once


def extract(*videos: str, out: str = "{tmp}/feats") -> list[str]:
    return ["extract", *videos, "--out-dir", out, *FAST_EXTRACT]


def weights(action: str, *extra: str) -> list[str]:
    return ["weights", action, *extra, "--weights-dir", "{tmp}/w", "--registry", "{tmp}/reg.yaml"]


# ---- setups: inputs a careless user might have ----------------------------------------------------------------
def clip(name: str, seconds: float = 1.2, audio: bool = True, video: bool = True):
    """A small lavfi clip {tmp}/NAME, optionally without sound or without pictures."""
    def setup(ctx: Context) -> None:
        from unav.media.ffmpeg import run_ffmpeg

        args = ["-y", "-v", "error"]
        if video:
            args += ["-f", "lavfi", "-i", f"testsrc=size=64x48:rate=25:duration={seconds}"]
        if audio:
            args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={seconds}"]
        args += (["-c:v", "libx264", "-pix_fmt", "yuv420p"] if video else []) + (["-c:a", "aac"] if audio else [])
        target = ctx.tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        run_ffmpeg(args + ["-shortest", "-f", "mp4", f"file:{target}"])
    return setup


def folder(name: str):
    def setup(ctx: Context) -> None:
        (ctx.tmp / name).mkdir(parents=True, exist_ok=True)
    return setup


def copy_video(name: str):
    """The 3-s fixture clip copied to {tmp}/NAME (e.g. under a name an output would take)."""
    def setup(ctx: Context) -> None:
        target = ctx.tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(ctx.fixtures["video"].read_bytes())
    return setup


def link_to_copy(name: str, hard: bool = False):
    """{tmp}/NAME: a symbolic (or hard) link to the per-case video copy."""
    def setup(ctx: Context) -> None:
        source = ctx.path("{video_copy}")
        (os.link if hard else os.symlink)(source, ctx.tmp / name)
    return setup


BLOB = b"published weights" * 64


def registry(entry: dict | None = None, text: str | None = None, blob: bytes = BLOB):
    """{tmp}/reg.yaml with one entry `blob` (served from {tmp}/www/blob.bin by file://, sha256 of BLOB unless
    the entry says otherwise), or the raw `text`."""
    def setup(ctx: Context) -> None:
        www = ctx.tmp / "www"
        www.mkdir(exist_ok=True)
        (www / "blob.bin").write_bytes(blob)
        if text is not None:
            (ctx.tmp / "reg.yaml").write_text(text)
            return
        spec = {"file": "blob.bin", "url": (www / "blob.bin").as_uri(), "sha256": hashlib.sha256(BLOB).hexdigest()}
        spec.update({k: v.replace("{tmp}", str(ctx.tmp)) if isinstance(v, str) else v
                     for k, v in (entry or {}).items()})
        (ctx.tmp / "reg.yaml").write_text(yaml.safe_dump({"weights": {"blob": spec}}))
    return setup


def exists(*paths: str):
    def check(ctx: Context) -> None:
        for p in paths:
            assert ctx.path(p).is_file(), f"{ctx.path(p)} missing"
    return check


CASES = [
    # ---- flow: numeric options ------------------------------------------------------------------------------
    Case("flow-crop-zero", FLOW + FAST_FLOW + ["--crop", "0"], 2, "argument --crop: expected an integer >= 1, got 0",
         absent=("{tmp}/o.flow",)),
    Case("flow-crop-negative", FLOW + FAST_FLOW + ["--crop", "-16"], 2,
         "argument --crop: expected an integer >= 1, got -16", absent=("{tmp}/o.flow",)),
    Case("flow-updates-zero", FLOW + FAST_FLOW + ["--flow-updates", "0"], 2,
         "argument --flow-updates: expected an integer >= 1",
         absent=("{tmp}/o.flow",)),
    Case("flow-batch-size-zero", FLOW + FAST_FLOW + ["--batch-size", "0"], 2, "argument --batch-size: expected",
         absent=("{tmp}/o.flow",)),
    Case("flow-min-side-negative", FLOW + FAST_FLOW + ["--min-side", "-1"], 2,
         "argument --min-side: expected an integer >= 1", absent=("{tmp}/o.flow",)),
    Case("flow-seed-negative", FLOW + FAST_FLOW + ["--seed", "-1"], 2, "argument --seed: expected an integer in [0,",
         absent=("{tmp}/o.flow",)),
    Case("flow-crop-larger-than-frames", FLOW + ["--flow-method", "dis", "--crop", "300", "--min-side", "256"], 2,
         "--crop 300 is larger than --min-side 256", absent=("{tmp}/o.flow",)),
    Case("flow-raft-frames-too-small", FLOW + ["--min-side", "64", "--crop", "32", "--flow-updates", "1"], 2,
         "--min-side 64 is too small for RAFT flow: expected --min-side >= 121", absent=("{tmp}/o.flow",)),
    Case("flow-device-not-a-device", FLOW + ["--device", "gpu", "--flow-updates", "1"], 2,
         "--device 'gpu' is not a device: expected auto, cpu, cuda or cuda:N", absent=("{tmp}/o.flow",)),
    Case("flow-device-not-on-this-machine", FLOW + ["--device", "cuda:99", "--flow-updates", "1"], 2,
         "--device is cuda:99 but", absent=("{tmp}/o.flow",)),
    # ---- flow: inputs and outputs -----------------------------------------------------------------------------
    Case("flow-video-is-a-folder", ["flow", "{tmp}/clips", "--out", "{tmp}/o.flow", *FAST_FLOW], 2,
         "clips is a folder; expected a video file", setup=folder("clips"), absent=("{tmp}/o.flow",)),
    Case("flow-video-missing", ["flow", "{tmp}/nope.mp4", "--out", "{tmp}/o.flow", *FAST_FLOW], 2,
         "nope.mp4: file not found", absent=("{tmp}/o.flow",)),
    Case("flow-video-empty", ["flow", "{tmp}/empty.mp4", "--out", "{tmp}/o.flow", *FAST_FLOW], 2,
         "empty.mp4: file is empty (0 bytes); expected a video file", setup=write("empty.mp4"),
         absent=("{tmp}/o.flow",)),
    Case("flow-audio-only-file", ["flow", "{tmp}/song.mp4", "--out", "{tmp}/o.flow", *FAST_FLOW], 2,
         "song.mp4: no video stream; expected a video file", setup=clip("song.mp4", video=False),
         absent=("{tmp}/o.flow",)),
    Case("flow-out-is-a-folder", ["flow", "{video}", "--out", "{tmp}/flows", *FAST_FLOW], 2,
         "error: --out", setup=folder("flows"), unchanged=("{tmp}/flows",)),
    Case("flow-out-is-the-video", ["flow", "{video_copy}", "--out", "{video_copy}", *FAST_FLOW], 2,
         "is the input video", unchanged=("{video_copy}",)),
    # ---- trim ---------------------------------------------------------------------------------------------------
    Case("trim-out-is-the-input", TRIM + ["--out", "{video_copy}"], 2, "is the input video",
         unchanged=("{video_copy}",)),
    Case("trim-out-is-the-input-dot-spelling", TRIM + ["--out", "{tmp}/./_video_copy.mp4"], 2, "is the input video",
         unchanged=("{video_copy}",)),
    Case("trim-out-is-the-input-dotdot-spelling", TRIM + ["--out", "{tmp}/sub/../_video_copy.mp4"], 2,
         "is the input video", setup=folder("sub"), unchanged=("{video_copy}",)),
    Case("trim-out-is-a-symlink-to-the-input", TRIM + ["--out", "{tmp}/link.mp4"], 2, "is the input video",
         setup=link_to_copy("link.mp4"), unchanged=("{video_copy}",)),
    Case("trim-out-is-a-hard-link-to-the-input", TRIM + ["--out", "{tmp}/hard.mp4"], 2, "is the input video",
         setup=link_to_copy("hard.mp4", hard=True), unchanged=("{video_copy}", "{tmp}/hard.mp4")),
    Case("trim-out-is-a-folder", TRIM + ["--out", "{tmp}/cuts"], 2, "error: --out", setup=folder("cuts"),
         unchanged=("{tmp}/cuts", "{video_copy}")),
    Case("trim-out-below-a-file", TRIM + ["--out", "{video_copy}/cut.mp4"], 2, "error: --out",
         unchanged=("{video_copy}",)),
    Case("trim-start-negative", ["trim", "{video}", "--start", "-1", "--end", "1", "--out", "{tmp}/cut.mp4"], 2,
         "argument --start: expected a finite number >= 0, got -1", absent=("{tmp}/cut.mp4",)),
    Case("trim-start-nan", ["trim", "{video}", "--start", "nan", "--end", "1", "--out", "{tmp}/cut.mp4"], 2,
         "argument --start: expected a finite number", absent=("{tmp}/cut.mp4",)),
    Case("trim-end-infinite", ["trim", "{video}", "--start", "0", "--end", "inf", "--out", "{tmp}/cut.mp4"], 2,
         "argument --end: expected a finite number > 0, got inf", absent=("{tmp}/cut.mp4",)),
    Case("trim-end-before-start", ["trim", "{video}", "--start", "2", "--end", "1", "--out", "{tmp}/cut.mp4"], 2,
         "cannot cut [2, 1] s; expected 0 <= start < end", absent=("{tmp}/cut.mp4",)),
    Case("trim-start-past-the-end", ["trim", "{video}", "--start", "10", "--end", "12", "--out", "{tmp}/cut.mp4"], 2,
         "start 10 s is at or past the end of the video", absent=("{tmp}/cut.mp4",)),
    Case("trim-threads-zero", ["trim", "{video}", "--start", "0", "--end", "1", "--out", "{tmp}/cut.mp4",
                               "--threads", "0"], 2, "argument --threads: expected an integer >= 1",
         absent=("{tmp}/cut.mp4",)),
    Case("trim-input-is-a-folder", ["trim", "{tmp}/raw", "--start", "0", "--end", "1", "--out", "{tmp}/cut.mp4"], 2,
         "raw is a folder; expected a video file", setup=folder("raw"), absent=("{tmp}/cut.mp4",)),
    Case("trim-text-file-named-mp4", ["trim", "{tmp}/notes.mp4", "--start", "0", "--end", "1",
                                      "--out", "{tmp}/cut.mp4"], 2, "notes.mp4: not readable media file",
         setup=write("notes.mp4", "my shopping list\n"), unchanged=("{tmp}/notes.mp4",), absent=("{tmp}/cut.mp4",)),
    # ---- extract: too short -----------------------------------------------------------------------------------
    Case("extract-video-shorter-than-one-window", extract("{short_video}"), 2,
         "short.mp4 lasts 0.50 s: too short for features; expected a video of at least 1 s",
         absent=("{tmp}/feats",)),
    Case("extract-audio-shorter-than-one-example", extract("{short_video}") + ["--streams", "vggish"], 2,
         "too short for features; expected a video of at least 0.975 s", absent=("{tmp}/feats",)),
    Case("extract-short-video-among-good-ones", extract("{short_video}", "{video}"), 1,
         "1 of 2 video(s) failed: short", absent=("{tmp}/feats/short.json", "{tmp}/feats/short_rgb.npy"),
         check=exists("{tmp}/feats/clip.json", "{tmp}/feats/clip_rgb.npy", "{tmp}/feats/clip_vggish.npy")),
    Case("extract-every-video-bad", extract("{short_video}", "{tmp}/nope.mp4"), 2,
         "2 of 2 video(s) failed: short, nope", absent=("{tmp}/feats",)),
    # ---- extract: numeric options -------------------------------------------------------------------------------
    Case("extract-crop-zero", extract("{video}") + ["--crop", "0"], 2, "argument --crop: expected an integer >= 1",
         absent=("{tmp}/feats",)),
    Case("extract-batch-size-negative", extract("{video}") + ["--batch-size", "-2"], 2,
         "argument --batch-size: expected an integer >= 1, got -2", absent=("{tmp}/feats",)),
    Case("extract-flow-updates-zero", extract("{video}") + ["--flow-updates", "0"], 2,
         "argument --flow-updates: expected an integer >= 1, got 0", absent=("{tmp}/feats",)),
    Case("extract-min-side-zero", extract("{video}") + ["--min-side", "0"], 2, "argument --min-side: expected",
         absent=("{tmp}/feats",)),
    Case("extract-hop-nan", extract("{video}") + ["--hop", "nan"], 2,
         "argument --hop: expected a finite number >= 0.01, got nan", absent=("{tmp}/feats",)),
    Case("extract-hop-zero", extract("{video}") + ["--hop", "0"], 2, "argument --hop: expected a finite number",
         absent=("{tmp}/feats",)),
    Case("extract-seed-negative", extract("{video}") + ["--seed", "-3"], 2, "argument --seed: expected an integer",
         absent=("{tmp}/feats",)),
    Case("extract-crop-larger-than-frames", extract("{video}") + ["--crop", "64"], 2,
         "crop 64 is larger than the frames' shorter side 32", absent=("{tmp}/feats",)),
    Case("extract-raft-frames-too-small", extract("{video}") + ["--flow-method", "raft", "--streams", "flow"], 2,
         "--min-side 32 is too small for RAFT flow", absent=("{tmp}/feats",)),
    Case("extract-device-not-a-device", extract("{video}") + ["--device", "gpu"], 2, "--device 'gpu' is not a device",
         absent=("{tmp}/feats",)),
    Case("extract-unknown-stream", extract("{video}") + ["--streams", "rgb,depth"], 2, "unknown stream(s)",
         absent=("{tmp}/feats",)),
    # ---- extract: inputs and outputs ----------------------------------------------------------------------------
    Case("extract-video-is-a-folder", extract("{tmp}/clips"), 2, "clips is a folder; expected a video file",
         setup=both(folder("clips"), copy_video("clips/a.mp4")), absent=("{tmp}/feats",)),
    Case("extract-video-missing", extract("{tmp}/nope.mp4"), 2, "nope.mp4: file not found",
         absent=("{tmp}/feats",)),
    Case("extract-video-empty", extract("{tmp}/empty.mp4"), 2, "empty.mp4: file is empty (0 bytes)",
         setup=write("empty.mp4"), absent=("{tmp}/feats",)),
    Case("extract-text-file-named-mp4", extract("{tmp}/notes.mp4"), 2, "notes.mp4: not readable media file",
         setup=write("notes.mp4", "not a video\n"), absent=("{tmp}/feats",)),
    Case("extract-no-audio-for-vggish", extract("{tmp}/silent.mp4"), 2, "silent.mp4 has no audio track; VGGish needs",
         setup=clip("silent.mp4", audio=False), absent=("{tmp}/feats",)),
    Case("extract-no-video-stream", extract("{tmp}/song.mp4"), 2, "song.mp4: no video stream; expected a video file",
         setup=clip("song.mp4", video=False), absent=("{tmp}/feats",)),
    Case("extract-out-dir-is-a-file", extract("{video}", out="{video_copy}"), 2,
         "error: --out-dir", unchanged=("{video_copy}",)),
    Case("extract-output-would-replace-the-input", extract("{tmp}/feats/v.json"), 2,
         "v.json itself; expected inputs outside the --out-dir names", setup=copy_video("feats/v.json"),
         unchanged=("{tmp}/feats",)),
    Case("extract-inputs-share-an-id", extract("{tmp}/a/x.mp4", "{tmp}/b/x.mp4"), 2, "share the video id(s) x",
         setup=both(copy_video("a/x.mp4"), copy_video("b/x.mp4")), absent=("{tmp}/feats",)),
    Case("extract-flow-file-missing", extract("{video}") + ["--streams", "flow", "--flow", "{tmp}/none.flow"], 2,
         "none.flow does not exist (expected the output of `unav flow`)", absent=("{tmp}/feats",)),
    Case("extract-flow-file-is-a-folder", extract("{video}") + ["--streams", "flow", "--flow", "{tmp}/f.flow"], 2,
         "f.flow is a folder", setup=folder("f.flow"), absent=("{tmp}/feats",)),
    Case("extract-flow-once-for-two-videos", extract("{video}", "{video_copy}") + ["--flow", "{tmp}/a.flow"], 2,
         "expected one flow file per video", absent=("{tmp}/feats",)),
    # ---- download ---------------------------------------------------------------------------------------------
    Case("download-id-escapes-the-folder", ["download", "--id=../evil", "--out", "{tmp}/raw/e.mp4",
                                            "--status", "{tmp}/raw/e.json", *NOWHERE], 2,
         "video id '../evil' is not a safe name", absent=("{tmp}/raw",)),
    Case("download-id-with-a-space", ["download", "a b", "--out", "{tmp}/raw/e.mp4", "--status", "{tmp}/raw/e.json",
                                      *NOWHERE], 2, "video id 'a b' is not a safe name", absent=("{tmp}/raw",)),
    Case("download-template-without-id", DOWNLOAD + ["--url-template", f"{CLOSED_PORT}/video.mp4"], 2,
         "has no {id} placeholder", absent=("{tmp}/raw",)),
    Case("download-template-not-a-url", DOWNLOAD + ["--url-template", "videos/{id}.mp4"], 2,
         "is not a URL yt-dlp can fetch", absent=("{tmp}/raw",)),
    Case("download-template-unknown-scheme", DOWNLOAD + ["--url-template", "gopher://127.0.0.1/{id}"], 2,
         "is not a URL yt-dlp can fetch; expected an http://, https:// or file:// URL", absent=("{tmp}/raw",)),
    Case("download-retries-negative", DOWNLOAD + NOWHERE + ["--retries", "-1"], 2,
         "argument --retries: expected an integer in [0, 100], got -1", absent=("{tmp}/raw",)),
    Case("download-backoff-nan", DOWNLOAD + NOWHERE + ["--backoff", "nan"], 2, "argument --backoff: expected",
         absent=("{tmp}/raw",)),
    Case("download-timeout-zero", DOWNLOAD + NOWHERE + ["--timeout", "0"], 2,
         "argument --timeout: expected a finite number > 0, got 0", absent=("{tmp}/raw",)),
    Case("download-sleep-interval-negative", DOWNLOAD + NOWHERE + ["--sleep-interval", "-5"], 2,
         "argument --sleep-interval: expected a finite number >= 0", absent=("{tmp}/raw",)),
    Case("download-rate-limit-not-a-rate", DOWNLOAD + NOWHERE + ["--rate-limit", "fast"], 2,
         "argument --rate-limit: expected bytes per second > 0", absent=("{tmp}/raw",)),
    Case("download-cookies-missing", DOWNLOAD + NOWHERE + ["--cookies", "{tmp}/cookies.txt"], 2,
         "cookies.txt does not exist; expected a cookies.txt file", absent=("{tmp}/raw",)),
    Case("download-out-is-a-folder", ["download", "vid1", "--out", "{tmp}/raw", "--status", "{tmp}/vid1.json",
                                      *NOWHERE], 2, "raw is a folder; expected a file path", setup=folder("raw"),
         unchanged=("{tmp}/raw",), absent=("{tmp}/vid1.json",)),
    Case("download-status-is-a-folder", ["download", "vid1", "--out", "{tmp}/vid1.mp4", "--status", "{tmp}/st",
                                         *NOWHERE, "--record-failure"], 2, "error: --status", setup=folder("st"),
         unchanged=("{tmp}/st",), absent=("{tmp}/vid1.mp4",)),
    Case("download-status-is-the-video", ["download", "vid1", "--out", "{tmp}/v.mp4", "--status", "{tmp}/./v.mp4",
                                          *NOWHERE, "--record-failure"], 2, "are the same file",
         absent=("{tmp}/v.mp4",)),
    Case("download-existing-video-kept", DOWNLOAD + NOWHERE, 2, "already exists and no successful download",
         setup=write("raw/vid1.mp4", b"my own video"), unchanged=("{tmp}/raw/vid1.mp4",),
         absent=("{tmp}/raw/vid1.json",)),
    Case("download-forced-replacement-kept-when-it-fails", DOWNLOAD + NOWHERE + ["--force"], 2,
         "download from file:///nonexistent-unav-source/vid1.mp4 failed", setup=write("raw/vid1.mp4", b"mine"),
         unchanged=("{tmp}/raw/vid1.mp4",)),
    Case("download-connection-refused", DOWNLOAD + ["--url-template", CLOSED_PORT + "/{id}.mp4"], 2,
         "network error", absent=("{tmp}/raw/vid1.mp4",)),
    Case("download-collect-failures-is-a-folder", ["download", "collect", "{tmp}/s.json", "--failures", "{tmp}/f"],
         2, "error: --failures", setup=folder("f"), unchanged=("{tmp}/f",)),
    Case("download-collect-status-list-is-a-folder", ["download", "collect", "--status-list", "{tmp}/lists",
                                                      "--failures", "{tmp}/f.tsv"], 2,
         "lists is a folder; expected a file listing status files", setup=folder("lists"),
         absent=("{tmp}/f.tsv",)),
    # ---- weights registries -------------------------------------------------------------------------------------
    Case("weights-registry-not-yaml", weights("fetch", "blob"), 2, "reg.yaml is not valid YAML",
         setup=registry(text="weights: {blob: [unclosed\n"), absent=("{tmp}/w",)),
    Case("weights-registry-not-yaml-list", weights("list"), 2, "reg.yaml is not valid YAML",
         setup=registry(text="weights:\n  blob: {file: a.pt\n\tbad"), absent=("{tmp}/w",)),
    Case("weights-registry-missing-url", weights("fetch", "blob"), 2, "entry 'blob' needs at least `file` and `url`",
         setup=registry(text="weights:\n  blob: {file: blob.bin}\n"), absent=("{tmp}/w",)),
    Case("weights-registry-file-escapes-the-folder", weights("fetch", "blob"), 2, "expected a plain file name",
         setup=registry({"file": "../escaped.bin"}), absent=("{tmp}/escaped.bin", "{tmp}/w")),
    Case("weights-registry-misspelt-checksum-key", weights("fetch", "blob"), 2, "unknown key(s) sha265",
         setup=registry({"sha265": "0" * 64}), absent=("{tmp}/w",)),
    Case("weights-registry-malformed-sha256", weights("fetch", "blob"), 2,
         "has sha256 'abc123'; expected 64 hex digits", setup=registry({"sha256": "abc123"}), absent=("{tmp}/w",)),
    Case("weights-registry-bad-size", weights("fetch", "blob"), 2, "has size -5; expected a whole number of bytes",
         setup=registry({"size": -5}), absent=("{tmp}/w",)),
    Case("weights-registry-url-not-a-url", weights("fetch", "blob"), 2,
         "has url 'weights/blob.bin'; expected an https://", setup=registry({"url": "weights/blob.bin"}),
         absent=("{tmp}/w",)),
    Case("weights-registry-is-a-folder", ["weights", "fetch", "--weights-dir", "{tmp}/w", "--registry", "{tmp}/r"],
         2, "r is a folder; expected a registry YAML", setup=folder("r"), absent=("{tmp}/w",)),
    Case("weights-registry-missing", weights("list"), 2, "reg.yaml cannot be read", absent=("{tmp}/w",)),
    # ---- weights fetch / verify / list ----------------------------------------------------------------------
    Case("weights-fetch-unknown-name", weights("fetch", "blobby"), 2, "unknown weights 'blobby'; expected one of: blob",
         setup=registry(), absent=("{tmp}/w",)),
    Case("weights-fetch-checksum-mismatch", weights("fetch", "blob"), 2, "does not match the published weights",
         setup=registry(blob=b"something else"), absent=("{tmp}/w/blob.bin",)),
    Case("weights-fetch-mismatch-keeps-the-existing-file", weights("fetch", "blob"), 2,
         "does not match the published weights", setup=both(registry(blob=b"other"), write("w/blob.bin", b"old")),
         unchanged=("{tmp}/w/blob.bin",)),
    Case("weights-fetch-connection-refused", weights("fetch", "blob"), 2, "blob: cannot download",
         setup=registry({"url": CLOSED_PORT + "/blob.bin"}), absent=("{tmp}/w/blob.bin",)),
    Case("weights-fetch-source-missing", weights("fetch", "blob"), 2, "blob: cannot download file://",
         setup=registry({"url": "file:///nonexistent-unav-source/blob.bin"}), absent=("{tmp}/w/blob.bin",)),
    Case("weights-fetch-target-is-a-folder", weights("fetch", "blob"), 2,
         "blob.bin is a folder; expected the weights file blob.bin there", setup=both(registry(), folder("w/blob.bin")),
         unchanged=("{tmp}/w",)),
    Case("weights-fetch-dir-is-a-file", ["weights", "fetch", "blob", "--weights-dir", "{video_copy}",
                                         "--registry", "{tmp}/reg.yaml"], 2,
         "is a file; expected a folder", setup=registry(), unchanged=("{video_copy}",)),
    Case("weights-list-dir-is-a-file", ["weights", "list", "--weights-dir", "{video_copy}", "--registry",
                                        "{tmp}/reg.yaml"], 2, "is a file; expected the folder that holds the weights",
         setup=registry(), unchanged=("{video_copy}",)),
    Case("weights-verify-checksum-mismatch", weights("verify"), 2, "1 of 1 weights file(s) failed verification",
         setup=both(registry(), write("w/blob.bin", b"tampered")), unchanged=("{tmp}/w/blob.bin",)),
    Case("weights-verify-missing-file", weights("verify", "blob"), 2, "blob.bin is missing", setup=registry()),
    Case("weights-verify-unknown-name", weights("verify", "blobby"), 2, "unknown weights 'blobby'",
         setup=registry()),
    # ---- demo-videos ------------------------------------------------------------------------------------------
    Case("demo-videos-num-zero", DEMO + ["--num", "0"], 2, "argument --num: expected an integer in [1,",
         absent=("{tmp}/demo",)),
    Case("demo-videos-seed-negative", DEMO + ["--seed", "-1"], 2, "argument --seed: expected an integer in [0,",
         absent=("{tmp}/demo",)),
    Case("demo-videos-size-odd", DEMO + ["--size", "33x32"], 2, "--size '33x32': expected even width and height",
         absent=("{tmp}/demo",)),
    Case("demo-videos-size-huge", DEMO + ["--size", "8192x32"], 2, "of 32 to 4096 pixels", absent=("{tmp}/demo",)),
    Case("demo-videos-size-garbage", DEMO + ["--size", "big"], 2, "--size 'big': expected WIDTHxHEIGHT",
         absent=("{tmp}/demo",)),
    Case("demo-videos-classes-zero", DEMO + ["--classes", "0"], 2, "argument --classes: expected an integer in [1,",
         absent=("{tmp}/demo",)),
    Case("demo-videos-min-seconds-too-small", DEMO + ["--min-seconds", "1"], 2,
         "argument --min-seconds: expected a finite number in [4, 3600], got 1", absent=("{tmp}/demo",)),
    Case("demo-videos-max-seconds-infinite", DEMO + ["--max-seconds", "inf"], 2, "argument --max-seconds: expected",
         absent=("{tmp}/demo",)),
    Case("demo-videos-min-above-max", DEMO + ["--min-seconds", "10", "--max-seconds", "5"], 2,
         "--min-seconds 10 is larger than --max-seconds 5", absent=("{tmp}/demo",)),
    Case("demo-videos-workers-zero", DEMO + ["--workers", "0"], 2, "argument --workers: expected an integer in [1,",
         absent=("{tmp}/demo",)),
    Case("demo-videos-out-is-a-file", ["demo-videos", "--out-dir", "{video_copy}", "--num", "1", "--min-seconds", "4",
                                       "--max-seconds", "4", "--size", "32x32"], 2, "is a file; expected a folder",
         unchanged=("{video_copy}",)),
]


@pytest.fixture
def ctx(ctx: Context) -> Context:
    """The case book's context, with `{id}` left as it is: URL templates hold that placeholder."""
    ctx.paths["id"] = "{id}"
    return ctx


@parametrize(CASES)
def test_bad_input(case, ctx, capsys, caplog):
    run_case(case, ctx, capsys, caplog)


# ---- what a killed run leaves behind ------------------------------------------------------------------------------
KILLED = "k1ll3d00"   # the 8 random characters of a temporary name (tempfile.mkstemp)


def _rerun(name: str, fixtures: dict[str, Path], root: Path) -> tuple[list[str], list[str], list[str]]:
    """(argv, leftovers of this run's outputs, other files that must stay) for one command, under `root`."""
    video, media = fixtures["video"], fixtures["video"].parent
    if name == "trim":
        return (["trim", str(video), "--start", "0", "--end", "1", "--out", str(root / "cut.mp4")],
                [f".cut.mp4.{KILLED}.tmp.mp4"], [f".other.mp4.{KILLED}.tmp.mp4", "cut.mp4.bak", ".cut.mp4.notes"])
    if name == "flow":
        return (["flow", str(video), "--out", str(root / "o.flow"), *FAST_FLOW, "--no-progress"],
                [f".o.flow.{KILLED}.tmp.flow"], [f".p.flow.{KILLED}.tmp.flow", "o.flow.old"])
    if name == "extract":
        # only the rgb stream is asked for: a leftover of the flow file is another output's and stays
        return (["extract", str(video), "--out-dir", str(root), "--streams", "rgb", *FAST_EXTRACT],
                [f".clip_rgb.npy.{KILLED}.tmp.npy", f".clip.json.{KILLED}.tmp.json"],
                [f".clip_flow.npy.{KILLED}.tmp.npy", f".other_rgb.npy.{KILLED}.tmp.npy", "clip_rgb.npy.txt"])
    if name == "download":
        template = media.as_uri() + "/{id}.mp4"
        return (["download", "clip", "--out", str(root / "clip.mp4"), "--status", str(root / "clip.status.json"),
                 "--url-template", template, "--retries", "0"],
                [f".clip.mp4.{KILLED}.tmp.mp4", f".clip.status.json.{KILLED}.tmp.json"],
                [f".clip2.mp4.{KILLED}.tmp.mp4", "clip.txt"])
    if name == "weights":
        return (["weights", "fetch", "blob", "--weights-dir", str(root), "--registry", str(root.parent / "reg.yaml")],
                [f".blob.bin.{KILLED}.tmp.bin"], [f".other.bin.{KILLED}.tmp.bin", "blob.bin.sha256"])
    return (["demo-videos", "--out-dir", str(root), "--num", "1", "--min-seconds", "4", "--max-seconds", "4",
             "--size", "32x32", "--workers", "1"],
            [f".annotations.json.{KILLED}.tmp.json", f".videos.csv.{KILLED}.tmp.csv"],
            [".annotations.json.backup", "annotations.json.orig"])


@pytest.mark.parametrize("command", ["trim", "flow", "extract", "download", "weights", "demo-videos"])
def test_rerun_removes_the_leftovers_of_its_own_outputs(command, bad_fixtures, tmp_path, capsys):
    """Temporary files a killed run left beside its outputs are removed by the next run of the same command for
    the same outputs; temporaries of other outputs and the user's similar-looking files stay."""
    from unav.cli import main

    if command == "download":
        pytest.importorskip("yt_dlp")
    root = tmp_path / "out"
    root.mkdir()
    registry()(Context(tmp=tmp_path, fixtures=bad_fixtures))   # for weights fetch: {tmp}/reg.yaml, file:// source
    argv, own, others = _rerun(command, bad_fixtures, root)
    for name in own + others:
        (root / name).write_bytes(b"half-written by a killed run")
    assert main(argv) == 0, capsys.readouterr().err
    left = {p.name for p in root.iterdir()}
    assert not left & set(own), f"leftovers of this run's outputs remain: {sorted(left & set(own))}"
    assert set(others) <= left, f"files that are not this run's temporaries were removed: {set(others) - left}"
