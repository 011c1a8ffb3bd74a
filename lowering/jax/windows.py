"""`fuse.window` and `fuse.place` as StableHLO (`convert-fuse-to-stablehlo`).

A window is a strided `slice` (then a transpose and a broadcast) where each
position follows one window dimension, else a `gather` from the flattened
operand through a constant table of flat positions
(fuse.lowering.affine_access). A place is a transpose and a zero `pad`
where it only shifts, else a `gather` of each result element's sources (a
constant table) and a `reduce`.

With `probe_sizes` (a plan at probe sizes standing for symbolic sizes,
fuse.runtime.symbolic) those tables would be constants of symbolic shape
holding sizes, so the positions are computed in the graph from `iota`s of
the box (`point_positions`: one column per tensor dimension, so no stride of
symbolic size): a window gathers through them, a place `scatter`s through
them, and a strided slice runs to the end of its dimension and is then cut
to the window's count.

```mlir
// Y[i] = X[2*i] with X : tensor<8xf32>: a strided slice
%y = stablehlo.slice %x [0:7:2] : (tensor<8xf32>) -> tensor<4xf32>
```
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, TensorType, i32
from xdsl.ir import SSAValue
from xdsl_jax.dialects import stablehlo as hlo

from fuse.lowering.affine_access import (
    AxisAccess,
    Forms,
    axis_accesses,
    flat_positions,
    highest_positions,
    place_table,
    placement_offsets,
)

from .hlo_builder import F32, HloBuilder, element_type_of, shape_of


def lower_window(
    b: HloBuilder, x: SSAValue, forms: Forms, shape: Sequence[int], probe_sizes: bool
) -> SSAValue:
    """`fuse.window` (module docstring)."""
    if probe_sizes and axis_accesses(forms) is None:
        return _gathered_window(b, x, forms, shape)
    return _window(b, x, forms, shape, probe_sizes)


def lower_place(
    b: HloBuilder, v: SSAValue, forms: Forms, kind: str, shape: Sequence[int], probe_sizes: bool
) -> SSAValue:
    """`fuse.place` (module docstring)."""
    if probe_sizes and placement_offsets(forms, len(shape)) is None:
        return _scattered_place(b, v, forms, kind, shape)
    return _place(b, v, forms, kind, shape)


def _index_constant(b: HloBuilder, positions: np.ndarray) -> SSAValue:
    values = positions.astype(np.int64).ravel().tolist()
    return b.constant(DenseIntOrFPElementsAttr.from_list(TensorType(i32, [len(values)]), values))


def _window(
    b: HloBuilder, x: SSAValue, forms: Forms, shape: Sequence[int], probe_sizes: bool = False
) -> SSAValue:
    """`fuse.window`: a strided `slice` (then a transpose and a broadcast)
    where each position follows one window dimension (shifts, strides,
    slices, convolution taps are not: `x + dx`), else one `gather` from the
    flattened operand at the precomputed flat position of every element."""
    accesses = axis_accesses(forms)
    if accesses is not None:
        return _sliced_window(b, x, accesses, shape, probe_sizes)
    flat = b.reshape(x, [math.prod(shape_of(x))])
    positions = flat_positions(forms, tuple(shape), shape_of(x))
    return b.reshape(b.gather(flat, 0, _index_constant(b, positions)), shape)


def _sliced_window(
    b: HloBuilder,
    x: SSAValue,
    accesses: list[AxisAccess],
    shape: Sequence[int],
    probe_sizes: bool,
) -> SSAValue:
    """At probe sizes a strided access slices to the end of its dimension,
    then keeps the window's count: the limit of the last position it reads
    (`X[2*i]` in `X[2*i] + X[2*i+1]`: `2*floordiv(n, 2) - 1`) is no size
    of the symbols, while the operand's size and the count are."""
    starts = [a.start for a in accesses]
    steps = [a.step for a in accesses]
    counts = [1 if a.box_dim is None else shape[a.box_dim] for a in accesses]
    limits = [a.start + a.step * (count - 1) + 1 for a, count in zip(accesses, counts, strict=True)]
    if probe_sizes and any(a.step > 1 for a in accesses):
        to_end = [
            size if a.step > 1 else limit
            for a, limit, size in zip(accesses, limits, shape_of(x), strict=True)
        ]
        sliced = b.slice(b.slice(x, starts, to_end, steps), [0] * len(counts), counts)
    else:
        sliced = b.slice(x, starts, limits, steps)
    dims = [a.box_dim for a in accesses if a.box_dim is not None]
    kept = b.reshape(sliced, [shape[j] for j in dims])
    order = sorted(range(len(dims)), key=dims.__getitem__)
    return b.broadcast(b.transpose(kept, order), shape, sorted(dims))


