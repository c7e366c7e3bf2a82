"""The TadTR baseline (Table 2): Hungarian matching and temporal deformable attention against hand-computed cases,
the model at the published and at a tiny width (any length, padding-independent, finite losses without events),
learning on synthetic features far above a shuffled-label baseline, and checkpoint round trips."""
import itertools
import json
import math

import numpy as np
import pytest
import torch

from unav.config import CONFIG_DIR, load_config
from unav.data.annotations import load_annotations
from unav.data.dataset import UnavDataset, collate_fn
from unav.data.synthetic import make_synthetic_dataset
from unav.engine.infer import predict_checkpoint, predict_dataset
from unav.engine.train import train
from unav.errors import UnavError
from unav.model.checkpoint import load_model
from unav.model.optim import make_optimizer
from unav.model.registry import build_model
from unav.model.tadtr import TadTR
from learning import map_and_chance
from unav.model.tadtr.deformable import LrScaledLinear, TemporalDeformableAttention, deformable_sample
from unav.model.tadtr.matcher import cost_matrix, hungarian_match, min_cost_assignment

VARIANT = CONFIG_DIR / "variants" / "tadtr_concat.yaml"
TINY = {"model": {"tadtr": {"hidden_dim": 64, "n_heads": 4, "dim_feedforward": 128, "input_groups": 8,
                            "enc_layers": 1, "dec_layers": 2, "num_queries": 10, "dropout": 0.0}}}
# Parameters at the published settings with UnAV-100's 100 classes and A‖V input (2176 channels).
PAPER_PARAMS_UNAV100 = 10_574_106


def tiny_cfg(extra=None):
    from unav.config import deep_merge

    return load_config([VARIANT], deep_merge(TINY, extra or {}))


# ---------------------------------------------------------------- Hungarian matching
def test_assignment_hand_case_where_greedy_fails():
    # Greedy takes the global minimum (row 1, col 1) = 0 and must then pay 4; the optimum pays 1 + 2 = 3.
    cost = np.array([[4.0, 1.0], [2.0, 0.0], [3.0, 3.0]])
    rows, cols = min_cost_assignment(cost)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    rows, cols = min_cost_assignment(cost.T)          # more columns than rows: the same pairs, transposed
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    rows, cols = min_cost_assignment(np.zeros((3, 0)))
    assert rows.shape == cols.shape == (0,)


def test_assignment_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(60):
        n, m = (int(k) for k in rng.integers(1, 6, 2))
        cost = np.round(rng.standard_normal((n, m)), 1)      # ties included
        rows, cols = min_cost_assignment(cost)
        assert len(rows) == min(n, m) == len(set(rows.tolist())) == len(set(cols.tolist()))
        best = min(sum(cost[i, j] if n <= m else cost[j, i] for i, j in enumerate(p))
                   for p in itertools.permutations(range(max(n, m)), min(n, m)))
        assert cost[rows, cols].sum() == pytest.approx(best)


