"""Our checkpoint format: everything needed to predict (config, class names, feature provenance) travels with
the weights, so `unav predict --checkpoint` needs nothing else."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from ..errors import UnavError
from torch import nn

from .registry import build_model

FORMAT = "unav-checkpoint-v1"
EMA_WARN_FRACTION = 0.05   # warn when EMA weights still hold more than this share of the random initial weights

log = logging.getLogger(__name__)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        raise UnavError(f"checkpoint {path} is a folder; expected a checkpoint file (e.g. {path / 'best.pt'})")
    if not path.is_file():
        raise UnavError(f"checkpoint {path} does not exist")
    from ..io import torch_load_safely

    ckpt = torch_load_safely(path, "checkpoint", "a file written by `unav train` or `unav import-checkpoint`")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise UnavError(f"checkpoint {path} is not a unav checkpoint (format {FORMAT}); "
                        f"convert official .pth.tar files with `unav import-checkpoint`")
    problems = [f"{key} ({what})" for key, kind, what in REQUIRED_ENTRIES if not isinstance(ckpt.get(key), kind)]
    if problems:
        raise UnavError(f"checkpoint {path} lacks {', '.join(problems)}: it was damaged or edited after "
                        f"`unav train` wrote it; use another checkpoint of the run (last.pt / best.pt)")
    from ..config import validate

    try:
        validate(ckpt["config"])
    except (UnavError, KeyError, TypeError) as err:
        raise UnavError(f"checkpoint {path}: its saved config is not a valid unav config ({err})") from err
    return ckpt


# Entries every checkpoint needs to predict: (key, type, what it is).
REQUIRED_ENTRIES = (("config", dict, "the merged training config"), ("classes", list, "the class names"),
                    ("model", dict, "the model weights"))


def load_model(checkpoint: str | Path, weights: str = "auto") -> tuple[dict[str, Any], nn.Module, str]:
    """(checkpoint dict, its model in eval mode, which weights were loaded) for `--checkpoint-weights`: "auto" (the
    EMA when present), "ema" (refused when absent) or "model" (the raw weights). Non-finite weights are refused and
    barely-updated EMA weights warned about (`model_from_checkpoint`)."""
    ckpt = load_checkpoint(checkpoint)
    model, which = model_from_checkpoint(ckpt, use_ema=weights in ("auto", "ema"))
    if weights == "ema" and which != "ema":
        raise UnavError(f"checkpoint {checkpoint} holds no EMA weights")
    return ckpt, model, which


def model_from_checkpoint(ckpt: dict, use_ema: bool = True) -> tuple[nn.Module, str]:
    """Build the model of a checkpoint and load its EMA weights (when present and asked) or raw weights."""
    model = build_model(ckpt["config"], len(ckpt["classes"]))
    which = "ema" if use_ema and ckpt.get("ema") is not None else "model"
    state = ckpt["ema"] if which == "ema" else ckpt["model"]
    from .state_dict import load_strict

    bad = non_finite_tensors(state)
    if bad:
        raise UnavError(f"checkpoint ({which} weights) holds non-finite values (NaN/inf) in {len(bad)} tensor(s), "
                        f"e.g. {', '.join(bad[:3])}: the training that wrote it diverged; use an earlier checkpoint "
                        f"or retrain with a lower train.lr")
    load_strict(model, state, f"checkpoint ({which} weights)")
    if which == "ema" and ckpt.get("ema_updates") is not None:
        from .ema import initial_weight_fraction

        t = ckpt["config"].get("train", {})
        share = initial_weight_fraction(ckpt["ema_updates"], t.get("ema_decay", 0.999), t.get("ema_warmup", False))
        if share > EMA_WARN_FRACTION:
            warm = "with" if t.get("ema_warmup", False) else "without"
            log.warning("the EMA weights of this checkpoint still hold %.0f %% of the random initial weights (%d "
                        "updates at decay %s %s warm-up): predictions will be poor; use the raw weights "
                        "(--checkpoint-weights model) or train longer%s", 100 * share, ckpt["ema_updates"],
                        t.get("ema_decay", 0.999), warm, "" if warm == "with" else " / with train.ema_warmup: true")
    return model.eval(), which


def non_finite_tensors(state: dict[str, Any]) -> list[str]:
    """Names of floating-point tensors of a state dict that hold NaN or inf."""
    return [k for k, v in state.items()
            if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]
