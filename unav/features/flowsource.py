"""Where the I3D flow stream's codes come from, and what each source says about them: a flow computer (RAFT or
DIS, built by `models.flow_computer`) streaming codes as frames arrive, or a flow file written by `unav flow`,
checked against the settings before use. A flow file records the metadata of the computer that made it and its
RAFT weights' provenance entry, so features made from the file carry the same weights identity and the same
"unverified" stamp as features whose flow was computed in the same run."""
from __future__ import annotations

import os
from typing import Any, Iterator

import numpy as np
import torch

from ..errors import UnavError
from .settings import ExtractSettings

DIS_NOTE = "not paper-compatible: DIS flow instead of RAFT"
# keys of a weights provenance entry (models.resolve_weights), in the order it writes them
WEIGHTS_ENTRY_KEYS = ("weights", "seed", "sha256", "status", "unverified")


def computed_flow_meta(computer: Any, flow_method: str) -> dict:
    """What a flow computer says about the codes it produces (method, weights identity, updates, crop, …)."""
    meta = dict(computer.meta()) if hasattr(computer, "meta") else {"method": flow_method}
    if flow_method == "dis":
        meta["paper_compatible"] = False
        meta.setdefault("note", DIS_NOTE)
    return meta


def flow_file_header(computer: Any, weights_entry: dict | None, settings: ExtractSettings) -> dict:
    """The metadata `unav flow` writes before the codes: the computer's, then its weights' provenance entry
    (file name, sha256, status, "unverified") in place of the computer's bare weights id, and the registry name
    of a pretrained RAFT file (`unav extract --flow` records it as its raft_weights setting)."""
    header = {**computed_flow_meta(computer, settings.flow_method), **(weights_entry or {})}
    if settings.flow_method == "raft" and settings.weights == "pretrained":
        header["raft_weights"] = settings.raft_weights
    return header


def file_weights_entry(meta: dict) -> dict | None:
    """The RAFT weights' provenance entry a flow file records (None for DIS flow). Files written before the
    entry carried "unverified" still say "status"; both give the stamp."""
    if meta.get("method") != "raft" or not meta.get("weights"):
        return None
    entry = {k: meta[k] for k in WEIGHTS_ENTRY_KEYS if meta.get(k) is not None}
    if entry.get("status", "verified") != "verified":
        entry["unverified"] = True
    return entry


def file_flow_meta(flow_file: str | os.PathLike, meta: dict | None) -> dict:
    """Provenance of flow read from a file: its own metadata (method, weights, updates, …) plus the path."""
    entry = {k: v for k, v in (meta or {}).items() if k not in ("video", "chunks", "format_version")}
    entry["file"] = str(flow_file)
    if entry.get("method") == "dis":
        entry["paper_compatible"] = False
        entry.setdefault("note", DIS_NOTE)
    return entry


def check_flow_file(flow_file: str | os.PathLike, vid: str) -> None:
    """A missing, truncated or foreign --flow file, found before the models load."""
    from .flowfile import read_flow_meta

    try:
        read_flow_meta(flow_file)
    except UnavError as err:
        raise UnavError(f"{vid}: {err}") from err


def open_flow_file(flow_file: str | os.PathLike, vid: str, settings: ExtractSettings
                   ) -> tuple[dict, Iterator[np.ndarray]]:
    """(metadata, code chunks [m, 2, crop, crop]) of a file written by `unav flow`, checked against the settings."""
    from .flowfile import read_flow_file

    meta, chunks = read_flow_file(flow_file)
    if meta.get("method") not in (None, settings.flow_method):
        raise UnavError(f"{vid}: flow file {flow_file} holds {meta['method']} flow, expected {settings.flow_method} "
                        f"(--flow-method {settings.flow_method})")
    shape = meta.get("shape")
    if shape is not None and list(shape) != [2, settings.crop, settings.crop]:
        raise UnavError(f"{vid}: flow file {flow_file} holds codes of shape {shape}, expected "
                        f"[2, {settings.crop}, {settings.crop}] (--crop {settings.crop})")
    if meta.get("min_side") not in (None, settings.min_side):
        raise UnavError(f"{vid}: flow file {flow_file} was computed on frames with min side {meta['min_side']}, "
                        f"expected {settings.min_side} (--min-side)")
    if meta.get("method") == "raft":   # DIS codes do not depend on it; a file without it is fp32
        from .precision import file_precision

        if file_precision(meta) != settings.precision:
            raise UnavError(f"{vid}: flow file {flow_file} holds RAFT flow computed at precision "
                            f"{file_precision(meta)}, expected {settings.precision} (--precision "
                            f"{settings.precision}); recompute it with `unav flow --precision "
                            f"{settings.precision}`, or extract with --precision {file_precision(meta)}")
    return meta, chunks


def codes_tensor(codes: np.ndarray | torch.Tensor) -> torch.Tensor:  # [m, 2, crop, crop] 0..256 -> int16
    if isinstance(codes, torch.Tensor):
        return codes.to(torch.int16)
    return torch.from_numpy(np.ascontiguousarray(codes).astype(np.int16, copy=False))


def flow_code_chunks(computer: Any, frames: Iterator[np.ndarray], crop: int) -> Iterator[torch.Tensor]:
    """Quantised flow codes [m, 2, crop, crop] (int16, values 0..256) for each new run of frame pairs.
    A computer that returns torch flow (RAFT) is quantised where it ran (no device -> host -> device trip);
    others (DIS) give their own codes."""
    from .flowpost import crop_offsets, quantise_flow

    if getattr(computer, "method", None) != "raft":
        for codes in computer.codes_for_frames(frames):
            yield codes_tensor(codes)
        return
    for flow in computer.flows_for_frames(frames):  # padded flow [m, 2, Hp, Wp]
        top, left = crop_offsets(flow.shape[-2], flow.shape[-1], crop)
        yield quantise_flow(flow[..., top:top + crop, left:left + crop]).to(torch.int16)
