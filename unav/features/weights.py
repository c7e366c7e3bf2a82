"""Pretrained extractor weights: the registry (package data unav/resources/weights.yaml), the cache directory,
verified downloads and safe loading.

Checks per file (whichever the registry knows): full sha256, the sha256 prefix carried in torch.hub-style
names, the upstream `git hash-object` id, the size. A file passes only if all of its checks pass; a failing file
is refused unless the user allows unverified weights (then a warning, and the status "unverified" travels into
the provenance of every output)."""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import yaml

from ..errors import UnavError
from ..io import atomic_path, check_output_dir, remove_stale_temporaries

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

log = logging.getLogger(__name__)

# The registry shipped inside the package (read with importlib.resources, so it works from any install).
PACKAGED_REGISTRY: Traversable = resources.files("unav") / "resources" / "weights.yaml"
DEFAULT_DIR = Path("~/.cache/unav/weights")
CHUNK = 1 << 20
# What unav can load a registry file as. Which entries play each role is written in the packaged registry only.
ROLES = ("i3d_rgb", "i3d_flow", "raft", "vggish", "vggish_pca")


@dataclass(frozen=True)
class WeightEntry:
    name: str
    file: str
    url: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    git_blob: str | None = None
    size: int | None = None
    licence: str = ""
    model: str = ""
    role: str = ""          # what unav loads the file as (ROLES); "" in registries that do not say
    mirrors: tuple[str, ...] = ()   # further URLs of the same file, tried in order when `url` fails

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.mirrors)

    @property
    def has_checks(self) -> bool:
        return bool(self.sha256 or self.sha256_prefix or self.git_blob or self.size)

    def expected(self) -> str:
        """Human-readable expected identity, for error messages."""
        parts = []
        if self.sha256:
            parts.append(f"sha256 {self.sha256}")
        elif self.sha256_prefix:
            parts.append(f"sha256 starting {self.sha256_prefix}")
        if self.git_blob:
            parts.append(f"git blob {self.git_blob}")
        if self.size:
            parts.append(f"{self.size} bytes")
        return ", ".join(parts) or "no published checksum"


@dataclass
class Digest:
    sha256: str
    git_blob: str
    size: int
    problems: list[str] = field(default_factory=list)


def registry_path(path: str | os.PathLike | None = None) -> Path | Traversable:
    """`path` (--registry), then $UNAV_WEIGHTS_REGISTRY, then the packaged unav/resources/weights.yaml."""
    override = path or os.environ.get("UNAV_WEIGHTS_REGISTRY")
    return Path(override) if override else PACKAGED_REGISTRY


def _plain_name(name: object) -> bool:
    """A file name that stays inside the folder it is joined to."""
    return (isinstance(name, str) and name not in (".", "..") and "/" not in name and "\\" not in name
            and "\0" not in name and not name.startswith("-") and Path(name).name == name)


# checksum fields: (pattern of the lower-case value, what it must look like)
_HEX_FIELDS = {"sha256": (r"[0-9a-f]{64}", "64 hex digits"), "sha256_prefix": (r"[0-9a-f]{1,64}", "hex digits"),
               "git_blob": (r"[0-9a-f]{40}", "40 hex digits")}
URL_SCHEMES = ("https", "http", "file")


def _read_registry(p: Path | Traversable) -> Any:
    """The parsed YAML of a registry file; unreadable or malformed files are UnavErrors naming it."""
    expected = "expected a registry YAML like unav/resources/weights.yaml (from --registry or $UNAV_WEIGHTS_REGISTRY)"
    if isinstance(p, Path) and p.is_dir():
        raise UnavError(f"weights registry {p} is a folder; {expected}")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as err:
        hint = ("the unav install lacks its package data unav/resources/weights.yaml; reinstall unav"
                if p is PACKAGED_REGISTRY else expected)
        raise UnavError(f"weights registry {p} cannot be read ({err}); {hint}") from err
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise UnavError(f"weights registry {p} is not valid YAML{line}; {expected}") from err


