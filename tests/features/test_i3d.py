import pytest
import torch
import torch.nn.functional as F

from unav.errors import UnavError
from unav.features.i3d import I3D, build_i3d, readout, readout_weights

# Inception-v1 widths (b0, b1 reduce, b1, b2 reduce, b2, b3 pool-proj) written out independently of the model.
WIDTHS = {
    "mixed_3b": (192, 64, 96, 128, 16, 32, 32),
    "mixed_3c": (256, 128, 128, 192, 32, 96, 64),
    "mixed_4b": (480, 192, 96, 208, 16, 48, 64),
    "mixed_4c": (512, 160, 112, 224, 24, 64, 64),
    "mixed_4d": (512, 128, 128, 256, 24, 64, 64),
    "mixed_4e": (512, 112, 144, 288, 32, 64, 64),
    "mixed_4f": (528, 256, 160, 320, 32, 128, 128),
    "mixed_5b": (832, 256, 160, 320, 32, 128, 128),
    "mixed_5c": (832, 384, 192, 384, 48, 128, 128),
}


def _unit(table, name, cout, cin, k):
    table[f"{name}.conv3d.weight"] = (cout, cin, k, k, k)
    for buf in ("weight", "bias", "running_mean", "running_var"):
        table[f"{name}.batch3d.{buf}"] = (cout,)
    table[f"{name}.batch3d.num_batches_tracked"] = ()


def published_layout(in_channels):
    """The checkpoint layout of features.md section 3.1, built from the names and widths alone."""
    t = {}
    _unit(t, "conv3d_1a_7x7", 64, in_channels, 7)
    _unit(t, "conv3d_2b_1x1", 64, 64, 1)
    _unit(t, "conv3d_2c_3x3", 192, 64, 3)
    for name, (cin, b0, b1a, b1b, b2a, b2b, b3) in WIDTHS.items():
        _unit(t, f"{name}.branch_0", b0, cin, 1)
        _unit(t, f"{name}.branch_1.0", b1a, cin, 1)
        _unit(t, f"{name}.branch_1.1", b1b, b1a, 3)
        _unit(t, f"{name}.branch_2.0", b2a, cin, 1)
        _unit(t, f"{name}.branch_2.1", b2b, b2a, 3)
        _unit(t, f"{name}.branch_3.1", b3, cin, 1)
    t["conv3d_0c_1x1.conv3d.weight"] = (400, 1024, 1, 1, 1)
    t["conv3d_0c_1x1.conv3d.bias"] = (400,)
    return t


def _state(layout, drop_counters=True):
    g = torch.Generator().manual_seed(0)
    state = {}
    for k, shape in layout.items():
        if k.endswith("num_batches_tracked"):
            if not drop_counters:
                state[k] = torch.tensor(0)
        elif k.endswith("running_var"):
            state[k] = torch.rand(shape, generator=g) + 0.5
        else:
            state[k] = torch.randn(shape, generator=g) * 0.05
    return state


@pytest.mark.parametrize("stream, channels", [("rgb", 3), ("flow", 2)])
def test_model_has_exactly_the_published_layout(stream, channels):
    layout = published_layout(channels)
    assert len(layout) == 344
    assert layout["mixed_5c.branch_2.1.conv3d.weight"] == (128, 48, 3, 3, 3)
    ours = {k: tuple(v.shape) for k, v in I3D(channels).state_dict().items()}
    assert ours == layout


@pytest.mark.parametrize("drop_counters", [True, False])
def test_published_state_dict_loads(tmp_path, drop_counters):
    state = _state(published_layout(2), drop_counters)
    path = tmp_path / "i3d_flow.pt"
    torch.save(state, path)
    model = build_i3d("flow", path)
    assert torch.equal(model.mixed_4d.branch_3[1].conv3d.weight, state["mixed_4d.branch_3.1.conv3d.weight"])
    assert torch.equal(model.conv3d_1a_7x7.batch3d.running_var, state["conv3d_1a_7x7.batch3d.running_var"])
    assert not model.training


@pytest.mark.parametrize("edit, needle", [
    (lambda s: s.pop("mixed_4c.branch_1.1.conv3d.weight"), "missing tensor mixed_4c.branch_1.1.conv3d.weight"),
    (lambda s: s.__setitem__("mixed_3b.branch_3.0.conv3d.weight", torch.zeros(1)),
     "unexpected tensor mixed_3b.branch_3.0.conv3d.weight"),
    (lambda s: s.__setitem__("conv3d_1a_7x7.conv3d.weight", torch.zeros(64, 2, 7, 7, 7)),
     "conv3d_1a_7x7.conv3d.weight has shape (64, 2, 7, 7, 7), expected (64, 3, 7, 7, 7)"),
])
def test_layout_problems_are_named(tmp_path, edit, needle):
    state = _state(published_layout(3))
    edit(state)
    path = tmp_path / "i3d_rgb.pt"
    torch.save(state, path)
    with pytest.raises(UnavError, match="i3d_rgb.pt") as info:
        build_i3d("rgb", path)
    assert needle in str(info.value)


def test_tf_same_shapes_and_224_readout_equals_avgpool_definition():
    torch.manual_seed(0)
    model = build_i3d("rgb", seed=3)
    x = torch.rand(1, 3, 24, 224, 224) * 2 - 1
    seen = {}
    model.maxpool3d_2a_3x3.register_forward_hook(lambda m, i, o: seen.__setitem__("pool2a", o.shape))
    model.maxpool3d_4a_3x3.register_forward_hook(lambda m, i, o: seen.__setitem__("pool4a", o.shape))
    model.mixed_5c.register_forward_hook(lambda m, i, o: seen.__setitem__("top", o))
    with torch.no_grad():
        feats = model.features(x)
        top = seen["top"]
        assert seen["pool2a"] == (1, 64, 12, 56, 56) and seen["pool4a"] == (1, 480, 6, 14, 14)
        assert top.shape == (1, 1024, 3, 7, 7)
        reference = F.avg_pool3d(top, (2, 7, 7), stride=1).squeeze(4).squeeze(3).mean(2)  # [1, 1024]
    assert feats.shape == (1, 1024)
    torch.testing.assert_close(feats, reference, rtol=1e-5, atol=1e-6)
    # ... and it is not a plain global average over time.
    assert not torch.allclose(top.mean(dim=(2, 3, 4)), reference, rtol=1e-3, atol=1e-5)


def test_small_crop_readout():
    model = build_i3d("flow", seed=1)
    with torch.no_grad():
        feats = model.features(torch.rand(2, 2, 24, 64, 64))
    assert feats.shape == (2, 1024) and torch.isfinite(feats).all()
    x = torch.randn(2, 5, 3, 2, 2)
    torch.testing.assert_close(readout(x), 0.25 * x[:, :, 0].mean((2, 3)) + 0.5 * x[:, :, 1].mean((2, 3))
                               + 0.25 * x[:, :, 2].mean((2, 3)))
    assert readout_weights(3).tolist() == [0.25, 0.5, 0.25]


def test_random_weights_are_seeded():
    a, b, c = build_i3d("rgb", seed=5), build_i3d("rgb", seed=5), build_i3d("rgb", seed=6)
    w = "mixed_5c.branch_1.1.conv3d.weight"
    assert torch.equal(a.state_dict()[w], b.state_dict()[w])
    assert not torch.equal(a.state_dict()[w], c.state_dict()[w])
