"""`unav workflow-step shard STAGE --manifest TSV [options] -- ITEM …`: one shard job of the workflow (download,
trim, flow, i3d, vggish or features over the shard's videos, each cached or computed, failures recorded), and
the two collectors over shard manifests (`collect-downloads`, `failures`).

ITEMs are video ids for download, trim and features, and video files (id = file stem) for flow, i3d and vggish.
The manifest is written last, so a killed job has none and Snakemake reruns it; the rerun skips the videos
that were finished."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UnavError

if TYPE_CHECKING:
    from ..gpu_pool import Lease

log = logging.getLogger(__name__)

EXTRACT_STAGES = ("flow", "i3d", "vggish")
STAGE_STREAMS = {"flow": ("flow",), "i3d": ("rgb", "flow"), "vggish": ("vggish",)}


def add_shard_parser(sub) -> None:
    from ..commands.extractor_options import add_extractor_options
    from ..commands.ranges import integer, number
    from .shards import STAGES

    p = sub.add_parser("shard", help="one shard of a per-video stage (cached per video, failures recorded)")
    p.add_argument("stage", choices=STAGES)
    p.add_argument("items", nargs="*", help="video ids (download, trim, features) or video files (flow, i3d, vggish)")
    p.add_argument("--manifest", type=Path, required=True, help="the shard's manifest TSV (written last)")
    p.add_argument("--upstream", type=Path, action="append", default=[],
                   help="manifest(s) of the earlier stage(s): only the videos they finished are worked on")
    p.add_argument("--recompute", action="store_true", help="redo every video (snakemake --forcerun STAGE)")
    # download
    p.add_argument("--raw-dir", type=Path, help="download/trim: the downloaded videos")
    p.add_argument("--status-dir", type=Path, help="download: one status JSON per video")
    p.add_argument("--url-template", default=None)
    p.add_argument("--retries", type=integer(0, 100), default=3)
    p.add_argument("--rate-limit", default=None)
    p.add_argument("--cookies", default=None)
    p.add_argument("--proxy", default=None)
    p.add_argument("--timeout", type=number(0, low_open=True), default=None)
    p.add_argument("--retry-failed", choices=("all", "transient", "none"), default="all")
    # trim
    p.add_argument("--list", type=Path, help="trim: the video list with each video's [start, end] window")
    p.add_argument("--clips-dir", type=Path, help="trim: where the cut clips go")
    p.add_argument("--threads", type=integer(1, 256), default=None)
    # extraction
    p.add_argument("--out-dir", type=Path, help="i3d/vggish/features: the output folder")
    p.add_argument("--flow-dir", type=Path, help="flow: where .flow files go; i3d: where they are read")
    p.add_argument("--i3d-dir", type=Path, help="flow: the I3D outputs (a video with current I3D needs no flow)")
    p.add_argument("--keep-flow", action="store_true", help="i3d: keep the flow files once used")
    p.add_argument("--flow-weights", choices=("random", "pretrained"), default=None,
                   help="flow/i3d: the RAFT weights mode (config flow.weights; default: --weights)")
    p.add_argument("--parts", type=Path, nargs="+", help="features: the part folders to merge")
    p.add_argument("--hop", type=number(0.01), default=0.32)
    add_extractor_options(p, default_batch_size=8, batch_size_help="I3D windows / RAFT pairs per forward pass")

    c = sub.add_parser("collect-downloads", help="download manifests -> failures TSV and ok-id list")
    c.add_argument("manifests", nargs="+", type=Path)
    c.add_argument("--status-dir", type=Path, required=True)
    c.add_argument("--failures", type=Path, required=True)
    c.add_argument("--ok-list", type=Path, required=True)

    f = sub.add_parser("failures", help="every stage's manifests -> the failures table (id, stage, kind, reason)")
    f.add_argument("manifests", nargs="*", type=Path, help="…/shards/{stage}/{k}.tsv")
    f.add_argument("--out", type=Path, required=True)


def _need(args: argparse.Namespace, *names: str) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is None]
    if missing:
        raise UnavError(f"shard {args.stage} needs {', '.join(missing)}")


def _worker(args: argparse.Namespace, cache):
    """(work(id) -> status, the ids in order) for the stage."""
    from . import stages

    if args.stage == "download":
        from ..media.download import DEFAULT_URL_TEMPLATE, DownloadOptions

        _need(args, "raw_dir", "status_dir")
        opts = DownloadOptions(url_template=args.url_template or DEFAULT_URL_TEMPLATE, retries=args.retries,
                               rate_limit=args.rate_limit, cookies=args.cookies, proxy=args.proxy,
                               timeout=args.timeout)
        return stages.download_work(args.raw_dir, args.status_dir, opts, args.retry_failed, cache), args.items
    if args.stage == "trim":
        from ..media.videolist import read_video_list

        _need(args, "list", "raw_dir", "clips_dir")
        windows = {e.youtube_id: e for e in read_video_list(args.list)}
        unknown = [vid for vid in args.items if vid not in windows]
        if unknown:
            raise UnavError(f"video list {args.list} has no window for {', '.join(unknown[:10])}")
        return stages.trim_work(windows, args.raw_dir, args.clips_dir, args.threads, cache), args.items
    if args.stage == "features":
        _need(args, "parts", "out_dir")
        return stages.merge_work(args.parts, args.out_dir, cache), args.items
    return _extract_worker(args, cache)


def _extract_worker(args: argparse.Namespace, cache):
    from ..commands.extractor_options import check_device_and_frames, extractor_settings
    from . import stages

    videos = stages.video_paths(args.items)
    computes_raft = args.flow_method == "raft" and args.stage in ("flow", "i3d")
    check_device_and_frames(args, computes_raft=computes_raft)
    settings = extractor_settings(args, STAGE_STREAMS[args.stage], progress=False, hop_seconds=args.hop)
    flow_settings = dataclasses.replace(settings, streams=("flow",), weights=args.flow_weights or settings.weights)
    if args.stage == "flow":
        _need(args, "flow_dir")
        worker = stages.FlowWorker(flow_settings, args.flow_dir, args.i3d_dir, cache)
    else:
        _need(args, "out_dir")
        flow = None
        if args.stage == "i3d":
            _need(args, "flow_dir")
            flow = stages.FlowWorker(flow_settings, args.flow_dir, None, cache)
        worker = stages.ExtractWorker(settings, args.out_dir, cache, flow=flow, keep_flow=args.keep_flow)
    return (lambda vid: worker(vid, videos[vid])), list(videos)


def lease_shard_device(args: argparse.Namespace, lock_dir: Path | None = None,
                       count: int | None = None) -> Lease:
    """The GPU lease of an extraction shard (unav/gpu_pool.py): a plain `--device cuda` becomes the first free
    GPU of this machine, written back into args.device; other stages and devices lock nothing."""
    from ..gpu_pool import Lease, acquire_gpu

    device = getattr(args, "device", None)
    if args.stage not in EXTRACT_STAGES or not isinstance(device, str):
        return Lease(str(device))
    lease = acquire_gpu(device, lock_dir=lock_dir, count=count)
    args.device = lease.device
    return lease


def run_shard_step(args: argparse.Namespace) -> int:
    from ..commands.progress import show_progress
    from ..io import check_output_file
    from .shards import ok_ids, write_manifest
    from .stages import Cache, run_shard

    check_output_file(args.manifest, "--manifest")
    upstream = ok_ids(args.upstream) if args.upstream else None
    cache = Cache(recompute=args.recompute)
    # held until the manifest is written: the models live on that GPU for the whole shard
    with lease_shard_device(args):
        work, ids = _worker(args, cache)
        rows = run_shard(args.stage, ids, work, upstream, progress=show_progress(args))
        write_manifest(args.manifest, rows)
    counts = {s: sum(r.status == s for r in rows) for s in ("done", "cached", "failed", "skipped")}
    print(f"shard {args.manifest.stem} {args.stage}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return 0


def run_collect_downloads(args: argparse.Namespace) -> int:
    from ..media.download import collect_failures
    from .shards import read_manifest

    ids = [r.id for m in args.manifests for r in read_manifest(m)]
    ok, failures = collect_failures([args.status_dir / f"{vid}.json" for vid in ids], args.failures, args.ok_list)
    print(f"{len(ok)} video(s) downloaded, {len(failures)} failed (listed in {args.failures})")
    return 0


def run_failures(args: argparse.Namespace) -> int:
    from .shards import STAGES, failure_rows, write_failures

    by_stage: dict[str, list[Path]] = {}
    for m in args.manifests:
        stage = m.parent.name
        if stage not in STAGES:
            raise UnavError(f"{m}: a shard manifest lies in a folder named after its stage ({', '.join(STAGES)})")
        by_stage.setdefault(stage, []).append(m)
    failures = failure_rows(by_stage)
    write_failures(args.out, failures)
    print(f"{len(failures)} failed video(s) -> {args.out}")
    return 0


def dispatch(args: argparse.Namespace) -> int | None:
    """Run the step if it is one of this module's; None otherwise."""
    steps = {"shard": run_shard_step, "collect-downloads": run_collect_downloads, "failures": run_failures}
    if args.step not in steps:
        return None
    try:
        return steps[args.step](args)
    except UnavError as err:
        print(f"unav workflow {args.step}: error: {err}", file=sys.stderr)
        return 2
