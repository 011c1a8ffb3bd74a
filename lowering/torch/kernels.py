"""Torch kernels for the dataflow ops other than einsum and fixpoint.

Every builder takes what is static about its op (function name, axes,
alignment plans, shapes, element type) and returns a function of tensors.
The graph builder calls those functions on `torch.fx.Proxy` values, so the
torch calls they make are recorded as nodes of the FX graph: the kernels are
plain straight-line torch code, and the graph is exactly what they do. That
is why nothing here reads a tensor's `.shape` or `.dtype` or branches on
data: those are known statically and passed in.

Semantics follow the NumPy backend (`fuse.lowering.numpy.kernels`), the
reference: `step` is `x > 0`, `sig` is `sigmoid(x / T)` with `T = 0` being
`step`, `gelu` is the exact erf form, a fully masked softmax row is zeros,
`lnorm` uses the population variance, `topk` breaks ties by lower position.

Precision: with a reduced-precision compute type, normalizations run in
fp32 and cast back (their sums and variances are where bf16 loses most).
Einsum and reduction kernels rely on torch's own fp32 accumulation for
reduced-precision matmuls and sums.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from fuse.lowering.subscripts import Alignment, alignments

Tensor = torch.Tensor
Kernel = Callable[..., Tensor]
Transform = Callable[[Tensor], Tensor]
Shape = tuple[int, ...]


# --- alignment ---------------------------------------------------------------


def identity(x: Tensor) -> Tensor:
    return x


def relayout(permutation: tuple[int, ...], shape: Shape, new_shape: Shape) -> Transform:
    """`x.permute(permutation).reshape(new_shape)` for an `x` of static
    `shape`, skipping whichever half is a no-op."""
    permute = permutation != tuple(range(len(permutation)))
    reshape = tuple(shape[d] for d in permutation) != new_shape
    if permute and reshape:
        return lambda x: x.permute(permutation).reshape(new_shape)
    if permute:
        return lambda x: x.permute(permutation)
    if reshape:
        return lambda x: x.reshape(new_shape)
    return identity


def compose(first: Transform, second: Transform) -> Transform:
    """`second(first(x))`, without a layer for an identity."""
    if first is identity:
        return second
    if second is identity:
        return first
    return lambda x: second(first(x))


def aligner(alignment: Alignment, shape: Shape) -> Transform:
    """Lays an operand of static `shape` out along the output's dimensions
    so that broadcasting does the rest (a permuted, reshaped view)."""
    permutation = alignment.permutation
    permuted = tuple(shape[d] for d in permutation)
    template = alignment.shape_template
    if all(d is None for d in template[len(template) - len(shape) :]):
        # Inserted dims lead: broadcasting adds them, so no reshape is needed.
        return relayout(permutation, shape, permuted)
    return relayout(permutation, shape, alignment.expanded_shape(permuted))


def aligners(subscripts: str, shapes: Sequence[Shape]) -> list[Transform]:
    plans, _ = alignments(subscripts)
    return [aligner(plan, shape) for plan, shape in zip(plans, shapes, strict=True)]


def in_fp32(kernel: Kernel, dtype: torch.dtype) -> Kernel:
    """`kernel` computed in fp32 and cast back to `dtype`."""
    if dtype == torch.float32:
        return kernel
    return lambda *xs: kernel(*(x.float() for x in xs)).to(dtype)


# --- elementwise ---------------------------------------------------------------

_BINARY: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
    "max": torch.maximum,
    "min": torch.minimum,
}


def binary(fn: str, subscripts: str, shapes: Sequence[Shape]) -> Kernel:
    """`fuse.binary`: operands aligned to the output letters, then one op."""
    op = _BINARY[fn]
    lhs, rhs = aligners(subscripts, shapes)
    return lambda x, y: op(lhs(x), rhs(y))


def select(subscripts: str, shapes: Sequence[Shape]) -> Kernel:
    """`fuse.select`: where(condition > 0, on_true, on_false), aligned."""
    cond, on_true, on_false = aligners(subscripts, shapes)
    return lambda c, t, f: torch.where(cond(c) > 0, on_true(t), on_false(f))


def step(dtype: torch.dtype) -> Kernel:
    return lambda x: (x > 0).to(dtype)


_UNARY: dict[str, Transform] = {
    "relu": torch.relu,
    "gelu": torch.nn.functional.gelu,  # approximate="none": the erf form
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sin": torch.sin,
    "cos": torch.cos,
    "neg": torch.neg,
}


def unary(fn: str, temperature: float | None, dtype: torch.dtype) -> Kernel:
    """`fuse.unary`. `sig` is `sigmoid(x / T)`; T = 0 is the limit, `step`."""
    if fn == "step" or (fn == "sig" and temperature == 0.0):
        return step(dtype)
    if fn != "sig":
        return _UNARY[fn]
    if temperature is None or temperature == 1.0:
        return torch.sigmoid
    return lambda x: torch.sigmoid(x / temperature)


# --- normalization ---------------------------------------------------------------


def softmax(axis: int, dtype: torch.dtype) -> Kernel:
    return in_fp32(lambda x: torch.softmax(x, dim=axis), dtype)


def masked_softmax(axis: int, dtype: torch.dtype) -> Kernel:
    """Softmax over the positions where mask > 0. Masked positions become
    -inf before the softmax (so they contribute exactly 0, and get no
    gradient); a row with no valid position comes out all zeros (torch's
    softmax gives NaN there, which the last `where` replaces)."""

    def run(x: Tensor, mask: Tensor) -> Tensor:
        valid = mask > 0
        y = torch.softmax(torch.where(valid, x, -math.inf), dim=axis)
        return torch.where(valid.any(dim=axis, keepdim=True), y, 0.0)

    return in_fp32(run, dtype)


def constant_mask_softmax(
    axis: int, dtype: torch.dtype, valid: Tensor, rows: Tensor | None
) -> Kernel:
    """`masked_softmax` with a compile-time mask (a causal mask, a literal):
    `valid` is its Boolean form and `rows` where a row has any valid
    position (None: every row has one), both precomputed buffers, so a run
    costs what the hand-written `softmax(where(mask, x, -inf))` does. The
    mask operand itself is not read."""

    def run(x: Tensor, mask: Tensor) -> Tensor:
        y = torch.softmax(torch.where(valid, x, -math.inf), dim=axis)
        return y if rows is None else torch.where(rows, y, 0.0)

    return in_fp32(run, dtype)


def lnorm(axis: int, eps: float, dtype: torch.dtype) -> Kernel:
    """(x - mean) / sqrt(var + eps), population variance."""

    def run(x: Tensor) -> Tensor:
        centered = x - x.mean(dim=axis, keepdim=True)
        variance = centered.square().mean(dim=axis, keepdim=True)
        return centered / torch.sqrt(variance + eps)

    return in_fp32(run, dtype)


# --- structural -------------------------------------------------------------------


def take(dim: int, position: int) -> Kernel:
    """`fuse.take`: a view, no copy."""
    return lambda x: x.select(dim, position)


def concat(axis: int) -> Kernel:
    return lambda *xs: torch.cat(xs, dim=axis)


def topk(k: int, axis: int, shape: Shape) -> Kernel:
    """Keeps the k largest entries along `axis`, zero elsewhere. A stable
    descending sort ranks equal values by position, so ties keep the lower
    position (`torch.topk` does not promise an order among ties)."""
    if k >= shape[axis]:
        return identity

    def run(x: Tensor) -> Tensor:
        order = torch.sort(x, dim=axis, descending=True, stable=True).indices
        top = order.narrow(axis, 0, k)
        keep = torch.zeros_like(x, dtype=torch.bool).scatter(axis, top, True)
        return torch.where(keep, x, 0.0)

    return run
