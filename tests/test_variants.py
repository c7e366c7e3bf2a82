"""Every packaged variant (the paper's Tables 2–5) is a valid config that builds the model it names and runs."""
import pytest
import torch

from unav.config import CONFIG_DIR, load_config
from unav.model.localizer import input_dims
from unav.model.registry import arch_of, build_model

VARIANTS = sorted(p.stem for p in (CONFIG_DIR / "variants").glob("*.yaml"))
SMALL = {"model": {"embd_dim": 32, "head": {"dim": 32}, "dependency": {"hidden": 8}}}


def test_all_tables_have_variants():
    assert {"a_only", "v_only", "actionformer_concat", "tadtr_concat", "vsgn_concat", "no_dependency",
            "class_agnostic_regression", "rgb_only", "lc0", "lc7", "no_downsampling", "ls0"} <= set(VARIANTS)


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_builds_and_runs(name):
    cfg = load_config([f"variants/{name}.yaml"], SMALL)
    model = build_model(cfg, 4).eval()
    cv, ca = input_dims(cfg)
    t = cfg["dataset"]["max_seq_len"]
    with torch.no_grad():
        out = model(torch.randn(1, cv, t), torch.randn(1, ca, t), torch.ones(1, t, dtype=torch.bool))
    if arch_of(cfg) != "unav":   # a Table 2 baseline: its own outputs, decoded by itself
        segs, scores, labels = model.decode(out, 0, cfg["test"])
        assert segs.shape[1:] == (2,) and len(segs) == len(scores) == len(labels) > 0
        assert torch.isfinite(segs).all() and torch.isfinite(scores).all() and int(labels.max()) < 4
        return
    assert len(out["cls_logits"]) == cfg["model"]["pyramid_levels"]
    assert all(torch.isfinite(c).all() for c in out["cls_logits"])
    if cfg["model"]["modalities"] == ["audio"]:
        assert not hasattr(model.backbone, "embd_V")
