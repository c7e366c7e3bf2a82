"""Convert an official UnAV release checkpoint (`.pth.tar` saved through nn.DataParallel: `module.` prefix,
`state_dict` and `state_dict_ema`) into a unav checkpoint, strictly: a missing, extra or mis-shaped tensor is
an error that names it. The official file carries no config or class names: the paper config is used and the
class names come from an annotation file (label_id order)."""
from __future__ import annotations

from pathlib import Path

from .. import __version__
from ..config import load_config
from ..errors import UnavError
from .state_dict import load_strict
from .checkpoint import FORMAT
from .localizer import Localizer

PREFIX = "module."


def strip_prefix(state: dict, source: str) -> dict:
    bad = [k for k in state if not k.startswith(PREFIX)]
    if bad:
        raise UnavError(f"{source}: expected every key to start with {PREFIX!r} (saved through DataParallel); "
                        f"{len(bad)} do not, e.g. {bad[0]}")
    return {k[len(PREFIX):]: v for k, v in state.items()}


def import_official(path: str | Path, classes: list[str] | None = None,
                    config_paths: tuple = ()) -> dict:
    path = Path(path)
    if not path.is_file():
        raise UnavError(f"official checkpoint {path} does not exist")
    from ..io import torch_load_safely

    raw = torch_load_safely(path, "official checkpoint", "the release's .pth.tar (state_dict, state_dict_ema)")
    if not isinstance(raw, dict) or "state_dict" not in raw:
        raise UnavError(f"{path}: expected a dict with 'state_dict' (and 'state_dict_ema'), "
                        f"got {sorted(raw)[:5] if isinstance(raw, dict) else type(raw).__name__}")
    model_sd = strip_prefix(raw["state_dict"], f"{path} [state_dict]")
    ema_sd = strip_prefix(raw["state_dict_ema"], f"{path} [state_dict_ema]") if "state_dict_ema" in raw else None
    num_classes = int(model_sd["cls_head.cls_head.conv.weight"].shape[0]) \
        if "cls_head.cls_head.conv.weight" in model_sd else 100
    if classes is not None and len(classes) != num_classes:
        raise UnavError(f"{path} predicts {num_classes} classes but the annotation file has {len(classes)}")
    cfg = load_config(config_paths)
    model = Localizer(cfg, num_classes)
    load_strict(model, model_sd, f"{path} [state_dict]")
    if ema_sd is not None:
        load_strict(model, ema_sd, f"{path} [state_dict_ema]")
    return {
        "format": FORMAT, "unav_version": __version__, "config": cfg,
        "classes": classes or [f"class_{i}" for i in range(num_classes)],
        "model": model_sd, "ema": ema_sd, "epoch": int(raw.get("epoch", 0) or 0),
        "feature_provenance": {"settings": "unav100-released"}, "imported_from": str(path),
        "predict_weights": "ema" if ema_sd is not None else "model",
    }
