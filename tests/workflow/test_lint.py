"""The workflow's source style: `snakefmt --check` clean, and `snakemake --lint` clean except the findings listed
here, each kept on purpose (why beside it), so a new finding fails the test."""
from __future__ import annotations

import re
import subprocess

from .helpers import BIN, REPO, SNAKEFILE, env, snakemake

# (rule, variable) of "Shell command directly uses variable … from outside of the rule", kept on purpose: a param
# would rerun the jobs whenever it changes, but none of these changes what a job computes —
# the device a job runs on (features from a GPU equal those from the CPU: provenance execution keys), the
# launcher of training (torchrun for several GPUs) and of prediction (on a free GPU of a workstation), where a
# video is downloaded from (the demo's file:// URL is absolute, so a moved working directory would redo every
# download), and `--recompute` of a shard job under
# `snakemake --forcerun STAGE` (as a param, the next run without --forcerun would redo the stage again).
KEPT = {("download", "URL_TEMPLATE"), ("i3d", "DEVICE"), ("train", "LAUNCH"), ("train", "DEVICE"),
        ("predict", "DEVICE"), ("predict", "ON_FREE_GPU")} | {
    (stage, "RECOMPUTE") for stage in ("download", "trim", "flow", "i3d", "vggish", "features")}


def test_snakefmt_check():
    files = [str(SNAKEFILE)] + sorted(str(p) for p in (REPO / "workflow/rules").glob("*.smk"))
    proc = subprocess.run([str(BIN / "snakefmt"), "--check", *files], capture_output=True, text=True, env=env())
    assert proc.returncode == 0, proc.stdout + proc.stderr


def parse_lints(text: str) -> list[tuple[str, str]]:
    """(where, finding) pairs of `snakemake --lint` output: where is a rule name or a file."""
    found, where = [], ""
    for line in text.splitlines():
        head = re.match(r"Lints for rule (\w+)", line) or re.match(r"Lints for snakefile (.+?):?$", line)
        if head:
            where = head.group(1)
        elif line.strip().startswith("* "):
            found.append((where, line.strip()[2:]))
    return found


def test_parse_lints():
    text = ("Lints for rule i3d (line 61, x.smk):\n    * Shell command directly uses variable DEVICE from outside\n"
            "Lints for snakefile /a/Snakefile:\n    * Mixed rules and functions in same snakefile.:\n")
    assert parse_lints(text) == [("i3d", "Shell command directly uses variable DEVICE from outside"),
                                 ("/a/Snakefile", "Mixed rules and functions in same snakefile.:")]


def test_snakemake_lint(tmp_path):
    proc = snakemake(tmp_path, "--lint", configfile=REPO / "config.yaml", check=False)
    lints = parse_lints(proc.stdout + proc.stderr)
    unexpected = []
    for where, finding in lints:
        var = re.search(r"uses variable (\w+) from outside of the rule", finding)
        if not (var and (where, var.group(1)) in KEPT):
            unexpected.append((where, finding))
    assert not unexpected, unexpected
    assert len(lints) == len(KEPT), lints
