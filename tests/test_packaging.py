"""A regular (non-editable) install works away from the checkout: every file the package reads at run time
(weights registry, configs, templates) is package data inside the wheel. The wheel is built offline and installed
into a fresh venv without unav's editable install (tests/packaged_install.py), then run outside the checkout."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import yaml
from packaged_install import install_wheel_venv, run_ok as _run

REPO = Path(__file__).resolve().parents[1]


def _data_files() -> set[str]:
    """Non-Python files under unav/ in the checkout (what the package may read at run time)."""
    return {p.relative_to(REPO).as_posix() for p in (REPO / "unav").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    return install_wheel_venv(tmp_path_factory.mktemp("packaging"))


def test_wheel_holds_every_data_file(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    missing = sorted(_data_files() - names)
    assert not missing, f"files under unav/ missing from the wheel (see [tool.setuptools.package-data]): {missing}"


def test_installed_unav_is_the_wheel_not_the_checkout(installed):
    out = _run([installed["py"], "-c", "import unav, unav.features.weights as W; print(unav.__file__); "
                                       "print(W.registry_path())"], cwd=installed["cwd"], env=installed["env"])
    unav_file, registry = (Path(line) for line in out.stdout.split())
    assert unav_file.is_relative_to(installed["site"]), unav_file
    assert registry.is_relative_to(installed["site"]) and registry.is_file(), registry


def test_installed_weights_list(installed, tmp_path):
    expected = yaml.safe_load((REPO / "unav" / "resources" / "weights.yaml").read_text())["weights"]
    unav = installed["bin"] / "unav"
    _run([unav, "--help"], cwd=installed["cwd"], env=installed["env"])
    out = _run([unav, "weights", "list"], cwd=installed["cwd"], env=installed["env"]).stdout
    names = {line.split()[0] for line in out.splitlines()[1:] if line.strip()}
    assert {"i3d_rgb", "i3d_flow", "raft_sintel", "vggish"} <= names and names == set(expected), out
    # the overrides still win over the packaged registry
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"weights": {"tiny": {"file": "tiny.pt", "url": "https://example.org/t.pt"}}}))
    out = _run([unav, "weights", "list", "--registry", other], cwd=installed["cwd"], env=installed["env"]).stdout
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["tiny"], out
    out = _run([unav, "weights", "list"], cwd=installed["cwd"],
               env={**installed["env"], "UNAV_WEIGHTS_REGISTRY": str(other)}).stdout
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["tiny"], out


def test_installed_configs_and_templates(installed):
    code = ("from pathlib import Path; import unav, unav.config as C, unav.views.html_view as H\n"
            "site = Path(unav.__file__).parent\n"
            "assert Path(C.DEFAULTS_PATH).is_relative_to(site), C.DEFAULTS_PATH\n"
            "for names in ([], ['demo'], ['demo.yaml'], ['variants/a_only.yaml'], ['a_only']):\n"
            "    cfg = C.load_config(names)\n"
            "    assert cfg['model']['modalities'], names\n"
            "assert C.load_config(['a_only'])['model']['modalities'] == ['audio']\n"
            "assert '<html' in H.template_text().lower()\n"
            "print('ok')\n")
    out = _run([installed["py"], "-c", code], cwd=installed["cwd"], env=installed["env"])
    assert out.stdout.strip() == "ok"
    _run([installed["bin"] / "unav", "demo", "--help"], cwd=installed["cwd"], env=installed["env"])


# The `extract` extra's modules and distributions (pyproject.toml): a plain `pip install unav` lacks them.
EXTRACT_EXTRA = ("cv2", "opencv", "resampy", "numba", "llvmlite", "imageio_ffmpeg")


def test_installed_demo_and_evaluate(installed):
    """The offline demo (train, predict, evaluate, plots) and `unav evaluate` from the installed wheel."""
    unav, cwd, env = installed["bin"] / "unav", installed["cwd"], installed["env"]
    out = _run([unav, "demo", "--out-dir", "demo", "--videos", "24", "--epochs", "1"], cwd=cwd, env=env,
               timeout=900)
    assert "avg" in out.stdout.lower() or "mAP" in out.stdout, out.stdout
    demo = cwd / "demo"
    _run([unav, "evaluate", "--annotations", demo / "data/annotations.json", "--predictions",
          demo / "predictions.json", "--out", "metrics.json"], cwd=cwd, env=env)
    metrics = json.loads((cwd / "metrics.json").read_text())
    assert 0.0 <= metrics["average_mAP"] <= 1.0 and len(metrics["mAP"]) == len(metrics["tiou_thresholds"])


def test_light_install_trains_and_names_the_extra(tmp_path_factory):
    """Without the `extract` extra, training/evaluation run (the demo works on synthetic features) and the
    extraction code paths say which extra to install."""
    light = install_wheel_venv(tmp_path_factory.mktemp("light"), without=EXTRACT_EXTRA)
    py, cwd, env = light["py"], light["cwd"], light["env"]
    code = ("import importlib, numpy as np\n"
            "from unav.errors import UnavError\n"
            "for mod in ('cv2', 'resampy', 'imageio_ffmpeg'):\n"
            "    try:\n"
            "        importlib.import_module(mod)\n"
            "    except ImportError:\n"
            "        continue\n"
            "    raise SystemExit(f'{mod} is importable in the light install')\n"
            "from unav.media.audio import resample_16k\n"
            "from unav.features.dis import DisFlowComputer, _cv2\n"
            "for call in (lambda: resample_16k(np.zeros(441, np.float32), 44100), _cv2):\n"
            "    try:\n"
            "        call()\n"
            "    except UnavError as err:\n"
            "        assert 'unav[extract]' in str(err), err\n"
            "    else:\n"
            "        raise SystemExit('no error without the extra')\n"
            "print('ok')\n")
    assert _run([py, "-c", code], cwd=cwd, env=env).stdout.strip() == "ok"
    _run([light["bin"] / "unav", "demo", "--out-dir", "demo", "--videos", "24", "--epochs", "1"], cwd=cwd,
         env=env, timeout=900)
    assert (cwd / "demo" / "metrics.json").is_file()