def test_matcher_costs_and_assignment_by_hand():
    # 3 queries x 2 events, (centre, width) normalised. L1 costs by hand:
    #   q0-t0 0.55, q0-t1 0.05; q1-t0 0.35, q1-t1 0.35; q2-t0 0.05, q2-t1 0.55 -> q0->t1, q2->t0, q1 unmatched.
    pred = torch.tensor([[[0.2, 0.1], [0.5, 0.2], [0.8, 0.1]]])
    tgt = [torch.tensor([[0.75, 0.1], [0.25, 0.1]])]
    logits = torch.zeros(1, 3, 4)                          # p = 0.5 for every class
    lab = [torch.tensor([2, 0])]
    c = cost_matrix(logits[0], pred[0], lab[0], tgt[0], 0.0, 1.0, 0.0)
    assert torch.allclose(c, torch.tensor([[0.55, 0.05], [0.35, 0.35], [0.05, 0.55]]), atol=1e-6)
    # Full TadTR weights (class 6, L1 5, IoU 2) at entry (q0, t1): focal class cost at p = 0.5 is
    # 0.25 * 0.25 * ln 2 - 0.75 * 0.25 * ln 2; q0 = [0.15, 0.25], t1 = [0.2, 0.3]: IoU = 0.05 / 0.15.
    full = cost_matrix(logits[0], pred[0], lab[0], tgt[0], 6.0, 5.0, 2.0)
    hand = 6 * (0.0625 - 0.1875) * math.log(2) + 5 * 0.05 - 2 * (1 / 3)
    assert full[0, 1].item() == pytest.approx(hand, abs=1e-5)
    (q, t), = hungarian_match(logits, pred, lab, tgt, 0.0, 1.0, 0.0)
    assert q.tolist() == [0, 2] and t.tolist() == [1, 0]
    (q, t), = hungarian_match(logits, pred, lab, [torch.zeros(0, 2)], 6.0, 5.0, 2.0)   # a video without events
    assert q.numel() == t.numel() == 0 and q.dtype == torch.int64


# ---------------------------------------------------------------- temporal deformable attention
ROWS = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])   # value rows 0..3 (T = 4, one head, D = 2)


def test_deformable_sampling_interpolates_linearly():
    value = ROWS.view(1, 4, 1, 2)
    x = torch.tensor([1.25, -0.25, 3.5])                  # row positions: between rows 1|2, left edge, right edge
    loc = ((x + 0.5) / 4).view(1, 1, 1, 3)                  # normalised (row i is centred at (i + 0.5) / T)
    w = torch.tensor([0.5, 0.3, 0.2]).view(1, 1, 1, 3)
    out = deformable_sample(value, loc, w)[0, 0]
    # 1.25 -> 0.75 row1 + 0.25 row2; -0.25 -> 0.75 row0 (outside reads 0); 3.5 -> 0.5 row3
    hand = 0.5 * (0.75 * ROWS[1] + 0.25 * ROWS[2]) + 0.3 * (0.75 * ROWS[0]) + 0.2 * (0.5 * ROWS[3])
    assert torch.allclose(out, hand)


def _identity_attention(offsets, logits):
    attn = TemporalDeformableAttention(2, 1, 2, lr_mult=0.1)
    with torch.no_grad():
        for lin in (attn.value_proj, attn.output_proj):
            lin.weight.copy_(torch.eye(2))
            lin.bias.zero_()
        attn.sampling_offsets.set_effective_(torch.zeros(2, 2), torch.tensor(offsets))
        attn.attention_weights.weight.zero_()
        attn.attention_weights.bias.copy_(torch.tensor(logits))
    return attn


def test_deformable_attention_module_hand_case_and_padding():
    # One query at row 1; points at +0.5 and -1.25 rows; weights softmax([0, ln 3]) = [0.25, 0.75].
    attn = _identity_attention([0.5, -1.25], [0.0, math.log(3.0)])
    query = torch.randn(1, 1, 2)
    ref = torch.tensor([[[1.5 / 4]]])
    value = ROWS[None]
    full = torch.ones(1, 4, dtype=torch.bool)
    out = attn(query, ref, value, full)[0, 0]
    hand = 0.25 * (0.5 * ROWS[1] + 0.5 * ROWS[2]) + 0.75 * (0.75 * ROWS[0])
    assert torch.allclose(out, hand)
    padded = torch.tensor([[True, True, False, True]])      # row 2 is padding: it reads as zero
    out = attn(query, ref, value, padded)[0, 0]
    assert torch.allclose(out, 0.25 * (0.5 * ROWS[1]) + 0.75 * (0.75 * ROWS[0]))
    # Segment reference (centre 1.5 rows, width 2 rows): offsets +-P spread the points to the segment's ends.
    attn = _identity_attention([2.0, -2.0], [0.0, 0.0])
    out = attn(query, torch.tensor([[[2.0 / 4, 2.0 / 4]]]), value, full)[0, 0]
    assert torch.allclose(out, 0.5 * (0.5 * (ROWS[2] + ROWS[3])) + 0.5 * (0.5 * (ROWS[0] + ROWS[1])))


