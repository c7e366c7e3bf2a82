"""Our checkpoint format: everything needed to predict (config, class names, feature provenance) travels with
the weights, so `unav predict --checkpoint` needs nothing else."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import UnavError
from .localizer import Localizer

FORMAT = "unav-checkpoint-v1"


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UnavError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or foreign files
        raise UnavError(f"checkpoint {path} could not be read ({type(err).__name__}: {err}); "
                        f"expected a file written by `unav train` or `unav import-checkpoint`") from err
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UnavError(f"checkpoint {path} is not a unav checkpoint (format {FORMAT}); "
                        f"convert official .pth.tar files with `unav import-checkpoint`")
    return ckpt


def model_from_checkpoint(ckpt: dict, use_ema: bool = True) -> tuple[Localizer, str]:
    """Build the model of a checkpoint and load its EMA weights (when present and asked) or raw weights."""
    model = Localizer(ckpt["config"], len(ckpt["classes"]))
    which = "ema" if use_ema and ckpt.get("ema") is not None else "model"
    state = ckpt["ema"] if which == "ema" else ckpt["model"]
    from ..state_dict import load_strict

    load_strict(model, state, f"checkpoint ({which} weights)")
    return model.eval(), which
