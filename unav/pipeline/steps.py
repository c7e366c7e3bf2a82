"""Glue steps of the Snakemake workflow that are not a stage of their own.

- `merge_features`: the i3d rule writes `{id}_rgb.npy`, `{id}_flow.npy` and `{id}.json` into one folder, the
  vggish rule `{id}_vggish.npy` and `{id}.json` into another; this puts the three arrays side by side in the
  features folder with ONE provenance file whose "settings" equal what a single `unav extract --streams
  rgb,flow,vggish` run would record (so features made by the workflow and by hand mix freely).
  Arrays are copied, never hard-linked: a link shares its inode, and so its mtime, with the part it came from,
  and Snakemake then sees an output "older than its input" once any job touches one of them. Every file is
  written atomically.
- `subset_annotations`: the annotation file restricted to the videos that have features (failed downloads and
  extractions drop out); the dropped ids are listed in the result's "dropped" entry.

Run through `unav workflow-step merge-features|subset-annotations …` (unav/pipeline/step_cli.py).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

from ..errors import UnavError
from ..features.provenance import FeatureProvenance
from ..features.settings import EXECUTION_KEYS, LEGACY_DEFAULTS, SETTING_STREAMS, recorded_value
from ..io import atomic_path, write_json

log = logging.getLogger(__name__)

STREAM_FILES = {"rgb": "{id}_rgb.npy", "flow": "{id}_flow.npy", "vggish": "{id}_vggish.npy"}


def _read_provenance(path: Path, vid: str) -> FeatureProvenance:
    try:
        return FeatureProvenance.read(path)
    except UnavError as err:
        raise UnavError(f"video {vid!r}: {err}") from None


def _part_name(part: FeatureProvenance, index: int) -> str:
    return part.source or f"part {index + 1} ({','.join(part.streams) or 'no streams'})"


def _merged_settings(parts: Sequence[FeatureProvenance]) -> dict[str, Any]:
    """The settings of one run of every stream: each setting is taken from the parts whose streams it shapes
    (SETTING_STREAMS; a setting this version does not classify, from every part that records it), and those
    parts must agree on it; a setting no part's streams need (the flow options of a VGGish part) comes from the
    first part that records it, as would any run's default. Execution settings (device, batch size, …) say how,
    not what, was computed: the first part's. Disagreements are an UnavError naming both parts and the keys."""
    merged: dict[str, Any] = {}
    clashes: list[str] = []
    keys = list(dict.fromkeys(k for p in parts for k in p.settings if k != "streams"))
    for key in keys:
        holders = [(i, p) for i, p in enumerate(parts) if key in p.settings]
        shaped = SETTING_STREAMS.get(key)
        owners = [(i, p) for i, p in holders if shaped is None or set(shaped) & set(p.streams)]
        if key in LEGACY_DEFAULTS:   # a part written before the setting existed was made at its legacy value
            owners = [(i, p) for i, p in enumerate(parts) if shaped is None or set(shaped) & set(p.streams)]
        judged = holders[:1] if key in EXECUTION_KEYS or not owners else owners
        i0, first = judged[0]
        merged[key] = value = recorded_value(first.settings, key)
        clashes += [f"{key} ({value!r} in {_part_name(first, i0)} vs {recorded_value(p.settings, key)!r} in "
                    f"{_part_name(p, i)})" for i, p in judged[1:] if recorded_value(p.settings, key) != value]
    if clashes:
        raise UnavError(f"video {parts[0].video_id!r}: the provenance parts disagree on setting(s) "
                        f"{'; '.join(clashes)}; every setting must agree for one provenance file (extract the "
                        f"parts with the same options)")
    merged["streams"] = [s for s in STREAM_FILES if any(s in p.streams for p in parts)]
    return dict(sorted(merged.items()))


