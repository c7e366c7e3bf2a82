import numpy as np
import pytest
import torch

from unav.data.targets import assign_targets, assign_targets_batch, make_points

STRIDES = [1, 2, 4, 8, 16, 32]
RANGES = [[0, 4], [4, 8], [8, 16], [16, 32], [32, 64], [64, 10000]]


def paper_points(tpad=224):
    return make_points([tpad // s for s in STRIDES], STRIDES, RANGES)


def reference(segments, labels, num_classes, points, class_aware, rule="last"):
    """Slow, direct transcription of the rules: loops over points and events, float32 arithmetic."""
    f32 = np.float32
    seg = segments.numpy().astype(np.float32)
    lab = labels.tolist()
    P = len(points)
    cls = np.zeros((P, num_classes), np.float32)
    reg = np.zeros((P, num_classes, 2) if class_aware else (P, 2), np.float32)
    for p in range(P):
        t, stride = f32(points.t[p].item()), f32(points.stride[p].item())
        lo, hi = f32(points.lo[p].item()), f32(points.hi[p].item())
        qual = []  # (event index, left, right, length)
        for e in range(len(lab)):
            left, right = t - seg[e, 0], seg[e, 1] - t
            if min(left, right) > 0 and lo <= max(left, right) <= hi:
                qual.append((e, left, right, seg[e, 1] - seg[e, 0]))
        if not qual:
            continue
        if class_aware:
            for c in set(lab[e] for e, *_ in qual):
                mine = [q for q in qual if lab[q[0]] == c]
                if rule == "last":
                    win = max(mine, key=lambda q: q[0])
                else:
                    win = min(mine, key=lambda q: (q[3], q[0]))
                cls[p, c] = 1
                reg[p, c] = (win[1] / stride, win[2] / stride)
        else:
            m = min(q[3] for q in qual)
            for e, _, _, length in qual:
                if length <= m + f32(1e-3):
                    cls[p, lab[e]] = 1
            win = next(q for q in qual if q[3] == m)
            reg[p] = (win[1] / stride, win[2] / stride)
    return torch.from_numpy(cls), torch.from_numpy(reg)


def random_layout(rng, num_classes, tmax=224):
    n = int(rng.integers(0, 9))
    starts = rng.integers(-8, tmax, n) / 4.0 * rng.choice([1, 4], n)  # quarter grid: exact boundary ties
    lengths = rng.integers(1, 4 * 120, n) / 4.0
    if n >= 2 and rng.random() < 0.5:  # an exact duplicate of another event, same or other class
        starts[-1], lengths[-1] = starts[0], lengths[0]
    segs = np.stack([starts, starts + lengths], 1).astype(np.float32).reshape(n, 2)
    labels = rng.integers(0, num_classes, n)  # few classes -> many same-class overlaps
    return torch.from_numpy(segs), torch.from_numpy(labels).long()


def test_make_points_layout():
    pts = paper_points()
    assert len(pts) == 224 + 112 + 56 + 28 + 14 + 7 and pts.lengths == [224, 112, 56, 28, 14, 7]
    lvl2 = pts.level == 2
    assert pts.t[lvl2].tolist() == [4.0 * i for i in range(56)]
    assert set(pts.stride[lvl2].tolist()) == {4.0}
    assert pts.lo[lvl2][0] == 8 and pts.hi[lvl2][0] == 16 and pts.hi[-1] == 10000
    flat = make_points([16] * 3, [1, 1, 1], RANGES[:3])  # no downsampling: every level full length
    assert flat.t.tolist() == list(range(16)) * 3


@pytest.mark.parametrize("class_aware,rule", [(True, "last"), (True, "shortest"), (False, "last")])
def test_matches_reference_on_random_layouts(class_aware, rule):
    rng = np.random.default_rng(7)
    pts = make_points([64 // s for s in STRIDES], STRIDES, [[0, 2], [2, 4], [4, 8], [8, 16], [16, 32],
                                                            [32, 10000]])
    conflicts = 0
    for trial in range(60):
        num_classes = int(rng.choice([3, 5]))
        segs, labels = random_layout(rng, num_classes, tmax=64)
        cls, reg = assign_targets(segs, labels, num_classes, pts, class_aware, same_class_rule=rule)
        rcls, rreg = reference(segs, labels, num_classes, pts, class_aware, rule)
        torch.testing.assert_close(cls, rcls, rtol=0, atol=0)
        torch.testing.assert_close(reg, rreg, rtol=0, atol=0)
        conflicts += int((cls.sum(1) > 1).any())
    assert conflicts > 10  # the layouts did exercise overlapping events


def test_rules_on_a_hand_made_case():
    pts = paper_points(32)
    # event A [2, 10] class 0, event B [2, 10] class 1 (same span), event C [3, 9] class 0 (shorter)
    segs = torch.tensor([[2.0, 10.0], [2.0, 10.0], [3.0, 9.0]])
    labels = torch.tensor([0, 1, 0])
    p6 = int(((pts.t == 6) & (pts.level == 0)).nonzero())   # level 0: dist A = 4 (hi inclusive), C = 3
    p4 = int(((pts.t == 4) & (pts.level == 1)).nonzero())   # level 1: dist A = 6 in (4, 8]
    cls, reg = assign_targets(segs, labels, 3, pts, class_aware=True)
    assert cls[p6].tolist() == [1, 1, 0]
    assert reg[p6, 0].tolist() == [3.0, 3.0]       # C (last same-class event) wins class 0
    assert reg[p6, 1].tolist() == [4.0, 4.0]       # B
    assert reg[p4, 0].tolist() == [0.5, 2.5]       # A (2, 6) and C (1, 5) both in (4, 8]: C (last) / stride 2
    assert reg[p4, 1].tolist() == [1.0, 3.0]       # B (2, 6) / stride 2
    cls_s, reg_s = assign_targets(segs, labels, 3, pts, True, same_class_rule="shortest")
    assert reg_s[p6, 0].tolist() == [3.0, 3.0]
    # level-0 point t=2 is on A's start: not strictly inside
    p2 = int(((pts.t == 2) & (pts.level == 0)).nonzero())
    assert cls[p2].sum() == 0
    cls_a, reg_a = assign_targets(segs, labels, 3, pts, class_aware=False)
    assert cls_a[p6].tolist() == [1, 0, 0]           # only the shortest (C) at t=6
    assert reg_a[p6].tolist() == [3.0, 3.0]
    assert reg_a.shape == (len(pts), 2)


def test_no_events_and_batch():
    pts = paper_points()
    cls, reg = assign_targets(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long), 10, pts, True)
    assert cls.shape == (len(pts), 10) and reg.shape == (len(pts), 10, 2)
    assert cls.sum() == 0 and reg.abs().sum() == 0
    rng = np.random.default_rng(3)
    videos = [random_layout(rng, 4) for _ in range(5)] + [(torch.zeros(0, 2), torch.zeros(0).long())]
    for class_aware in (True, False):
        bcls, breg = assign_targets_batch([v[0] for v in videos], [v[1] for v in videos], 4, pts,
                                          class_aware)
        assert bcls.shape[0] == 6
        for i, (s, l) in enumerate(videos):
            c1, r1 = assign_targets(s, l, 4, pts, class_aware)
            assert torch.equal(bcls[i], c1) and torch.equal(breg[i], r1)


def test_label_out_of_range():
    with pytest.raises(ValueError, match="labels"):
        assign_targets(torch.tensor([[1.0, 5.0]]), torch.tensor([4]), 4, paper_points(), True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("class_aware", [True, False])
def test_cuda_matches_cpu(class_aware):
    rng = np.random.default_rng(11)
    pts = paper_points()
    videos = [random_layout(rng, 3) for _ in range(12)]
    cls, reg = assign_targets_batch([s for s, _ in videos], [l for _, l in videos], 3, pts, class_aware)
    gcls, greg = assign_targets_batch([s.cuda() for s, _ in videos], [l.cuda() for _, l in videos], 3,
                                      pts.to("cuda"), class_aware)
    assert gcls.is_cuda and greg.is_cuda
    assert torch.equal(gcls.cpu(), cls) and torch.equal(greg.cpu(), reg)
    # points left on the CPU follow the segments to the GPU
    c1, r1 = assign_targets(videos[0][0].cuda(), videos[0][1].cuda(), 3, pts, class_aware)
    assert c1.is_cuda and torch.equal(r1.cpu(), reg[0])
