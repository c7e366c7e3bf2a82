import re

import pytest
import yaml

from unav.config import load_config, parse_overrides, fpn_strides
from unav.errors import UnavError


def test_defaults_are_the_paper_setup():
    cfg = load_config()
    assert cfg["model"]["embd_dim"] == 512
    assert cfg["model"]["pyramid_levels"] == 6
    assert fpn_strides(cfg) == [1, 2, 4, 8, 16, 32]
    assert cfg["train"]["batch_size"] == 16 and cfg["train"]["lr"] == 1e-4


def test_yaml_override_and_base_composition(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"train": {"lr": 3e-4}}))
    child = tmp_path / "child.yaml"
    child.write_text(yaml.safe_dump({"_base_": ["base.yaml"], "model": {"modalities": ["audio"]}}))
    cfg = load_config([child], ["train.batch_size=4"])
    assert cfg["train"]["lr"] == 3e-4
    assert cfg["model"]["modalities"] == ["audio"]
    assert cfg["train"]["batch_size"] == 4


def test_unknown_key_is_an_error_naming_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"model": {"embd_dimm": 3}}))
    with pytest.raises(UnavError, match="model.embd_dimm"):
        load_config([bad])


def test_regression_range_must_match_levels():
    with pytest.raises(UnavError, match="regression_range"):
        load_config([], {"model": {"pyramid_levels": 3}})


def test_parse_overrides_types():
    assert parse_overrides(["a.b=3", "a.c=[1, 2]", "d=true"]) == {"a": {"b": 3, "c": [1, 2]}, "d": True}


def test_numbers_in_every_common_form_are_numbers(tmp_path):
    from unav.config import load_config

    cfg = load_config([], ["train.lr=3e-4"])
    assert cfg["train"]["lr"] == pytest.approx(3e-4) and isinstance(cfg["train"]["lr"], float)
    (tmp_path / "o.yaml").write_text("train:\n  lr: 3e-4\n  weight_decay: 5E-2\n")
    cfg = load_config([tmp_path / "o.yaml"])
    assert cfg["train"]["lr"] == pytest.approx(3e-4)


@pytest.mark.parametrize("override, fragment", [
    ("train.epochs=0", "train.epochs = 0"), ("train.epochs=-1", "train.epochs = -1"),
    ("train.epochs=1.5", "train.epochs = 1.5"), ("train.batch_size=0", "train.batch_size"),
    ("train.lr=-1", "train.lr"), ("train.lr=fast", "train.lr = 'fast'"), ("dataset.num_workers=-2", "num_workers"),
    ("train.device=gpu", "auto, cpu, cuda or cuda:N"), ("model.n_head=3", "divisible by model.n_head 3"),
    ("train.compile=fast", "train.compile must be one of none, default, reduce-overhead, max-autotune, got 'fast'"),
])
def test_out_of_range_values_are_named(override, fragment):
    from unav.config import load_config
    from unav.errors import UnavError

    with pytest.raises(UnavError, match=re.escape(fragment)):
        load_config([], [override])
