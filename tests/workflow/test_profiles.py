"""The Snakemake profiles: what `--profile workflow/profiles/slurm` really sets (Snakemake also loads the workflow
profile profiles/default beside it, and the workflow profile's keys win), per-video runtimes that follow the
video's length, and downloads kept on the submit host."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .helpers import BIN, REPO, SNAKEFILE, env, fake_downloads, shard_count, write_config

PROFILES = REPO / "workflow" / "profiles"
SLURM = yaml.safe_load((PROFILES / "slurm" / "config.yaml").read_text())
DEFAULT = yaml.safe_load((PROFILES / "default" / "config.yaml").read_text())


def test_default_profile_only_repeats_the_slurm_profile():
    """Snakemake loads profiles/default as the workflow profile even beside --profile, and its keys win: each of
    its keys must be one the SLURM profile sets to the same value, so loading it changes nothing there."""
    differing = {k: (v, SLURM.get(k, "<unset>")) for k, v in DEFAULT.items() if SLURM.get(k, object()) != v}
    assert not differing, f"workflow/profiles/default overrides the SLURM profile: {differing}"


# Snakemake's own argument parsing (profiles, workflow profile and all), the parsed values printed as JSON.
_PARSE = """
import json, sys
from snakemake.cli import parse_args

def norm(v):
    if isinstance(v, dict) or hasattr(v, "items"):
        return {str(k): norm(x) for k, x in v.items()}
    if isinstance(v, (set, frozenset, list, tuple)):
        return sorted(norm(x) for x in v) if isinstance(v, (set, frozenset)) else [norm(x) for x in v]
    if type(v).__name__ == "Resource":
        return "<evaluated per job>" if v.is_evaluable() else v.value
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    r = repr(v)
    return type(v).__name__ if " at 0x" in r else r

parser, args = parse_args(sys.argv[1:])
print("ARGS=" + json.dumps({k: norm(v) for k, v in vars(args).items()}, default=str))
"""


def parsed_args(cwd: Path, *argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _PARSE, *argv], capture_output=True, text=True, env=env(),
                          cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("ARGS=")][-1]
    return json.loads(line[len("ARGS="):])


def _assert_slurm_profile_in_effect(args: dict, alone: dict) -> None:
    # exactly what the profile file says ...
    assert args["executor"] == SLURM["executor"]
    assert args["cores"] == SLURM["cores"]
    assert args["jobs"] == SLURM["jobs"]
    assert args["latency_wait"] == SLURM["latency-wait"]
    assert args["retries"] == SLURM["retries"]
    assert args["resources"] == SLURM["resources"]
    assert args["group_components"] == SLURM["group-components"]
    assert args["set_resources"] == SLURM["set-resources"]
    dres = {k: v for k, v in args["default_resources"].items() if k not in ("tmpdir", "disk_mb")}
    assert dres == SLURM["default-resources"]
    for key in ("printshellcmds", "keep-going", "rerun-incomplete"):
        assert args[key.replace("-", "_")] == SLURM[key], key
    # ... and every other setting as with the SLURM profile alone (--workflow-profile none)
    differing = {k: (args[k], alone.get(k)) for k in args if k != "workflow_profile" and args[k] != alone.get(k)}
    assert not differing, f"the workflow profile changes what --profile slurm sets: {differing}"


def test_slurm_profile_is_what_snakemake_uses(tmp_path):
    """`snakemake --profile workflow/profiles/slurm` from the repository root (where profiles/default is found
    both under the working directory and beside the Snakefile)."""
    args = parsed_args(REPO, "--snakefile", str(SNAKEFILE), "--profile", "workflow/profiles/slurm")
    alone = parsed_args(REPO, "--snakefile", str(SNAKEFILE), "--profile", "workflow/profiles/slurm",
                        "--workflow-profile", "none")
    _assert_slurm_profile_in_effect(args, alone)


def test_slurm_profile_is_what_snakemake_uses_from_another_directory(tmp_path):
    """From a working directory of its own (`--directory`): profiles/default is found beside the Snakefile."""
    profile = str(PROFILES / "slurm")
    common = ["--snakefile", str(SNAKEFILE), "--directory", str(tmp_path), "--profile", profile]
    args = parsed_args(tmp_path, *common)
    alone = parsed_args(tmp_path, *common, "--workflow-profile", "none")
    _assert_slurm_profile_in_effect(args, alone)


def test_slurm_profile_leaves_cpus_to_threads():
    """cpus_per_task in default-resources would override every rule's threads in the SLURM plugin."""
    assert "cpus_per_task" not in SLURM.get("default-resources", {})
    args = parsed_args(REPO, "--snakefile", str(SNAKEFILE), "--profile", "workflow/profiles/slurm")
    assert "cpus_per_task" not in args["default_resources"]


