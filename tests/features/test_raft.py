"""RAFT flow: quantisation and padding/crop rules, our forward vs torchvision's, each-pair-once streaming,
strict loading of the torchvision and original (raft-sintel.pth) layouts."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from unav.errors import UnavError
from unav.features.flowpost import crop_offsets, flow_to_codes, pad_amounts, padded_size, quantise_flow
from unav.features.raft import (ORIGINAL_TENSOR_COUNT, FlowComputer, frames_to_input, original_layout,
                                sha256_file, to_original_name)

UPDATES = 2


def smooth_frames(n: int, h: int, w: int, shift: int = 2, seed: int = 0) -> np.ndarray:
    """n RGB frames [n, h, w, 3] of a smooth random texture moving `shift` px right per frame."""
    rng = np.random.default_rng(seed)
    base = rng.random((h // 4 + 2, (w + shift * n) // 4 + 2, 3))
    big = np.kron(base, np.ones((4, 4, 1)))[:h, : w + shift * n]  # blocky texture
    k = np.ones(5) / 5
    big = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 1, big)
    big = np.apply_along_axis(lambda c: np.convolve(c, k, mode="same"), 0, big)
    frames = [big[:, shift * (n - 1 - i): shift * (n - 1 - i) + w] for i in range(n)]
    return (np.stack(frames) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def computer() -> FlowComputer:
    torch.set_num_threads(2)
    return FlowComputer("random", seed=0, num_flow_updates=UPDATES, batch_size=3, crop=32)


# ---- quantisation, padding, crop -------------------------------------------------------------------------
@pytest.mark.parametrize("f, q", [(20.0, 256), (-20.0, 0), (0.0, 128), (35.0, 256), (-99.0, 0),
                                  (4.0, 154),     # 153.5 -> 154 (even)
                                  (-4.0, 102),    # 102.5 -> 102 (even; half-up would give 103)
                                  (12.0, 204),    # 204.5 -> 204 (even; half-up would give 205)
                                  (-12.0, 52),    # 51.5 -> 52
                                  (1.0, 134)])    # 134.375 -> 134
def test_quantise_rule(f: float, q: int) -> None:
    assert quantise_flow(torch.tensor([f])).item() == q
    codes = flow_to_codes(torch.full((1, 2, 8, 8), f), crop=4)
    assert codes.dtype == np.uint16 and codes.shape == (1, 2, 4, 4)
    assert (codes == q).all()


def test_padding_and_crop_offsets() -> None:
    assert pad_amounts(341) == (1, 2)   # 341 -> 344: left 1, right 2
    assert pad_amounts(256) == (0, 0)
    assert pad_amounts(250) == (3, 3)
    assert pad_amounts(343) == (0, 1)
    assert padded_size(256, 341) == (256, 344)
    assert crop_offsets(256, 344, 224) == (16, 60)  # padded column 60 = original column 59 (RGB crop: 58)
    with pytest.raises(UnavError, match="does not fit"):
        crop_offsets(200, 344, 224)


def test_frames_to_input_pads_by_replication_and_scales() -> None:
    frames = np.zeros((1, 256, 341, 3), np.uint8)
    frames[0, :, 0] = 255   # first column white
    frames[0, :, -1] = 51   # last column grey
    x = frames_to_input(frames)
    assert x.shape == (1, 3, 256, 344)
    assert torch.all(x[0, :, :, 0] == 1) and torch.all(x[0, :, :, 1] == 1)      # left pad 1 replicates col 0
    right = 2 * (51 / 255) - 1
    assert torch.allclose(x[0, :, :, -3:], torch.full((3, 256, 3), right))     # right pad 2 replicates last col
    assert torch.all(x[0, :, :, 2] == -1)


def test_codes_are_cropped_from_the_padded_flow() -> None:
    hp, wp = 256, 344
    cols = torch.arange(wp, dtype=torch.float32).expand(hp, wp) * 0.2 - 40.0  # x flow varies with the column
    rows = torch.arange(hp, dtype=torch.float32)[:, None].expand(hp, wp) * 0.25 - 30.0  # y flow with the row
    flow = torch.stack([cols, rows])[None]  # [1, 2, 256, 344]
    codes = flow_to_codes(flow, crop=224)
    expected = quantise_flow(flow[:, :, 16:240, 60:284]).numpy()
    assert np.array_equal(codes, expected)
    rgb_aligned = quantise_flow(flow[:, :, 16:240, 58:282]).numpy()  # the RGB crop's columns: not used
    assert not np.array_equal(codes, rgb_aligned)


# ---- our forward == torchvision's ---------------------------------------------------------------------------
def test_forward_equals_torchvision(computer: FlowComputer) -> None:
    frames = smooth_frames(3, 128, 133)  # padded to 128 x 136
    x = frames_to_input(frames)
    with torch.no_grad():
        ref = computer.model(x[:-1], x[1:], num_flow_updates=UPDATES)[-1]  # [2, 2, 128, 136]
    ours = computer.forward_pairs(x[:-1], x[1:])
    assert ours.shape == (2, 2, 128, 136)
    assert ref.abs().max() > 1e-3
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_streaming_computes_each_pair_once(computer: FlowComputer) -> None:
    frames = smooth_frames(7, 128, 128, seed=1)
    calls = {"fnet": 0, "cnet": 0}
    hooks = [computer.model.feature_encoder.register_forward_hook(
                 lambda m, i, o: calls.__setitem__("fnet", calls["fnet"] + len(i[0]))),
             computer.model.context_encoder.register_forward_hook(
                 lambda m, i, o: calls.__setitem__("cnet", calls["cnet"] + len(i[0])))]
    try:
        chunks = [frames[:2], frames[2:3], frames[3:]]  # irregular chunking, batch size 3
        flows = list(computer.flows_for_frames(iter(chunks)))
    finally:
        for h in hooks:
            h.remove()
    assert calls == {"fnet": 7, "cnet": 6}  # every frame encoded once; context once per first image
    streamed = torch.cat(flows)
    assert streamed.shape == (6, 2, 128, 128) and computer.frames_seen == 7
    x = frames_to_input(frames)
    with torch.no_grad():
        direct = torch.cat([computer.model(x[t:t + 1], x[t + 1:t + 2], num_flow_updates=UPDATES)[-1]
                            for t in range(6)])
    torch.testing.assert_close(streamed, direct, atol=1e-4, rtol=1e-4)
    codes = np.concatenate(list(computer.codes_for_frames(iter(chunks))))
    assert codes.shape == (6, 2, 32, 32) and codes.dtype == np.uint16
    direct_codes = flow_to_codes(direct, 32).astype(int)
    assert np.abs(codes.astype(int) - direct_codes).max() <= 1
    assert (codes == direct_codes).mean() > 0.999


def test_short_and_bad_inputs(computer: FlowComputer) -> None:
    one = smooth_frames(1, 128, 128)
    assert list(computer.codes_for_frames(iter([one]))) == []
    assert list(computer.codes_for_frames(iter([]))) == []
    with pytest.raises(UnavError, match="too small"):
        list(computer.codes_for_frames(iter([np.zeros((2, 64, 80, 3), np.uint8)])))
    with pytest.raises(UnavError, match="size changed"):
        list(computer.codes_for_frames(iter([smooth_frames(2, 128, 128), smooth_frames(5, 128, 136)])))


# ---- weights: torchvision layout and the original raft-sintel.pth layout ------------------------------------
def original_table() -> dict[str, tuple[int, ...]]:
    """The original RAFT-large state dict (after stripping `module.`), from the architecture of features.md §3.2."""
    table: dict[str, tuple[int, ...]] = {}

    def conv(name: str, cout: int, cin: int, kh: int, kw: int) -> None:
        table[f"{name}.weight"] = (cout, cin, kh, kw)
        table[f"{name}.bias"] = (cout,)

    def bn(name: str, c: int) -> None:
        for s in ("weight", "bias", "running_mean", "running_var"):
            table[f"{name}.{s}"] = (c,)
        table[f"{name}.num_batches_tracked"] = ()

    for enc, batch_norm in (("fnet", False), ("cnet", True)):  # fnet: instance norm (no parameters)
        conv(f"{enc}.conv1", 64, 3, 7, 7)
        if batch_norm:
            bn(f"{enc}.norm1", 64)
        cin = 64
        for layer, (dim, stride) in enumerate(((64, 1), (96, 2), (128, 2)), start=1):
            for block in range(2):
                p, inp = f"{enc}.layer{layer}.{block}", (cin if block == 0 else dim)
                conv(f"{p}.conv1", dim, inp, 3, 3)
                conv(f"{p}.conv2", dim, dim, 3, 3)
                if batch_norm:
                    bn(f"{p}.norm1", dim)
                    bn(f"{p}.norm2", dim)
                if block == 0 and stride == 2:
                    conv(f"{p}.downsample.0", dim, inp, 1, 1)
                    if batch_norm:
                        bn(f"{p}.norm3", dim)
                        bn(f"{p}.downsample.1", dim)
            cin = dim
        conv(f"{enc}.conv2", 256, 128, 1, 1)
    u = "update_block"
    conv(f"{u}.encoder.convc1", 256, 324, 1, 1)
    conv(f"{u}.encoder.convc2", 192, 256, 3, 3)
    conv(f"{u}.encoder.convf1", 128, 2, 7, 7)
    conv(f"{u}.encoder.convf2", 64, 128, 3, 3)
    conv(f"{u}.encoder.conv", 126, 256, 3, 3)
    for gate in "zrq":
        conv(f"{u}.gru.conv{gate}1", 128, 384, 1, 5)
        conv(f"{u}.gru.conv{gate}2", 128, 384, 5, 1)
    conv(f"{u}.flow_head.conv1", 256, 128, 3, 3)
    conv(f"{u}.flow_head.conv2", 2, 256, 3, 3)
    conv(f"{u}.mask.0", 256, 128, 3, 3)
    conv(f"{u}.mask.2", 576, 256, 1, 1)
    return table


def random_original_state(seed: int = 3) -> dict[str, torch.Tensor]:
    """A raft-sintel.pth-like state dict: `module.` prefix, aliased norm3/downsample.1 holding equal tensors."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for name, shape in original_table().items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(7)
        elif ".norm3." in name:
            continue
        else:
            state[name] = torch.rand(shape, generator=gen) + (0.5 if name.endswith("running_var") else -0.5)
    for name in list(state):
        if ".downsample.1." in name:
            state[name.replace(".downsample.1.", ".norm3.")] = state[name].clone()
    return {f"module.{k}": v for k, v in state.items()}