def test_lr_scaled_linear_moves_at_a_tenth_of_the_lr():
    torch.manual_seed(0)
    plain, scaled = torch.nn.Linear(3, 2), LrScaledLinear(3, 2, 0.1)
    scaled.set_effective_(plain.weight.detach(), plain.bias.detach())
    x = torch.randn(5, 3)
    assert torch.allclose(plain(x), scaled(x), atol=1e-6)
    before = plain.weight.detach().clone()
    for lin in (plain, scaled):
        opt = torch.optim.AdamW(lin.parameters(), lr=1e-2, weight_decay=0.0)
        lin(x).pow(2).sum().backward()
        opt.step()
    moved_plain = (plain.weight.detach() - before).abs()
    moved_scaled = (scaled.weight.detach() * 0.1 - before).abs()
    assert torch.allclose(moved_scaled, 0.1 * moved_plain, rtol=1e-3, atol=1e-7)


# ---------------------------------------------------------------- the model
def test_paper_config_builds_with_its_parameter_count():
    cfg = load_config([VARIANT])
    t = cfg["model"]["tadtr"]
    assert (t["hidden_dim"], t["enc_layers"], t["dec_layers"], t["num_queries"], t["n_heads"]) == (256, 2, 4, 30, 8)
    model = build_model(cfg, 100)
    assert isinstance(model, TadTR) and model.num_classes == 100
    n = sum(p.numel() for p in model.parameters())
    print(f"TadTR parameters at the published settings, 100 classes, 2176 input channels: {n:,}")
    assert n == PAPER_PARAMS_UNAV100
    make_optimizer(model, 2e-4, 1e-4)       # every parameter has a weight-decay rule
    assert model.input_proj.in_channels == 2048 + 128


@pytest.mark.parametrize("t", [37, 500])
def test_any_length_and_batch_independent(t):
    torch.manual_seed(0)
    model = build_model(tiny_cfg(), 5).eval()
    visual, audio = torch.randn(2, 2048, t), torch.randn(2, 128, t)
    mask = torch.ones(2, t, dtype=torch.bool)
    short = t // 3
    mask[1, short:] = False
    visual[1, :, short:] = 0
    audio[1, :, short:] = 0
    with torch.no_grad():
        out = model(visual, audio, mask)
        alone = model(visual[1:, :, :short], audio[1:, :, :short], mask[1:, :short])
    assert out["logits"].shape == (2, 2, 10, 5) and out["segments"].shape == (2, 2, 10, 2)
    segs, scores, labels = model.decode(out, 1, {})
    segs1, scores1, labels1 = model.decode(alone, 0, {})
    assert segs.shape == (50, 2) and labels.dtype == torch.int64 and int(labels.max()) < 5
    assert torch.allclose(segs, segs1, atol=1e-3) and torch.allclose(scores, scores1, atol=1e-5)
    assert torch.equal(labels, labels1)
    assert segs.min() >= -0.5 and segs.max() <= short - 0.5