# ---- shard runtimes ------------------------------------------------------------------------------------------
PAPER_GPU = {"device": "cuda", "flow": {"method": "raft", "weights": "random"},
             "extract": {"weights": "random", "crop": 224, "min_side": 256}}
PER_VIDEO = ("trim", "flow", "i3d", "vggish", "features")


def test_runtime_follows_duration_device_and_size():
    from unav.pipeline.resources import DEFAULT_DURATION_S, runtime_minutes

    for device in ("cpu", "cuda"):
        for stage in PER_VIDEO:
            short, long = runtime_minutes(stage, 10, device), runtime_minutes(stage, 600, device)
            assert 1 <= short <= long, (stage, device, short, long)
            assert runtime_minutes(stage, 10, device, attempt=2) == 2 * short       # the retry asks for twice
    # paper settings, 10-s clip: minutes on a GPU; RAFT on a CPU takes far longer
    assert all(runtime_minutes(s, 10, "cuda") <= 3 for s in PER_VIDEO)
    assert runtime_minutes("flow", 10, "cpu") >= 10 * runtime_minutes("flow", 10, "cuda")
    # a 10-minute video: RAFT on a CPU at ~54 thread-seconds per video-second needs hours, on a GPU well under one
    assert runtime_minutes("flow", 600, "cpu") > 9 * 60
    assert runtime_minutes("flow", 600, "cuda") < 60 < runtime_minutes("flow", 600, "cpu")
    assert runtime_minutes("i3d", 600, "cuda") > runtime_minutes("i3d", 10, "cuda")
    # smaller crops / frames are cheaper; DIS far cheaper than RAFT; the flow of DIS ignores the device
    assert runtime_minutes("i3d", 600, "cpu", crop=32, min_side=40) < runtime_minutes("i3d", 600, "cpu") / 10
    assert runtime_minutes("flow", 600, "cpu", "dis") < runtime_minutes("flow", 600, "cpu", "raft") / 10
    assert runtime_minutes("flow", 600, "cuda", "dis") == runtime_minutes("flow", 600, "cpu", "dis")
    # unknown duration (the user's own files): the conservative default
    assert runtime_minutes("i3d", None, "cuda") == runtime_minutes("i3d", DEFAULT_DURATION_S, "cuda")


def test_shard_runtime_is_one_startup_plus_its_videos():
    """A shard job pays the start-up once: its runtime is that of one video as long as all its videos together,
    and grows with every video it holds."""
    from unav.pipeline.resources import DOWNLOAD_MINUTES, runtime_minutes, shard_runtime_minutes

    for stage in PER_VIDEO:
        assert shard_runtime_minutes(stage, [10.0] * 85, "cuda") == runtime_minutes(stage, 850.0, "cuda")
        assert shard_runtime_minutes(stage, [10.0] * 85, "cuda") < 85 * runtime_minutes(stage, 10.0, "cuda")
        assert shard_runtime_minutes(stage, [10.0, None], "cpu") == runtime_minutes(stage, 10.0 + 600.0, "cpu")
        assert shard_runtime_minutes(stage, [10.0], "cpu", attempt=2) == 2 * runtime_minutes(stage, 10.0, "cpu")
    assert shard_runtime_minutes("download", ["x"] * 10) == 1 + 10 * DOWNLOAD_MINUTES


