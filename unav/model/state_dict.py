"""Strict state-dict checks shared by every loader of published weights: a missing, extra or mis-shaped tensor
is an error that names it (and the file it came from)."""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from ..errors import UnavError


def compare_state_dict(expected: Mapping[str, tuple[int, ...]], got: Mapping[str, torch.Tensor]) -> list[str]:
    """Problems (one line each) between expected name->shape and a loaded state dict; [] when they agree."""
    problems = []
    for name in expected:
        if name not in got:
            problems.append(f"missing tensor {name} (expected shape {tuple(expected[name])})")
    for name, tensor in got.items():
        if name not in expected:
            problems.append(f"unexpected tensor {name} (shape {tuple(tensor.shape)})")
        elif tuple(tensor.shape) != tuple(expected[name]):
            problems.append(f"tensor {name} has shape {tuple(tensor.shape)}, expected {tuple(expected[name])}")
    return problems


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], source: str,
                ignore: tuple[str, ...] = ("num_batches_tracked",)) -> None:
    """Load `state` into `module`, refusing any missing/extra/mis-shaped tensor; `source` names the file.
    Keys ending in one of `ignore` may be absent from the file (old PyTorch did not save them)."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    optional = {k for k in expected if k.endswith(ignore)}
    problems = [p for p in compare_state_dict(expected, state)
                if not any(p.startswith(f"missing tensor {k} ") for k in optional)]
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise UnavError(f"{source}: weights do not match the expected layout "
                        f"({len(problems)} problem(s)):\n  {shown}{more}")
    missing_ok = optional - set(state)
    full = dict(state)
    own = module.state_dict()
    for k in missing_ok:
        full[k] = own[k]
    module.load_state_dict(full, strict=True)
