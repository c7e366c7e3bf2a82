import pytest
import torch
from torch import nn

from unav.errors import UnavError
from unav.model.state_dict import load_strict


def _net():
    return nn.Sequential(nn.Conv1d(2, 3, 1), nn.BatchNorm1d(3))


def test_load_strict_accepts_exact_layout_and_missing_batch_counter():
    src, dst = _net(), _net()
    state = {k: v for k, v in src.state_dict().items() if not k.endswith("num_batches_tracked")}
    load_strict(dst, state, "file.pt")
    assert torch.equal(dst[0].weight, src[0].weight)


@pytest.mark.parametrize("edit, needle", [
    (lambda s: s.pop("0.weight"), "missing tensor 0.weight"),
    (lambda s: s.__setitem__("extra.w", torch.zeros(1)), "unexpected tensor extra.w"),
    (lambda s: s.__setitem__("0.bias", torch.zeros(4)), "0.bias has shape (4,), expected (3,)"),
])
def test_load_strict_names_the_problem(edit, needle):
    state = dict(_net().state_dict())
    edit(state)
    with pytest.raises(UnavError, match="file.pt") as info:
        load_strict(_net(), state, "file.pt")
    assert needle in str(info.value)