def _place(b: HloBuilder, v: SSAValue, forms: Forms, kind: str, shape: Sequence[int]) -> SSAValue:
    """`fuse.place` without a scatter: where it only shifts and permutes
    (`X[i, t + 1]`), a transpose and a zero `pad`; else every result element
    gathers the operand elements that land on it (`place_table`, padded with
    a fill value) and reduces them. Elements none reaches are zero."""
    offsets = placement_offsets(forms, len(shape_of(v)))
    if offsets is not None:
        order, lows = offsets
        moved = b.transpose(v, order)
        highs = [n - low - m for n, low, m in zip(shape, lows, shape_of(moved), strict=True)]
        return b.pad(moved, lows, highs)
    table = place_table(forms, shape_of(v), tuple(shape))
    size, most = table.sources.shape
    fill = float("-inf") if kind == "max" else 0.0
    flat = b.reshape(v, [math.prod(shape_of(v))])
    padded = b.concatenate([flat, b.full(fill, [1], element_type_of(v))], 0)
    gathered = b.reshape(b.gather(padded, 0, _index_constant(b, table.sources)), [size, most])
    combined = b.reduce(gathered, [1], "max" if kind == "max" else "add")
    if kind == "mean":
        counts = np.maximum(table.counts, 1).astype(np.float32).tolist()
        divisor = DenseIntOrFPElementsAttr.from_list(TensorType(F32, [size]), counts)
        divisor_value = b.convert(b.constant(divisor), element_type_of(v))
        combined = b.binary(hlo.DivideOp, combined, divisor_value)
    if kind == "max" and not table.counts.all():
        reached = [float(c > 0) for c in table.counts]
        mask = b.constant(DenseIntOrFPElementsAttr.from_list(TensorType(F32, [size]), reached))
        zeros = b.full(0.0, [size], element_type_of(v))
        combined = b.select(b.compare_scalar("GT", mask, 0.0), combined, zeros)
    return b.reshape(combined, shape)


def _gathered_window(b: HloBuilder, x: SSAValue, forms: Forms, shape: Sequence[int]) -> SSAValue:
    """`fuse.window` at probe sizes, where it is no slice: a gather at the
    positions `point_positions` computes in the graph. It reads from a slice of
    `x` up to the highest position read: the slice's limits are sizes,
    which make the symbolic artifact require inputs that large
    (`V[N-1-t]`: `d0 >= N`), as a gather's constant positions do."""
    reach = [highest + 1 for highest in highest_positions(forms, tuple(shape))]
    read = b.slice(x, [0] * len(reach), reach)
    return b.gather_points(read, point_positions(b, forms, shape))


def point_positions(b: HloBuilder, forms: Forms, box: Sequence[int]) -> SSAValue:
    """Where each point of `box` maps to under `forms`, computed in the
    graph: `i32[*box, rank]`, position k of a point being its form k
    (`constant + sum coefficient_j * iota_j`, floor-divided by the divisor)
    evaluated on `iota`s of the box, so that its shape follows the box's
    sizes (`affine_access.flat_positions` holds the same positions, as one
    flat number each, for a static plan). Positions per dimension rather
    than flat need no stride, which would be a product of symbolic sizes."""
    box = list(box)
    columns = []
    for coefficients, constant, divisor in forms:
        value = b.full(constant, box, i32)
        for j, coefficient in enumerate(coefficients):
            if coefficient:
                term = b.binary(hlo.MultiplyOp, b.iota(box, j), b.full(coefficient, box, i32))
                value = b.binary(hlo.AddOp, value, term)
        if divisor != 1:
            value = _floor_divide(b, value, divisor)
        columns.append(b.reshape(value, [*box, 1]))
    return b.concatenate(columns, len(box))


def _floor_divide(b: HloBuilder, value: SSAValue, divisor: int) -> SSAValue:
    """`value // divisor` (divisor > 0): StableHLO's integer `divide`
    truncates, one too high where a negative value leaves a remainder."""
    shape = shape_of(value)
    quotient = b.binary(hlo.DivideOp, value, b.full(divisor, shape, i32))
    remainder = b.binary(hlo.RemainderOp, value, b.full(divisor, shape, i32))
    below = b.compare("LT", remainder, b.full(0, shape, i32))
    return b.binary(
        hlo.SubtractOp, quotient, b.select(below, b.full(1, shape, i32), b.full(0, shape, i32))
    )


def _scattered_place(
    b: HloBuilder, v: SSAValue, forms: Forms, kind: str, shape: Sequence[int]
) -> SSAValue:
    """`fuse.place` at probe sizes: a `scatter` of every operand element to
    its position (`point_positions`), combined by `kind`, where a static plan
    gathers through `place_table` (a table of symbolic shape, holding
    sizes). Elements none reaches are zero: `max` starts from -inf and
    counts its operands with a second scatter, as `mean` does to divide."""
    element_type = element_type_of(v)
    positions = point_positions(b, forms, shape_of(v))
    fill = float("-inf") if kind == "max" else 0.0
    start = b.full(fill, shape, element_type)
    combined = b.scatter_points(start, positions, v, "max" if kind == "max" else "add")
    if kind == "sum":
        return combined
    zeros = b.full(0.0, shape, element_type)
    counts = b.scatter_points(zeros, positions, b.full(1.0, shape_of(v), element_type), "add")
    if kind == "max":
        return b.select(b.compare_scalar("GT", counts, 0.0), combined, zeros)
    ones = b.full(1.0, shape, element_type)
    return b.binary(hlo.DivideOp, combined, b.binary(hlo.MaximumOp, counts, ones))
