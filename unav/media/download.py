"""Download one video with yt-dlp, verify it, and record the outcome in a status file.

CLI (unav/commands/download.py):

    unav download --id ID --url-template 'https://www.youtube.com/watch?v={id}' --out raw/ID.mp4 \\
        --status raw/ID.status.json [--retries 3] [--backoff 2.0] [--rate-limit 2M] [--sleep-interval S] \\
        [--cookies FILE] [--proxy URL] [--format b] [--timeout S] [--ytdlp-arg ARG ...] [--record-failure] [--force]
    unav download collect STATUS.json ... --failures failures.tsv --ok-list ok.txt

(The id may also be given as the first positional argument; use `--id=ID` for ids starting with '-'.)

One download: yt-dlp runs as a subprocess of this Python (`python -m yt_dlp`, an argument list, never a
shell string) into a temporary file beside OUT; the result is checked with probe (a video stream, duration > 0;
yt-dlp exits 0 on a web page served under a video name) and renamed onto OUT. Transient failures (network,
HTTP 5xx/429, timeouts) are retried `retries` times, waiting `backoff * 2**k` seconds; permanent ones (HTTP
404/403/410, private, removed or unavailable videos, not a video) are not. The status file is written in every
case; a failure exits 2, or 0 with `--record-failure` (the workflow's mode: it drops the video and goes on).
An existing OUT that no recorded successful download wrote is never removed or replaced, unless `--force`, and
then only by a successful download.

Status file (JSON): {"id": str, "ok": bool, "reason": str ("" when ok), "kind": "ok" | "not_found" |
"forbidden" | "private" | "unavailable" | "age_restricted" | "not_a_video" | "network" | "rate_limited" |
"server_error" | "timeout" | "error", "attempts": int, "url": str, "duration": float | null, "has_audio":
bool | null}. An ok status with its file present means there is nothing to do; a failed status is retried
(rerunning retries only the failures).

One URL (`unav detect`'s URL inputs, `download_url`): the same retries, config isolation and probe check, the
file named by yt-dlp (`{its id}.{ext}`) inside a given folder; a failure is an UnavError naming the URL.

Collect: `failures.tsv` has the header `id<TAB>reason<TAB>attempts<TAB>url` and one line per failed video
(tabs/newlines in reasons replaced by spaces); `ok.txt` lists the ok ids, one per line, in argument order.
"""
from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..errors import UnavError
from ..io import check_output_file, remove_stale_temporaries, write_json, write_text
from .probe import VideoInfo, probe
from .trim import same_file
from .videolist import check_safe_stem

log = logging.getLogger(__name__)

DEFAULT_URL_TEMPLATE = "https://www.youtube.com/watch?v={id}"
PERMANENT = {"not_found", "forbidden", "private", "unavailable", "age_restricted", "not_a_video"}

# (kind, pattern in yt-dlp's stderr, short description); first match wins.
_RULES: list[tuple[str, re.Pattern, str]] = [
    ("private", re.compile(r"private video|video is private", re.I), "private video"),
    ("age_restricted", re.compile(r"confirm your age|age[- ]restricted|inappropriate for some users", re.I),
     "age-restricted (pass --cookies of a signed-in account)"),
    ("unavailable", re.compile(r"video unavailable|has been removed|no longer available|account .*terminated|"
                               r"not available in your country|copyright claim|members[- ]only", re.I),
     "removed or unavailable"),
    ("not_found", re.compile(r"HTTP Error 404|\b404\b.*not found", re.I), "HTTP 404 not found"),
    ("not_found", re.compile(r"HTTP Error 410", re.I), "HTTP 410 gone"),
    ("forbidden", re.compile(r"HTTP Error 403", re.I), "HTTP 403 forbidden"),
    ("rate_limited", re.compile(r"HTTP Error 429|too many requests|confirm you.re not a bot", re.I),
     "rate limited (HTTP 429 / bot check; slow down or pass --cookies)"),
    ("server_error", re.compile(r"HTTP Error 5\d\d", re.I), "server error"),
    ("not_a_video", re.compile(r"Unsupported URL|no video formats found|requested format is not available", re.I),
     "not a video"),
    ("timeout", re.compile(r"timed out|timeout", re.I), "timed out"),
    ("network", re.compile(r"connection refused|connection reset|name resolution|name or service not known|"
                           r"network is unreachable|failed to establish|remote end closed|transporterror", re.I),
     "network error"),
]


