# Shared helpers: paths, the video ids of each source, resources. Only DAG shaping lives here; every
# computation is a `unav …` command (`unav workflow-step …` for the two glue steps).
import json
import os
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
    """Seconds of a video for its jobs' runtime: the list's window (youtube, demo); None for the user's own files
    (not probed at DAG-build time: a conservative default applies)."""
    if SOURCE not in ("youtube", "demo"):
        return None
    try:
        return entry(vid).duration
    except (KeyError, OSError, UnavError):
        return None


def video_runtime(stage):
    """The `runtime` of the per-video rules (trim, flow, i3d, vggish, features), in minutes from the video's duration
    and the measured cost per video-second of the stage on this config's device and sizes, doubled on the retry
    (unav/pipeline/resources.py). A dict lookup per job."""
    from unav.pipeline.resources import runtime_minutes

    opts = dict(
        device=DEVICE,
        flow_method=config["flow"]["method"],
        crop=config["extract"]["crop"],
        min_side=config["extract"]["min_side"],
    )
    return lambda wildcards, attempt: runtime_minutes(
        stage, video_duration(wildcards.id), attempt=attempt, **opts
    )


def url_template():
    if config["download"]["url_template"]:
        return config["download"]["url_template"]
    if SOURCE == "demo":
        return "file://" + os.path.join(
            os.path.abspath(f"{RES}/demo/videos"), "{id}.mp4"
        )
    return "https://www.youtube.com/watch?v={id}"


def download_retry_token(wildcards):
    """Changes on every run for a video whose last download failed (and retry_failed allows it), so
    Snakemake's params trigger reruns exactly those downloads; "" otherwise."""
    mode = config["download"]["retry_failed"]
    status = Path(f"{RES}/download/status/{wildcards.id}.json")
    if mode == "none" or not status.is_file():
        return ""
    try:
        doc = json.loads(status.read_text())
    except (OSError, json.JSONDecodeError):
        return START
    if doc.get("ok"):
        return ""
    if mode == "transient" and doc.get("kind") in (
        "not_found",
        "forbidden",
        "private",
        "unavailable",
        "age_restricted",
        "not_a_video",
    ):
        return ""
    return START


def _local_clip(wildcards):
    return LOCAL[wildcards.id]


# The video the extractors read: the trimmed download (a plain pattern: cheap for 10,000s of jobs), or the
# user's own file.
CLIP = _local_clip if SOURCE == "local" else f"{RES}/clips/{{id}}.mp4"


def feature_files(ids):
    return [
        f"{FEATURES}/{vid}{suffix}"
        for vid in ids
        for suffix in ("_rgb.npy", "_flow.npy", "_vggish.npy", ".json")
    ]


def all_features(wildcards=None):
    if SOURCE == "features":
        return []
    return feature_files(downloaded_ids())


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
