"""Configuration: one commented defaults file (= the paper), YAML overrides composed with `_base_`,
dotted command-line overrides, validation against the defaults' keys, and a saved merged copy."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import UnavError

CONFIG_DIR = Path(__file__).parent / "configs"
DEFAULTS_PATH = CONFIG_DIR / "defaults.yaml"

# Keys whose values are free-form mappings (not checked key by key).
_FREE_KEYS = {"dataset.classes"}


def packaged_config(name: str | Path) -> Path | None:
    """The packaged config a name refers to (`defaults.yaml`, `demo`, `variants/a_only.yaml`, `a_only`), or None."""
    name = Path(name)
    if name.is_absolute():
        return None
    for candidate in (CONFIG_DIR / name, CONFIG_DIR / "variants" / name,
                      CONFIG_DIR / "variants" / f"{name}.yaml", CONFIG_DIR / f"{name}.yaml"):
        if candidate.is_file():
            return candidate
    return None


def resolve_config(path: str | Path) -> Path:
    """A config file: `path` itself when it exists, else the packaged config of that name."""
    path = Path(path)
    if path.is_file():
        return path
    found = packaged_config(path)
    if found is None:
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")) + sorted(
            p.stem for p in (CONFIG_DIR / "variants").glob("*.yaml"))
        raise UnavError(f"config file {path} does not exist and is not a config known to unav "
                        f"({', '.join(known)})")
    return found


def load_yaml(path: str | Path) -> dict:
    path = resolve_config(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UnavError(f"config file {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise UnavError(f"config file {path} must hold a mapping at top level")
    bases = data.pop("_base_", [])
    if isinstance(bases, str):
        bases = [bases]
    merged: dict = {}
    for base in bases:
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        merged = deep_merge(merged, load_yaml(base_path if base_path.is_file() else base))
    return deep_merge(merged, data)


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_overrides(items: Iterable[str]) -> dict:
    """`train.lr=3e-4 model.modalities=[audio]` -> nested dict (values parsed as YAML)."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise UnavError(f"override {item!r} must look like key.sub=value")
        key, raw = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw)
    return out


def _check_keys(cfg: dict, ref: dict, prefix: str = "") -> None:
    for key, value in cfg.items():
        dotted = f"{prefix}{key}"
        if key not in ref:
            raise UnavError(f"unknown config key {dotted!r} (known here: {', '.join(sorted(ref))})")
        if isinstance(ref[key], dict) and dotted not in _FREE_KEYS:
            if not isinstance(value, dict):
                raise UnavError(f"config key {dotted!r} must be a mapping, got {value!r}")
            _check_keys(value, ref[key], dotted + ".")


def validate(cfg: dict) -> dict:
    defaults = load_yaml(DEFAULTS_PATH)
    defaults["dataset"].setdefault("classes", None)
    defaults["dataset"].setdefault("num_classes", None)
    _check_keys(cfg, defaults)
    m = cfg["model"]
    if not set(m["modalities"]) <= {"visual", "audio"} or not m["modalities"]:
        raise UnavError(f"model.modalities must be a non-empty subset of [visual, audio], got {m['modalities']}")
    if m["fusion"] not in ("cross_attention", "self_attention", "concat"):
        raise UnavError(f"model.fusion must be cross_attention, self_attention or concat, got {m['fusion']!r}")
    if not set(cfg["dataset"]["visual_streams"]) <= {"rgb", "flow"} or not cfg["dataset"]["visual_streams"]:
        raise UnavError("dataset.visual_streams must be a non-empty subset of [rgb, flow]")
    if m["pyramid_levels"] < 1:
        raise UnavError("model.pyramid_levels must be >= 1")
    if len(m["regression_range"]) != m["pyramid_levels"]:
        raise UnavError(f"model.regression_range has {len(m['regression_range'])} entries but "
                        f"model.pyramid_levels is {m['pyramid_levels']}")
    stride = max_stride(cfg)
    if cfg["dataset"]["max_seq_len"] % stride:
        raise UnavError(f"dataset.max_seq_len {cfg['dataset']['max_seq_len']} must be divisible by the "
                        f"largest pyramid stride {stride}")
    if cfg["test"]["nms_method"] not in ("soft", "hard", "none"):
        raise UnavError("test.nms_method must be soft, hard or none")
    if cfg["train"]["amp"] not in ("none", "bf16"):
        raise UnavError("train.amp must be none or bf16")
    return cfg


def fpn_strides(cfg: dict) -> list[int]:
    m = cfg["model"]
    factor = m["scale_factor"] if m["downsample"] else 1
    return [factor ** i for i in range(m["pyramid_levels"])]


def max_stride(cfg: dict) -> int:
    return max(fpn_strides(cfg))


def load_config(paths: Iterable[str | Path] = (), overrides: Iterable[str] | dict = ()) -> dict:
    """Defaults, then each YAML in order, then dotted overrides; validated."""
    cfg = load_yaml(DEFAULTS_PATH)
    cfg["dataset"].setdefault("classes", None)
    cfg["dataset"].setdefault("num_classes", None)
    for path in paths:
        cfg = deep_merge(cfg, load_yaml(path))
    extra = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    cfg = deep_merge(cfg, extra)
    return validate(cfg)


def save_config(cfg: dict, path: str | Path) -> None:
    from .io import write_text

    write_text(path, yaml.safe_dump(cfg, sort_keys=False))
