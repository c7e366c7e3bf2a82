"""unav.evaluation.nms against slow, literal references (plain Python loops over every candidate)."""
from __future__ import annotations

import math

import pytest
import torch

from unav.evaluation.nms import batched_nms, hard_nms, soft_nms


# ----------------------------------------------------------------------------------------------------------
# references: follow the rules one candidate at a time, over ALL candidates, no cap until the very end
def _iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    return inter / ((a[1] - a[0] + 1e-6) + (b[1] - b[0] + 1e-6) - inter)


def _rank(picks: list[tuple], max_seg_num: int) -> list[tuple]:
    """picks: (score, step, label, start, end); best score first, ties by step then label."""
    return sorted(picks, key=lambda p: (-p[0], p[1], p[2]))[:max_seg_num]


def ref_soft_nms(segs, scores, labels, sigma, min_score, max_seg_num, multiclass=True):
    picks = []
    groups = sorted(set(labels)) if multiclass else [None]
    for g in groups:
        # remaining candidates of the group, input order kept (earliest wins a tie)
        pool = [[scores[i], tuple(segs[i]), labels[i]] for i in range(len(scores))
                if g is None or labels[i] == g]
        step = 0
        while pool:
            best = max(range(len(pool)), key=lambda j: (pool[j][0], -j))
            score, seg, lab = pool.pop(best)
            picks.append((score, step, lab, seg[0], seg[1]))
            step += 1
            survivors = []
            for cand in pool:
                cand[0] *= math.exp(-_iou(seg, cand[1]) ** 2 / sigma)
                if not cand[0] < min_score:
                    survivors.append(cand)
            pool = survivors
    return _rank(picks, max_seg_num), picks


def ref_hard_nms(segs, scores, labels, iou_threshold, min_score, max_seg_num, multiclass=True):
    picks = []
    groups = sorted(set(labels)) if multiclass else [None]
    for g in groups:
        idx = [i for i in range(len(scores)) if (g is None or labels[i] == g) and scores[i] > min_score]
        idx.sort(key=lambda i: -scores[i])  # stable: earliest wins a tie
        kept = []
        for i in idx:
            if all(_iou(tuple(segs[k]), tuple(segs[i])) < iou_threshold for k in kept):
                kept.append(i)
        picks += [(scores[i], step, labels[i], segs[i][0], segs[i][1]) for step, i in enumerate(kept)]
    return _rank(picks, max_seg_num), picks