@dataclass
class DownloadOptions:
    url_template: str = DEFAULT_URL_TEMPLATE
    retries: int = 3                     # extra attempts after the first, for transient failures
    backoff: float = 2.0                 # seconds before the first retry, doubled for each further one
    rate_limit: str | None = None        # yt-dlp --limit-rate, e.g. "2M"
    sleep_interval: float | None = None  # yt-dlp --sleep-interval (seconds before each download)
    cookies: str | None = None
    proxy: str | None = None
    format: str = "b"                    # the release used `-f b` (best single file with video and audio)
    timeout: float | None = None         # seconds per yt-dlp attempt (None: no limit)
    extra_args: list[str] = field(default_factory=list)
    progress: bool = False               # yt-dlp's progress line on our stderr (a person at a terminal)


@dataclass
class Attempt:
    returncode: int
    stderr: str
    stdout: str = ""


@dataclass
class Outcome:
    """The end of one download (after its retries)."""

    kind: str = "error"              # "ok" or a failure kind (see the status file)
    reason: str = ""                 # "" when ok
    attempts: int = 0
    info: VideoInfo | None = None    # the probed video (ok only)


URL_SCHEMES = ("http", "https", "file")


def build_url(template: str, video_id: str) -> str:
    """The URL of `video_id`: `{id}` in the template replaced (no other placeholders)."""
    from urllib.parse import urlsplit

    if "{id}" not in template:
        raise UnavError(f"URL template {template!r} has no {{id}} placeholder")
    url = template.replace("{id}", video_id)
    parts = urlsplit(url)
    if parts.scheme not in URL_SCHEMES or not (parts.netloc or parts.path) or any(c.isspace() for c in url):
        raise UnavError(f"URL template {template!r}: {url!r} is not a URL yt-dlp can fetch; expected an http://, "
                        f"https:// or file:// URL without spaces (e.g. {DEFAULT_URL_TEMPLATE})")
    return url


def ytdlp_command(url: str, dest: Path, opts: DownloadOptions) -> list[str]:
    """yt-dlp argument list writing exactly `dest` (no .part file, no mtime from the server, no user config)."""
    return _ytdlp_args(url, ["-o", _literal(dest)], opts)


def ytdlp_url_command(url: str, dest_dir: Path, opts: DownloadOptions) -> list[str]:
    """yt-dlp argument list writing `{dest_dir}/{its id}.{ext}` (separate video and audio merged into mp4) and
    printing that path on stdout."""
    from .ffmpeg import ffmpeg_exe

    output = ["-o", f"{_literal(dest_dir)}/%(id)s.%(ext)s", "--restrict-filenames", "--merge-output-format", "mp4",
              "--ffmpeg-location", ffmpeg_exe(), "--print", "after_move:filepath", "--no-simulate"]
    return _ytdlp_args(url, output, opts)


def _literal(path: Path) -> str:
    """`path` as a yt-dlp output template that names exactly it ('%' is its placeholder sign)."""
    return str(path).replace("%", "%%")


def _ytdlp_args(url: str, output: list[str], opts: DownloadOptions) -> list[str]:
    progress = [] if opts.progress else ["--no-progress", "--newline"]
    cmd = [sys.executable, "-m", "yt_dlp", "--ignore-config", "--no-playlist", "--no-part", "--no-mtime",
           "--no-cache-dir", *progress, "--retries", "2", "--fragment-retries", "2",
           "--socket-timeout", "30", "-f", opts.format, *output]
    if url.startswith("file:"):
        cmd.append("--enable-file-urls")
    if opts.rate_limit:
        cmd += ["--limit-rate", str(opts.rate_limit)]
    if opts.sleep_interval:
        cmd += ["--sleep-interval", str(opts.sleep_interval)]
    if opts.cookies:
        cmd += ["--cookies", str(opts.cookies)]
    if opts.proxy:
        cmd += ["--proxy", str(opts.proxy)]
    cmd += list(opts.extra_args)
    return cmd + ["--", url]


def classify_failure(stderr: str) -> tuple[str, str]:
    """(kind, reason) of a failed yt-dlp run from its stderr; reason quotes yt-dlp's ERROR line."""
    errors = [ln.strip() for ln in stderr.splitlines() if ln.strip().startswith("ERROR")]
    quote = (errors[-1] if errors else stderr.strip().splitlines()[-1] if stderr.strip() else "no message")[:400]
    for kind, pattern, text in _RULES:
        if pattern.search(stderr):
            return kind, f"{text}: {quote}"
    return "error", f"yt-dlp failed: {quote}"


