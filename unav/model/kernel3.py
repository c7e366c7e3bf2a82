"""Kernel-3 operators along the rows of channels-last sequences `# [N, T, C]`, with hand-written backwards.

Written with autograd's primitives (pad, shifted slices, unfold), each costs a padded copy in the forward and, in
the backward, a zero-filled full-size gradient per slice. On the localizer's wide sequences (the dependency block's
[B*C', T, H] tensors, the 2,048-channel input projection) those memory passes, not arithmetic, are the time. Here
every operator is one write of its output plus in-place shifted adds, forward and backward. All pad with zeros."""
from __future__ import annotations

import torch


def _taps_sum(z0: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    # out[t] = z0[t-1] + z1[t] + z2[t+1]; z* [N, T, C] (views allowed)
    out = z1.clone(memory_format=torch.contiguous_format)
    if z1.shape[1] > 1:
        out[:, 1:] += z0[:, :-1]
        out[:, :-1] += z2[:, 1:]
    return out


def _taps_stack(x: torch.Tensor, reverse: bool = False) -> torch.Tensor:
    # out[t] = [x[t-1] | x[t] | x[t+1]] along channels ([x[t+1] | x[t] | x[t-1]] if reverse); [N, T, C] -> [N, T, 3C]
    n, t, c = x.shape
    out = x.new_empty(n, t, 3 * c)
    prev, nxt = (slice(2 * c, None), slice(None, c)) if reverse else (slice(None, c), slice(2 * c, None))
    out[:, :, c:2 * c] = x
    out[:, :1, prev] = 0
    out[:, 1:, prev] = x[:, :-1]
    out[:, -1:, nxt] = 0
    out[:, :-1, nxt] = x[:, 1:]
    return out


class _TapsSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:  # [N, T, 3C] -> [N, T, C]
        c = z.shape[-1] // 3
        return _taps_sum(z[..., :c], z[..., c:2 * c], z[..., 2 * c:])

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        # z0[s] went to out[s+1], z1[s] to out[s], z2[s] to out[s-1]: the adjoint is the reversed stack.
        return _taps_stack(grad.contiguous(), reverse=True)


class _TapsStack(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # [N, T, C] -> [N, T, 3C]
        return _taps_stack(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        c = grad.shape[-1] // 3
        # x[s] went to z0[s+1], z1[s], z2[s-1]: the adjoint of the stack is the sum with the taps swapped.
        return _taps_sum(grad[..., 2 * c:], grad[..., c:2 * c], grad[..., :c])


def taps_sum(z: torch.Tensor) -> torch.Tensor:
    """`# [N, T, 3C] -> [N, T, C]`: out[t] = z[t-1, :C] + z[t, C:2C] + z[t+1, 2C:] (zero outside)."""
    return _TapsSum.apply(z)


def taps_stack(x: torch.Tensor) -> torch.Tensor:
    """`# [N, T, C] -> [N, T, 3C]`: out[t] = [x[t-1], x[t], x[t+1]] (zero outside), tap-major channels."""
    return _TapsStack.apply(x)


class _DepthwiseK3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # x [N, T, C], w [C, 3] -> [N, T, C]
        ctx.save_for_backward(x, w)
        return _weighted_taps(x, w[:, 0], w[:, 1], w[:, 2])

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, w = ctx.saved_tensors
        grad = grad.contiguous()
        gx = gw = None
        if ctx.needs_input_grad[0]:
            # The transpose of a correlation with taps (w0, w1, w2) is the one with taps (w2, w1, w0).
            gx = _weighted_taps(grad, w[:, 2], w[:, 1], w[:, 0])
        if ctx.needs_input_grad[1]:
            c = x.shape[-1]
            gw = torch.stack([
                (grad[:, 1:] * x[:, :-1]).reshape(-1, c).sum(0),
                (grad * x).reshape(-1, c).sum(0),
                (grad[:, :-1] * x[:, 1:]).reshape(-1, c).sum(0),
            ], dim=1).to(w.dtype)                                                      # [C, 3]
        return gx, gw


def _weighted_taps(x: torch.Tensor, w_prev: torch.Tensor, w_mid: torch.Tensor, w_next: torch.Tensor) -> torch.Tensor:
    # out[t] = w_prev x[t-1] + w_mid x[t] + w_next x[t+1]; x [N, T, C], w_* [C]
    out = x * w_mid
    if x.shape[1] > 1:
        out[:, 1:].addcmul_(x[:, :-1], w_prev.to(out.dtype))
        out[:, :-1].addcmul_(x[:, 1:], w_next.to(out.dtype))
    return out


def depthwise_k3(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Depthwise conv, kernel 3, stride 1, zero padding 1, no bias. x `# [N, T, C]`, weight `# [C, 3]`."""
    return _DepthwiseK3.apply(x.contiguous(), weight)
