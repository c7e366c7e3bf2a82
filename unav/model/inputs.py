"""The A‖V input of the concatenating baselines (TadTR, VSGN): the configured modalities' rows stacked along
channels, visual (I3D rgb‖flow) then audio (VGGish), as the UnAV-100 paper fed its Table 2 baselines."""
from __future__ import annotations

import torch

from ..errors import UnavError
from .localizer import input_dims


def concat_modalities(cfg: dict) -> tuple[list[str], int]:
    """(the configured modalities in input order, their concatenated channel count)."""
    modalities = [m for m in ("visual", "audio") if m in cfg["model"]["modalities"]]
    dims = dict(zip(("visual", "audio"), input_dims(cfg)))
    return modalities, sum(dims[m] for m in modalities)


def concatenated(visual: torch.Tensor | None, audio: torch.Tensor | None, modalities: list[str],
                 model: str) -> torch.Tensor:
    """visual [B, Cv, T], audio [B, 128, T] -> [B, C_in, T] float of the modalities a model was built for."""
    parts = []
    for name, x in (("visual", visual), ("audio", audio)):
        if name in modalities:
            if x is None:
                raise UnavError(f"{model} was built for modalities {modalities} but got no {name} features")
            parts.append(x.float())
    return torch.cat(parts, 1)