def test_original_layout_matches_the_architecture(computer: FlowComputer) -> None:
    table = original_table()
    assert len(table) == ORIGINAL_TENSOR_COUNT == 179
    assert original_layout(computer.model) == table
    assert len(computer.model.state_dict()) == 169


def test_original_file_loads_onto_torchvision_names(tmp_path) -> None:
    state = random_original_state()
    path = tmp_path / "raft-sintel.pth"
    torch.save(state, path)
    comp = FlowComputer(path, num_flow_updates=UPDATES, crop=32)
    assert comp.weights_id == sha256_file(path)
    got = comp.model.state_dict()
    pairs = {"fnet.conv1.weight": "feature_encoder.convnormrelu.0.weight",
             "fnet.conv2.weight": "feature_encoder.conv.weight",
             "cnet.norm1.running_var": "context_encoder.convnormrelu.1.running_var",
             "cnet.layer2.0.downsample.1.weight": "context_encoder.layer2.0.downsample.1.weight",
             "cnet.layer3.1.norm2.bias": "context_encoder.layer3.1.convnormrelu2.1.bias",
             "update_block.encoder.convc2.weight": "update_block.motion_encoder.convcorr2.0.weight",
             "update_block.encoder.convf1.weight": "update_block.motion_encoder.convflow1.0.weight",
             "update_block.gru.convz1.weight": "update_block.recurrent_block.convgru1.convz.weight",
             "update_block.gru.convr2.bias": "update_block.recurrent_block.convgru2.convr.bias",
             "update_block.gru.convq2.weight": "update_block.recurrent_block.convgru2.convq.weight",
             "update_block.flow_head.conv2.weight": "update_block.flow_head.conv2.weight",
             "update_block.mask.0.weight": "mask_predictor.convrelu.0.weight",
             "update_block.mask.2.bias": "mask_predictor.conv.bias"}
    for orig, tv in pairs.items():
        assert to_original_name(tv) == orig
        assert torch.equal(got[tv], state[f"module.{orig}"]), orig
    # every original tensor landed somewhere: the loaded values are exactly the file's
    own = {to_original_name(k): v for k, v in got.items()}
    for name, value in state.items():
        key = name[len("module."):].replace(".norm3.", ".downsample.1.")
        assert torch.equal(own[key], value), name


