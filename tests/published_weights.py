"""Extractor weight files in the exact layouts of the published ones (key names, shapes, `module.` prefix and
aliased tensors of raft-sintel.pth), filled with seeded random values, plus a weights registry that serves them
from a mirror URL with their real sha256 — what a user who mirrors the published files for an offline cluster
has, except for the values. The unav loaders accept only these layouts, so a run on these files exercises the
same fetch, checksum and strict loading code as a run on the published files."""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import yaml

from unav.features.i3d import build_i3d
from unav.features.raft import build_raft, original_key_map
from unav.features.vggish import build_vggish

# registry name -> published file name (the names the workflow and `unav extract` look for)
PUBLISHED = {"i3d_rgb": "i3d_rgb.pt", "i3d_flow": "i3d_flow.pt", "raft_sintel": "raft-sintel.pth",
             "vggish": "vggish-10086976.pth"}


def _raft_original_state(seed: int) -> dict[str, torch.Tensor]:
    """raft-sintel.pth layout: original princeton-vl names under `module.`, norm3 aliases of downsample.1."""
    model, _ = build_raft("random", seed=seed)
    tv = model.state_dict()
    names, aliases = original_key_map(model)
    state = {f"module.{orig}": tv[tv_name].clone() for orig, tv_name in names.items()}
    state.update({f"module.{alias}": tv[names[orig]].clone() for alias, orig in aliases.items()})
    return state


def _state(name: str, seed: int) -> dict[str, torch.Tensor]:
    if name == "i3d_rgb":
        return build_i3d("rgb", "random", seed=seed).state_dict()
    if name == "i3d_flow":
        return build_i3d("flow", "random", seed=seed).state_dict()
    if name == "raft_sintel":
        return _raft_original_state(seed)
    if name == "vggish":
        return build_vggish("random", seed=seed).state_dict()
    raise KeyError(name)


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_published_files(folder: Path, names=tuple(PUBLISHED), seed: int = 11) -> dict[str, Path]:
    """Write the files (published names) into `folder`; returns registry name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, name in enumerate(names):
        path = folder / PUBLISHED[name]
        torch.save(_state(name, seed + i), path)
        out[name] = path
    return out


def write_mirror_registry(path: Path, base_url: str, files: dict[str, Path]) -> Path:
    """A registry in unav's format whose entries point at `base_url/<file>` with each file's real sha256."""
    entries = {name: {"file": p.name, "url": f"{base_url.rstrip('/')}/{p.name}", "sha256": sha256(p),
                      "licence": "test mirror", "model": f"{name} (published layout, seeded random values)"}
               for name, p in files.items()}
    path.write_text(yaml.safe_dump({"weights": entries}, sort_keys=False))
    return path