# ----------------------------------------------------------------------------------------------------------
def random_candidates(seed: int, n: int, num_classes: int, dtype=torch.float64):
    """Overlapping segments, clustered like real detections, with duplicated segments and exact score ties."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(max(1, n // 8), generator=g) * 100
    c = centres[torch.randint(len(centres), (n,), generator=g)] + torch.randn(n, generator=g) * 2
    half = torch.rand(n, generator=g) * 8 + 0.05
    segs = torch.stack((c - half, c + half), 1)
    scores = 0.001 + torch.rand(n, generator=g) ** 3  # many low scores, a few high
    labels = torch.randint(num_classes, (n,), generator=g)
    # exact score ties and identical segments
    tie = torch.rand(n, generator=g) < 0.2
    scores[tie] = torch.tensor([0.5, 0.25, 0.125])[torch.randint(3, (int(tie.sum()),), generator=g)]
    dup = torch.randint(n, (n // 10,), generator=g)
    segs[dup[: len(dup) // 2]] = segs[dup[len(dup) // 2: 2 * (len(dup) // 2)]]
    scores = scores.clamp(max=1.0)
    return segs.to(dtype), scores.to(dtype), labels


def assert_same_result(out, ref_top, all_picks, rel=1e-9, abs_=1e-12):
    """Same scores in the same order; same (label, segment, score) entries, where entries tied with the
    cut-off score only need to be valid picks of the reference."""
    segs, scores, labels = out
    got = [(float(s), int(lab), float(a), float(b)) for s, lab, (a, b) in
           zip(scores, labels, segs.tolist())]
    assert len(got) == len(ref_top)
    want_scores = [p[0] for p in ref_top]
    assert [g[0] for g in got] == pytest.approx(want_scores, rel=rel, abs=abs_)
    assert all(got[i][0] >= got[i + 1][0] for i in range(len(got) - 1))
    if not got:
        return
    cutoff = want_scores[-1]

    def key(score, lab, a, b):
        return (round(score, 9), lab, round(a, 9), round(b, 9))

    ref_keys = sorted(key(p[0], p[2], p[3], p[4]) for p in ref_top if p[0] > cutoff * (1 + 1e-9))
    got_keys = sorted(key(*x) for x in got if x[0] > cutoff * (1 + 1e-9))
    assert got_keys == ref_keys
    every_pick = {key(p[0], p[2], p[3], p[4]) for p in all_picks}
    for x in got:  # entries at the cut-off: any tied pick is acceptable
        assert key(*x) in every_pick


@pytest.mark.parametrize("seed", range(12))
def test_soft_nms_matches_literal_reference(seed):
    n = [30, 200, 400][seed % 3]
    num_classes = [1, 5, 40, 100][seed % 4]
    segs, scores, labels = random_candidates(seed, n, num_classes)
    max_seg_num = [100, 7, 100, 25][seed % 4]
    out = soft_nms(segs, scores, labels, sigma=0.4, min_score=0.001, max_seg_num=max_seg_num)
    ref_top, picks = ref_soft_nms(segs.tolist(), scores.tolist(), labels.tolist(), 0.4, 0.001, max_seg_num)
    assert_same_result(out, ref_top, picks)
    # the cap actually matters in some cases: more picks than max_seg_num before capping
    if seed % 4 == 1:
        assert len(picks) > max_seg_num


@pytest.mark.parametrize("seed", range(4))
def test_soft_nms_float32_matches_reference(seed):
    segs, scores, labels = random_candidates(100 + seed, 300, 20, dtype=torch.float32)
    out = soft_nms(segs, scores, labels)
    ref_top, picks = ref_soft_nms(segs.tolist(), scores.tolist(), labels.tolist(), 0.4, 0.001, 100)
    assert out[0].dtype == torch.float32 and out[1].dtype == torch.float32
    assert out[1].tolist() == pytest.approx([p[0] for p in ref_top], rel=1e-4, abs=1e-7)
    assert {(int(lab), round(a, 3)) for lab, (a, _) in zip(out[2], out[0].tolist())} == \
        {(p[2], round(p[3], 3)) for p in ref_top}


@pytest.mark.parametrize("seed", range(4))
def test_soft_nms_class_agnostic_matches_reference(seed):
    segs, scores, labels = random_candidates(200 + seed, 150, 10)
    out = soft_nms(segs, scores, labels, sigma=0.7, min_score=0.01, max_seg_num=30, multiclass=False)
    ref_top, picks = ref_soft_nms(segs.tolist(), scores.tolist(), labels.tolist(), 0.7, 0.01, 30, False)
    assert_same_result(out, ref_top, picks)


@pytest.mark.parametrize("seed", range(8))
def test_hard_nms_matches_literal_reference(seed):
    segs, scores, labels = random_candidates(300 + seed, [50, 300][seed % 2], [1, 8, 60, 100][seed % 4])
    thr = [0.7, 0.3, 0.5, 0.1][seed % 4]
    out = hard_nms(segs, scores, labels, iou_threshold=thr, max_seg_num=50, min_score=0.001)
    ref_top, picks = ref_hard_nms(segs.tolist(), scores.tolist(), labels.tolist(), thr, 0.001, 50)
    assert_same_result(out, ref_top, picks)
    # hard NMS never rescales scores
    assert set(out[1].tolist()) <= set(scores.tolist())


def test_soft_nms_decays_overlap_and_keeps_disjoint():
    segs = torch.tensor([[0.0, 10.0], [0.0, 10.0], [1.0, 10.0], [20.0, 30.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    labels = torch.tensor([3, 3, 3, 3])
    s, p, lab = soft_nms(segs, scores, labels, sigma=0.4, min_score=0.001, max_seg_num=10)
    # identical segment: IoU ~ 1 -> 0.8 * exp(-1/0.4)
    assert p[0].item() == pytest.approx(0.9)
    assert p[1].item() == pytest.approx(0.6)  # disjoint: untouched
    assert sorted(p.tolist())[0] < 0.8 * math.exp(-2.5) + 1e-6
    assert lab.tolist() == [3, 3, 3, 3]
    # another class is never decayed by class 3
    s2, p2, _ = soft_nms(segs, scores, torch.tensor([3, 4, 3, 3]))
    assert 0.8 in [round(v, 6) for v in p2.tolist()]


def test_min_score_drops_and_max_seg_num_caps():
    segs = torch.tensor([[0.0, 10.0]] * 5)
    scores = torch.tensor([0.9, 0.5, 0.004, 0.003, 0.002])
    _, p, _ = soft_nms(segs, scores, torch.zeros(5, dtype=torch.long), sigma=0.4, min_score=0.001)
    # the first decay (x0.082) already puts the three small ones under 0.001
    assert p.tolist() == pytest.approx([0.9, 0.5 * math.exp(-2.5)], rel=1e-5)
    segs = torch.arange(40, dtype=torch.float32)[:, None] * 10 + torch.tensor([0.0, 5.0])
    _, p, _ = soft_nms(segs, torch.linspace(1, 0.5, 40), torch.arange(40) % 3, max_seg_num=11)
    assert p.numel() == 11 and p.tolist() == pytest.approx(torch.linspace(1, 0.5, 40)[:11].tolist())


def test_empty_input_and_batched_dispatch():
    e = soft_nms(torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    assert e[0].shape == (0, 2) and e[1].shape == (0,) and e[2].dtype == torch.long
    segs, scores, labels = random_candidates(7, 120, 6, dtype=torch.float32)
    soft = batched_nms(segs, scores, labels, "soft", 0.7, 0.001, 40, 0.4)
    assert torch.equal(soft[1], soft_nms(segs, scores, labels, 0.4, 0.001, 40)[1])
    hard = batched_nms(segs, scores, labels, "hard", 0.5, 0.001, 40, 0.4)
    assert torch.equal(hard[1], hard_nms(segs, scores, labels, 0.5, 40, min_score=0.001)[1])
    none = batched_nms(segs, scores, labels, "none", 0.5, 0.001, 40, 0.4)
    assert none[1].tolist() == sorted(scores.tolist(), reverse=True)[:40]
    with pytest.raises(ValueError, match="unknown NMS method"):
        batched_nms(segs, scores, labels, "linear", 0.5, 0.001, 40, 0.4)


def test_class_agnostic_voting_refines_segments():
    segs = torch.tensor([[0.0, 10.0], [1.0, 11.0], [50.0, 60.0]])
    scores = torch.tensor([0.9, 0.9, 0.5])
    labels = torch.tensor([0, 1, 2])
    s, p, lab = batched_nms(segs, scores, labels, "hard", 0.5, 0.001, 10, 0.4, multiclass=False,
                            voting_thresh=0.75)
    assert lab.tolist() == [0, 2]
    assert s[0].tolist() == pytest.approx([0.5, 10.5])  # equal-weight mean of the two overlapping
    assert s[1].tolist() == pytest.approx([50.0, 60.0])


@pytest.mark.parametrize("quantized", [False, True])
def test_soft_nms_cut_off_region_matches_reference(quantized):
    """Many picks close to the cut-off score: stopping the per-class loop too early would lose entries."""
    g = torch.Generator().manual_seed(11 + quantized)
    n, num_classes = 600, 10
    starts = torch.rand(n, generator=g, dtype=torch.float64) * 500
    segs = torch.stack((starts, starts + 1 + torch.rand(n, generator=g, dtype=torch.float64) * 4), 1)
    scores = 0.001 + 0.999 * torch.rand(n, generator=g, dtype=torch.float64)
    if quantized:  # exact ties everywhere, including at the cut-off
        scores = (scores * 20).ceil() / 20
    labels = torch.randint(num_classes, (n,), generator=g)
    out = soft_nms(segs, scores, labels, sigma=0.4, min_score=0.001, max_seg_num=50)
    ref_top, picks = ref_soft_nms(segs.tolist(), scores.tolist(), labels.tolist(), 0.4, 0.001, 50)
    assert_same_result(out, ref_top, picks)


def test_soft_nms_few_busy_classes_among_many_sparse_ones():
    """Sparse classes run out after a few steps while two busy ones go on (their rows get compacted)."""
    g = torch.Generator().manual_seed(5)
    sparse_labels = torch.arange(3, 63).repeat_interleave(2)  # 60 classes x 2 candidates
    busy_labels = torch.tensor([0, 1]).repeat_interleave(150)  # 2 classes x 150 candidates
    labels = torch.cat((sparse_labels, busy_labels))
    n = labels.numel()
    starts = torch.rand(n, generator=g, dtype=torch.float64) * 300
    segs = torch.stack((starts, starts + 0.5 + torch.rand(n, generator=g, dtype=torch.float64) * 3), 1)
    scores = 0.001 + 0.999 * torch.rand(n, generator=g, dtype=torch.float64)
    perm = torch.randperm(n, generator=g)
    segs, scores, labels = segs[perm], scores[perm], labels[perm]
    out = soft_nms(segs, scores, labels, sigma=0.4, min_score=0.001, max_seg_num=100)
    ref_top, picks = ref_soft_nms(segs.tolist(), scores.tolist(), labels.tolist(), 0.4, 0.001, 100)
    assert_same_result(out, ref_top, picks)
    assert {0, 1} <= set(out[2].tolist()) and len(set(out[2].tolist())) > 10
