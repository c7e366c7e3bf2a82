"""`unav stats --annotations A.json --out-dir DIR`: dataset statistics (section 3.3, Fig. 2-3 of the paper).

Writes DIR/stats.json and the PNGs of unav.data.stats.PLOT_FILES, and prints a short summary table.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..data.annotations import load_annotations
from ..errors import UnavError
from ..io import check_output_dir, write_json
from ..data.stats import compute_stats, plot_stats
from .aliases import add_renamed

EXAMPLES = (
    "unav stats --annotations unav100_annotations.json --out-dir stats/",
    "unav stats --annotations A.json --out-dir stats/ --no-plots --min-pair-videos 5",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotations", required=True, type=Path, help="UnAV-format annotation JSON")
    add_renamed(parser, "--out-dir", "--out", required=True, type=Path,
                help="output folder for stats.json and the plots")
    parser.add_argument("--min-pair-videos", type=int, default=10,
                        help="rank a class pair by NPMI only if it occurs in at least this many videos")
    parser.add_argument("--top", type=int, default=10, help="number of class pairs to list")
    parser.add_argument("--gap", type=float, default=1.0,
                        help="consecutive pairs: most seconds between one event's end and the next's start")
    parser.add_argument("--no-plots", action="store_true", help="write stats.json only")


def summary_table(stats: dict[str, Any]) -> str:
    """A short human-readable table of the headline figures."""
    def num(value: Any, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    rows = [
        ("videos", str(stats["videos"])),
        ("events", str(stats["events"])),
        ("classes", str(stats["classes"])),
        ("events per video (mean)", num(stats["events_per_video_mean"], ".2f")),
        ("distinct classes per video (mean)", num(stats["distinct_per_video_mean"], ".2f")),
        ("events per video (max)", str(stats["max_events_per_video"])),
        ("videos with > 1 event", num(100 * stats["frac_multi_event"], ".1f") + " %"),
        ("videos with concurrent events", num(100 * stats["frac_concurrent"], ".1f") + " %"),
        ("event duration min / mean / max (s)", " / ".join(num(stats[k], ".1f") for k in
                                                           ("event_duration_min", "event_duration_mean",
                                                            "event_duration_max"))),
        ("video duration mean (s)", num(stats["video_duration_mean"], ".1f")),
    ]
    rows += [(f"split {name}: videos / events", f"{s['videos']} / {s['events']}")
             for name, s in stats["per_split"].items()]
    for key, sep in (("top_npmi_simultaneous", " & "), ("top_npmi_consecutive", " -> ")):
        if stats[key]:
            p = stats[key][0]
            rows.append((f"top {key.split('_')[-1]} pair (NPMI)", f"{p['a']}{sep}{p['b']} ({p['npmi']:.2f})"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def run(args: argparse.Namespace) -> int:
    if args.min_pair_videos < 1 or args.top < 1 or args.gap < 0:
        raise UnavError("--min-pair-videos and --top must be at least 1 and --gap non-negative")
    out: Path = check_output_dir(args.out_dir, "--out-dir")      # before any work: never a file's place
    annotations = load_annotations(args.annotations)     # the rules of every command, every problem listed
    stats = compute_stats(annotations, min_pair_videos=args.min_pair_videos, top_k=args.top,
                          consecutive_gap=args.gap)
    write_json(out / "stats.json", stats)
    if not args.no_plots:
        plot_stats(stats, annotations, out)
    print(summary_table(stats))
    print(f"wrote {out / 'stats.json'}" + ("" if args.no_plots else " and plots"))
    return 0
