"""A video's feature provenance: the `{id}.json` beside its feature arrays (design.md: extractor settings, weights
identity or "random", code versions, frame count, duration), typed, and read and written in one place.

The file format is what `unav extract` has always written (same keys, same order, same values), so readers of
older files and of these see one thing. Files of other producers are read too: the synthetic demo features name
the video "video_id" and their weights with a string. Keys this version does not know are kept as read."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UnavError

# the file's keys in the order `unav extract` writes them; the last three only when they say something
_KEYS = ("id", "video", "settings", "weights", "versions", "video_duration", "frames", "frames_duration", "rows",
         "rows_video", "rows_audio", "files", "flow", "unverified", "paper_compatible")
_ID_KEYS = ("id", "video_id")   # "video_id": the synthetic demo features
_NUMBER = (int, float)


@dataclass
class FeatureProvenance:
    """One video's provenance. `settings` holds the extractor settings (ExtractSettings fields plus the frame grid
    fps / stack / step) or another producer's description; `weights` maps each model ("i3d_rgb", "raft", …) to
    its weights entry ({"weights": file or "random", "sha256", "status", "unverified"} or {"weights": "random",
    "seed"})."""

    video_id: str | None
    settings: dict[str, Any]
    weights: dict[str, Any] | str = field(default_factory=dict)
    video: str | None = None                    # the video file the features were extracted from
    versions: dict[str, str] | None = None      # unav, torch, numpy, python
    video_duration: float | None = None         # seconds, as probed
    frames: int | None = None                   # decoded 25 fps frames
    frames_duration: float | None = None        # frames / fps
    rows: dict[str, int] = field(default_factory=dict)    # stream -> feature rows
    rows_video: int | None = None
    rows_audio: int | None = None
    files: dict[str, str] = field(default_factory=dict)   # stream -> array file name
    flow: dict[str, Any] | None = None          # the flow's own provenance (computed, or the .flow file's)
    unverified: bool = False                    # some weights failed their checks and were allowed
    paper_compatible: bool = True               # False: random weights or DIS flow
    extra: dict[str, Any] = field(default_factory=dict)          # keys this version does not know, as read
    source: str | None = field(default=None, compare=False)      # the file it was read from (for messages)

    @property
    def streams(self) -> list[str]:
        return list(self.settings.get("streams") or [])

    @staticmethod
    def rows_of(rows: dict[str, int]) -> tuple[int | None, int | None]:
        """(rows_video, rows_audio) as the file records them: the I3D row count (rgb, else flow) and VGGish's."""
        return rows.get("rgb", rows.get("flow")), rows.get("vggish")

    # ---- writing ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON document, keys in the order `unav extract` writes them."""
        doc: dict[str, Any] = {"id": self.video_id, "video": self.video, "settings": self.settings,
                               "weights": self.weights, "versions": self.versions,
                               "video_duration": self.video_duration, "frames": self.frames,
                               "frames_duration": self.frames_duration, "rows": self.rows,
                               "rows_video": self.rows_video, "rows_audio": self.rows_audio, "files": self.files}
        if self.flow is not None:
            doc["flow"] = self.flow
        if self.unverified:
            doc["unverified"] = True
        if not self.paper_compatible:
            doc["paper_compatible"] = False
        return {**doc, **self.extra}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def write(self, path: str | os.PathLike) -> None:
        """Write `path` atomically."""
        from ..io import write_text

        write_text(path, self.to_json())

    # ---- reading ----------------------------------------------------------------------------------------
    @classmethod
    def read(cls, path: str | os.PathLike) -> FeatureProvenance:
        """The provenance file `path`; a missing, unreadable or malformed file is an UnavError naming it."""
        path = Path(path)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise UnavError(f"provenance file {path} is missing") from None
        except (OSError, UnicodeDecodeError) as err:
            raise UnavError(f"provenance file {path} cannot be read ({err})") from None
        return cls.from_json(text, str(path))

    @classmethod
    def from_json(cls, text: str, source: str = "<provenance>") -> FeatureProvenance:
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise UnavError(f"provenance file {source} is not valid JSON ({err})") from None
        return cls.from_dict(doc, source)

    @classmethod
    def from_dict(cls, doc: object, source: str = "<provenance>") -> FeatureProvenance:
        """Check the document's shape (what readers rely on) and type it; errors name `source`."""
        if not isinstance(doc, dict) or not isinstance(doc.get("settings"), dict):
            raise UnavError(f"provenance file {source} has no 'settings' entry (expected {{\"settings\": "
                            f"{{...extractor settings...}}, ...}}, as `unav extract` writes)")
        check = _Checker(doc, source)
        id_key = next((k for k in _ID_KEYS if k in doc), "id")
        return cls(video_id=check(id_key, str, "a video id"), settings=doc["settings"],
                   weights=check("weights", (dict, str), "a mapping model -> weights entry", {}),
                   video=check("video", str, "a path"), versions=check("versions", dict, "a mapping"),
                   video_duration=check("video_duration", _NUMBER, "seconds"),
                   frames=check("frames", int, "a frame count"),
                   frames_duration=check("frames_duration", _NUMBER, "seconds"),
                   rows=check.counts("rows"), rows_video=check("rows_video", int, "a row count"),
                   rows_audio=check("rows_audio", int, "a row count"),
                   files=check("files", dict, "a mapping stream -> file name", {}),
                   flow=check("flow", dict, "a mapping"),
                   unverified=check("unverified", bool, "true or false", False),
                   paper_compatible=check("paper_compatible", bool, "true or false", True),
                   extra={k: v for k, v in doc.items() if k not in _KEYS and k not in _ID_KEYS}, source=source)


class _Checker:
    """Reads one key of a provenance document, refusing a value of the wrong type with a message naming it."""

    def __init__(self, doc: dict, source: str) -> None:
        self.doc, self.source = doc, source

    def __call__(self, key: str, types: type | tuple[type, ...], what: str, default: Any = None) -> Any:
        value = self.doc.get(key)
        if value is None:
            return default
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in _tuple(types)):
            raise UnavError(f"provenance file {self.source}: {key!r} is {value!r}; expected {what}")
        return value

    def counts(self, key: str) -> dict[str, int]:
        rows = self(key, dict, "a mapping stream -> row count", {})
        bad = {k: v for k, v in rows.items() if isinstance(v, bool) or not isinstance(v, int)}
        if bad:
            raise UnavError(f"provenance file {self.source}: {key!r} holds {bad!r}; expected whole row counts")
        return rows


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def differing_settings(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Keys whose values differ between two recorded extractor settings (key order ignored), leaving out the
    keys that say how, not what, was computed (device, batch size, …): features made on a GPU match CPU ones.
    A setting older files do not record counts as the value they were made with (settings.LEGACY_DEFAULTS: no
    "precision" is fp32)."""
    from .settings import EXECUTION_KEYS, recorded_value

    def canonical(settings: dict[str, Any], key: str) -> str:
        return json.dumps(recorded_value(settings, key), sort_keys=True, separators=(",", ":"))

    return sorted(k for k in set(a) | set(b) if k not in EXECUTION_KEYS and canonical(a, k) != canonical(b, k))