def _entry(p: Path | Traversable, name: object, spec: object) -> WeightEntry:
    """One registry entry, checked: file and url present, a plain file name, known keys, well-formed checks."""
    where = f"weights registry {p}: entry {name!r}"
    if not isinstance(spec, dict) or not spec.get("file") or not spec.get("url"):
        raise UnavError(f"{where} needs at least `file` and `url`")
    if not _plain_name(spec["file"]):
        raise UnavError(f"{where} has file {spec['file']!r}; expected a plain file name (no folders, no '..'): "
                        f"files are written only inside the weights directory")
    fields = [k for k in WeightEntry.__dataclass_fields__ if k != "name"]
    unknown = [str(k) for k in spec if k not in fields]
    if unknown:   # a misspelt checksum key would silently leave the file unchecked
        raise UnavError(f"{where} has unknown key(s) {', '.join(unknown)}; expected only {', '.join(fields)}")
    mirrors = spec.get("mirrors") or []
    if not isinstance(mirrors, list):
        raise UnavError(f"{where} has mirrors {mirrors!r}; expected a list of URLs")
    for url in [spec["url"], *mirrors]:
        if not isinstance(url, str) or url.split(":", 1)[0].lower() not in URL_SCHEMES or "://" not in url:
            raise UnavError(f"{where} has url {url!r}; expected an https://, http:// or file:// URL")
    known = {k: spec[k] for k in fields if k in spec}
    known["mirrors"] = tuple(mirrors)
    for key, (pattern, shape) in _HEX_FIELDS.items():
        if known.get(key) is not None:
            known[key] = str(known[key]).lower()
            if not re.fullmatch(pattern, known[key]):
                raise UnavError(f"{where} has {key} {spec[key]!r}; expected {shape} (or null when unknown)")
    size = known.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise UnavError(f"{where} has size {size!r}; expected a whole number of bytes >= 1 (or null)")
    if known.get("role") not in (None, *ROLES):
        raise UnavError(f"{where} has role {known['role']!r}; expected one of {', '.join(ROLES)}")
    return WeightEntry(name=str(name), **known)


def load_registry(path: str | os.PathLike | None = None) -> dict[str, WeightEntry]:
    """Registry entries by name, from `path`, $UNAV_WEIGHTS_REGISTRY or the packaged unav/resources/weights.yaml."""
    return _entries(registry_path(path))


def _entries(p: Path | Traversable) -> dict[str, WeightEntry]:
    data = _read_registry(p)
    if not isinstance(data, dict) or not isinstance(data.get("weights"), dict):
        raise UnavError(f"weights registry {p}: expected a mapping `weights: {{name: {{file, url, ...}}}}`")
    return {str(name): _entry(p, name, spec) for name, spec in data["weights"].items()}


@functools.lru_cache(maxsize=None)
def names_with_role(role: str) -> tuple[str, ...]:
    """Registry names of the entries unav loads as `role`, in registry order. Read from the packaged registry:
    which files unav knows how to load is part of unav; --registry / $UNAV_WEIGHTS_REGISTRY say only where the
    files come from and what they must hash to."""
    if role not in ROLES:
        raise ValueError(f"unknown weights role {role!r}; expected one of {ROLES}")
    names = tuple(name for name, entry in _entries(PACKAGED_REGISTRY).items() if entry.role == role)
    if not names:
        raise UnavError(f"weights registry {PACKAGED_REGISTRY} has no entry with role {role}; reinstall unav")
    return names


def name_for_role(role: str) -> str:
    """The registry name of the one file loaded as `role` (the first one, where several may be: RAFT)."""
    return names_with_role(role)[0]


def raft_weight_names() -> tuple[str, ...]:
    """Registry names usable as RAFT weights (--raft-weights choices); the first is the default."""
    return names_with_role("raft")


def entry_for(name: str, registry: str | os.PathLike | None = None) -> WeightEntry:
    """The entry named `name` (registry key or published file name)."""
    reg = load_registry(registry)
    if name in reg:
        return reg[name]
    for entry in reg.values():
        if entry.file == name:
            return entry
    raise UnavError(f"unknown weights {name!r}; expected one of: {', '.join(reg)}")


def weights_dir(cli_value: str | os.PathLike | None = None) -> Path:
    """--weights-dir, then $UNAV_WEIGHTS, then ~/.cache/unav/weights."""
    return Path(cli_value or os.environ.get("UNAV_WEIGHTS") or DEFAULT_DIR).expanduser()


_default_dir = weights_dir


def _git_blob_hasher(size: int) -> "hashlib._Hash":
    h = hashlib.sha1()
    h.update(b"blob %d\0" % size)
    return h


def check(entry: WeightEntry, digest: Digest) -> list[str]:
    """Failed checks of `digest` against `entry` (empty when it passes)."""
    problems = []
    if entry.size and digest.size != entry.size:
        problems.append(f"size {digest.size} bytes, expected {entry.size}")
    if entry.sha256 and digest.sha256 != entry.sha256:
        problems.append(f"sha256 {digest.sha256}, expected {entry.sha256}")
    if entry.sha256_prefix and not digest.sha256.startswith(entry.sha256_prefix):
        problems.append(f"sha256 {digest.sha256} does not start with {entry.sha256_prefix}")
    if entry.git_blob and digest.git_blob != entry.git_blob:
        problems.append(f"git blob {digest.git_blob}, expected {entry.git_blob}")
    return problems


