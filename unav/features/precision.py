"""Numeric precision of the extractor's network forwards (RAFT, I3D, VGGish's CNN): `fp32`, the released
features' numerics (the process's torch settings left as they are); `tf32`, CUDA TF32 matmuls and cuDNN
convolutions (no TF32 on CPU, where it changes nothing); `bf16`, bfloat16 autocast. Only the network calls run
under it: decoding, resizing, the log-mel front end and the flow quantisation stay float32 (or float64), and
the outputs are cast back to float32 before they are quantised or written."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from ..errors import UnavError
from .settings import LEGACY_DEFAULTS, PRECISIONS

# what a file written before the setting existed (no "precision" recorded) was made with
LEGACY_PRECISION: str = LEGACY_DEFAULTS["precision"]


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise UnavError(f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)} "
                        f"(fp32 is the released features' numerics)")
    return precision


def file_precision(meta: dict | None) -> str:
    """The precision a flow file's (or a provenance's flow entry's) metadata records; fp32 when it predates the
    setting."""
    return str((meta or {}).get("precision") or LEGACY_PRECISION)


def precision_note(precision: str) -> str | None:
    """What a provenance says about features not made at the released numerics (None for fp32)."""
    return None if precision == "fp32" else f"{precision} extraction: not the released numerics"


@contextlib.contextmanager
def network_precision(device: torch.device | str, precision: str) -> Iterator[None]:
    """Run the enclosed network forwards at `precision` on `device`; every global it changes is restored on
    exit. Keep it around the forwards only, never across a `yield` of a generator (autocast and the TF32
    flags would leak into the consumer's code)."""
    check_precision(precision)
    device = torch.device(device)
    if precision == "fp32":
        yield
    elif precision == "tf32":
        if device.type != "cuda":   # TF32 is a CUDA tensor-core format: nothing to switch on elsewhere
            yield
            return
        saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
    else:
        if not torch.amp.is_autocast_available(device.type):
            raise UnavError(f"precision bf16 needs autocast, which torch {torch.__version__} does not offer on "
                            f"device {device}; use fp32")
        with torch.autocast(device.type, dtype=torch.bfloat16):
            yield
