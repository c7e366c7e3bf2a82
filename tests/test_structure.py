"""The package's shape: no import circle among unav modules (imports inside functions included, read from
each module's syntax tree, so a lazy import cannot hide one)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "unav"


def module_files() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def imported_modules(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """unav modules that `name` imports anywhere in its body."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)
    return {m for m in found if m in mods and m != name}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_cycle_finder_sees_a_circle():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_in_unav():
    mods = module_files()
    graph = {name: imported_modules(name, path, mods) for name, path in mods.items()}
    assert "unav.device" in graph["unav.engine.train"]   # the reader sees imports (a broken reader finds no circle)
    assert import_cycles(graph) == []


def readme_layout() -> str:
    text = (PACKAGE.parent / "README.md").read_text()
    start = text.index("## Layout")
    block = text[text.index("```", start) + 3:]
    return block[:block.index("```")]


def test_readme_layout_matches_the_package():
    """Every subpackage and top-level module of unav is named in the README's layout, and nothing else is."""
    import re

    named = set()
    for line in readme_layout().splitlines():   # "  name.py other/   what they do": names, then 2+ spaces
        found = re.match(r"^  (\S.*?)(?:\s{2,}|$)", line)
        if found:
            named.update(found.group(1).split())
    actual = {p.name + "/" for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    actual |= {p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    named.discard("unav/")
    assert named == actual, (sorted(named - actual), sorted(actual - named))
