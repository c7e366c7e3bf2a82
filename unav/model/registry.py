"""Localization models by name (`model.arch`): the paper's localizer and the Table 2 baselines.

Every entry is an nn.Module built as `cls(cfg, num_classes)` with
    forward(visual [B, Cv, T] | None, audio [B, 128, T] | None, mask [B, T] bool) -> dict of outputs
and a `num_classes` attribute. The paper's localizer ("unav") returns dense per-point outputs ("cls_logits",
"offsets", "masks", "strides") that the trainer turns into targets and focal/DIoU losses and that inference decodes
and Soft-NMS's. A model with its own objective or decoding (a set-prediction detector, an anchor-based one) also
defines
    losses(out, segments, labels) -> {"final_loss": scalar tensor, other scalar parts}
        segments: per video [N_i, 2] float32 (start, end) in feature-grid rows; labels: per video [N_i] int64
    decode(out, index, test_cfg) -> (segments [N, 2] grid rows, scores [N], labels [N] int64) of video `index`
and the trainer and inference call those instead. Entries are imported when chosen, so a baseline's code loads
only for its runs.

Add a model: write the module, add its name here and its settings under `model.<name>` in configs/defaults.yaml."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import UnavError

if TYPE_CHECKING:  # torch stays unimported for config validation (the Snakefile validates configs)
    from torch import nn

# model.arch -> (module, class)
ARCHITECTURES: dict[str, tuple[str, str]] = {
    "unav": ("unav.model.localizer", "Localizer"),       # the paper (cross-modal pyramid + dependency modelling)
    "tadtr": ("unav.model.tadtr", "TadTR"),              # Table 2: TadTR (Liu et al., TIP 2022), A‖V input
    "vsgn": ("unav.model.vsgn", "VSGN"),                 # Table 2: VSGN (Zhao et al., ICCV 2021), A‖V input
}


def arch_of(cfg: dict) -> str:
    """The config's architecture; configs saved before `model.arch` existed are the paper's localizer."""
    return cfg["model"].get("arch", "unav")


def model_class(arch: str) -> type[nn.Module]:
    if arch not in ARCHITECTURES:
        raise UnavError(f"model.arch {arch!r} is not a unav model (known: {', '.join(ARCHITECTURES)})")
    module, name = ARCHITECTURES[arch]
    return getattr(importlib.import_module(module), name)


def build_model(cfg: dict, num_classes: int) -> nn.Module:
    """The model `cfg["model"]["arch"]` names, for `num_classes` classes."""
    return model_class(arch_of(cfg))(cfg, num_classes)
