# Shared helpers: paths, the video ids of each source, resources. Only DAG shaping lives here; every
# computation is a `unav …` command (`unav workflow-step …` for the two glue steps).
import json
import os
import sys
import time
from pathlib import Path

from snakemake.exceptions import WorkflowError

from unav.errors import UnavError

SOURCE = config["source"]
RES = config["results"].rstrip("/")
FEATURES = config["features_dir"].rstrip("/")
EXP = config["experiment"]
CUDA = config["device"] == "cuda"
DEVICE = "cuda" if CUDA else "cpu"
GPU = 1 if CUDA else 0
LOGS = f"{RES}/logs"
BENCH = f"{RES}/benchmarks"
RUN = f"{RES}/runs/{EXP}"
PARTS = f"{RES}/parts"
ENVS = os.path.join(workflow.basedir, "envs")
START = str(
    int(time.time())
)  # changes on every invocation: used to rerun failed downloads


def repo_path(path):
    """A path from the config: as given when it exists (relative to the working directory), else relative
    to the workflow's folder (so resources/presets/… works from any --directory)."""
    if path is None:
        return None
    p = Path(path)
    if p.is_absolute() or p.exists():
        return str(p)
    alt = Path(workflow.basedir) / p
    return str(alt) if alt.exists() else str(p)


def fail(msg):
    raise WorkflowError(f"unav workflow: {msg}")


# ---- inputs, validated before any job starts ------------------------------------------------------------
ANNOTATIONS = repo_path(config["annotations"])
VIDEOS_CSV = repo_path(config.get("videos_csv"))
ENTRIES = {}  # youtube: id -> VideoEntry (start, end)
LOCAL = {}  # local: id -> path


def _validate_inputs():
    from unav.data.annotations import load_annotations
    from unav.media.videolist import (
        check_against_annotations,
        list_local_videos,
        read_video_list,
    )

    try:
        if SOURCE == "youtube":
            if not VIDEOS_CSV:
                fail(
                    "source youtube needs videos_csv (the `youtube_id,start,end` list)"
                )
            entries = read_video_list(VIDEOS_CSV)
            check_against_annotations(
                entries, load_annotations(ANNOTATIONS), list_name=VIDEOS_CSV
            )
            ENTRIES.update((e.youtube_id, e) for e in entries)
        elif SOURCE == "local":
            src = repo_path(config.get("video_dir")) or VIDEOS_CSV
            if not src:
                fail(
                    "source local needs video_dir (a folder of videos) or videos_csv (a file of paths)"
                )
            items = list_local_videos(src)
            ann = load_annotations(ANNOTATIONS)
            missing = [f"{p}" for vid, p in items if vid not in ann.videos]
            if missing:
                fail(
                    f"{src}: {len(missing)} video(s) missing from annotation file {ANNOTATIONS}: "
                    + "; ".join(missing[:20])
                )
            LOCAL.update((vid, str(p)) for vid, p in items)
        elif SOURCE == "features":
            load_annotations(ANNOTATIONS)
            if not Path(FEATURES).is_dir():
                fail(f"source features: features_dir {FEATURES} is not a folder")
    except UnavError as err:
        fail(str(err))


_validate_inputs()


# ---- ids per stage ----------------------------------------------------------------------------------------
def listed_ids():
    """Every video of the list (before download); demo: after the demo checkpoint."""
    if SOURCE == "youtube":
        return list(ENTRIES)
    if SOURCE == "demo":
        from unav.media.videolist import read_video_list

        csv = checkpoints.demo_videos.get().output.csv
        return [e.youtube_id for e in read_video_list(csv)]
    if SOURCE == "local":
        return list(LOCAL)
    return []


def downloaded_ids():
    """Ids whose download succeeded (read after the collect checkpoint); local: every listed video."""
    if SOURCE in ("youtube", "demo"):
        ok = checkpoints.download_collect.get().output.ok
        return [ln.strip() for ln in Path(ok).read_text().splitlines() if ln.strip()]
    return listed_ids()


DEMO_CSV = f"{RES}/demo/videos.csv"


def entry(vid):
    """The list entry (start, end) of a video (demo: read from the generated list, an input of the rule)."""
    if SOURCE == "demo" and not ENTRIES:
        from unav.media.videolist import read_video_list

        ENTRIES.update((e.youtube_id, e) for e in read_video_list(DEMO_CSV))
    return ENTRIES[vid]


def video_duration(vid):
    """Seconds of a video for its shard's runtime: the list's window (youtube, demo); None for the user's own
    files (not probed at DAG-build time: a conservative default applies)."""
    if SOURCE not in ("youtube", "demo"):
        return None
    try:
        return entry(vid).duration
    except (KeyError, OSError, UnavError):
        return None


