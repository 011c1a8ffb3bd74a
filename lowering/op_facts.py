"""What the NumPy and torch lowerings read from dataflow ops, read once.

Both walk `@main` op by op and turn each op's static facts into a kernel
of their own; the facts themselves (a contraction path, a temperature, a
fixpoint's bounds with the config's defaults, a constant's value) are the
same for both, so they are read here. Constants and index functions are
evaluated here at compile time, as fp32 NumPy arrays: the NumPy backend
stores them in its value table, the torch backend makes them buffers.
"""

from __future__ import annotations

import numpy as np

from fuse.dialects.fuse.dataflow import ConstantOp, EinsumOp, FixpointOp, IndexFnOp, UnaryOp

Shape = tuple[int, ...]
Path = tuple[tuple[int, ...], ...]


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
