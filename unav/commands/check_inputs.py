"""`unav check-inputs [--videos-csv CSV] [--annotations A.json] [--video-dir DIR] [--probe] [--out SUMMARY.json]`:
validate the workflow's inputs before any job starts.

- `--videos-csv`: the download list `youtube_id,start_seconds,end_seconds` (unav.media.videolist);
- `--video-dir`: local videos, a folder of video files or a file with one path per line (id = file stem);
- `--annotations`: the UnAV annotation file; every video of the list / folder must be in it.
With `--probe` every local video is also opened with ffmpeg. Prints a summary; with `--out` also writes it as
JSON (a marker file for the workflow). Any problem exits with status 2 and a message naming the line or file.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UnavError
from ..io import write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--videos-csv", type=Path, default=None,
                        help="download list: CSV youtube_id,start_seconds,end_seconds without header")
    parser.add_argument("--annotations", type=Path, default=None, help="UnAV-format annotation JSON")
    parser.add_argument("--video-dir", type=Path, default=None,
                        help="local videos: a folder of video files or a file listing one video path per line")
    parser.add_argument("--probe", action="store_true", help="also open every local video with ffmpeg")
    parser.add_argument("--out", type=Path, default=None, help="write the summary as JSON here")


def run(args: argparse.Namespace) -> int:
    from ..data.annotations import load_annotations
    from ..media.videolist import check_against_annotations, list_local_videos, read_video_list

    if args.videos_csv is None and args.video_dir is None and args.annotations is None:
        raise UnavError("nothing to check: give --videos-csv, --video-dir and/or --annotations")
    summary: dict = {"ok": True}
    annotations = load_annotations(args.annotations) if args.annotations is not None else None
    if annotations is not None:
        summary["annotations"] = {"file": str(args.annotations), "videos": len(annotations.videos),
                                  "classes": annotations.num_classes,
                                  "subsets": {s: len(annotations.split(s)) for s in annotations.subsets}}
    if args.videos_csv is not None:
        entries = read_video_list(args.videos_csv)
        if annotations is not None:
            check_against_annotations(entries, annotations, list_name=str(args.videos_csv))
        total = sum(e.duration for e in entries)
        summary["video_list"] = {"file": str(args.videos_csv), "videos": len(entries),
                                 "total_seconds": round(total, 3)}
    if args.video_dir is not None:
        local = list_local_videos(args.video_dir)
        if annotations is not None:
            missing = [str(p) for vid, p in local if vid not in annotations.videos]
            if missing:
                more = f"; … and {len(missing) - 20} more" if len(missing) > 20 else ""
                raise UnavError(f"{args.video_dir}: {len(missing)} video(s) missing from annotation file "
                                f"{annotations.source}: " + "; ".join(missing[:20]) + more)
        seconds = None
        if args.probe:
            from ..media.probe import probe

            seconds = round(sum(probe(p).duration for _, p in local), 3)
        summary["local_videos"] = {"source": str(args.video_dir), "videos": len(local), "total_seconds": seconds}
    for key, value in summary.items():
        if key != "ok":
            print(f"{key}: " + ", ".join(f"{k}={v}" for k, v in value.items()))
    print("inputs OK")
    if args.out is not None:
        write_json(args.out, summary)
    return 0
