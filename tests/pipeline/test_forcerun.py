"""Which stages a snakemake command line forces, and how a cluster job's own snakemake learns it."""
from __future__ import annotations

from unav.pipeline.forcerun import ENV, forced_on_command_line, recomputed_stages
from unav.pipeline.shards import STAGES


def test_stages_named_after_forcerun():
    assert forced_on_command_line(["--cores", "8", "--forcerun", "i3d", "vggish", "--dry-run"]) == {"i3d", "vggish"}
    assert forced_on_command_line(["-R", "flow"]) == {"flow"}
    assert forced_on_command_line(["--forcerun=i3d,features"]) == {"i3d", "features"}
    # rules that are not shard stages and output files are Snakemake's business only
    assert forced_on_command_line(["--forcerun", "train", "results/shards/i3d/3.tsv"]) == set()
    # a target after another option is not a forced stage
    assert forced_on_command_line(["--forcerun", "i3d", "--until", "vggish", "features"]) == {"i3d"}
    assert forced_on_command_line(["i3d", "--cores", "2"]) == set()


def test_forceall_forces_every_stage():
    assert forced_on_command_line(["--forceall"]) == set(STAGES)
    assert forced_on_command_line(["-F", "--cores", "1"]) == set(STAGES)


def test_jobs_inherit_the_forced_stages_through_the_environment():
    environ: dict[str, str] = {}
    assert recomputed_stages(["--forcerun", "i3d"], environ) == {"i3d"}
    assert environ[ENV] == "i3d"
    # a cluster job's snakemake: no --forcerun on its command line, the submitting one's environment
    assert recomputed_stages(["--target-jobs", "i3d:shard=3", "--force"], environ) == {"i3d"}
    # nothing forced, nothing inherited
    assert recomputed_stages(["--cores", "2"], {}) == set()
    assert recomputed_stages([], {ENV: "i3d,bogus"}) == {"i3d"}
