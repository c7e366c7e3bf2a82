"""`unav workflow-step STEP …`: the command line of the workflow's glue steps: merge-features and
subset-annotations (unav/pipeline/steps.py), the shard jobs and their collectors (unav/pipeline/shard_step.py),
and on-free-gpu, which runs train/predict on one free GPU of a workstation (unav/gpu_pool.py)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ..errors import UnavError
from .steps import merge_features, subset_annotations


def _ids_from(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def _on_free_gpu(command: list[str]) -> int:
    """Exec COMMAND seeing one free GPU (unav/gpu_pool.py); returns only on an error."""
    from ..gpu_pool import exec_on_free_gpu

    command = command[1:] if command[:1] == ["--"] else command
    try:
        exec_on_free_gpu(command)
    except (UnavError, OSError) as err:
        print(f"unav workflow on-free-gpu: error: {err}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="unav workflow-step", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    m = sub.add_parser("merge-features", help="one video's per-stream parts -> the features folder")
    m.add_argument("video_id")
    m.add_argument("--parts", nargs="+", required=True, help="folders holding {id}.json and the stream arrays")
    m.add_argument("--out-dir", required=True)
    s = sub.add_parser("subset-annotations", help="the annotation file restricted to the videos with features")
    s.add_argument("--annotations", required=True)
    s.add_argument("--features", required=True, help="features folder; a video is kept when {id}.json exists")
    s.add_argument("--ids", default=None, help="file of candidate ids (default: every annotated video)")
    s.add_argument("--out", required=True)
    g = sub.add_parser("on-free-gpu", help="run COMMAND on one free GPU of this machine (held while it runs)")
    g.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND …, e.g. -- unav predict … --device cuda")
    from .shard_step import add_shard_parser, dispatch

    add_shard_parser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    items: list[str] | None = None
    if argv[:1] == ["shard"] and "--" in argv:   # ids may start with '-': everything after `--` is an item
        cut = argv.index("--")
        argv, items = argv[:cut], argv[cut + 1:]
    args = parser.parse_args(argv)
    if items is not None:
        args.items = list(args.items) + items
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.step == "on-free-gpu":
        return _on_free_gpu(args.command)
    shard_status = dispatch(args)
    if shard_status is not None:
        return shard_status
    try:
        if args.step == "merge-features":
            prov = merge_features(args.video_id, args.parts, args.out_dir)
            print(f"{args.video_id}: {', '.join(f'{k} {v}' for k, v in prov.rows.items())} -> {args.out_dir}")
        else:
            feats = Path(args.features)
            if args.ids:
                candidates = _ids_from(Path(args.ids))
            else:
                from ..data.annotations import load_annotations

                candidates = list(load_annotations(args.annotations).videos)
            have = [vid for vid in candidates if (feats / f"{vid}.json").is_file()
                    or (feats / f"{vid}_rgb.npy").is_file() or (feats / f"{vid}_vggish.npy").is_file()]
            res = subset_annotations(args.annotations, have, args.out)
            print(f"{res['kept']} video(s) kept, {len(res['dropped'])} left out -> {args.out}")
    except UnavError as err:
        print(f"unav workflow {args.step}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
