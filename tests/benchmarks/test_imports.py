"""The benchmark scripts import unav names inside their functions (so `--help` stays fast); a renamed or removed
name would only fail when someone runs the benchmark. Every `from unav… import name` they hold must resolve."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def unav_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every `from unav… import name` in the file, at any depth."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and (node.module == "unav" or node.module.startswith("unav.")):
            out += [(node.module, alias.name) for alias in node.names]
    return out


@pytest.mark.parametrize("script", sorted(BENCHMARKS.glob("*.py")), ids=lambda p: p.name)
def test_benchmark_imports_resolve(script: Path) -> None:
    missing = []
    for module, name in unav_imports(script):
        mod = importlib.import_module(module)
        if not hasattr(mod, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{module}.{name}")
    assert not missing, f"{script.name} imports names unav does not have: {missing}"


def test_the_check_sees_function_level_imports(tmp_path: Path) -> None:
    script = tmp_path / "b.py"
    script.write_text("def f():\n    from unav.engine.infer import predict_dataset, database_of\n")
    assert unav_imports(script) == [("unav.engine.infer", "predict_dataset"), ("unav.engine.infer", "database_of")]
    assert not hasattr(importlib.import_module("unav.engine.infer"), "database_of")
