"""unav installed as a user of a release has it: a wheel built offline from the sources, installed with
--no-deps (as the conda post-deploy scripts install unav) into a fresh venv whose other packages are this venv's
site-packages minus unav (a directory of symlinks named by a .pth file, so the editable install's finder is not
loaded). Commands then run away from the checkout and can read only what the wheel ships."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_BUILD_FILES = ("pyproject.toml", "README.md", "setup.py", "setup.cfg", "MANIFEST.in", "LICENSE", "LICENSE.txt")


def run_ok(cmd: list, cwd: Path, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def build_wheel(root: Path) -> Path:
    """A wheel of the checkout, built offline from a copy of the sources (building in the checkout writes there)."""
    src = root / "src"
    src.mkdir(parents=True)
    for name in _BUILD_FILES:
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "unav", src / "unav", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = root / "dist"
    run_ok([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
            "--disable-pip-version-check", "-w", dist, src], cwd=root, timeout=300)
    return next(dist.glob("unav-*.whl"))


def install_wheel_venv(root: Path, without: tuple[str, ...] = ()) -> dict:
    """Build the wheel and install it into a fresh venv under `root`. Returns wheel, py, bin, site (the venv's
    site-packages), env (PATH with the venv first) and cwd (a working directory outside the checkout).
    `without`: distributions and modules left out of the venv (name prefixes, e.g. an extra's packages)."""
    root.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(root)
    venv = root / "venv"
    run_ok([sys.executable, "-m", "venv", "--without-pip", venv], cwd=root)
    py = venv / "bin" / "python"
    site_dir = Path(run_ok([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=root)
                    .stdout.strip())
    deps = root / "deps"
    deps.mkdir()
    for sp in {Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()}:
        for entry in sp.iterdir():
            name = entry.name
            if (name.startswith(("unav", "__editable__")) or name.endswith((".pth", ".egg-link"))
                    or name.lower().startswith(without) or (deps / name).exists()):
                continue
            (deps / name).symlink_to(entry)
    (site_dir / "_unav_test_deps.pth").write_text(f"{deps}\n")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "UNAV_WEIGHTS", "PIP_"))}
    env.update(MPLBACKEND="Agg", PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               UNAV_WEIGHTS=str(root / "weights"))
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    run_ok([py, "-m", "pip", "install", "--no-deps", "--no-index", wheel], cwd=root, env=env, timeout=300)
    work = root / "work"
    work.mkdir()
    return {"root": root, "wheel": wheel, "py": py, "bin": venv / "bin", "site": site_dir, "env": env, "cwd": work}