def youtube_videos(work: Path, windows: dict[str, float], overlay: dict) -> Path:
    """A youtube-source working directory whose videos are all downloaded already (faked), with the list's
    windows of the given lengths; returns its config file."""
    subsets = ("train", "validation", "test")
    (work / "videos.csv").write_text("".join(f"{v},5,{5 + n}\n" for v, n in windows.items()))
    db = {v: {"subset": subsets[i % 3], "duration": n + 5.0,
              "annotations": [{"segment": [1.0, 4.0], "label": "dog barking", "label_id": 0}]}
          for i, (v, n) in enumerate(windows.items())}
    (work / "ann.json").write_text(json.dumps({"database": db}))
    fake_downloads(work, {v: True for v in windows}, shards=overlay.get("shards", 4))
    return write_config(work / "cfg.yaml", {"source": "youtube", "videos_csv": "videos.csv",
                                            "annotations": "ann.json", "stats": False, **overlay})


_JOB = re.compile(r"^\s*(?:local)?(?:rule|checkpoint) (\w+):\s*$")


def planned_jobs(output: str) -> list[dict]:
    """The jobs of a non-quiet dry run: rule, wildcards and integer resources of each."""
    jobs: list[dict] = []
    for line in output.splitlines():
        if m := _JOB.match(line):
            jobs.append({"rule": m.group(1), "wildcards": {}, "resources": {}})
        elif jobs and line.strip().startswith("wildcards:"):
            jobs[-1]["wildcards"] = dict(kv.split("=", 1) for kv in line.split(":", 1)[1].strip().split(", "))
        elif jobs and line.strip().startswith("resources:"):
            for kv in line.split(":", 1)[1].strip().split(", "):
                k, _, v = kv.partition("=")
                if v.isdigit():
                    jobs[-1]["resources"][k] = int(v)
    return jobs


