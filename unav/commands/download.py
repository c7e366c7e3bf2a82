"""`unav download`: fetch one video with yt-dlp and record the outcome; `unav download collect`: summarise.

    unav download --id=ID --out raw/ID.mp4 --status raw/ID.status.json \\
        [--url-template 'https://www.youtube.com/watch?v={id}'] [--retries 3] [--backoff 2.0] \\
        [--rate-limit 2M] [--sleep-interval S] [--cookies FILE] [--proxy URL] [--format b] [--timeout S] \\
        [--ytdlp-arg=ARG ...] [--record-failure] [--force]
    unav download collect [STATUS.json ...] [--status-list FILE] --failures failures.tsv [--ok-list ok.txt]

The id may also be the first positional argument (`unav download ID …`); ids starting with '-' must use
`--id=ID`. A failed download writes its status with ok=false and exits 2; with --record-failure (the workflow's
mode: `unav download collect` gathers the failures) it exits 0. An existing --out file is never removed: a file
that no recorded successful download wrote is refused unless --force, and then replaced only by a successful
download. File formats: see unav.media.download.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..errors import UnavError
from .progress import add_progress_option, show_progress
from .ranges import integer, number

EXAMPLES = (
    "unav download --id=--HuBNHXu9I --out raw/--HuBNHXu9I.mp4 --status raw/--HuBNHXu9I.status.json",
    "unav download collect raw/*.status.json --failures failures.tsv --ok-list ok.txt",
)


def rate_limit(text: str) -> str:
    """argparse type: yt-dlp's --limit-rate, bytes per second > 0 with an optional binary unit (e.g. 50K, 2M)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*[KMGTPEZY]?", text.strip(), re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected bytes per second > 0, optionally with a unit K, M, G, … "
                                         f"(e.g. 50K or 2M), got {text!r}")
    return text.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("items", nargs="*", metavar="ID | collect STATUS",
                        help="the video id, or `collect` followed by status files")
    parser.add_argument("--id", dest="video_id", default=None, help="the video id (use --id=ID if it starts with '-')")
    parser.add_argument("--url-template", default=None,
                        help="URL with an {id} placeholder (default: https://www.youtube.com/watch?v={id}); "
                             "file:// and http:// sources work too")
    parser.add_argument("--out", type=Path, default=None, help="where the verified video goes (e.g. raw/ID.mp4)")
    parser.add_argument("--status", type=Path, default=None, help="status JSON written in every case")
    parser.add_argument("--retries", type=integer(0, 100), default=3,
                        help="extra attempts after transient failures")
    parser.add_argument("--backoff", type=number(0, 3600), default=2.0,
                        help="seconds before the first retry, doubled for each further one")
    parser.add_argument("--rate-limit", type=rate_limit, default=None, help="yt-dlp --limit-rate, e.g. 2M")
    parser.add_argument("--sleep-interval", type=number(0), default=None,
                        help="seconds yt-dlp sleeps before downloading")
    parser.add_argument("--cookies", default=None, help="cookies.txt passed to yt-dlp")
    parser.add_argument("--proxy", default=None, help="proxy URL passed to yt-dlp")
    parser.add_argument("--format", default="b", help="yt-dlp format selector (b: as the UnAV-100 release)")
    parser.add_argument("--timeout", type=number(0, low_open=True), default=None,
                        help="seconds allowed per yt-dlp attempt")
    parser.add_argument("--ytdlp-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for yt-dlp (repeatable; write --ytdlp-arg=--opt)")
    parser.add_argument("--record-failure", action="store_true",
                        help="exit 0 when the download fails, the failure recorded in --status (the workflow's mode; "
                             "default: exit 2)")
    parser.add_argument("--strict", action="store_true", help=argparse.SUPPRESS)   # the default now; kept working
    parser.add_argument("--force", action="store_true",
                        help="replace an existing --out file that no recorded download wrote (only on success)")
    parser.add_argument("--status-list", type=Path, default=None,
                        help="collect: a file listing status files, one per line")
    parser.add_argument("--failures", type=Path, default=None, help="collect: failures TSV to write")
    parser.add_argument("--ok-list", type=Path, default=None, help="collect: file of ok ids to write")
    add_progress_option(parser)


def _collect(args: argparse.Namespace, files: list[str]) -> int:
    from ..io import check_output_file
    from ..media.download import collect_failures

    if args.failures is None:
        raise UnavError("unav download collect needs --failures TSV")
    check_output_file(args.failures, "--failures")
    if args.ok_list is not None:
        check_output_file(args.ok_list, "--ok-list")
    if args.status_list is not None:
        if not args.status_list.is_file():
            what = "is a folder" if args.status_list.is_dir() else "does not exist"
            raise UnavError(f"--status-list {args.status_list} {what}; expected a file listing status files, "
                            f"one per line")
        files += [ln.strip() for ln in args.status_list.read_text().splitlines() if ln.strip()]
    if not files:
        raise UnavError("unav download collect: no status files given")
    ok_ids, failures = collect_failures(files, args.failures, args.ok_list)
    print(f"{len(ok_ids)} video(s) ok, {len(failures)} failed (listed in {args.failures})")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..media.download import DEFAULT_URL_TEMPLATE, DownloadOptions, download_video

    items = list(args.items)
    if items and items[0] == "collect":
        return _collect(args, items[1:])
    if args.video_id is not None:
        if items:
            raise UnavError(f"give the video id once (--id {args.video_id!r} and {items[0]!r})")
        video_id = args.video_id
    elif len(items) == 1:
        video_id = items[0]
    else:
        raise UnavError("unav download needs one video id (positional or --id=ID)")
    if args.out is None or args.status is None:
        raise UnavError("unav download needs --out VIDEO and --status STATUS.json")
    opts = DownloadOptions(url_template=args.url_template or DEFAULT_URL_TEMPLATE, retries=args.retries,
                           backoff=args.backoff, rate_limit=args.rate_limit, sleep_interval=args.sleep_interval,
                           cookies=args.cookies, proxy=args.proxy, format=args.format, timeout=args.timeout,
                           extra_args=list(args.ytdlp_arg), progress=show_progress(args))
    status = download_video(video_id, args.out, args.status, opts, strict=not args.record_failure, force=args.force)
    print(f"{video_id}: " + ("ok" if status["ok"] else f"FAILED ({status['reason']})"))
    return 0