@functools.lru_cache(maxsize=64)
def _digest_cached(path: str, size: int, mtime_ns: int) -> tuple[str, str]:
    sha, blob = hashlib.sha256(), _git_blob_hasher(size)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
            blob.update(chunk)
    return sha.hexdigest(), blob.hexdigest()


def digest_file(path: str | os.PathLike) -> Digest:
    st = os.stat(path)
    sha, blob = _digest_cached(os.fspath(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    return Digest(sha256=sha, git_blob=blob, size=st.st_size)


def _progress(total: int | None, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                disable=not enabled, leave=False)


def download(url: str, dest: Path, entry: WeightEntry, allow_unverified: bool = False,
             timeout: float = 60.0, progress: bool = False) -> tuple[Digest, str]:
    """Download `url` to `dest` atomically while hashing; verify; (digest, "verified"|"unverified")."""
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "unav"}),
                                          timeout=timeout)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise UnavError(f"{entry.name}: cannot download {url} ({err}); fetch it by hand into {dest.parent} "
                        f"as {entry.file} (expected {entry.expected()})") from err
    with response, atomic_path(dest) as tmp:
        total = response.headers.get("Content-Length")
        sha, size = hashlib.sha256(), 0
        with open(tmp, "wb") as out, _progress(int(total) if total else None, entry.file, progress) as bar:
            while chunk := response.read(CHUNK):
                out.write(chunk)
                sha.update(chunk)
                size += len(chunk)
                bar.update(len(chunk))
        if total and size != int(total):
            raise UnavError(f"{entry.name}: download of {url} stopped after {size} of {total} bytes")
        blob = _git_blob_hasher(size)
        with open(tmp, "rb") as fh:  # the git blob id needs the size up front: second pass over the local file
            while chunk := fh.read(CHUNK):
                blob.update(chunk)
        digest = Digest(sha256=sha.hexdigest(), git_blob=blob.hexdigest(), size=size)
        status = _judge(entry, digest, dest, allow_unverified, source=url)
    return digest, status


def _download_any(entry: WeightEntry, dest: Path, allow_unverified: bool, progress: bool) -> tuple[Digest, str]:
    """`download` from the entry's url, else from each mirror in turn (a moved upstream file, a host that is
    down, or a copy that fails the checks); the checks, not the URL, say the file is the published one."""
    failures = []
    for url in entry.urls:
        try:
            return download(url, dest, entry, allow_unverified, progress=progress)
        except UnavError as err:
            if len(entry.urls) == 1:
                raise
            failures.append(str(err))
            log.warning("%s", err)
    raise UnavError(f"{entry.name}: none of its {len(entry.urls)} URLs gave the published file:\n  "
                    + "\n  ".join(failures))


def _judge(entry: WeightEntry, digest: Digest, path: Path, allow_unverified: bool, source: str) -> str:
    problems = check(entry, digest)
    if not problems and entry.has_checks:
        return "verified"
    if problems:
        msg = (f"{entry.name}: {source} does not match the published weights ({'; '.join(problems)}). "
               f"Expected {entry.expected()} for {entry.file}")
        if not allow_unverified:
            raise UnavError(msg + "; refusing it (pass --allow-unverified-weights to use it anyway)")
        log.warning("%s; using it because unverified weights are allowed", msg)
    else:
        log.warning("%s: no published checksum for %s; using it unverified", entry.name, path)
    return "unverified"


def fetch(names: Iterable[str] | None, weights_dir: str | os.PathLike | None = None,
          allow_unverified: bool = False, registry: str | os.PathLike | None = None,
          force: bool = False, progress: bool = False) -> dict[str, tuple[Path, str, str]]:
    """Download (if absent or failing its checks) and verify each named file; {name: (path, sha256, status)}.
    `names` None or empty means every registry entry; `progress` draws a bar per download."""
    reg = load_registry(registry)
    wanted = [entry_for(n, registry) for n in (names or list(reg))]
    root = check_output_dir(_default_dir(weights_dir), "--weights-dir")
    root.mkdir(parents=True, exist_ok=True)
    results = {}
    for entry in wanted:
        dest = root / entry.file
        if dest.is_dir():
            raise UnavError(f"{entry.name}: {dest} is a folder; expected the weights file {entry.file} there "
                            f"(move the folder away)")
        remove_stale_temporaries([dest])   # what a killed download of this file left half-written
        if dest.is_file() and not force:
            digest = digest_file(dest)
            if not check(entry, digest):
                results[entry.name] = (dest, digest.sha256, "verified" if entry.has_checks else "unverified")
                log.info("%s: %s already present", entry.name, dest)
                continue
            if allow_unverified:
                log.warning("%s: %s present but fails its checks (%s); keeping it because unverified weights "
                            "are allowed", entry.name, dest, "; ".join(check(entry, digest)))
                results[entry.name] = (dest, digest.sha256, "unverified")
                continue
            log.info("%s: %s fails its checks; downloading again", entry.name, dest)
        digest, status = _download_any(entry, dest, allow_unverified, progress)
        results[entry.name] = (dest, digest.sha256, status)
        log.info("%s: %s (%s)", entry.name, dest, status)
    return results


