"""The bad-input case book: each case is a command line a careless or hostile user could type, the exit status
and a fragment of the message unav must answer with, and the files that must be byte-identical afterwards.

Cases run in-process through `unav.cli.main` (an uncaught exception fails the case: that is a traceback a user
would see). Every case also checks that no message advises unsafe loading and that no temporary file of an
atomic write is left behind."""
from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

# Advice from numpy or torch that would have the user switch safe loading off; never shown.
UNSAFE_ADVICE = ("weights_only", "allow_pickle")
# Temporary files of unav.io.atomic_path: `.NAME.XXXX.tmp.EXT`.
ATOMIC_TMP = re.compile(r"^\..+\.tmp(\.[^.]+)?$")


@dataclass
class Case:
    """One bad input. `argv` items are formatted with the context's paths ({tmp}, {ann}, {feats}, {run}, …);
    `setup(ctx)` makes the input files first; `unchanged` paths (files or folders) are hashed before and after;
    `absent` paths must not exist afterwards; `check(ctx)` may assert more."""
    id: str
    argv: list[str]
    exit: int
    message: str
    setup: Callable[["Context"], None] | None = None
    unchanged: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    check: Callable[["Context"], None] | None = None


@dataclass
class Context:
    tmp: Path
    fixtures: dict[str, Path]
    paths: dict[str, str] = field(default_factory=dict)

    def path(self, text: str) -> Path:
        return Path(self.fmt(text))

    def fmt(self, text: str) -> str:
        for name in re.findall(r"{(\w+)}", text):
            if name not in self.paths:
                self.paths[name] = str(self._materialise(name))
        return text.format(**self.paths)

    def _materialise(self, name: str) -> Path:
        if name == "tmp":
            return self.tmp
        if name not in self.fixtures:
            raise KeyError(f"unknown placeholder {{{name}}}; fixtures: {sorted(self.fixtures)}")
        source = self.fixtures[name]
        if name in MUTABLE:   # cases may try to damage these: each case gets its own copy
            target = self.tmp / f"_{name}"
            if source.is_dir():
                shutil.copytree(source, target)
            else:
                shutil.copy2(source, target.with_suffix(source.suffix))
                target = target.with_suffix(source.suffix)
            return target
        return source


# Fixtures copied per case (a case may be about overwriting them); the others are shared read-only inputs,
# which every case's `unchanged` check covers implicitly.
MUTABLE = {"run", "preds", "ann_copy", "feats_copy", "video_copy"}


def tree_digest(path: Path) -> str:
    """A digest of a file, or of a folder's names and contents; 'absent' when it does not exist."""
    if not path.exists():
        return "absent"
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
        return h.hexdigest()
    for child in sorted(path.rglob("*")):
        h.update(str(child.relative_to(path)).encode())
        if child.is_file():
            h.update(child.read_bytes())
    return h.hexdigest()


def leftover_tmp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if p.is_file() and ATOMIC_TMP.match(p.name)]


def run_case(case: Case, ctx: Context, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture) -> None:
    from unav.cli import main

    if case.setup is not None:
        case.setup(ctx)
    argv = [ctx.fmt(a) for a in case.argv]
    watched = [ctx.path(p) for p in case.unchanged] + [p for k, p in ctx.fixtures.items() if k not in MUTABLE]
    before = {p: tree_digest(p) for p in watched}
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as stop:   # argparse rejects a malformed command line with status 2
        rc = stop.code if isinstance(stop.code, int) else 1
    out = capsys.readouterr()
    said = out.out + out.err + caplog.text
    assert "Traceback" not in said, said
    assert rc == case.exit, f"exit {rc}, expected {case.exit}; output:\n{said}"
    assert case.message.lower() in said.lower(), f"expected {case.message!r} in:\n{said}"
    for advice in UNSAFE_ADVICE:
        assert advice not in said, f"message advises unsafe loading ({advice}):\n{said}"
    for path, digest in before.items():
        assert tree_digest(path) == digest, f"{path} changed"
    for path in case.absent:
        assert not ctx.path(path).exists(), f"{ctx.path(path)} exists"
    left = leftover_tmp_files(ctx.tmp)
    assert not left, f"temporary files left behind: {left}"
    if case.check is not None:
        case.check(ctx)


def write(name: str, content: str | bytes = b"") -> Callable[[Context], None]:
    """Setup: {tmp}/NAME holding `content` (text has its "{tmp}" replaced by the case's folder)."""
    def setup(ctx: Context) -> None:
        target = ctx.tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.replace("{tmp}", str(ctx.tmp)) if isinstance(content, str) else content
        target.write_bytes(data.encode() if isinstance(data, str) else data)
    return setup


def both(*setups: Callable[[Context], None]) -> Callable[[Context], None]:
    """Setup: several setups, in order."""
    def setup(ctx: Context) -> None:
        for s in setups:
            s(ctx)
    return setup


def parametrize(cases: list[Case]):
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids), "case ids must be unique"
    return pytest.mark.parametrize("case", cases, ids=ids)
