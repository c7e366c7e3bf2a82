"""Conda environments (envs/*.yaml). conda channels are unreachable from CI, so `--use-conda` itself is not run
here; what can be checked is: each file parses as a conda environment, every rule names one that exists,
its pip section resolves (`pip install --dry-run`), and its pins agree with pyproject.toml."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from .helpers import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))
_NAME = re.compile(r"^([A-Za-z0-9_.-]+)")


def _pip(env_file: Path) -> list[str]:
    doc = yaml.safe_load(env_file.read_text())
    for dep in doc["dependencies"]:
        if isinstance(dep, dict) and "pip" in dep:
            return list(dep["pip"])
    return []


def _project_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    return {_NAME.match(r).group(1).lower(): r for r in reqs}


def test_envs_exist():
    assert {p.stem for p in ENVS} >= {"media", "features", "train"}


@pytest.mark.parametrize("env_file", ENVS, ids=lambda p: p.stem)
def test_env_parses(env_file):
    doc = yaml.safe_load(env_file.read_text())
    assert set(doc) >= {"channels", "dependencies"}
    assert any(str(d).startswith("python") for d in doc["dependencies"])
    assert "pip" in doc["dependencies"] and _pip(env_file)
    deploy = env_file.with_suffix("").with_suffix(".post-deploy.sh")
    assert deploy.is_file(), f"{deploy.name} installs unav into the env"
    assert "UNAV_REPO" in deploy.read_text()


@pytest.mark.parametrize("env_file", ENVS, ids=lambda p: p.stem)
def test_pins_agree_with_pyproject(env_file):
    pins = _project_pins()
    for req in _pip(env_file):
        name = _NAME.match(req).group(1).lower()
        assert name in pins, f"{env_file.name}: {name} is not a dependency in pyproject.toml"
        assert req.replace(" ", "") == pins[name].replace(" ", ""), f"{env_file.name}: {req!r} vs pyproject {pins[name]!r}"


@pytest.mark.parametrize("env_file", ENVS, ids=lambda p: p.stem)
def test_pip_section_resolves(env_file, tmp_path):
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("\n".join(_pip(env_file)) + "\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "-r", str(reqs)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_every_rule_names_an_existing_env():
    used = set()
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        used |= set(re.findall(r'\{ENVS\}/([a-z_]+\.yaml)', smk.read_text()))
    assert used and all((REPO / "envs" / name).is_file() for name in used)
