"""Our localizer against a literal re-statement of the release's math (tests/reference/official_unav.py)."""
import pytest
import torch

from reference.official_unav import OfficialUnAV
from unav.config import load_config
from unav.model.localizer import Localizer, count_parameters

SMALL = {"model": {"embd_dim": 64, "head": {"dim": 64}, "dependency": {"hidden": 16}}}


def _pair(num_classes=12, seed=0):
    # (12 classes: no level length equals the class count, where the release mistakes a per-sequence mask)
    torch.manual_seed(seed)
    cfg = load_config([], SMALL)
    ours = Localizer(cfg, num_classes).eval()
    # Random (not initial) values everywhere, including LN and scales, so every path matters.
    with torch.no_grad():
        for p in ours.parameters():
            p.copy_(torch.randn_like(p) * 0.2 + (1.0 if p.dim() == 0 else 0.0))
    ref = OfficialUnAV(num_classes, c=64, dep_h=16).eval()
    ref.load_state_dict(ours.state_dict(), strict=True)
    return ours, ref


def _inputs(lengths, t, seed=1):
    g = torch.Generator().manual_seed(seed)
    b = len(lengths)
    mask = torch.arange(t)[None] < torch.tensor(lengths)[:, None]
    v = torch.randn(b, 2048, t, generator=g) * mask[:, None]
    a = torch.randn(b, 128, t, generator=g) * mask[:, None]
    return v, a, mask


def test_paper_config_has_the_official_layout_and_size():
    model = Localizer(load_config(), 100)
    assert count_parameters(model) == 139_544_114


def test_initial_biases_are_zero_except_the_class_prior():
    # The release zeroes every Conv1d bias (MaskedConv1D, and its backbone's and dependency block's
    # __init_weights__); only the classifier starts at the prior bias -log((1 - 0.01) / 0.01).
    torch.manual_seed(0)
    model = Localizer(load_config([], SMALL), 12)
    nonzero = {name for name, p in model.named_parameters() if name.endswith(".bias") and p.abs().max() > 0}
    assert nonzero == {"cls_head.cls_head.conv.bias"}, sorted(nonzero)[:5]
    assert torch.allclose(model.cls_head.cls_head.conv.bias, torch.full((12,), -4.59512), atol=1e-4)


