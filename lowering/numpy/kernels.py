"""NumPy kernels for the dataflow ops other than einsum and fixpoint.

Each builder runs once, at compile time, with everything static about its op
(function name, axes, alignment plans, shapes) and returns a closure over
arrays that does only the arithmetic. Kernels never write into their
operands, so the value table can share arrays freely (constants, views,
aliases of inputs).

All arithmetic is fp32: constants used here are `np.float32`, so NumPy's
promotion rules keep results fp32.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import scipy.special

from fuse.lowering import einsum_plan
from fuse.lowering.affine_access import (
    Forms,
    flat_positions,
    place_table,
    placement_offsets,
    strided_view,
)
from fuse.lowering.einsum_plan import identity

Array = np.ndarray
Kernel = Callable[..., Array]
Transform = Callable[[Array], Array]
Shape = tuple[int, ...]

_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)
_HALF = np.float32(0.5)
_SQRT2 = np.float32(math.sqrt(2.0))


# --- einsum, alignment and aligned elementwise ops -----------------------------


class NumpyOps:
    """The array calls of a planned einsum and of `fuse.binary`/`fuse.select`,
    on NumPy arrays."""

    transpose = staticmethod(np.transpose)
    reshape = staticmethod(np.reshape)
    matmul = staticmethod(np.matmul)
    multiply = staticmethod(np.multiply)

    @staticmethod
    def sum(x: Array, axes: tuple[int, ...]) -> Array:
        return x.sum(axis=axes)

    @staticmethod
    def amax(x: Array, axes: tuple[int, ...]) -> Array:
        return x.max(axis=axes)

    @staticmethod
    def divide(x: Array, count: int) -> Array:
        return x / np.float32(count)

    @staticmethod
    def diagonal(spec: str, x: Array) -> Array:
        return np.einsum(spec, x)

    @staticmethod
    def concatenate(arrays: Sequence[Array], axis: int) -> Array:
        return np.concatenate(arrays, axis=axis)

    binary: dict[str, np.ufunc] = {
        "add": np.add,
        "sub": np.subtract,
        "mul": np.multiply,
        "div": np.divide,
        "pow": np.power,
        "max": np.maximum,
        "min": np.minimum,
    }

    @staticmethod
    def where_positive(condition: Array, on_true: Array, on_false: Array) -> Array:
        return np.where(condition > _ZERO, on_true, on_false)


PLANS = einsum_plan.Plans(NumpyOps())
einsum = PLANS.einsum
aligner = PLANS.aligner
binary = PLANS.binary
select = PLANS.select


# --- elementwise ---------------------------------------------------------------


def _step(x: Array) -> Array:
    return (x > _ZERO).astype(np.float32)


def _gelu(x: Array) -> Array:
    return _HALF * x * (_ONE + scipy.special.erf(x / _SQRT2))


_UNARY: dict[str, Transform] = {
    "relu": lambda x: np.maximum(x, _ZERO),
    "gelu": _gelu,
    "step": _step,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "neg": np.negative,
}


def unary(fn: str, temperature: float | None) -> Kernel:
    """`fuse.unary`. `sig` is `expit(x / T)` (stable for large |x|); T = 0 is
    the limit, `step`."""
    if fn != "sig":
        return _UNARY[fn]
    if temperature is None or temperature == 1.0:
        return scipy.special.expit
    if temperature == 0.0:
        return _step
    t = np.float32(temperature)
    return lambda x: scipy.special.expit(x / t)


# --- normalization ---------------------------------------------------------------


def softmax(axis: int) -> Kernel:
    """Stable softmax: subtract the row maximum before exponentiating."""

    def run(x: Array) -> Array:
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    return run


def masked_softmax(axis: int) -> Kernel:
    """Softmax over the positions where mask > 0. Masked positions become
    -inf before the exponential (so they contribute exactly 0); a row with
    no valid position has maximum -inf and sum 0, and comes out all zeros."""

    def run(x: Array, mask: Array) -> Array:
        masked = np.where(mask > _ZERO, x, -np.inf)
        peak = masked.max(axis=axis, keepdims=True)
        e = np.exp(masked - np.where(np.isneginf(peak), _ZERO, peak))
        total = e.sum(axis=axis, keepdims=True)
        return e / np.where(total > _ZERO, total, _ONE)

    return run


def lnorm(axis: int, eps: float) -> Kernel:
    """(x - mean) / sqrt(var + eps), population variance."""
    epsilon = np.float32(eps)

    def run(x: Array) -> Array:
        centered = x - x.mean(axis=axis, keepdims=True)
        variance = np.square(centered).mean(axis=axis, keepdims=True)
        return centered / np.sqrt(variance + epsilon)

    return run


# --- structural -------------------------------------------------------------------


def take(dim: int, position: int) -> Kernel:
    """`fuse.take` as basic indexing: a view, no copy."""
    index = (slice(None),) * dim + (position,)
    return lambda x: x[index]


def concat(axis: int) -> Kernel:
    return lambda *xs: np.concatenate(xs, axis=axis)


def topk(k: int, axis: int, shape: Shape) -> Kernel:
    """Keeps the k largest entries along `axis`, zero elsewhere. A stable sort
    of -x ranks equal values by position, so ties keep the lower position."""
    if k >= shape[axis]:
        return identity

    def run(x: Array) -> Array:
        top = np.argsort(-x, axis=axis, kind="stable").take(np.arange(k), axis=axis)
        keep = np.zeros(x.shape, dtype=bool)
        np.put_along_axis(keep, top, True, axis=axis)
        return np.where(keep, x, _ZERO)

    return run


# --- sampling ---------------------------------------------------------------------


def sample(samples: int, seed: int) -> Kernel:
    """`fuse.sample`: a fresh `default_rng(seed)` per run, so a run's draw
    depends on the weights and the seed only. Weights are normalized in
    float64: `choice` checks that they sum to 1 more tightly than fp32
    rounding allows."""

    def run(weights: Array) -> Array:
        p = weights.astype(np.float64)
        p /= p.sum()
        drawn = np.random.default_rng(seed).choice(len(p), size=samples, p=p)
        return drawn.astype(np.int32)

    return run


def gather(dim: int) -> Kernel:
    return lambda x, indices: np.take(x, indices, axis=dim)


# --- index arithmetic ----------------------------------------------------------------


def window(forms: Forms, operand_shape: Shape, result_shape: Shape) -> Kernel:
    """`fuse.window`: a strided view of the operand (no copy) where the map
    does not divide, else one gather through precomputed flat positions."""
    view = strided_view(forms, operand_shape)
    if view is not None:
        itemsize = np.dtype(np.float32).itemsize
        strides = tuple(s * itemsize for s in view.strides)

        def run(x: Array) -> Array:
            flat = np.ascontiguousarray(x).reshape(-1)[view.offset :]
            return np.lib.stride_tricks.as_strided(flat, result_shape, strides, writeable=False)

        return run
    positions = flat_positions(forms, result_shape, operand_shape)
    return lambda x: np.ascontiguousarray(x).reshape(-1)[positions]


def place(forms: Forms, kind: str, operand_shape: Shape, result_shape: Shape) -> Kernel:
    """`fuse.place`: zeros with each operand element combined (sum, max or
    mean) into the element its map reaches. A place that only shifts and
    permutes (`X[i, t + 1]`) is one slice assignment."""
    offsets = placement_offsets(forms, len(operand_shape))
    if offsets is not None:
        order, lows = offsets
        region = tuple(
            slice(low, low + operand_shape[j]) for low, j in zip(lows, order, strict=True)
        )

        def shift(v: Array) -> Array:
            out = np.zeros(result_shape, dtype=v.dtype)
            out[region] = v.transpose(order)
            return out

        return shift
    table = place_table(forms, operand_shape, result_shape)
    if table.injective:
        targets = flat_positions(forms, operand_shape, result_shape).ravel()

        def assign(v: Array) -> Array:
            out = np.zeros(math.prod(result_shape), dtype=v.dtype)
            out[targets] = v.reshape(-1)
            return out.reshape(result_shape)

        return assign
    reached = table.counts > 0
    fill = -np.inf if kind == "max" else 0.0

    def combine(v: Array) -> Array:
        padded = np.concatenate([v.reshape(-1), np.array([fill], dtype=v.dtype)])
        gathered = padded[table.sources]
        if kind == "max":
            out = np.where(reached, gathered.max(axis=1), _ZERO)
        else:
            out = gathered.sum(axis=1)
            if kind == "mean":
                out = out / np.maximum(table.counts, 1).astype(v.dtype)
        return out.astype(v.dtype, copy=False).reshape(result_shape)

    return combine
