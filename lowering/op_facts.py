"""What the NumPy and torch lowerings read from dataflow ops, read once.

Both walk `@main` op by op and turn each op's static facts into a kernel
of their own; the facts themselves are the same for both, so they are read
here. `kernel_arguments` names the kernel builder an op needs and its
static arguments (subscripts, shapes, axes, a contraction path: plain
values): the NumPy backend stores the pair as a `KernelRecipe`, the torch
backend calls its builder of that name, and each backend's builder table
is all that differs. Also here: a fixpoint's bounds with the config's
defaults, and constants and index functions evaluated at compile time as
fp32 NumPy arrays (the NumPy backend stores them in its value table, the
torch backend makes them buffers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from xdsl.ir import Operation, SSAValue

from fuse.dialects.fuse import (
    BinaryOp,
    ConcatOp,
    ConstantOp,
    EinsumOp,
    FixpointOp,
    GatherOp,
    IndexFnOp,
    NormalizeOp,
    PlaceOp,
    SampleOp,
    SelectOp,
    TakeOp,
    TopKOp,
    UnaryOp,
    WindowOp,
)
from fuse.dialects.fuse.subscripts import parse_subscripts
from fuse.dialects.fuse.window import ConvOp, PoolOp
from fuse.lowering.affine_access import forms_of

Shape = tuple[int, ...]
Path = tuple[tuple[int, ...], ...]
ShapeOf = Callable[[SSAValue], Shape]  # a value's static shape
KernelArguments = tuple[str, tuple[Any, ...]]  # builder name, static arguments


def contraction_path(op: EinsumOp) -> Path | None:
    """The op's `path` (opt_einsum's format), None where it has none."""
    if not op.path:
        return None
    return tuple(tuple(n.value.data for n in group.data) for group in op.path.data)


def temperature(op: UnaryOp) -> float | None:
    """A `sig`'s temperature, None where the op has none (T = 1)."""
    return op.temperature.value.data if op.temperature is not None else None


def fixpoint_bounds(op: FixpointOp, tolerance: float, max_iters: int) -> tuple[float, int]:
    """The op's tolerance and iteration bound; the given (the config's)
    where the op has none of its own."""
    return (
        op.tolerance.value.data if op.tolerance else tolerance,
        op.max_iters.value.data if op.max_iters else max_iters,
    )


def constant_array(op: ConstantOp | IndexFnOp, shape: Shape) -> np.ndarray:
    """The op's value, fp32: a constant from its attribute's unpacked values
    (no text round trip), an index function evaluated."""
    if isinstance(op, ConstantOp):
        return np.array(op.value.get_values(), dtype=np.float32).reshape(shape)
    position = op.position.value.data if op.position is not None else None
    return index_tensor(op.fn.data, shape, position)


def index_tensor(fn: str, shape: Shape, position: int | None) -> np.ndarray:
    """`fuse.index_fn`, evaluated at compile time."""
    if fn == "causal":
        rows, cols = shape
        return np.tril(np.ones((rows, cols), dtype=np.float32))
    positions = np.arange(shape[0])
    if fn == "iota":
        return positions.astype(np.float32)
    if fn == "even":
        hits = positions % 2 == 0
    elif fn == "odd":
        hits = positions % 2 == 1
    else:  # onehot
        hits = positions == position
    return hits.astype(np.float32)


# --- kernel arguments --------------------------------------------------------------


def has_kernel(op: Operation) -> bool:
    """Whether `op` is computed by one kernel (`kernel_arguments`)."""
    return type(op) in _READERS


def kernel_arguments(op: Operation, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    """The builder `op`'s kernel comes from and its static arguments, with
    shapes from `shape` and `ExecutionConfig.block_size` for a max-einsum."""
    return _READERS[type(op)](op, shape, block_size)


def _einsum(op: EinsumOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    if not op.inputs:  # the empty product
        return "ones", (shape(op.result),)
    inputs, output = parse_subscripts(op.subscripts.data)
    shapes = tuple(shape(v) for v in op.inputs)
    return "einsum", (tuple(inputs), output, shapes, op.kind.data, contraction_path(op), block_size)


def _binary(op: BinaryOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "binary", (op.fn.data, op.subscripts.data, (shape(op.lhs), shape(op.rhs)))


def _select(op: SelectOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "select", (op.subscripts.data, tuple(shape(v) for v in op.operands))


def _unary(op: UnaryOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "unary", (op.fn.data, temperature(op))


def _normalize(op: NormalizeOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    axis = op.axis.value.data
    if op.kind.data == "lnorm":
        return "lnorm", (axis, op.epsilon)
    return ("masked_softmax" if op.mask is not None else "softmax"), (axis,)


def _take(op: TakeOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "take", (op.dim.value.data, op.position.value.data)


def _concat(op: ConcatOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "concat", (op.axis.value.data,)


def _topk(op: TopKOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "topk", (op.k.value.data, op.axis.value.data, shape(op.operand))


def _sample(op: SampleOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "sample", (op.samples.value.data, op.seed.value.data)


def _gather(op: GatherOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "gather", (op.dim.value.data,)


def _conv(op: ConvOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    shapes = (shape(op.input), shape(op.filter))
    return "conv", (op.layout.data, *shapes, op.stride_values, op.dilation_values)


def _pool(op: PoolOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "pool", (op.kind.data.value, shape(op.operand), op.window_values, op.stride_values)


def _window(op: WindowOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "window", (forms_of(op.map), shape(op.operand), shape(op.result))


def _place(op: PlaceOp, shape: ShapeOf, block_size: int | None) -> KernelArguments:
    return "place", (forms_of(op.map), op.kind.data, shape(op.operand), shape(op.result))


_READERS: dict[type[Operation], Callable[[Any, ShapeOf, int | None], KernelArguments]] = {
    EinsumOp: _einsum,
    BinaryOp: _binary,
    SelectOp: _select,
    UnaryOp: _unary,
    NormalizeOp: _normalize,
    TakeOp: _take,
    ConcatOp: _concat,
    TopKOp: _topk,
    SampleOp: _sample,
    GatherOp: _gather,
    ConvOp: _conv,
    PoolOp: _pool,
    WindowOp: _window,
    PlaceOp: _place,
}
