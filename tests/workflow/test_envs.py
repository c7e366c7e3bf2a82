"""Conda environments (envs/*.yaml). conda channels are unreachable from CI, so `--use-conda` itself is not run
here; what can be checked is: each file parses as a conda environment, every rule names one that exists,
its pip section resolves (`pip install --dry-run`), its pins agree with pyproject.toml, it lists the setuptools
that pyproject's build-system requires, and its post-deploy script installs unav editable from the checkout."""
from __future__ import annotations

import os
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


def _source_version() -> str:
    """unav's version from its one source, `__version__` in unav/__init__.py (pyproject reads it dynamically)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" in project.get("dynamic", []) and "version" not in project
    return re.search(r'^__version__ = "([^"]+)"', (REPO / "unav" / "__init__.py").read_text(), re.M).group(1)


def _conda_deps(env_file: Path) -> list[str]:
    return [d for d in yaml.safe_load(env_file.read_text())["dependencies"] if isinstance(d, str)]


def _build_requires() -> dict[str, str]:
    reqs = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    return {_NAME.match(r).group(1).lower(): r.replace(" ", "") for r in reqs}


@pytest.mark.parametrize("env_file", ENVS, ids=lambda p: p.stem)
def test_env_lists_the_build_backend(env_file):
    """The post-deploy script builds unav with --no-build-isolation: the env itself must hold pyproject's build
    requirements (setuptools>=77: SPDX licence string, and wheels built without the separate `wheel` package)."""
    build = _build_requires()
    assert set(build) == {"setuptools"}, f"pyproject build-system requires {build}: list them in every env file"
    from packaging.specifiers import SpecifierSet

    assert "70.0" not in SpecifierSet(build["setuptools"].removeprefix("setuptools")), "older ones need `wheel`"
    assert build["setuptools"] in [d.replace(" ", "") for d in _conda_deps(env_file)], env_file.name


@pytest.mark.parametrize("env_file", ENVS, ids=lambda p: p.stem)
def test_post_deploy_installs_the_checkout_editable(env_file, tmp_path):
    """Run the post-deploy script for real in a fresh venv that, like the conda env, has pip and setuptools (this
    venv's, through a .pth file naming a directory of symlinks: no wheel, no torch, no unav). unav must then
    import from the checkout itself, so a `git pull` is seen by the env without reinstalling."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version
    import setuptools

    spec = _build_requires()["setuptools"].removeprefix("setuptools")
    assert Version(setuptools.__version__) in SpecifierSet(spec), "this venv's setuptools stands in for the env's"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site_dir = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              capture_output=True, text=True, check=True).stdout.strip()
    tools = tmp_path / "tools"
    tools.mkdir()
    for sp in {Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()}:
        for entry in sp.iterdir():
            if re.match(r"(pip|setuptools|_distutils_hack)([-.]|$)", entry.name) and not (tools / entry.name).exists():
                (tools / entry.name).symlink_to(entry)
    Path(site_dir, "_tools.pth").write_text(f"{tools}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV"))}
    env.update(UNAV_REPO=str(REPO), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_NO_INDEX="1",
               PYTHONDONTWRITEBYTECODE="1")  # it imports from the shared checkout: leave no __pycache__ there
    deploy = env_file.with_suffix("").with_suffix(".post-deploy.sh")
    proc = subprocess.run(["bash", str(deploy)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    probe = ("import importlib.metadata as md, unav, unav.errors; "
             "print(unav.__file__); print(unav.errors.__file__); print(md.version('unav'))")
    out = subprocess.run([str(py), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    init, errors, version = out.stdout.split()
    assert Path(init) == REPO / "unav" / "__init__.py", f"unav imports from {init}, not the checkout {REPO}"
    assert Path(errors) == REPO / "unav" / "errors.py"
    assert version == _source_version()   # the installed metadata carries the one version source
    assert not list(Path(site_dir).glob("unav/__init__.py")), "a copy of unav was installed into the env"
