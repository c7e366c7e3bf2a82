"""Which shard stages a snakemake invocation forces (`--forcerun STAGE`, `-R STAGE`, `--forceall`, `-F`), so their
shard jobs recompute every video instead of taking it from the per-video cache.

Read from snakemake's command line because its DAG settings do not exist yet while the Snakefile is parsed, and
handed to the jobs through the environment variable UNAV_RECOMPUTE: a cluster job's own snakemake parses the
Snakefile again without the option, but inherits the environment (the SLURM executor submits with
--export=ALL)."""
from __future__ import annotations

import os
from typing import Iterable, MutableMapping

from .shards import STAGES

ENV = "UNAV_RECOMPUTE"


def forced_on_command_line(argv: Iterable[str]) -> set[str]:
    """Stages named after --forcerun/-R (every stage with --forceall/-F); other targets (files, rules) ignored."""
    forced: set[str] = set()
    taking = False
    for arg in argv:
        if arg in ("--forceall", "-F"):
            return set(STAGES)
        if arg in ("--forcerun", "-R"):
            taking = True
        elif arg.startswith("--forcerun="):
            forced.update(arg.split("=", 1)[1].split(","))
            taking = False
        elif arg.startswith("-"):
            taking = False
        elif taking:
            forced.add(arg)
    return forced & set(STAGES)


def recomputed_stages(argv: Iterable[str], environ: MutableMapping[str, str] = os.environ) -> set[str]:
    """The forced stages of this invocation: from the command line (then recorded in `environ` for the jobs), or,
    in a job's own snakemake, from `environ`."""
    forced = forced_on_command_line(argv)
    if forced:
        environ[ENV] = ",".join(sorted(forced))
        return forced
    return {s for s in environ.get(ENV, "").split(",") if s in STAGES}
