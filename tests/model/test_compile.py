"""`train.compile`: the localizer's training forward is captured as one graph (no host syncs, no graph breaks),
and the compiled step computes the eager step's loss and gradients. Dynamo's `eager` backend checks the capture
without code generation (inductor's kernels are torch's to test; compiling them takes minutes on this CPU)."""
import copy

import pytest
import torch

from unav.config import load_config
from unav.model.localizer import Localizer

SMALL = {"model": {"embd_dim": 64, "head": {"dim": 64}, "dependency": {"hidden": 16}, "droppath": 0.0}}


def _model_and_batch(padded: bool):
    torch.manual_seed(0)
    model = Localizer(load_config([], SMALL), 12).train()
    g = torch.Generator().manual_seed(1)
    v, a = torch.randn(2, 2048, 224, generator=g), torch.randn(2, 128, 224, generator=g)
    mask = torch.ones(2, 224, dtype=torch.bool)
    if padded:
        mask[1, 150:] = False
    return model, v * mask[:, None], a * mask[:, None], mask


def _loss(out: dict) -> torch.Tensor:
    return (sum((c * torch.linspace(-1, 1, c.shape[-1])).sum() for c in out["cls_logits"])
            + sum(o.square().sum() for o in out["offsets"]))


@pytest.mark.parametrize("padded", [False, True])
def test_training_forward_is_one_graph(padded):
    model, v, a, mask = _model_and_batch(padded)
    explained = torch._dynamo.explain(model)(v, a, mask)
    assert explained.graph_break_count == 0, [b.reason for b in explained.break_reasons]
    assert explained.graph_count == 1


def test_compiled_step_equals_eager():
    # An unpadded batch: eager skips the dependency block's masking products there, compiled runs them.
    model, v, a, mask = _model_and_batch(padded=False)
    twin = copy.deepcopy(model)
    compiled = torch.compile(twin, backend="eager", fullgraph=True, dynamic=False)
    eager_loss, compiled_loss = _loss(model(v, a, mask)), _loss(compiled(v, a, mask))
    eager_loss.backward()
    compiled_loss.backward()
    torch.testing.assert_close(compiled_loss, eager_loss, rtol=1e-5, atol=1e-4)
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-6, msg=name)
