"""Configuration: one commented defaults file (= the paper), YAML overrides composed with `_base_`,
dotted command-line overrides, validation against the defaults' keys, and a saved merged copy."""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import UnavError

CONFIG_DIR = Path(__file__).parent / "configs"
DEFAULTS_PATH = CONFIG_DIR / "defaults.yaml"
# train.compile: none, or a torch.compile mode
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune")

class _Loader(yaml.SafeLoader):
    """YAML with the floats of YAML 1.2 and of every config language: `3e-4` and `1e6` are numbers (PyYAML's
    YAML 1.1 resolver reads them as strings, which then crashed inside the optimizer)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def yaml_load(text: str):
    return yaml.load(text, Loader=_Loader)


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


def load_yaml(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict:
    path = resolve_config(path)
    if path.resolve() in _chain:
        cycle = " -> ".join(str(p) for p in _chain + (path.resolve(),))
        raise UnavError(f"config file {path}: its _base_ chain comes back to itself ({cycle})")
    try:
        data = yaml_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UnavError(f"config file {path} is not valid YAML: {err}") from err
    if not isinstance(data, dict):
        raise UnavError(f"config file {path} must hold a mapping at top level")
    bases = data.pop("_base_", [])
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise UnavError(f"config file {path}: _base_ must be a file name or a list of file names, got {bases!r}")
    merged: dict = {}
    for base in bases:
        base_path = (path.parent / base) if not Path(base).is_absolute() else Path(base)
        merged = deep_merge(merged, load_yaml(base_path if base_path.is_file() else base,
                                              _chain + (path.resolve(),)))
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
        node[parts[-1]] = yaml_load(raw)
    return out


def _check_keys(cfg: dict, ref: dict, prefix: str = "") -> None:
    """Every key is known and its value has the type of the default (numbers: any finite number)."""
    for key, value in cfg.items():
        dotted = f"{prefix}{key}"
        if key not in ref:
            raise UnavError(f"unknown config key {dotted!r} (known here: {', '.join(sorted(map(str, ref)))})")
        default = ref[key]
        if dotted in _FREE_KEYS or default is None or value is None and dotted in _NULLABLE:
            continue
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise UnavError(f"config key {dotted!r} must be a mapping, got {value!r}")
            _check_keys(value, default, dotted + ".")
            continue
        kind = _kind(default)
        if _kind(value) != kind and not (kind == "number" and _is_number(value)):
            raise UnavError(f"config key {dotted} = {value!r} is not allowed: expected {_KIND_TEXT[kind]} "
                            f"(the default is {default!r})")


# Keys that may be null although their default is a value.
_NULLABLE: set[str] = set()
_KIND_TEXT = {"bool": "true or false", "number": "a number", "str": "a string", "list": "a list", "other": "a value"}


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number" if _is_number(v) else "other"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return "list"
    return "other"


def validate(cfg: dict) -> dict:
    defaults = load_yaml(DEFAULTS_PATH)
    defaults["dataset"].setdefault("classes", None)
    defaults["dataset"].setdefault("num_classes", None)
    _check_keys(cfg, defaults)
    m = cfg["model"]
    from .model.registry import ARCHITECTURES

    if m.get("arch", "unav") not in ARCHITECTURES:
        raise UnavError(f"model.arch must be one of {', '.join(ARCHITECTURES)}, got {m['arch']!r}")
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
    if cfg["train"]["compile"] not in COMPILE_MODES:
        raise UnavError(f"train.compile must be one of {', '.join(COMPILE_MODES)}, got {cfg['train']['compile']!r}")
    _check_ranges(cfg)
    return cfg


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and v == v and v not in (float("inf"),
                                                                                             float("-inf"))


# dotted key -> (check, what is allowed)
_RANGES = {
    "train.epochs": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "train.warmup_epochs": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0"),
    "train.batch_size": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "train.lr": (lambda v: _is_number(v) and v > 0, "a number > 0 (e.g. 1.0e-4 or 1e-4)"),
    "train.weight_decay": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "train.ema_decay": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "train.clip_grad_norm": (lambda v: _is_number(v) and v >= 0, "a number >= 0 (0: no clipping)"),
    "train.device": (lambda v: isinstance(v, str) and re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", v) is not None,
                     "auto, cpu, cuda or cuda:N"),
    "test.batch_size": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "dataset.num_workers": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0"),
    "dataset.max_seq_len": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "model.embd_dim": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "model.n_head": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "model.dependency.hidden_classes": (lambda v: v is None or _is_int(v) and v >= 1,
                                        "null (the number of classes) or a whole number >= 1"),
    "seed": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0"),
    "train.eval_every": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0 (0: never)"),
}


_MISSING = object()


def _get(cfg: dict, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _check_ranges(cfg: dict) -> None:
    """Types and ranges of the keys users set most, checked before any work; errors name key, value, rule."""
    for key, (ok, allowed) in _RANGES.items():
        value = _get(cfg, key)
        if value is not _MISSING and not ok(value):
            raise UnavError(f"config key {key} = {value!r} is not allowed: expected {allowed}")
    m = cfg["model"]
    if _is_int(m.get("embd_dim")) and _is_int(m.get("n_head")) and m["embd_dim"] % m["n_head"]:
        raise UnavError(f"model.embd_dim {m['embd_dim']} must be divisible by model.n_head {m['n_head']}")


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