def slurm_dry_run(work: Path, cfg: Path) -> str:
    proc = subprocess.run([str(BIN / "snakemake"), "--snakefile", str(SNAKEFILE), "--directory", str(work),
                           "--profile", str(PROFILES / "slurm"), "--configfile", str(cfg), "--dry-run"],
                          capture_output=True, text=True, env=env(), cwd=work, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def test_group_job_of_short_clips_asks_for_hours_not_days(tmp_path):
    """100 ten-second clips in 2 shards at the paper's settings on a GPU: each shard's five jobs form one SLURM
    group job (group "shard"); each job asks for the runtime of its shard's total duration, and a group job for a
    few hours at most (Snakemake asks SLURM for the sum of a group's runtimes)."""
    from unav.pipeline.resources import shard_runtime_minutes
    from unav.pipeline.shards import shard_members

    ids = [f"clip{i:07d}" for i in range(100)]
    cfg = youtube_videos(tmp_path, {v: 10.0 for v in ids}, {**PAPER_GPU, "shards": 2})
    out = slurm_dry_run(tmp_path, cfg)
    assert out.count("Group job shard") == 2
    members = shard_members(ids, 2)
    jobs = [j for j in planned_jobs(out) if j["rule"] in PER_VIDEO]
    assert len(jobs) == 2 * len(PER_VIDEO)
    for j in jobs:
        n = len(members[int(j["wildcards"]["shard"])])
        assert j["resources"]["runtime"] == shard_runtime_minutes(j["rule"], [10.0] * n, "cuda"), j
    for k in (0, 1):
        total = sum(j["resources"]["runtime"] for j in jobs if j["wildcards"]["shard"] == str(k))
        assert total < 600, f"a group job of {len(members[k])} ten-second clips may ask for {total} minutes"


def test_runtime_follows_the_listed_window(tmp_path):
    """The duration is the list's window (end - start): the shard of a 10-minute window asks for more than the
    shard of a 10-s one."""
    from unav.pipeline.resources import shard_runtime_minutes
    from unav.pipeline.shards import shard_of

    short, long = "shortclip01", "longclip002"
    assert shard_of(short, 4) != shard_of(long, 4)
    cfg = youtube_videos(tmp_path, {short: 10.0, long: 600.0}, {})   # config.yaml: CPU, DIS, crop 32
    jobs = [j for j in planned_jobs(slurm_dry_run(tmp_path, cfg)) if j["rule"] in PER_VIDEO]
    assert len(jobs) == 2 * len(PER_VIDEO)
    by = {}
    for j in jobs:
        seconds = 600.0 if j["wildcards"]["shard"] == str(shard_of(long, 4)) else 10.0
        assert j["resources"]["runtime"] == shard_runtime_minutes(j["rule"], [seconds], "cpu", "dis", crop=32,
                                                                  min_side=40), j
        by[(j["rule"], seconds)] = j["resources"]["runtime"]
    assert by[("trim", 600.0)] > by[("trim", 10.0)]
    assert by[("i3d", 600.0)] > by[("i3d", 10.0)]


# ---- downloads on the submit host ---------------------------------------------------------------------------
# Snakemake's own decision (Workflow.is_local) of which rules run on the host that runs snakemake, with the
# workflow loaded as under --profile slurm (executor slurm): local rules are never submitted.
_LOCAL_RULES = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry

snakefile, workdir, *configfiles = sys.argv[1:]
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=Path(snakefile), workdir=Path(workdir),
                      config_settings=ConfigSettings(configfiles=[Path(c) for c in configfiles]))._workflow
    wf._executor_plugin = ExecutorPluginRegistry().get_plugin("slurm")
    assert not wf.local_exec
    print("RULES=" + json.dumps({r.name: {"local": wf.is_local(r), "group": r.group} for r in wf.rules}))
"""


def rules_under_slurm(work: Path, *configfiles: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", _LOCAL_RULES, str(SNAKEFILE), str(work), *map(str, configfiles)],
                          capture_output=True, text=True, env=env(), cwd=work, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RULES=")][-1]
    return json.loads(line[len("RULES="):])


@pytest.mark.parametrize("local", [None, True, False])
def test_downloads_run_on_the_submit_host(tmp_path, local):
    download = {} if local is None else {"download": {"local": local}}     # None: the default (true)
    cfg = youtube_videos(tmp_path, {"shortclip01": 10.0}, download)
    rules = rules_under_slurm(tmp_path, cfg)
    assert rules["download_collect"]["local"] and rules["failures"]["local"]
    if local is False:
        assert rules["download"] == {"local": False, "group": "download"}   # submitted, many per SLURM job
    else:
        assert rules["download"] == {"local": True, "group": None}
    for name in ("trim", "flow", "i3d", "vggish", "features", "train"):
        assert not rules[name]["local"], name
    for name in ("trim", "flow", "i3d", "vggish", "features"):
        assert rules[name]["group"] == "shard", name


def test_download_group_only_when_submitted(tmp_path):
    """Dry runs under --profile slurm before any download: the downloads are grouped into SLURM jobs only with
    download.local: false (with true they run one by one on this host)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ids = {"shortclip01": 10.0, "shortclip02": 10.0}
    for sub, local in (("a", True), ("b", False)):
        work = tmp_path / sub
        cfg = youtube_videos(work, ids, {"download": {"local": local}})
        for f in (work / "results").rglob("*"):     # nothing downloaded yet
            if f.is_file():
                f.unlink()
        out = slurm_dry_run(work, cfg)
        jobs = planned_jobs(out)
        assert sum(j["rule"] == "download" for j in jobs) == shard_count(ids)
        assert ("Group job download" in out) is (not local), out[-3000:]
