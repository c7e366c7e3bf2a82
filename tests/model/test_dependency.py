"""The dependency block's precision policy under CPU autocast: the H-wide branches run in fp32 (faster there),
the wide expand/squeeze convolutions in bf16."""
import torch

from unav.model.dependency import DependencyBlock


def test_cpu_bf16_autocast_keeps_the_branches_fp32_and_stays_close():
    torch.manual_seed(0)
    blk = DependencyBlock(16, 8, 5).train()
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen[name] = (inputs[0].dtype, output[0].dtype)
        return hook

    for name in ("temporal_branch", "cooccur_branch", "feature_squeeze"):
        getattr(blk, name).register_forward_hook(record(name))
    x = [torch.randn(2, 12, 16), torch.randn(2, 6, 16)]
    masks = [torch.ones(2, 12, dtype=torch.bool), torch.tensor([[True] * 6, [True] * 4 + [False] * 2])]
    torch.manual_seed(1)
    ref = blk(x, masks)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = blk(x, masks)
    assert seen["temporal_branch"] == (torch.float32, torch.float32)
    assert seen["cooccur_branch"] == (torch.float32, torch.float32)
    assert seen["feature_squeeze"][1] == torch.bfloat16
    for r, o in zip(ref, out):
        assert (o.float() - r).norm() / r.norm() < 0.03
