"""One device helper for every command: `auto | cpu | cuda | cuda:N`, checked against what the machine has."""
from __future__ import annotations

import logging
import re

import torch

from .errors import UnavError

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def resolve_device(name: str, option: str = "device") -> torch.device:
    """`auto` is the first GPU when there is one, else the CPU; a GPU that is not there is an error, not a fallback."""
    name = str(name).strip()
    if not re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", name):
        raise UnavError(f"{option} {name!r} is not a device: expected {DEVICE_CHOICES}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.split(":")[1]) if ":" in name else 0
        if count == 0:
            raise UnavError(f"{option} is {name} but no CUDA device is available here (use auto or cpu)")
        if index >= count:
            raise UnavError(f"{option} is {name} but this machine has {count} CUDA device(s) (cuda:0 … "
                            f"cuda:{count - 1})")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 matrix instructions (AVX-512 BF16 or AMX). oneDNN's own `bf16 supported` flag is
    not this: it is also true on plain AVX-512, where bf16 is emulated and a training step runs twice as slow."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):   # a torch build without these probes
        return False


def warn_if_bf16_emulated(device: torch.device | str, setting: str, instead: str) -> bool:
    """Log a warning when bf16 was asked for (`setting`, e.g. "train.amp bf16") on a CPU that would emulate it;
    `instead` is the setting that is faster there. Returns whether it warned."""
    if torch.device(device).type != "cpu" or cpu_has_bf16():
        return False
    logging.getLogger(__name__).warning(
        "%s: this CPU has no bf16 instructions (AVX-512 BF16 / AMX), so bf16 is emulated and slower than fp32; "
        "use %s here", setting, instead)
    return True