def _run_ytdlp(cmd: list[str], timeout: float | None, progress: bool = False) -> Attempt:
    """One yt-dlp run; with `progress` its stdout (where it draws progress) goes to our stderr, not captured."""
    try:
        proc = subprocess.run(cmd, stdout=sys.stderr if progress else subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Attempt(returncode=-1, stderr=f"ERROR: yt-dlp did not finish within {timeout} s (timed out)")
    except OSError as err:
        raise UnavError(f"could not start yt-dlp ({cmd[0]} -m yt_dlp): {err}") from err
    stderr = proc.stderr.decode("utf-8", errors="replace")
    if proc.returncode != 0 and "No module named yt_dlp" in stderr:
        raise UnavError(f"yt-dlp is not installed for {cmd[0]}; install it with `pip install yt-dlp` "
                        f"(or the package's `workflow` extra)")
    return Attempt(returncode=proc.returncode, stderr=stderr,
                   stdout=(proc.stdout or b"").decode("utf-8", errors="replace"))


def _verified(attempt: Attempt, file: Path | None) -> Outcome:
    """The outcome of one yt-dlp run that should have written `file`: its classified failure, or the probed
    video (yt-dlp exits 0 on a web page served under a video name)."""
    if attempt.returncode != 0:
        return Outcome(*classify_failure(attempt.stderr))
    if file is None or not file.is_file():
        return Outcome("error", "yt-dlp exited 0 but wrote no file")
    try:
        info = probe(file)
    except UnavError as err:
        detail = str(err).replace(str(file.resolve()), "").replace(str(file), "").lstrip(": ")
        return Outcome("not_a_video", f"not a video (yt-dlp succeeded but the file is no playable video): {detail}")
    return Outcome("ok", info=info)


def _with_retries(label: str, opts: DownloadOptions, sleep: Callable[[float], None],
                  attempt_once: Callable[[], Outcome]) -> Outcome:
    """Run `attempt_once` until it succeeds, fails permanently or `opts.retries` retries are spent, waiting
    `backoff * 2**k` seconds before retry k."""
    outcome = Outcome()
    for attempt in range(opts.retries + 1):
        if attempt:
            delay = opts.backoff * 2 ** (attempt - 1)
            log.info("%s: attempt %d failed (%s); retrying in %.1f s", label, attempt, outcome.kind, delay)
            sleep(delay)
        outcome = attempt_once()
        outcome.attempts = attempt + 1
        if outcome.kind == "ok" or outcome.kind in PERMANENT:
            break
    return outcome


def read_status(path: str | Path) -> dict | None:
    """The status dict in `path`, or None when absent or unreadable."""
    import json

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "ok" in data else None


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def check_options(out: Path, status_path: Path, opts: DownloadOptions) -> None:
    """Refuse, before yt-dlp runs, outputs that cannot be written or collide, nonsense numbers and a missing
    cookies file (yt-dlp would only fail after connecting)."""
    check_output_file(out, "--out")
    check_output_file(status_path, "--status")
    if same_file(out, status_path):
        raise UnavError(f"--out {out} and --status {status_path} are the same file; expected two different paths "
                        f"(the status JSON would replace the video)")
    if opts.retries < 0 or not 0 <= opts.backoff < float("inf"):
        raise UnavError(f"retries {opts.retries} and backoff {opts.backoff} s: expected both >= 0")
    if opts.timeout is not None and not 0 < opts.timeout < float("inf"):
        raise UnavError(f"timeout {opts.timeout} s: expected a positive number of seconds")
    if opts.cookies and not Path(opts.cookies).is_file():
        what = "is a folder" if Path(opts.cookies).is_dir() else "does not exist"
        raise UnavError(f"--cookies {opts.cookies} {what}; expected a cookies.txt file (Netscape format) for yt-dlp")


def download_video(video_id: str, out: str | Path, status_path: str | Path, opts: DownloadOptions | None = None,
                   strict: bool = False, sleep: Callable[[float], None] = time.sleep, force: bool = False) -> dict:
    """Download `video_id` to `out`, write and return its status dict. With `strict`, a failure raises
    UnavError after the status is written. An existing `out` that no successful download recorded (a file the
    user put there) is never touched: refused, or with `force` replaced only by a successful download."""
    opts = opts or DownloadOptions()
    check_safe_stem(video_id)
    out, status_path = Path(out), Path(status_path)
    url = build_url(opts.url_template, video_id)
    check_options(out, status_path, opts)
    previous = read_status(status_path)
    if previous and previous.get("ok") and previous.get("id") == video_id and out.is_file():
        log.info("%s: already downloaded (%s)", video_id, out)
        return previous
    if out.exists() and not force:
        raise UnavError(f"video {video_id}: {out} already exists and no successful download recorded in "
                        f"{status_path} wrote it; it is left as it is (pass --force to replace it with a new "
                        f"download, kept until one succeeds)")
    if previous and not previous.get("ok"):
        log.info("%s: retrying after an earlier failure (%s)", video_id, previous.get("reason"))
    remove_stale_temporaries([out, status_path])   # what a killed run of this download left half-written
    out.parent.mkdir(parents=True, exist_ok=True)

    def attempt_once() -> Outcome:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp.mp4", dir=out.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        _remove(tmp)  # yt-dlp skips files that already exist
        try:
            outcome = _verified(_run_ytdlp(ytdlp_command(url, tmp, opts), opts.timeout, opts.progress), tmp)
            if outcome.kind == "ok":
                os.replace(tmp, out)
            return outcome
        finally:
            _remove(tmp)

    outcome = _with_retries(video_id, opts, sleep, attempt_once)
    ok = outcome.kind == "ok"
    status = {"id": video_id, "ok": ok, "reason": outcome.reason, "kind": outcome.kind,
              "attempts": outcome.attempts, "url": url,
              "duration": round(outcome.info.duration, 3) if ok else None,
              "has_audio": outcome.info.has_audio if ok else None}
    write_json(status_path, status)
    if status["ok"]:
        log.info("%s: downloaded %s (%.2f s)", video_id, out, status["duration"])
    else:
        log.warning("%s: download failed after %d attempt(s): %s", video_id, status["attempts"], status["reason"])
        if strict:
            raise UnavError(f"video {video_id}: download from {url} failed: {status['reason']}")
    return status


def download_url(url: str, dest_dir: str | Path, opts: DownloadOptions | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> Path:
    """Download one URL into `dest_dir` as `{its yt-dlp id}.{ext}`, with the retries, config isolation and probe
    check of `download_video` (`opts.url_template` is not used); returns the verified video file. A failure is
    an UnavError naming the URL and why."""
    opts = opts or DownloadOptions()
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)

    def attempt_once() -> Outcome:
        try:
            attempt = _run_ytdlp(ytdlp_url_command(url, dest_dir, opts), opts.timeout)
        except UnavError as err:   # yt-dlp missing: say which input needed it
            raise UnavError(f"{url}: {err}") from err
        printed = [ln.strip() for ln in attempt.stdout.splitlines() if ln.strip()]
        file = Path(printed[-1]) if attempt.returncode == 0 and printed else None
        outcome = _verified(attempt, file)
        if outcome.kind != "ok" and file is not None:
            _remove(file)   # a web page under a video name; the next attempt writes the same name
        return outcome

    outcome = _with_retries(url, opts, sleep, attempt_once)
    if outcome.kind != "ok":
        raise UnavError(f"{url}: download with yt-dlp failed ({outcome.attempts} attempt(s)): {outcome.reason}")
    return Path(outcome.info.path)


def _tsv_field(value: object) -> str:
    return re.sub(r"[\t\r\n]+", " ", str(value))


def collect_failures(status_files: Iterable[str | Path], out_tsv: str | Path,
                     ok_list: str | Path | None = None) -> tuple[list[str], list[dict]]:
    """Read status files; write the failures TSV (id, reason, attempts, url) and optionally the ok-id list.
    A missing or unreadable status file counts as a failure. Returns (ok ids, failure records)."""
    ok_ids: list[str] = []
    failures: list[dict] = []
    for path in status_files:
        status = read_status(path)
        if status is None:
            vid = Path(path).name.split(".")[0]
            failures.append({"id": vid, "reason": f"no readable status file {path}", "attempts": 0, "url": ""})
        elif status.get("ok"):
            ok_ids.append(str(status["id"]))
        else:
            failures.append(status)
    lines = ["id\treason\tattempts\turl"]
    lines += ["\t".join(_tsv_field(f.get(k, "")) for k in ("id", "reason", "attempts", "url")) for f in failures]
    write_text(out_tsv, "\n".join(lines) + "\n")
    if ok_list is not None:
        write_text(ok_list, "".join(f"{vid}\n" for vid in ok_ids))
    return ok_ids, failures