# ---- shards: the per-video stages run as one job per shard of videos (unav/pipeline/shards.py) -------------
from unav.pipeline.shards import STAGES as SHARD_STAGES, shard_members

SHARDS = int(config["shards"])
SHARD_DIR = f"{RES}/shards"
_MEMBERS = {}  # "listed" | "ok" -> {shard: [ids]} (non-empty shards only)


def members(which):
    """{shard: ids} of the listed videos (download) or of the downloaded ones (the later stages)."""
    if which not in _MEMBERS:
        ids = listed_ids() if which == "listed" else downloaded_ids()
        _MEMBERS[which] = {k: v for k, v in shard_members(ids, SHARDS).items() if v}
    return _MEMBERS[which]


def shard_ids(which):
    """Params: the ids of the job's shard (after `--`; ids may start with '-')."""
    return lambda w: " ".join(members(which)[int(w.shard)])


def manifests(stage, which="ok"):
    """Input function: the manifests of `stage` for every non-empty shard."""
    return lambda w: [f"{SHARD_DIR}/{stage}/{k}.tsv" for k in members(which)]


def shard_runtime(stage, which="ok"):
    """The `runtime` of a shard job: minutes for the sum of its videos' durations at the measured cost per
    video-second of the stage on this config's device and sizes, doubled on the retry (unav/pipeline/resources.py).
    """
    from unav.pipeline.resources import shard_runtime_minutes

    opts = dict(
        device=DEVICE,
        flow_method=config["flow"]["method"],
        crop=config["extract"]["crop"],
        min_side=config["extract"]["min_side"],
    )
    return lambda wildcards, attempt: shard_runtime_minutes(
        stage,
        [video_duration(v) for v in members(which)[int(wildcards.shard)]],
        attempt=attempt,
        **opts,
    )


from unav.pipeline.forcerun import recomputed_stages

_RECOMPUTED = recomputed_stages(sys.argv[1:])
# `--forcerun STAGE` reruns the stage's shard jobs; --recompute makes them redo every video instead of taking it
# from the per-video cache. Not a param: a later run without --forcerun must not rerun them again.
RECOMPUTE = {
    stage: " --recompute" if stage in _RECOMPUTED else "" for stage in SHARD_STAGES
}


def url_template():
    if config["download"]["url_template"]:
        return config["download"]["url_template"]
    if SOURCE == "demo":
        return "file://" + os.path.join(
            os.path.abspath(f"{RES}/demo/videos"), "{id}.mp4"
        )
    return "https://www.youtube.com/watch?v={id}"


def download_retry_token(wildcards):
    """Changes on every run for a shard whose last run left a failed download that retry_failed allows to
    retry, so Snakemake's params rerun exactly those shards' downloads; "" otherwise. Read from the shard's
    manifest (one small file per shard)."""
    from unav.media.download import PERMANENT
    from unav.pipeline.shards import read_manifest

    mode = config["download"]["retry_failed"]
    manifest = Path(f"{SHARD_DIR}/download/{wildcards.shard}.tsv")
    if mode == "none" or not manifest.is_file():
        return ""
    try:
        rows = read_manifest(manifest)
    except UnavError:
        return START
    retry = [
        r
        for r in rows
        if r.status == "failed" and (mode == "all" or r.kind not in PERMANENT)
    ]
    return START if retry else ""


def shard_videos(which="ok"):
    """Params: the video files of the job's shard, quoted (the trimmed clips, or the user's own files)."""
    import shlex

    def videos(w):
        ids = members(which)[int(w.shard)]
        if SOURCE == "local":
            return " ".join(shlex.quote(LOCAL[v]) for v in ids)
        return " ".join(shlex.quote(f"{RES}/clips/{v}.mp4") for v in ids)

    return videos


def local_videos(w):
    """source local: the shard's video files are its inputs (a changed file reruns its shard)."""
    return [LOCAL[v] for v in members("ok")[int(w.shard)]] if SOURCE == "local" else []


def trim_inputs(w):
    """The shard's downloaded videos (read through the checkpoint): a re-downloaded video reruns its shard."""
    return [f"{RES}/raw/{vid}.mp4" for vid in members("ok")[int(w.shard)]]


def trim_windows(w):
    """Params: the shard's [start, end] windows, so a changed window reruns its shard (the list file itself is
    not an input: growing the list must not rerun every shard)."""
    return " ".join(
        f"{vid}={entry(vid).start:g}-{entry(vid).end:g}"
        for vid in members("ok")[int(w.shard)]
    )


