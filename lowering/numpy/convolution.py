"""NumPy kernels for `fuse.conv` and `fuse.pool`.

A convolution is one strided-view contraction: the input in `b 0.. f`
order (a transposed view), `sliding_window_view` over its spatial
dimensions (strides and dilations are steps of that view), the windows laid
out as rows of `K.. f` (the one copy, im2col), one BLAS matmul with the
filter as a `(K.. i) x o` matrix. Nothing loops over pixels or over window
offsets.

A pool is a reshape when windows tile the operand (window == stride, the
paper's `x/S`): each pooled dimension splits into (output, window) and the
window axes are reduced; otherwise the windows are a strided
`sliding_window_view`. A last window cut off by the end of the operand is
padded with the combination's identity (`-inf` for max, 0 for sum); a mean
divides by each window's own element count, computed once at build time.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from fuse.lowering.convolution import ConvPlan, PoolPlan

from .kernels import Array, Kernel, Shape


def conv(
    layout: str,
    input_shape: Shape,
    filter_shape: Shape,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
) -> Kernel:
    plan = ConvPlan.of(layout, input_shape, filter_shape, strides, dilations, "channels_last")
    n = plan.spatial
    batch, features = plan.input.shape[0], plan.input.shape[-1]
    outputs = plan.filter.shape[-1]
    spans = tuple(d * (k - 1) + 1 for k, d in zip(plan.window, dilations, strict=True))
    spatial_axes = tuple(range(1, n + 1))
    # windows view: [b, X'.., f, span..] -> every stride-th position, every dilation-th offset
    positions = tuple(slice(None, None, s) for s in strides)
    offsets = tuple(slice(None, None, d) for d in dilations)
    steps = (slice(None), *positions, slice(None), *offsets)
    # [b, X.., f, K..] -> [b, X.., K.., f]: rows of one window, features innermost
    rows_order = (0, *spatial_axes, *range(n + 2, 2 * n + 2), n + 1)
    rows_shape = (batch * math.prod(plan.output_spatial), math.prod(plan.window) * features)
    matrix_shape = (math.prod(plan.window) * features, outputs)
    result_shape = plan.output.present_shape
    result_order = plan.output.inverse_permutation

    def kernel(x: Array, w: Array) -> Array:
        image = x.transpose(plan.input.permutation).reshape(plan.input.shape)
        windows = sliding_window_view(image, spans, axis=spatial_axes)[steps]
        rows = windows.transpose(rows_order).reshape(rows_shape)
        matrix = w.transpose(plan.filter.permutation).reshape(matrix_shape)
        return (rows @ matrix).reshape(result_shape).transpose(result_order)

    return kernel


_IDENTITY = {"max": -np.inf, "sum": 0.0, "mean": 0.0}


def pool(kind: str, shape: Shape, window: Shape, strides: Shape) -> Kernel:
    plan = PoolPlan.of(shape, window, strides)
    if not plan.pooled:
        return lambda x: x
    n, kept = len(plan.pooled), len(plan.kept)
    pooled_axes = tuple(range(kept, kept + n))
    padding = [(0, 0)] * kept + [(0, max(0, p)) for p in plan.pad]
    fill = np.float32(_IDENTITY[kind])
    reduce = np.max if kind == "max" else np.sum
    if plan.is_tiled:
        tiles = tuple(v for o, w in zip(plan.output, plan.window, strict=True) for v in (o, w))
        window_axes = tuple(kept + 2 * k + 1 for k in range(n))

        def windows(x: Array) -> Array:
            return x.reshape(x.shape[:kept] + tiles)
    else:
        starts = tuple(
            slice(None, o * s, s) for o, s in zip(plan.output, plan.strides, strict=True)
        )
        steps = (slice(None),) * kept + starts + (slice(None),) * n
        window_axes = tuple(range(kept + n, kept + 2 * n))

        def windows(x: Array) -> Array:
            return sliding_window_view(x, plan.window, axis=pooled_axes)[steps]

    def combined(x: Array) -> Array:
        if any(p > 0 for p in plan.pad):
            x = np.pad(x, padding, constant_values=fill)
        return reduce(windows(x), axis=window_axes)

    inverse = plan.inverse_permutation
    if kind == "mean":
        counts = combined(np.ones((1,) * kept + plan.pooled, dtype=np.float32))

        def kernel(x: Array) -> Array:
            return (combined(x.transpose(plan.permutation)) / counts).transpose(inverse)
    else:

        def kernel(x: Array) -> Array:
            return combined(x.transpose(plan.permutation)).transpose(inverse)

    return kernel
