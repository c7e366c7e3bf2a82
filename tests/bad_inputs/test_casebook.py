"""The case book as a whole: at least 150 distinct cases, every command covered, the README's count true."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

from unav.cli import COMMANDS

REPO = Path(__file__).resolve().parents[2]
CASE_MODULES = sorted(p.stem for p in Path(__file__).parent.glob("test_*_cases.py"))


def all_cases():
    cases = []
    for name in CASE_MODULES:
        cases += importlib.import_module(f"{__package__}.{name}").CASES
    return cases


def test_at_least_150_distinct_cases():
    cases = all_cases()
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids), sorted({i for i in ids if ids.count(i) > 1})
    assert len(cases) >= 150, len(cases)


def test_every_user_command_is_covered():
    commands = {c.argv[0] for c in all_cases() if c.argv}
    internal = {"workflow-step"}
    missing = sorted(set(COMMANDS) - internal - commands)
    assert not missing, missing


def test_readme_states_the_number_of_cases():
    text = (REPO / "README.md").read_text()
    found = re.search(r"`tests/bad_inputs/` is a table of (\d+) careless", text)
    assert found, "README reliability section does not state the case count"
    assert int(found.group(1)) == len(all_cases())