def merge_provenance(parts: Sequence[FeatureProvenance]) -> FeatureProvenance:
    """One provenance from the per-stream ones (same video): streams, rows, files and weights are united; the
    settings must agree (`_merged_settings`); the other entries are the first part's, with the largest frame
    count, the flow of the part that has it and "unverified" / not paper-compatible if any part is."""
    if not parts:
        raise ValueError("merge_provenance: no parts")
    vids = {p.video_id for p in parts}
    if len(vids) != 1:
        raise UnavError(f"provenance files of different videos cannot be merged: {sorted(map(str, vids))}")
    first = parts[0]
    settings = _merged_settings(parts)
    rows: dict[str, int] = {}
    files: dict[str, str] = {}
    weights: dict[str, Any] = {}
    for i, p in enumerate(parts):
        if not isinstance(p.weights, dict):
            raise UnavError(f"video {first.video_id!r}: {_part_name(p, i)} names its weights {p.weights!r}; expected "
                            f"the per-model entries `unav extract` writes")
        rows.update(p.rows)
        files.update(p.files)
        weights.update(p.weights)
    order = settings["streams"]
    rows = {s: rows[s] for s in order if s in rows}
    rows_video, rows_audio = FeatureProvenance.rows_of(rows)
    frames = max((p.frames or 0) for p in parts) or first.frames
    return dataclasses.replace(
        first, settings=settings, weights=weights, rows=rows, rows_video=rows_video, rows_audio=rows_audio,
        files={s: files[s] for s in order if s in files},
        flow=next((p.flow for p in reversed(parts) if p.flow is not None), None),
        unverified=any(p.unverified for p in parts), paper_compatible=all(p.paper_compatible for p in parts),
        frames=frames,
        frames_duration=frames / float(settings.get("fps", 25.0)) if frames else first.frames_duration,
        source=None)


def _copy(src: Path, dst: Path) -> None:
    with atomic_path(dst, suffix=dst.suffix) as tmp:
        shutil.copyfile(src, tmp)


def merge_features(vid: str, part_dirs: Sequence[str | os.PathLike], out_dir: str | os.PathLike) -> FeatureProvenance:
    """Arrays of every part folder + one merged `{id}.json` into `out_dir`; returns the merged provenance."""
    out = Path(out_dir)
    parts = []
    arrays: list[tuple[Path, Path]] = []
    for d in map(Path, part_dirs):
        prov = _read_provenance(d / f"{vid}.json", vid)
        parts.append(prov)
        for stream in prov.streams:
            src = d / STREAM_FILES[stream].format(id=vid)
            if not src.is_file():
                raise UnavError(f"video {vid!r}: {src} is missing (listed in {d / f'{vid}.json'})")
            arrays.append((src, out / src.name))
    names = [dst.name for _, dst in arrays]
    if len(set(names)) != len(names):
        raise UnavError(f"video {vid!r}: the part folders {list(map(str, part_dirs))} hold the same stream twice")
    merged = merge_provenance(parts)
    out.mkdir(parents=True, exist_ok=True)
    for src, dst in arrays:
        _copy(src, dst)
    merged.write(out / f"{vid}.json")
    return merged


def subset_annotations(annotations: str | os.PathLike, ids: Sequence[str], out: str | os.PathLike) -> dict:
    """Write the annotation file restricted to `ids` (file order kept); returns {"kept", "dropped"}."""
    from ..data.annotations import load_annotations

    src = Path(annotations)
    doc = load_annotations(src).document   # validated by the rules of every command, then copied as written
    keep = set(ids)
    unknown = sorted(keep - set(doc["database"]))
    if unknown:
        raise UnavError(f"annotation file {src} does not hold video(s) {', '.join(unknown[:20])}")
    db = {vid: entry for vid, entry in doc["database"].items() if vid in keep}
    dropped = [vid for vid in doc["database"] if vid not in keep]
    result = {**doc, "database": db}
    write_json(out, result)
    if dropped:
        log.warning("%d of %d annotated videos have no features and are left out: %s%s", len(dropped),
                    len(doc["database"]), ", ".join(dropped[:10]), " …" if len(dropped) > 10 else "")
    return {"kept": len(db), "dropped": dropped}


def typed_cli_config(value: Any) -> Any:
    """Snakemake reads `--config key='{…}'` with YAML's BaseLoader, so every nested scalar arrives as a string
    ('true', '0.5'): re-read such strings as YAML (1.2 numbers included), so the schema sees booleans and numbers.
    Top-level values (Snakemake already types them) and strings that are not YAML scalars stay as they are."""
    from ..config import yaml_load

    if isinstance(value, dict):
        return {k: typed_cli_config(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed_cli_config(v) for v in value]
    if isinstance(value, str):
        try:
            parsed = yaml_load(value)
        except Exception:   # not YAML: a plain string
            return value
        return parsed if parsed is None or isinstance(parsed, (bool, int, float)) else value
    return value
