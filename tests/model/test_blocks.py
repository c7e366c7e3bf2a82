"""The localizer's blocks on grouped sequences `[B, T, G, C]` (the dependency block's temporal branch) against the
same block on the flat `[B*G, T, C]` layout, stochastic depth included."""
import pytest
import torch

from unav.model.blocks import AffineDropPath, TransformerBlock


def _randomised_block(dim: int, path_pdrop: float) -> TransformerBlock:
    torch.manual_seed(0)
    blk = TransformerBlock(dim, n_head=2, hidden=dim, path_pdrop=path_pdrop).double()
    with torch.no_grad():
        for p in blk.parameters():   # LN, scales and convs away from their initial values: every path matters
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if p.dim() == 0 else 0.0))
    return blk


@pytest.mark.parametrize("padded", [False, True])
def test_grouped_sequences_equal_the_flat_layout_with_stochastic_depth(padded):
    b, t, g, c = 3, 10, 4, 8
    blk = _randomised_block(c, path_pdrop=0.5).train()
    x = torch.randn(b, t, g, c, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(b, t, dtype=torch.bool)
    if padded:
        mask[1, 6:] = False
        mask[2, 3:] = False
    flat_x = x.permute(0, 2, 1, 3).reshape(b * g, t, c)                             # [B*G, T, C], video-major
    flat_mask = mask.repeat_interleave(g, dim=0)
    torch.manual_seed(5)
    grouped, grouped_mask = blk(x, x, mask if padded else None)
    torch.manual_seed(5)   # the same drop-path draws: one per (video, group), in the same order
    flat, _ = blk(flat_x, flat_x, flat_mask if padded else None)
    flat = flat.view(b, g, t, c).permute(0, 2, 1, 3)
    torch.testing.assert_close(grouped, flat)
    assert (grouped_mask is None) == (not padded)
    if padded:
        assert grouped[2, 3:].abs().sum() == 0
    # stochastic depth was at work (p = 0.5): without it the output differs
    blk.drop_path_attn.drop_prob = blk.drop_path_mlp.drop_prob = 0.0
    assert not torch.allclose(blk(x, x, mask if padded else None)[0], grouped)
    grad = torch.randn_like(grouped)
    gx_grouped, = torch.autograd.grad(grouped, x, grad)
    gx_flat, = torch.autograd.grad(flat, x, grad)
    torch.testing.assert_close(gx_grouped, gx_flat)


def test_drop_path_drops_whole_grouped_sequences():
    drop = AffineDropPath(6, drop_prob=0.5, init=1.0).train()
    torch.manual_seed(3)
    out = drop(torch.ones(4, 5, 7, 6))                                               # [B, T, G, C]
    per_sequence = out[:, 0, :, 0]                                                   # [B, G]
    assert torch.equal(out, per_sequence[:, None, :, None].expand_as(out))           # constant along T and C
    assert set(per_sequence.unique().tolist()) == {0.0, 2.0}                         # dropped, or kept and rescaled
    torch.manual_seed(3)
    flat = drop(torch.ones(4 * 7, 5, 6))                                             # the same draws, video-major
    assert torch.equal(flat[:, 0, 0], per_sequence.flatten())
    assert torch.equal(drop.eval()(torch.ones(2, 3, 6)), torch.ones(2, 3, 6))
