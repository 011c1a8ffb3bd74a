"""NumPy kernels for `fuse.conv` and `fuse.pool`.

A convolution is one strided-view contraction: the input in `b 0.. g f`
order (a transposed view), `sliding_window_view` over its spatial
dimensions (strides and dilations are steps of that view), the windows laid
out as rows of `K.. f` per group (the one copy, im2col), one BLAS matmul
(batched over the groups of a grouped convolution) with the filter as a
`(K.. i) x o` matrix per group. Nothing loops over pixels or over window
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

from fuse.lowering.convolution import ConvPlan, PoolPlan, conv_builder

from .kernels import Array, Kernel, Shape


@conv_builder("channels_last")
def conv(plan: ConvPlan) -> Kernel:
    n, strides, dilations = plan.spatial, plan.strides, plan.dilations
    batch, groups, features = plan.input.shape[0], plan.groups, plan.input.shape[-1]
    outputs = plan.filter.shape[-1]
    spans = tuple(d * (k - 1) + 1 for k, d in zip(plan.window, dilations, strict=True))
    spatial_axes = tuple(range(1, n + 1))
    # windows view: [b, X'.., g, f, span..] -> every stride-th position, every dilation-th offset
    positions = tuple(slice(None, None, s) for s in strides)
    offsets = tuple(slice(None, None, d) for d in dilations)
    steps = (slice(None), *positions, slice(None), slice(None), *offsets)
    # [b, X.., g, f, K..] -> [g, b, X.., K.., f]: per group, rows of one window
    rows_order = (n + 1, 0, *spatial_axes, *range(n + 3, 2 * n + 3), n + 2)
    window_size = math.prod(plan.window) * features
    rows_shape = (groups, batch * math.prod(plan.output_spatial), window_size)
    # [K.., g, i, o] -> [g, K.., i, o]: per group, a (K.. i) x o matrix
    matrix_order = (n, *range(n), n + 1, n + 2)
    matrix_shape = (groups, window_size, outputs)
    result_shape = plan.output.present_shape
    result_order = plan.output.inverse_permutation

    def kernel(x: Array, w: Array) -> Array:
        image = x.transpose(plan.input.permutation).reshape(plan.input.shape)
        windows = sliding_window_view(image, spans, axis=spatial_axes)[steps]
        rows = windows.transpose(rows_order).reshape(rows_shape)
        weights = w.transpose(plan.filter.permutation).reshape(plan.filter.shape)
        matrix = weights.transpose(matrix_order).reshape(matrix_shape)
        product = np.matmul(rows, matrix)  # [g, b X'.., o]
        return product.transpose(1, 0, 2).reshape(result_shape).transpose(result_order)

    return kernel


_IDENTITY = {"max": -np.inf, "sum": 0.0, "mean": 0.0}


def pool(kind: str, shape: Shape, window: Shape, strides: Shape) -> Kernel:
    """Pools in the operand's own dimension order: no transpose, so tiled
    windows of a contiguous operand are a free reshape."""
    plan = PoolPlan.of(shape, window, strides)
    if not plan.pooled:
        return lambda x: x
    pooled = plan.permutation[len(plan.kept) :]  # in operand order
    output = dict(zip(pooled, plan.output, strict=True))
    pad = dict(zip(pooled, plan.pad, strict=True))
    rank = len(shape)
    padding = [(0, max(0, pad.get(d, 0))) for d in range(rank)]
    fill = np.float32(_IDENTITY[kind])
    reduce = np.max if kind == "max" else np.sum
    if plan.is_tiled:
        # dimension d -> (output, window) where pooled: [.., o, w, ..]
        window_axes = tuple(d + 1 + sum(e in output for e in range(d)) for d in pooled)

        def windows(x: Array) -> Array:
            split = [
                part
                for d in range(rank)
                for part in ((output[d], window[d]) if d in output else (x.shape[d],))
            ]
            return x.reshape(split)
    else:
        steps = tuple(
            slice(None, output[d] * strides[d], strides[d]) if d in output else slice(None)
            for d in range(rank)
        )
        sizes = tuple(window[d] for d in pooled)
        window_axes = tuple(range(rank, rank + len(pooled)))

        def windows(x: Array) -> Array:
            return sliding_window_view(x, sizes, axis=pooled)[(*steps, Ellipsis)]

    def combined(x: Array) -> Array:
        if any(p > 0 for p in plan.pad):
            x = np.pad(x, padding, constant_values=fill)
        return reduce(windows(x), axis=window_axes)

    if kind != "mean":
        return combined
    # each window's element count, over the pooled dimensions only
    counts = combined(np.ones([shape[d] if d in output else 1 for d in range(rank)], np.float32))
    return lambda x: combined(x) / counts