@pytest.mark.parametrize("damage, message", [
    ("missing", "missing tensor cnet.layer2.0.norm3.bias"),
    ("extra", "unexpected tensor update_block.mask.4.weight"),
    ("shape", "tensor update_block.gru.convz1.weight has shape"),
    ("alias", "cnet.layer3.0.norm3.running_mean should equal its alias"),
])
def test_original_file_errors_name_the_tensor(tmp_path, damage: str, message: str) -> None:
    state = random_original_state()
    if damage == "missing":
        del state["module.cnet.layer2.0.norm3.bias"]
    elif damage == "extra":
        state["module.update_block.mask.4.weight"] = torch.zeros(3)
    elif damage == "shape":
        state["module.update_block.gru.convz1.weight"] = torch.zeros(128, 384, 5, 1)
    else:
        state["module.cnet.layer3.0.norm3.running_mean"] += 1
    path = tmp_path / "raft-sintel.pth"
    torch.save(state, path)
    with pytest.raises(UnavError, match="raft-sintel.pth") as err:
        FlowComputer(path, num_flow_updates=UPDATES, crop=32)
    assert message in str(err.value)


def test_torchvision_file_loads_strictly(tmp_path, computer: FlowComputer) -> None:
    other, _ = FlowComputer("random", seed=5, crop=32).model, None
    path = tmp_path / "raft_large_C_T_SKHT_V1-0b8c9e55.pth"
    torch.save(other.state_dict(), path)
    comp = FlowComputer(path, crop=32)
    for k, v in other.state_dict().items():
        assert torch.equal(comp.model.state_dict()[k], v)
    bad = dict(other.state_dict())
    bad["update_block.flow_head.conv1.weight"] = torch.zeros(1)
    torch.save(bad, path)
    with pytest.raises(UnavError, match="update_block.flow_head.conv1.weight"):
        FlowComputer(path, crop=32)


@pytest.mark.parametrize("batch_size, sizes", [(1, (1, 1, 2)), (5, (1, 3))])
def test_streaming_is_independent_of_batching(computer: FlowComputer, batch_size: int, sizes: tuple) -> None:
    frames = smooth_frames(4, 128, 128, seed=2)
    bounds = np.cumsum((0,) + sizes)
    chunks = [frames[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    reference = torch.cat(list(computer.flows_for_frames(iter([frames]))))  # batch size 3, one chunk
    old = computer.batch_size
    computer.batch_size = batch_size
    try:
        flows = list(computer.flows_for_frames(iter(chunks)))
    finally:
        computer.batch_size = old
    assert all(len(f) <= batch_size for f in flows)
    torch.testing.assert_close(torch.cat(flows), reference, atol=1e-4, rtol=1e-4)