def existing_dir(weights_dir: str | os.PathLike | None = None) -> Path:
    """The weights directory for reading (list, verify): it may be absent (nothing fetched yet), not a file."""
    root = _default_dir(weights_dir)
    if root.exists() and not root.is_dir():
        raise UnavError(f"--weights-dir {root} is a file; expected the folder that holds the weights files "
                        f"(default: $UNAV_WEIGHTS, then {DEFAULT_DIR})")
    return root


def verify(names: Iterable[str] | None, weights_dir: str | os.PathLike | None = None,
           registry: str | os.PathLike | None = None) -> dict[str, tuple[Path, str, list[str]]]:
    """Check present files against the registry without downloading anything: {name: (path, status, problems)}
    with status "verified", "no checksum", "missing" or "mismatch". `names` None or empty means every entry."""
    reg = load_registry(registry)
    wanted = [entry_for(n, registry) for n in (names or list(reg))]
    root = existing_dir(weights_dir)
    results = {}
    for entry in wanted:
        path = root / entry.file
        if not path.is_file():
            what = "a folder" if path.is_dir() else "missing"
            results[entry.name] = (path, "missing", [f"{path} is {what} (expected {entry.file}, {entry.expected()})"])
            continue
        problems = check(entry, digest_file(path))
        status = "mismatch" if problems else ("verified" if entry.has_checks else "no checksum")
        results[entry.name] = (path, status, problems)
    return results


def resolve(name: str, weights_dir: str | os.PathLike | None = None, allow_unverified: bool = False,
            registry: str | os.PathLike | None = None) -> tuple[Path, str, str]:
    """(path, sha256, "verified"|"unverified") of an already fetched file; a missing file or one that fails its
    checks is an UnavError (the latter only a warning when `allow_unverified`)."""
    entry = entry_for(name, registry)
    path = _default_dir(weights_dir) / entry.file
    if not path.is_file():
        raise UnavError(f"{entry.name}: weights file {path} is missing (expected {entry.file}, {entry.expected()}); "
                        f"run `unav weights fetch {entry.name}` or pass --weights-dir")
    digest = digest_file(path)
    return path, digest.sha256, _judge(entry, digest, path, allow_unverified, source=str(path))


def _numpy_safe_globals() -> list[Any]:
    """numpy objects that plain numpy-array pickles need (e.g. the torchvggish PCA file), under both the
    numpy>=2 and the numpy<2 module names."""
    import numpy as np

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    safe: list[Any] = [_reconstruct, np.ndarray, np.dtype,
                       (_reconstruct, "numpy.core.multiarray._reconstruct"),
                       (_reconstruct, "numpy._core.multiarray._reconstruct")]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return safe


def _expected_for(path: Path) -> str:
    try:
        for entry in load_registry().values():
            if entry.file == path.name:
                return f"; expected {entry.file} with {entry.expected()}"
    except UnavError:
        pass
    return ""


def load_weights(path: str | os.PathLike) -> Any:
    """torch.load(path, weights_only=True) on CPU (numpy arrays allowed); a missing, truncated or foreign file
    raises UnavError naming it and, when it is a registry file, its expected checksum."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UnavError(f"weights file {path} does not exist{_expected_for(path)}")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        raise UnavError(f"{path}: not a PyTorch weights file (neither a torch zip archive nor a legacy pickle; "
                        f"first bytes {head!r}){_expected_for(path)}")
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError/UnpicklingError/EOFError/... for bad files
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()] or [type(err).__name__]
        detail = next((ln for ln in lines if "WeightsUnpickler error" in ln), lines[0])[:300]
        raise UnavError(f"{path}: not a readable PyTorch weights file (truncated, corrupt or a different "
                        f"format: {detail}){_expected_for(path)}") from err
