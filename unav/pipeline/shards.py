"""Shards: the workflow's unit of work for the per-video stages (download, trim, flow, i3d, vggish, features).

A video belongs to shard `crc32(id) % shards`, a stable hash: adding videos to the list never moves the others
to another shard, so only the shards that gained videos rerun. Each shard job writes a manifest, one row per
video of the shard: done (computed now), cached (its outputs were current), failed (with the failure's kind and
reason) or skipped (an earlier stage failed it). The per-video files keep the UnAV-100 layout; the manifest is
the job's declared output.
"""
from __future__ import annotations

import csv
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import UnavError

STAGES = ("download", "trim", "flow", "i3d", "vggish", "features")
STATUSES = ("done", "cached", "failed", "skipped")
OK = ("done", "cached")
COLUMNS = ("id", "status", "kind", "reason", "seconds")


def shard_of(video_id: str, shards: int) -> int:
    """The shard of a video: a stable hash of its id (the same on every machine and Python run)."""
    if shards < 1:
        raise UnavError(f"shards {shards}: expected at least 1")
    return zlib.crc32(video_id.encode("utf-8")) % shards


def shard_members(ids: Iterable[str], shards: int) -> dict[int, list[str]]:
    """shard -> its ids in list order, for every shard 0..shards-1 (empty ones included)."""
    members: dict[int, list[str]] = {k: [] for k in range(shards)}
    for vid in ids:
        members[shard_of(vid, shards)].append(vid)
    return members


@dataclass
class Row:
    """One video's line of a shard manifest."""

    id: str
    status: str                 # done | cached | failed | skipped
    kind: str = ""              # failed/skipped: download, decode, no_audio, too_short, extract, …
    reason: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in OK


def _field(value: object) -> str:
    return " ".join(str(value).split())   # one line, no tabs


def manifest_text(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    out.write("\t".join(COLUMNS) + "\n")
    for r in rows:
        out.write("\t".join((r.id, r.status, _field(r.kind), _field(r.reason), f"{r.seconds:.3f}")) + "\n")
    return out.getvalue()


def write_manifest(path: str | os.PathLike, rows: Sequence[Row]) -> None:
    from ..io import write_text

    write_text(path, manifest_text(rows))


def read_manifest(path: str | os.PathLike) -> list[Row]:
    """The rows of a manifest; a missing or malformed one is an UnavError naming the file."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise UnavError(f"shard manifest {path}: header {reader.fieldnames}; expected {'/'.join(COLUMNS)}")
            rows = [Row(r["id"], r["status"], r["kind"] or "", r["reason"] or "", float(r["seconds"] or 0))
                    for r in reader]
    except FileNotFoundError:
        raise UnavError(f"shard manifest {path} is missing") from None
    except (OSError, ValueError, KeyError) as err:
        raise UnavError(f"shard manifest {path} cannot be read ({err})") from None
    bad = [r.id for r in rows if r.status not in STATUSES]
    if bad:
        raise UnavError(f"shard manifest {path}: unknown status for {', '.join(bad[:5])}; expected one of "
                        f"{', '.join(STATUSES)}")
    return rows


def ok_ids(paths: Iterable[str | os.PathLike]) -> set[str]:
    """Ids finished (done or cached) by every stage whose manifests are given (a stage's manifests lie in a
    folder named after it: a video must be ok in the i3d AND the vggish manifests)."""
    by_stage: dict[str, set[str]] = {}
    for p in map(Path, paths):
        by_stage.setdefault(p.parent.name, set()).update(r.id for r in read_manifest(p) if r.ok)
    return set.intersection(*by_stage.values()) if by_stage else set()


def failure_rows(stage_manifests: dict[str, Sequence[str | os.PathLike]]) -> list[dict[str, str]]:
    """Each failed video once, at the first stage that failed it: {id, stage, kind, reason}, stage order."""
    seen: set[str] = set()
    failures = []
    for stage in STAGES:
        for path in stage_manifests.get(stage, ()):
            for r in read_manifest(path):
                if r.status == "failed" and r.id not in seen:
                    seen.add(r.id)
                    failures.append({"id": r.id, "stage": stage, "kind": r.kind, "reason": r.reason})
    return failures


def write_failures(path: str | os.PathLike, failures: Sequence[dict[str, str]]) -> None:
    """The failures table (id, stage, kind, reason) the report shows."""
    from ..io import write_text

    lines = ["id\tstage\tkind\treason"]
    lines += ["\t".join(_field(f[k]) for k in ("id", "stage", "kind", "reason")) for f in failures]
    write_text(path, "\n".join(lines) + "\n")
