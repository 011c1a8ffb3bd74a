"""Gradients of the index-arithmetic ops (`fuse.window`, `fuse.place`) and
of the native windows (`fuse.conv`, `fuse.pool`), emitted as those same ops.

* A window reads `x[map(d)]`; its adjoint places the cotangent back through
  the same map, summing where several `d` read one element.
* A place writes through a map; with `sum` its adjoint is a window of the
  cotangent through the map. `mean` divides by how many elements each
  position combines; `max` sends each position's cotangent to the elements
  equal to its maximum, split evenly among ties (as `fuse.einsum max`).
* A convolution's input gradient is a convolution of the cotangent, spread
  out by the stride and padded by the dilated window on both sides, with
  the filter flipped and its input and output features swapped (a
  transposed convolution). Its filter gradient is a convolution of the
  input with the cotangent as the filter: the batch is contracted, the
  input features play the batch, and the forward stride becomes the
  dilation (the forward dilation the stride).
* A pool whose windows tile the operand (window == stride, the paper's
  `Pooled[x/S] max= F[x]`) is a place through `x floordiv S`, and
  differentiates as one. Other windows are a window op into (position,
  offset) pairs followed by such a place; a last window cut off by the end
  of the operand has no rule there (an error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.ir import Operation, SSAValue

from fuse.dialects.fuse import ConvOp, PlaceOp, PoolOp, WindowOp
from fuse.dialects.fuse.affine import LinearForm, linear_forms
from fuse.dialects.fuse.window import ConvLayout
from fuse.passes.autodiff.sweep import (
    Emitter,
    ReverseSweep,
    describe,
    error_at,
    gradient_rule,
    static_shape,
    unit,
)


def _identity_forms(rank: int) -> list[LinearForm]:
    return [LinearForm(unit(rank, k)) for k in range(rank)]


# --- fuse.window, fuse.place --------------------------------------------------------------


@gradient_rule(WindowOp)
def _window_rule(sweep: ReverseSweep, op: WindowOp, cotangents: list[SSAValue | None]) -> None:
    [g] = cotangents
    x = op.operand
    shape = static_shape(x, op, "the window's operand")
    sweep.accumulate(x, sweep.emitter.place(g, linear_forms(op.map.data), shape))


def _place_gradient(
    e: Emitter,
    op: Operation,
    g: SSAValue,
    box: Sequence[int],
    placed: Callable[[], SSAValue],
    z: SSAValue,
    forms: Sequence[LinearForm],
    kind: str,
) -> SSAValue:
    """The gradient of `z = place(v, forms, kind)` in `v`, given `z`'s
    cotangent `g`; `v` has shape `box`, and `placed()` emits it (only `max`
    reads it). `op` is the op differentiated, for errors."""
    if kind == "mean":
        # Each element of z is the mean of the elements that land on it.
        counts = _place_counts(forms, box, static_shape(z, op, "a mean divides by counts"))
        g = e.same("mul", g, e.constant(1.0 / np.maximum(counts, 1)))
    routed = e.window(g, forms, box)
    if kind != "max":
        return routed
    v = placed()
    # 1 where v is the maximum of its position, split evenly among ties.
    peak = e.window(z, forms, box)
    at_max = e.with_scalar("sub", e.unary("step", e.same("sub", peak, v)), 1.0, left=True)
    ties = e.window(e.place(at_max, forms, z.type.get_shape()), forms, box)
    return e.same("mul", routed, e.same("div", at_max, ties))


def _place_counts(
    forms: Sequence[LinearForm], box: Sequence[int], shape: Sequence[int]
) -> np.ndarray:
    """How many points of `box` each element of `shape` receives."""
    flat = np.zeros(tuple(box), dtype=np.int64)
    for form, size in zip(forms, shape, strict=True):
        flat = flat * size + form.values(box)
    return np.bincount(flat.ravel(), minlength=int(np.prod(shape))).reshape(shape)


@gradient_rule(PlaceOp)
def _place_rule(sweep: ReverseSweep, op: PlaceOp, cotangents: list[SSAValue | None]) -> None:
    [g] = cotangents
    box = static_shape(op.operand, op, "the placed value")
    forms = linear_forms(op.map.data)
    gradient = _place_gradient(
        sweep.emitter, op, g, box, lambda: op.operand, op.result, forms, op.kind.data
    )
    sweep.accumulate(op.operand, gradient)


# --- fuse.pool ------------------------------------------------------------------------------


@gradient_rule(PoolOp)
def _pool_rule(sweep: ReverseSweep, op: PoolOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    x, kind = op.operand, op.kind.data.value
    shape = static_shape(x, op, "the pooled operand")
    rank, windows, strides = len(shape), op.window_values, op.stride_values
    if windows == strides:  # z[y] combines x[n] for n floordiv S = y
        forms = [LinearForm(unit(rank, k), 0, s) for k, s in enumerate(strides)]
        sweep.accumulate(
            x,
            _place_gradient(e, op, g, shape, lambda: x, op.result, forms, kind),
        )
        return
    out = op.result.type.get_shape()
    if any((o - 1) * s + w > n for n, w, s, o in zip(shape, windows, strides, out, strict=True)):
        raise error_at(
            op,
            f"no gradient rule for {describe(op)} whose windows differ from its strides "
            "and whose last window is cut off by the end of the operand",
        )
    # The box (y_0, w_0, y_1, w_1, ...): x[S y + w] in a window op, then z[y]
    # combines the w's: a place through (y, w) -> y.
    box = [size for o, w in zip(out, windows, strict=True) for size in (o, w)]
    reads, combines = [], []
    for k, s in enumerate(strides):
        position, offset = unit(2 * rank, 2 * k, s), unit(2 * rank, 2 * k + 1)
        reads.append(LinearForm(tuple(a + b for a, b in zip(position, offset, strict=True))))
        combines.append(LinearForm(unit(2 * rank, 2 * k)))
    combined = _place_gradient(
        e,
        op,
        g,
        box,
        lambda: e.window(x, reads, box),
        op.result,
        combines,
        kind,
    )
    sweep.accumulate(x, e.place(combined, reads, shape))


# --- fuse.conv ------------------------------------------------------------------------------


def _relabel(letters: str, renames: dict[str, str]) -> str:
    return "".join(renames.get(c, c) for c in letters)


@gradient_rule(ConvOp)
def _conv_rule(sweep: ReverseSweep, op: ConvOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    x, w = op.input, op.filter
    layout = op.parsed_layout
    strides, dilations = op.stride_values, op.dilation_values
    x_shape = static_shape(x, op, "the convolution's input")
    w_shape = static_shape(w, op, "the convolution's filter")
    g_shape = static_shape(op.result, op, "the convolution's result")
    spatial = range(layout.spatial_rank)
    window = [w_shape[layout.filter.index(str(k))] for k in spatial]
    out = [g_shape[layout.output.index(str(k))] for k in spatial]
    reach = [d * (k - 1) for k, d in zip(window, dilations, strict=True)]
    if x in sweep.active:
        # g spread out by the stride, with the dilated window's reach of
        # zeros on both sides, so that a stride-1 convolution gives x's size.
        spread, padded = [], []
        for c, size in zip(layout.output, g_shape, strict=True):
            position = unit(len(g_shape), layout.output.index(c))
            if c.isdigit():
                k = int(c)
                spread.append(LinearForm(tuple(strides[k] * p for p in position), reach[k]))
                padded.append(x_shape[layout.input.index(c)] + reach[k])
            else:
                spread.append(LinearForm(position))
                padded.append(size)
        spread_g = g
        if spread != _identity_forms(len(g_shape)) or padded != list(g_shape):
            spread_g = e.place(g, spread, padded)
        flipped = [
            LinearForm(
                unit(len(w_shape), j, -1 if c.isdigit() else 1),
                window[int(c)] - 1 if c.isdigit() else 0,
            )
            for j, c in enumerate(layout.filter)
        ]
        flips = any(window[k] > 1 for k in spatial)
        w_flipped = e.window(w, flipped, w_shape) if flips else w
        transposed = ConvLayout(
            layout.output, _relabel(layout.filter, {"i": "o", "o": "i"}), layout.input
        )
        gradient = e.emit(
            ConvOp(spread_g, w_flipped, transposed, [1] * len(spatial), dilations, x.type)
        )
        sweep.accumulate(x, gradient)
    if w in sweep.active:
        # Only the part of x the forward windows read: S (O - 1) + reach + 1.
        read = [strides[k] * (out[k] - 1) + reach[k] + 1 for k in spatial]
        cropped = [
            read[int(c)] if c.isdigit() else n for c, n in zip(layout.input, x_shape, strict=True)
        ]
        image = x
        if cropped != list(x_shape):
            image = e.window(x, _identity_forms(len(x_shape)), cropped)
        swapped = ConvLayout(
            _relabel(layout.input, {"b": "f", "f": "b"}),
            _relabel(layout.output, {"b": "i", "f": "o"}),
            _relabel(layout.filter, {"i": "b", "o": "f"}),
        )
        gradient = e.emit(ConvOp(image, g, swapped, dilations, strides, w.type))
        sweep.accumulate(w, gradient)
