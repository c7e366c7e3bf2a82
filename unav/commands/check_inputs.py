"""`unav check-inputs [--videos-csv CSV] [--annotations A.json] [--video-dir DIR] [--probe] [--out SUMMARY.json]`:
validate the workflow's inputs before any job starts.

- `--videos-csv`: the download list `youtube_id,start_seconds,end_seconds` (unav.media.videolist);
- `--video-dir`: local videos, a folder of video files or a file with one path per line (id = file stem);
- `--annotations`: the UnAV annotation file (unav.data.annotations); every video of the list / folder must be
  in it.
With `--probe` every local video is also opened with ffmpeg. Everything asked for is checked, and every problem
is collected (not just the first): all are printed, and any problem exits with status 2. Prints a summary;
with `--out` also writes it as JSON (a marker file for the workflow), also when there are problems:
`{"ok": false, "problems": [...], ...}`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import UnavError
from ..io import check_output_file, write_json

EXAMPLES = (
    "unav check-inputs --videos-csv download_video.csv --annotations unav100_annotations.json",
    "unav check-inputs --video-dir my_videos/ --annotations A.json --probe --out summary.json",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--videos-csv", type=Path, default=None,
                        help="download list: CSV youtube_id,start_seconds,end_seconds without header")
    parser.add_argument("--annotations", type=Path, default=None, help="UnAV-format annotation JSON")
    parser.add_argument("--video-dir", type=Path, default=None,
                        help="local videos: a folder of video files or a file listing one video path per line")
    parser.add_argument("--probe", action="store_true", help="also open every local video with ffmpeg")
    parser.add_argument("--out", type=Path, default=None, help="write the summary as JSON here")


def _check_annotations(path: Path, problems: list[str], summary: dict[str, Any]) -> Any:
    """The annotations (those of the valid videos when some entries are broken), or None when unusable."""
    from ..data.annotations import inspect_annotations

    annotations, found = inspect_annotations(path)
    problems += found
    if annotations is not None:
        if not annotations.database:
            problems.append(f"annotation file {path} holds no videos (its 'database' is empty)")
        summary["annotations"] = {"file": str(path), "videos": len(annotations.database),
                                  "classes": annotations.num_classes,
                                  "subsets": {s: len(annotations.split(s)) for s in annotations.subsets},
                                  "problems": len(found)}
    return annotations


def _check_video_list(path: Path, annotations: Any, problems: list[str], summary: dict[str, Any]) -> None:
    from ..media.videolist import missing_from_annotations, parse_video_list

    entries, found = parse_video_list(path)
    problems += found
    if annotations is not None:   # the valid lines are still checked against the annotation file
        missing = missing_from_annotations(entries, annotations, list_name=str(path))
        problems += [missing] if missing else []
    summary["video_list"] = {"file": str(path), "videos": len(entries),
                             "total_seconds": round(sum(e.duration for e in entries), 3), "problems": len(found)}


def _check_local_videos(source: Path, annotations: Any, probe: bool, problems: list[str],
                        summary: dict[str, Any]) -> None:
    from ..media.videolist import scan_local_videos

    local, found = scan_local_videos(source)
    problems += found
    if annotations is not None:
        missing = [str(p) for vid, p in local if vid not in annotations.database]
        if missing:
            more = f"; … and {len(missing) - 20} more" if len(missing) > 20 else ""
            problems.append(f"{source}: {len(missing)} video(s) missing from annotation file "
                            f"{annotations.source}: " + "; ".join(missing[:20]) + more)
    seconds = None
    if probe:
        from ..media.probe import probe as probe_file

        seconds = 0.0
        for _, p in local:
            try:
                seconds += probe_file(p).duration
            except UnavError as err:    # every unreadable video, not just the first
                problems.append(str(err))
        seconds = round(seconds, 3)
    summary["local_videos"] = {"source": str(source), "videos": len(local), "total_seconds": seconds}


def run(args: argparse.Namespace) -> int:
    if args.videos_csv is None and args.video_dir is None and args.annotations is None:
        raise UnavError("nothing to check: give --videos-csv, --video-dir and/or --annotations")
    if args.out is not None:
        check_output_file(args.out, "--out")     # before any work
    problems: list[str] = []
    summary: dict[str, Any] = {"ok": True}
    annotations = None
    if args.annotations is not None:
        annotations = _check_annotations(args.annotations, problems, summary)
    if args.videos_csv is not None:
        _check_video_list(args.videos_csv, annotations, problems, summary)
    if args.video_dir is not None:
        _check_local_videos(args.video_dir, annotations, args.probe, problems, summary)
    summary["ok"] = not problems
    summary["problems"] = problems
    for key, value in summary.items():
        if isinstance(value, dict):
            print(f"{key}: " + ", ".join(f"{k}={v}" for k, v in value.items()))
    if args.out is not None:
        write_json(args.out, summary)
    if problems:
        for problem in problems:
            print(f"problem: {problem}", file=sys.stderr)
        where = f"; summary with \"ok\": false -> {args.out}" if args.out is not None else ""
        raise UnavError(f"{len(problems)} problem(s) in the inputs, every one listed above{where}")
    print("inputs OK")
    return 0
