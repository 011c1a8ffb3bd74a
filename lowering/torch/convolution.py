"""Torch kernels for `fuse.conv` and `fuse.pool`.

Convolutions with 1 to 3 spatial dimensions call `F.conv1d/2d/3d` on the
operands permuted to `N C spatial...` (views: a channels-last input stays
channels-last in memory, which the CPU and CUDA kernels take as is); more
spatial dimensions unfold the input into windows and contract them with one
`tensordot`. Pools with 1 to 3 pooled dimensions call
`F.max_pool{n}d`/`F.avg_pool{n}d` with `ceil_mode=True` (the last window
may be cut off by the end of the operand, as `fuse.pool` defines; torch
then divides a mean by the elements the window has), the other dimensions
up to two other dimensions leading (more are flattened into one); sums
and more pooled dimensions unfold windows and reduce them. Everything is differentiable by autograd.

As in `kernels.py`, these are straight-line torch calls on FX proxies: all
shapes are static and passed in.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fuse.lowering.convolution import ConvPlan, PoolPlan, conv_builder

from .kernels import Kernel, Shape, Tensor

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


@conv_builder("channels_first")
def conv(plan: ConvPlan) -> Kernel:
    convolve = _CONV.get(plan.spatial, _unfolded_conv(plan))

    # [b, g, f, X..] -> [b, g*f, X..] and [g, o, i, K..] -> [g*o, i, K..]: the
    # groups first in the channels, as `groups=` takes them
    b, g, f, *spatial = plan.input.shape
    image_shape = (b, g * f, *spatial)
    g, o, i, *window = plan.filter.shape
    filter_shape = (g * o, i, *window)

    def kernel(x: Tensor, w: Tensor) -> Tensor:
        image = x.permute(plan.input.permutation).reshape(image_shape)
        weights = w.permute(plan.filter.permutation).reshape(filter_shape)
        out = convolve(
            image, weights, stride=plan.strides, dilation=plan.dilations, groups=plan.groups
        )
        return out.reshape(plan.output.present_shape).permute(plan.output.inverse_permutation)

    return kernel


def _unfolded_conv(plan: ConvPlan) -> Kernel:
    """A convolution of any number of spatial dimensions: `unfold` each one
    into (position, window offset), then one `einsum` per group over the
    features and the window offsets."""
    n = plan.spatial
    positions, offsets = "".join(chr(ord("A") + k) for k in range(n)), "klmnpqrstu"[:n]
    contraction = f"bgf{positions}{offsets},gof{offsets}->bgo{positions}"

    def convolve(
        image: Tensor, weights: Tensor, stride: Shape, dilation: Shape, groups: int
    ) -> Tensor:
        windows = image  # [b, g*f, X.., then one window axis per unfolded dimension]
        for k in range(n):
            span = dilation[k] * (plan.window[k] - 1) + 1
            windows = windows.unfold(2 + k, span, stride[k])[..., :: dilation[k]]
        b, channels, *rest = windows.shape
        windows = windows.reshape(b, groups, channels // groups, *rest)
        grouped = weights.reshape(groups, weights.shape[0] // groups, *weights.shape[1:])
        out = torch.einsum(contraction, windows, grouped)
        return out.reshape(b, -1, *out.shape[3:])

    return convolve


def pool(kind: str, shape: Shape, window: Shape, strides: Shape) -> Kernel:
    plan = PoolPlan.of(shape, window, strides)
    if not plan.pooled:
        return lambda x: x
    n = len(plan.pooled)
    # Torch pools `(N, C, spatial..)` or `(C, spatial..)`: up to two kept
    # dimensions go as they are (a channels-last tensor stays a
    # channels-last view, which the CPU kernels pool fastest); more are
    # flattened into one.
    lead = plan.kept if 1 <= len(plan.kept) <= 2 else (plan.kept_size,)
    shaped = (*lead, *plan.pooled)
    out_shape = (*plan.kept, *plan.output)
    native = n in _MAX_POOL and kind != "sum"
    combine = _pool_call(kind, plan) if native else _unfolded_pool(kind, plan, len(lead))

    def kernel(x: Tensor) -> Tensor:
        pooled = combine(x.permute(plan.permutation).reshape(shaped))
        return pooled.reshape(out_shape).permute(plan.inverse_permutation)

    return kernel


def _pool_call(kind: str, plan: PoolPlan) -> Kernel:
    """`(lead.., pooled..) -> (lead.., output..)` with torch's pooling
    functions (one or two leading dimensions)."""
    n = len(plan.pooled)
    options = {"kernel_size": plan.window, "stride": plan.strides, "ceil_mode": True}
    if kind == "max":
        return lambda x: _MAX_POOL[n](x, **options)
    return lambda x: _AVG_POOL[n](x, **options)


def _unfolded_pool(kind: str, plan: PoolPlan, lead: int) -> Kernel:
    """`(lead.., pooled..) -> (lead.., output..)` for any number of pooled
    dimensions and for sums: pad a cut-off last window with the identity,
    `unfold` each pooled dimension into (window start, offset), reduce the
    offsets. A mean divides by each window's count, the same pool of ones."""
    n = len(plan.pooled)
    window_dims = tuple(range(lead + n, lead + 2 * n))
    # F.pad lists (before, after) pairs from the last dimension backwards
    padding = tuple(v for p in reversed(plan.pad) for v in (0, max(0, p)))
    fill = float("-inf") if kind == "max" else 0.0

    def windows(x: Tensor) -> Tensor:
        if any(p > 0 for p in plan.pad):
            x = F.pad(x, padding, value=fill)
        for k in range(n):
            x = x.unfold(lead + k, plan.window[k], plan.strides[k])
        return x

    if kind == "max":
        return lambda x: windows(x).amax(dim=window_dims)
    if kind == "sum":
        return lambda x: windows(x).sum(dim=window_dims)
    first = (slice(0, 1),) * lead
    return lambda x: (
        windows(x).sum(dim=window_dims) / windows(torch.ones_like(x[first])).sum(dim=window_dims)
    )
