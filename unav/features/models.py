"""The networks an extraction runs, built once per process: weights resolved from the settings (with the
provenance entry each records, "unverified" included) and models cached by what they are built from. `unav
extract` and `unav flow` both build their flow computer here, so both resolve and stamp the RAFT weights alike."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from .settings import ExtractSettings

_CACHE: dict[tuple, Any] = {}


def cached(key: tuple, build: Callable[[], Any]) -> Any:
    """The model built by `build` for `key` (built on first use in this process)."""
    if key not in _CACHE:
        _CACHE[key] = build()
    return _CACHE[key]


def resolve_weights(name: str, settings: ExtractSettings) -> tuple[str, dict]:
    """Weights file of registry entry `name` and its provenance entry; "random" mode gives ("random",
    {"weights": "random", "seed"}). A file that fails its checks is refused unless unverified weights are
    allowed; then its entry carries "unverified": true."""
    if settings.weights == "random":
        return "random", {"weights": "random", "seed": settings.seed}
    from . import weights as weights_mod

    path, sha, status = weights_mod.resolve(name, settings.weights_dir, settings.allow_unverified_weights)
    entry = {"weights": str(Path(path).name), "sha256": sha, "status": status}
    if status != "verified":
        entry["unverified"] = True
    return str(path), entry


def i3d_model(stream: str, path: str, seed: int, device: torch.device) -> Any:
    from .i3d import build_i3d

    return cached(("i3d", stream, path, seed, str(device)), lambda: build_i3d(stream, path, seed, device))


def vggish_model(path: str, seed: int, device: torch.device) -> Any:
    from .vggish import build_vggish

    return cached(("vggish", path, seed, str(device)), lambda: build_vggish(path, seed).to(device).eval())


def flow_computer(settings: ExtractSettings, device: torch.device) -> tuple[Any, dict | None]:
    """The flow computer of the settings and the provenance entry of its weights (None for DIS, which has none)."""
    if settings.flow_method == "dis":
        from .dis import DisFlowComputer

        return DisFlowComputer(preset=settings.dis_preset, crop=settings.crop), None
    from .raft import FlowComputer

    s = settings
    path, entry = resolve_weights(s.raft_weights, s)
    computer = cached(("raft", path, s.seed, str(device), s.flow_updates, s.batch_size, s.crop, s.precision),
                      lambda: FlowComputer(path, seed=s.seed, num_flow_updates=s.flow_updates, device=device,
                                           batch_size=s.batch_size, crop=s.crop, precision=s.precision))
    return computer, entry
