"""Files in the exact layout of the official UnAV-100 checkpoint (every name and shape of
shared/reference/unav_official_state_dict.tsv, the DataParallel `module.` prefix, state_dict + state_dict_ema),
filled with seeded random values: what `unav import-checkpoint` gets from the release, except for the values."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Callable

import torch


def official_layout(shared_dir: Path) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape, from the reference table of the official model."""
    rows = (line.rstrip("\n").split("\t") for line in
            (shared_dir / "reference" / "unav_official_state_dict.tsv").read_text().splitlines())
    return {name: tuple(ast.literal_eval(shape)) for name, shape, _dtype in rows}


def fake_official(layout: dict[str, tuple[int, ...]], seed: int = 0,
                  edit: Callable[[dict], None] | None = None) -> dict:
    """A checkpoint dict as the release saves it; `edit` may change the raw state before prefixing."""
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(s, generator=g) * 0.05 + (1.0 if len(s) == 0 else 0.0) for k, s in layout.items()}
    ema = {k: v * 0.5 for k, v in state.items()}
    if edit:
        edit(state)
    return {"epoch": 39, "state_dict": {f"module.{k}": v for k, v in state.items()},
            "state_dict_ema": {f"module.{k}": v for k, v in ema.items()}}