def trim_sources(w):
    """Params: each downloaded video's modification time, so a re-downloaded or touched video reruns its shard
    (`touch results/raw/ID.mp4` redoes that video). A param, not the files' mtimes as inputs: Snakemake does not
    compare the mtimes of inputs found through the download checkpoint when it has not rerun.
    """
    stamps = []
    for vid in members("ok")[int(w.shard)]:
        try:
            stamps.append(f"{vid}@{os.stat(f'{RES}/raw/{vid}.mp4').st_mtime_ns}")
        except OSError:
            stamps.append(f"{vid}@missing")
    return " ".join(stamps)


def upstream(stage):
    """Inputs: the same shard's manifest of the earlier stage (youtube/demo), or the shard's video files."""
    if SOURCE == "local":
        return local_videos
    return lambda w: [f"{SHARD_DIR}/{stage}/{w.shard}.tsv"]


def upstream_option(stage):
    """Params: --upstream MANIFEST (youtube/demo): only the videos the earlier stage finished are worked on."""
    if SOURCE == "local":
        return ""
    return lambda w: f"--upstream {SHARD_DIR}/{stage}/{w.shard}.tsv"


def all_manifests(wildcards=None):
    """Every shard manifest of every stage (download ones of the listed videos, the others of the downloaded)."""
    found = []
    if SOURCE in ("youtube", "demo"):
        found += manifests("download", "listed")(wildcards)
        found += manifests("trim")(wildcards)
    for stage in ("flow", "i3d", "vggish", "features"):
        found += manifests(stage)(wildcards)
    return found


# The downloaded ids (the checkpoint's ok list) shape the params of every shard job after the download, so the
# list is one of their inputs (a cluster job's own snakemake requires it); ancient: a rerun of the checkpoint
# that changes nothing reruns no shard (their params say which videos they hold).
OK_LIST = (
    [ancient(f"{RES}/download/failures.tsv"), ancient(f"{RES}/download/ok.txt")]
    if SOURCE in ("youtube", "demo")
    else []
)


def all_feature_manifests(wildcards=None):
    if SOURCE == "features":
        return []
    return [f"{SHARD_DIR}/features/{k}.tsv" for k in members("ok")]


def train_config():
    """The training config file: a YAML path (as given, or relative to the workflow) or the name of a config
    known to unav (`defaults.yaml`, `demo.yaml`, `variants/…`), resolved to the packaged file so that
    Snakemake tracks it as an input either way."""
    from unav.config import packaged_config

    name = config["train"]["config"]
    path = repo_path(name)
    if Path(path).is_file():
        return path
    packaged = packaged_config(name)
    if packaged is None:
        fail(
            f"train.config {name!r} is neither a file nor a config known to unav (e.g. defaults.yaml, "
            f"demo.yaml, variants/a_only.yaml)"
        )
    return str(packaged)


# ---- weights the feature rules read ------------------------------------------------------------------------
from unav.features.weights import (
    load_registry as load_weights_registry,
    name_for_role,
    registry_path as weights_registry_path,
)

FLOW = config["flow"]
EXT = config["extract"]
WEIGHTS_DIR = EXT.get("weights_dir") or "weights"
PRETRAINED = EXT["weights"] == "pretrained"
FLOW_PRETRAINED = FLOW["method"] == "raft" and FLOW["weights"] == "pretrained"
# Role -> registry name -> file name of the weights the rules read, all from unav's weights registry
# (unav/resources/weights.yaml, or $UNAV_WEIGHTS_REGISTRY as for `unav weights fetch`), their one source.
WEIGHT_NAMES = {
    role: name_for_role(role) for role in ("i3d_rgb", "i3d_flow", "raft", "vggish")
}
try:
    _REGISTRY = load_weights_registry()
except UnavError as err:
    fail(str(err))
if _MISSING := [n for n in WEIGHT_NAMES.values() if n not in _REGISTRY]:
    fail(f"weights registry {weights_registry_path()} lacks {', '.join(_MISSING)}")
WEIGHT_FILES = {n: _REGISTRY[n].file for n in WEIGHT_NAMES.values()}


def weight_inputs(*roles):
    """The fetched weight files a rule reads, by role (none with random weights)."""
    return [f"{WEIGHTS_DIR}/{WEIGHT_FILES[WEIGHT_NAMES[r]]}" for r in roles]


# ---- targets ------------------------------------------------------------------------------------------------
def all_targets(wildcards):
    targets = [rules.report.output.summary, rules.evaluate.output.metrics]
    if config["stats"]:
        targets.append(rules.stats.output.stats)
    return targets
