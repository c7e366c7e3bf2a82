"""Two-stream Inception-v1 I3D (Carreira & Zisserman 2017) with the published PyTorch key layout.

The module tree reproduces the state dict of the widely used PyTorch port of DeepMind's Kinetics-400
checkpoints (the `i3d_rgb.pt` / `i3d_flow.pt` files shipped by video_features): 344 tensors, top-level
`conv3d_1a_7x7 … mixed_5c, conv3d_0c_1x1`, each unit `<name>.conv3d.weight` + `<name>.batch3d.*`, Inception
branches `branch_0`, `branch_1.{0,1}`, `branch_2.{0,1}`, `branch_3.1` (index 0 of branch_3 is the max-pool).

Numerics follow the reference: TF "SAME" padding from kernel and stride only (pad_total = max(k - s, 0),
front = pad_total // 2), zero padding, BatchNorm eps 1e-5 in eval mode, max-pools with ceil_mode.
"""
from __future__ import annotations

import os
from typing import Sequence

import torch
from torch import Tensor, nn

from ..errors import UnavError
from ..model.state_dict import load_strict

Triple = tuple[int, int, int]

# (name, in_channels, (b0, b1a, b1b, b2a, b2b, b3)) — standard Inception-v1 widths.
MIXED_WIDTHS: list[tuple[str, int, tuple[int, int, int, int, int, int]]] = [
    ("mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
]
FEATURE_DIM = 1024
STREAM_CHANNELS = {"rgb": 3, "flow": 2}


def same_padding(kernel: Triple, stride: Triple) -> list[tuple[int, int]]:
    """TF-SAME (front, back) padding per dim (T, H, W), from kernel and stride only."""
    pads = []
    for k, s in zip(kernel, stride):
        total = max(k - s, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _pad_arg(pads: list[tuple[int, int]]) -> tuple[int, ...]:
    """(front, back) per (T, H, W) -> F.pad / ConstantPad3d order (W, H, T)."""
    (t0, t1), (h0, h1), (w0, w1) = pads
    return (w0, w1, h0, h1, t0, t1)


class Unit3D(nn.Module):
    """Conv3d (no bias) -> BatchNorm3d -> ReLU with TF-SAME padding; the logits unit has bias, no BN/ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: Triple = (1, 1, 1),
                 stride: Triple = (1, 1, 1), use_bn: bool = True, use_bias: bool = False,
                 activation: bool = True) -> None:
        super().__init__()
        pads = same_padding(kernel, stride)
        symmetric = all(a == b for a, b in pads)
        self.pad = None if symmetric else nn.ConstantPad3d(_pad_arg(pads), 0.0)
        conv_pad = tuple(a for a, _ in pads) if symmetric else 0
        self.conv3d = nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=conv_pad,
                                bias=use_bias)
        self.batch3d = nn.BatchNorm3d(out_channels, eps=1e-5) if use_bn else None
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:  # [B, Cin, T, H, W] -> [B, Cout, T', H', W']
        if self.pad is not None:
            x = self.pad(x)
        x = self.conv3d(x)
        if self.batch3d is not None:
            x = self.batch3d(x)
        return torch.relu(x) if self.activation else x


class MaxPool3dSame(nn.Module):
    """Zero-padded (TF-SAME) max-pool with ceil_mode, as in the reference port (inputs are post-ReLU)."""

    def __init__(self, kernel: Triple, stride: Triple) -> None:
        super().__init__()
        self.pad = nn.ConstantPad3d(_pad_arg(same_padding(kernel, stride)), 0.0)
        self.pool = nn.MaxPool3d(kernel, stride, ceil_mode=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.pad(x))


class Mixed(nn.Module):
    """Inception block: concat[1x1; 1x1->3x3x3; 1x1->3x3x3; maxpool 3x3x3 s1 -> 1x1] along channels."""

    def __init__(self, in_channels: int, widths: Sequence[int]) -> None:
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3 = widths
        self.branch_0 = Unit3D(in_channels, b0)
        self.branch_1 = nn.Sequential(Unit3D(in_channels, b1a), Unit3D(b1a, b1b, (3, 3, 3)))
        self.branch_2 = nn.Sequential(Unit3D(in_channels, b2a), Unit3D(b2a, b2b, (3, 3, 3)))
        self.branch_3 = nn.Sequential(MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(in_channels, b3))

    def forward(self, x: Tensor) -> Tensor:  # [B, Cin, T, H, W] -> [B, sum(widths out), T, H, W]
        return torch.cat([self.branch_0(x), self.branch_1(x), self.branch_2(x), self.branch_3(x)], dim=1)


class I3D(nn.Module):
    """Inception-v1 I3D. `features` gives the 1024-d read-out used for UnAV features; `forward` the logits."""

    def __init__(self, in_channels: int = 3, num_classes: int = 400) -> None:
        super().__init__()
        if in_channels not in (2, 3):
            raise ValueError(f"I3D takes 3 (rgb) or 2 (flow) input channels, got {in_channels}")
        self.in_channels = in_channels
        self.conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.maxpool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.conv3d_2b_1x1 = Unit3D(64, 64)
        self.conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.maxpool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.mixed_3b = Mixed(*MIXED_WIDTHS[0][1:])
        self.mixed_3c = Mixed(*MIXED_WIDTHS[1][1:])
        self.maxpool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.mixed_4b = Mixed(*MIXED_WIDTHS[2][1:])
        self.mixed_4c = Mixed(*MIXED_WIDTHS[3][1:])
        self.mixed_4d = Mixed(*MIXED_WIDTHS[4][1:])
        self.mixed_4e = Mixed(*MIXED_WIDTHS[5][1:])
        self.mixed_4f = Mixed(*MIXED_WIDTHS[6][1:])
        self.maxpool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.mixed_5b = Mixed(*MIXED_WIDTHS[7][1:])
        self.mixed_5c = Mixed(*MIXED_WIDTHS[8][1:])
        self.conv3d_0c_1x1 = Unit3D(FEATURE_DIM, num_classes, use_bn=False, use_bias=True, activation=False)

    def trunk(self, x: Tensor) -> Tensor:  # [B, C, 24, 224, 224] -> Mixed_5c [B, 1024, 3, 7, 7]
        x = self.maxpool3d_2a_3x3(self.conv3d_1a_7x7(x))
        x = self.conv3d_2c_3x3(self.conv3d_2b_1x1(x))
        x = self.mixed_3c(self.mixed_3b(self.maxpool3d_3a_3x3(x)))
        x = self.maxpool3d_4a_3x3(x)
        x = self.mixed_4f(self.mixed_4e(self.mixed_4d(self.mixed_4c(self.mixed_4b(x)))))
        x = self.maxpool3d_5a_2x2(x)
        return self.mixed_5c(self.mixed_5b(x))

    def features(self, x: Tensor) -> Tensor:  # [B, C, T, H, W] -> [B, 1024]
        return readout(self.trunk(x))

    def forward(self, x: Tensor) -> Tensor:  # [B, C, T, H, W] -> logits [B, num_classes]
        # Kinetics head as in the reference: AvgPool3d((2, 7, 7)) -> 1x1x1 conv -> mean over time.
        pooled = nn.functional.avg_pool3d(self.trunk(x), (2, 7, 7), stride=1)  # [B, 1024, T-1, 1, 1]
        return self.conv3d_0c_1x1(pooled).mean(dim=(2, 3, 4))


def readout_weights(steps: int, device: torch.device | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """Temporal weights equal to AvgPool(kernel 2, stride 1) then a mean: ends 1/(2(T-1)), inside 1/(T-1).
    T=3 gives (1/4, 1/2, 1/4); T=1 gives (1,)."""
    if steps == 1:
        return torch.ones(1, device=device, dtype=dtype)
    w = torch.full((steps,), 1.0 / (steps - 1), device=device, dtype=dtype)
    w[0] = w[-1] = 0.5 / (steps - 1)
    return w


def readout(x: Tensor) -> Tensor:  # Mixed_5c [B, 1024, T, h, w] -> [B, 1024]
    """Feature read-out: spatial mean, then temporal weights (1/4, 1/2, 1/4) for T=3. At a 224 crop (7x7 map)
    this equals the reference's AvgPool3d((2, 7, 7), stride 1) followed by a mean over time; it also works for
    the smaller crops of the offline demo, where the 7x7 pool would not fit."""
    spatial = x.mean(dim=(3, 4))  # [B, 1024, T]
    return spatial @ readout_weights(x.shape[2], x.device, x.dtype)


def _variance_preserving_init(model: nn.Module) -> None:
    """He-normal convolutions so random-weight features keep a usable scale through the 60-odd layers
    (PyTorch's default init shrinks activations by orders of magnitude; the demo trains on these features)."""
    for module in model.modules():
        if isinstance(module, nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def build_i3d(stream: str, weights: str | os.PathLike = "random", seed: int = 0,
              device: str | torch.device = "cpu") -> I3D:
    """An eval-mode I3D for `stream` ("rgb" | "flow"): seeded random weights, or a published state dict
    loaded strictly (missing `num_batches_tracked` tolerated)."""
    if stream not in STREAM_CHANNELS:
        raise ValueError(f"unknown I3D stream {stream!r}; expected one of {sorted(STREAM_CHANNELS)}")
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = I3D(STREAM_CHANNELS[stream])
        if str(weights) == "random":
            _variance_preserving_init(model)
    finally:
        torch.random.set_rng_state(gen_state)
    if str(weights) != "random":
        from .weights import load_weights

        state = load_weights(weights)  # weights_only torch.load with readable errors
        if not isinstance(state, dict):
            raise UnavError(f"{weights}: expected an I3D state dict (name -> tensor), got {type(state).__name__}")
        load_strict(model, state, os.fspath(weights))
    return model.to(device).eval()
