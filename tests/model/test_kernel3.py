"""The kernel-3 operators' hand-written backwards against finite differences, and the convolutions they build
against torch's own Conv1d."""
import pytest
import torch
import torch.nn.functional as F

from unav.model.blocks import DepthwiseConv, conv_k3
from unav.model.kernel3 import depthwise_k3, taps_stack, taps_sum


@pytest.mark.parametrize("t", [1, 2, 7])
def test_backwards_match_finite_differences(t):
    g = torch.Generator().manual_seed(t)
    x = torch.randn(2, t, 3, dtype=torch.float64, generator=g, requires_grad=True)
    z = torch.randn(2, t, 9, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(taps_stack, (x,))
    assert torch.autograd.gradcheck(taps_sum, (z,))
    assert torch.autograd.gradcheck(depthwise_k3, (x, w))


@pytest.mark.parametrize("n, t", [(1, 1), (1, 4), (3, 1), (3, 2), (3, 6)])
def test_depthwise_on_grouped_sequences_equals_per_sequence_conv1d(n, t):
    # x [N, T, G, C]: G sequences per item share the kernel; the weight gradient sums over all of them, and no
    # product may pair the last step of one item with the first of the next.
    g = torch.Generator().manual_seed(10 * n + t)
    x = torch.randn(n, t, 4, 5, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(5, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(depthwise_k3, (x, w))
    seqs = x.permute(0, 2, 3, 1).reshape(n * 4, 5, t)                                # [N*G, C, T]
    ref = F.conv1d(seqs, w[:, None], padding=1, groups=5).view(n, 4, 5, t).permute(0, 3, 1, 2)
    ours = depthwise_k3(x, w)
    torch.testing.assert_close(ours, ref)
    grad = torch.randn_like(ref)
    torch.testing.assert_close(torch.autograd.grad(ours, (x, w), grad), torch.autograd.grad(ref, (x, w), grad))


def test_stack_and_sum_layouts():
    x = torch.arange(1.0, 4.0).view(1, 3, 1)                                        # rows 1, 2, 3
    assert taps_stack(x)[0].tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 0]]
    z = torch.tensor([[[1.0, 10, 100], [2, 20, 200], [3, 30, 300]]])                   # taps (z0, z1, z2) per row
    assert taps_sum(z)[0, :, 0].tolist() == [10 + 200, 1 + 20 + 300, 2 + 30]


@pytest.mark.parametrize("cin, cout", [(4, 6), (6, 4)])
@pytest.mark.parametrize("t", [1, 5])
def test_conv_k3_equals_conv1d(cin, cout, t):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, t, cin, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(cout, cin, 3, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(cout, dtype=torch.float64, generator=g)
    ref = F.conv1d(x.transpose(1, 2), w, b, padding=1).transpose(1, 2)
    ours = conv_k3(x, w, b)
    torch.testing.assert_close(ours, ref)
    grad = torch.randn_like(ref)
    torch.testing.assert_close(torch.autograd.grad(ours, (x, w), grad), torch.autograd.grad(ref, (x, w), grad))


def test_depthwise_conv_equals_grouped_conv1d_and_masks_rows():
    conv = DepthwiseConv(5).double()
    x = torch.randn(2, 6, 5, dtype=torch.float64)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    ref = F.conv1d(x.transpose(1, 2), conv.conv.weight, padding=1, groups=5).transpose(1, 2)
    full, none_mask = conv(x, None)
    assert none_mask is None
    torch.testing.assert_close(full, ref)
    masked, _ = conv(x, mask)
    torch.testing.assert_close(masked, ref * mask[..., None])
    assert masked[1, 4:].abs().sum() == 0