def test_losses_are_finite_with_zero_event_videos():
    torch.manual_seed(0)
    model = build_model(tiny_cfg(), 5).train()
    t = 224
    out = model(torch.randn(3, 2048, t), torch.randn(3, 128, t), torch.ones(3, t, dtype=torch.bool))
    segs = [torch.tensor([[3.0, 40.0], [50.0, 60.0]]), torch.zeros(0, 2), torch.tensor([[-0.5, 223.5]])]
    labels = [torch.tensor([1, 4]), torch.zeros(0, dtype=torch.int64), torch.tensor([0])]
    losses = model.losses(out, segs, labels)
    assert {"final_loss", "cls_loss", "reg_loss", "aux_loss", "actionness_loss"} <= set(losses)
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    losses["final_loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.zero_grad()
    out = model(torch.randn(2, 2048, t), torch.randn(2, 128, t), torch.ones(2, t, dtype=torch.bool))
    none = model.losses(out, [torch.zeros(0, 2)] * 2, [torch.zeros(0, dtype=torch.int64)] * 2)
    assert torch.isfinite(none["final_loss"]) and none["reg_loss"] == 0
    none["final_loss"].backward()


def test_one_modality():
    model = build_model(tiny_cfg({"model": {"modalities": ["audio"]}}), 3).eval()
    assert model.input_proj.in_channels == 128
    with torch.no_grad():
        out = model(None, torch.randn(1, 128, 40), torch.ones(1, 40, dtype=torch.bool))
    assert torch.isfinite(out["logits"]).all()
    both = build_model(tiny_cfg(), 3)
    with pytest.raises(UnavError, match="visual"):
        both(None, torch.randn(1, 128, 40), torch.ones(1, 40, dtype=torch.bool))


# ---------------------------------------------------------------- learning and checkpoints
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn")
    return make_synthetic_dataset(root, num_videos=48, num_classes=4, seed=3, max_rows=260)


@pytest.fixture(scope="module")
def trained(synthetic, tmp_path_factory):
    ann_path, feats = synthetic
    run = tmp_path_factory.mktemp("tadtr_run")
    overrides = {**TINY, "train": {"batch_size": 4, "epochs": 10, "warmup_epochs": 1, "lr": 1.0e-3}}
    cfg = load_config([CONFIG_DIR / "demo.yaml", VARIANT], overrides)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(cfg, load_annotations(ann_path), feats, run, progress=False)
    finally:
        torch.set_num_threads(threads)
    return run


def test_tadtr_learns_far_above_a_shuffled_label_baseline(synthetic, trained, tmp_path):
    ann_path, feats = synthetic
    avg, chance = map_and_chance(trained / "best.pt", ann_path, feats, tmp_path / "pred.json")
    print(f"TadTR tiny: average mAP {avg:.3f}, shuffled labels {chance:.3f}")
    assert avg > 0.3, avg
    assert avg > 2.5 * chance, (avg, chance)


def test_checkpoint_rebuilds_tadtr_and_predicts_the_same(synthetic, trained, tmp_path):
    ann_path, feats = synthetic
    ckpt, model, which = load_model(trained / "best.pt")
    assert isinstance(model, TadTR) and which == "ema" and ckpt["config"]["model"]["arch"] == "tadtr"
    # ema_decay 0 (TadTR keeps no EMA): the EMA copy is the trained weights.
    assert all(torch.equal(ckpt["ema"][k], v) for k, v in ckpt["model"].items())
    fresh = build_model(ckpt["config"], len(ckpt["classes"])).eval()
    fresh.load_state_dict(ckpt["model"])
    ann = load_annotations(ann_path)
    cfg = ckpt["config"]
    batch = collate_fn(cfg, training=False)([UnavDataset(ann, feats, "test", cfg, training=False)[i] for i in range(3)])
    with torch.no_grad():
        a = model(batch["visual"], batch["audio"], batch["mask"])
        b = fresh(batch["visual"], batch["audio"], batch["mask"])
    for i in range(3):
        for x, y in zip(model.decode(a, i, cfg["test"]), fresh.decode(b, i, cfg["test"])):
            assert torch.equal(x, y)
    out = tmp_path / "pred.json"
    predict_checkpoint(str(trained / "best.pt"), str(ann_path), str(feats), "test", str(out), device="cpu",
                       progress=False)
    direct = predict_dataset(fresh, UnavDataset(ann, feats, "test", cfg, training=False), ann.classes, cfg,
                             progress=False)
    assert json.loads(out.read_text())["results"] == json.loads(json.dumps(direct))