@pytest.mark.parametrize("length, t", [(150, 224), (300, 320), (224, 224)])
def test_matches_official_math_at_batch_one(length, t):
    # (224 of 224: an unpadded video, where the dependency block skips its masking products)
    ours, ref = _pair()
    v, a, mask = _inputs([length], t)
    with torch.no_grad():
        out = ours(v, a, mask)
        cls, off, masks = ref(v, a, mask[:, None])
    for level in range(6):
        assert torch.equal(out["masks"][level], masks[level])
        torch.testing.assert_close(out["cls_logits"][level], cls[level], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(out["offsets"][level], off[level], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("length", [160, 224])
def test_gradients_match_official_math(length):
    # The hand-written backwards (unav/model/kernel3.py) against autograd through the release's convolutions.
    ours, ref = _pair()
    v, a, mask = _inputs([length], 224)
    out = ours(v, a, mask)
    loss = sum((c * torch.linspace(-1, 1, c.shape[-1])).sum() for c in out["cls_logits"]) + \
        sum(o.pow(2).sum() for o in out["offsets"])
    loss.backward()
    cls, off, _ = ref(v, a, mask[:, None])
    ref_loss = sum((c * torch.linspace(-1, 1, c.shape[-1])).sum() for c in cls) + sum(o.pow(2).sum() for o in off)
    ref_loss.backward()
    ref_grads = dict(ref.named_parameters())
    checked = 0
    for name, p in ours.named_parameters():
        if p.grad is None:
            continue
        torch.testing.assert_close(p.grad, ref_grads[name].grad, rtol=2e-3, atol=2e-3, msg=name)
        checked += 1
    assert checked > 100


def test_outputs_do_not_depend_on_the_rest_of_the_batch():
    ours, ref = _pair()
    # Video 0 is short (own padded length 224); video 1 is long (padded to 320) and forces batch padding.
    v, a, mask = _inputs([100, 300], 320)
    with torch.no_grad():
        both = ours(v, a, mask)
        alone = ours(v[:1, :, :224], a[:1, :, :224], mask[:1, :224])
        ref_alone = ref(v[:1, :, :224], a[:1, :, :224], mask[:1, None, :224])
    for level, s in enumerate([1, 2, 4, 8, 16, 32]):
        n = 224 // s
        torch.testing.assert_close(both["cls_logits"][level][0, :n], alone["cls_logits"][level][0], rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(both["offsets"][level][0, :n], alone["offsets"][level][0], rtol=1e-4, atol=1e-4)
        assert not both["masks"][level][0, n:].any()
        torch.testing.assert_close(alone["cls_logits"][level], ref_alone[0][level], rtol=1e-4, atol=1e-4)


def test_release_batch_mask_defect_is_fixed_in_training_mode():
    # Same padded length (training layout): the release's tiled mask mixes the videos' padding, ours does not.
    ours, ref = _pair()
    v, a, mask = _inputs([60, 224], 224)
    with torch.no_grad():
        ours.train()
        for mod in ours.modules():  # no stochastic depth: compare the deterministic math
            if hasattr(mod, "drop_prob"):
                mod.drop_prob = 0.0
        batched = ours(v, a, mask)["cls_logits"][0][0]
        single = ours(v[:1], a[:1], mask[:1])["cls_logits"][0][0]
        ref_batched = ref(v, a, mask[:, None])[0][0][0]
        ref_single = ref(v[:1], a[:1], mask[:1, None])[0][0][0]
    torch.testing.assert_close(batched[:60], single[:60], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(ref_batched[:60], ref_single[:60], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("overrides", [
    {"model": {"modalities": ["audio"]}},
    {"model": {"modalities": ["visual"]}},
    {"model": {"fusion": "concat", "dependency": {"enabled": False}}},
    {"model": {"fusion": "self_attention"}},
    {"model": {"downsample": False}},
    {"model": {"class_aware_regression": False, "dependency": {"enabled": False}}},
    {"model": {"self_att_layers": 0, "pyramid_levels": 2, "regression_range": [[0, 4], [4, 10000]]}},
    {"dataset": {"visual_streams": ["rgb"]}},
])
def test_variants_build_and_run(overrides):
    from unav.config import deep_merge

    cfg = load_config([], deep_merge(SMALL, overrides))
    model = Localizer(cfg, 5).eval()
    cv = 1024 * len(cfg["dataset"]["visual_streams"])
    v, a, mask = torch.randn(2, cv, 224), torch.randn(2, 128, 224), torch.ones(2, 224, dtype=torch.bool)
    with torch.no_grad():
        out = model(v, a, mask)
    assert len(out["cls_logits"]) == cfg["model"]["pyramid_levels"]
    assert out["cls_logits"][0].shape == (2, 224, 5)
    expect = (2, 224, 5, 2) if cfg["model"]["class_aware_regression"] else (2, 224, 2)
    assert out["offsets"][0].shape == expect
    assert torch.isfinite(out["cls_logits"][-1]).all()


def test_ema_initial_weight_share():
    from unav.model.ema import initial_weight_fraction

    assert initial_weight_fraction(270, 0.999, warmup=False) == pytest.approx(0.763, abs=0.001)
    assert initial_weight_fraction(270, 0.999, warmup=True) < 1e-9
    assert initial_weight_fraction(0, 0.999, warmup=True) == 1.0


def test_bf16_autocast_on_cpu_stays_close_to_fp32():
    # train.amp bf16 on a CPU: every path (kernel-3 functions, attention kept fp32) runs under autocast, and the
    # outputs and gradients stay near the fp32 ones.
    ours, _ = _pair()
    v, a, mask = _inputs([160, 224], 224)

    def run(bf16: bool):
        ours.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = ours(v, a, mask)
        loss = sum(c.float().sum() for c in out["cls_logits"]) + sum(o.float().pow(2).sum() for o in out["offsets"])
        loss.backward()
        logits = torch.cat([c.float().flatten() for c in out["cls_logits"]])
        grads = torch.cat([p.grad.flatten() for p in ours.parameters() if p.grad is not None])
        return logits, grads

    logits32, grads32 = run(False)
    logits16, grads16 = run(True)
    assert (logits16 - logits32).norm() / logits32.norm() < 0.03
    assert torch.isfinite(grads16).all()
    assert torch.nn.functional.cosine_similarity(grads16, grads32, dim=0) > 0.99
