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

from fuse.lowering import einsum_plan
from fuse.lowering.affine_access import Forms
from fuse.lowering.einsum_plan import identity

Tensor = torch.Tensor
Kernel = Callable[..., Tensor]
Transform = Callable[[Tensor], Tensor]
Shape = tuple[int, ...]


# --- einsum, alignment and aligned elementwise ops -----------------------------


class TorchOps:
    """The array calls of a planned einsum and of `fuse.binary`/`fuse.select`,
    on torch tensors (or the `torch.fx` proxies a graph is traced with)."""

    @staticmethod
    def transpose(x: Tensor, permutation: tuple[int, ...]) -> Tensor:
        return x.permute(permutation)

    @staticmethod
    def reshape(x: Tensor, shape: Shape) -> Tensor:
        return x.reshape(shape)

    @staticmethod
    def sum(x: Tensor, axes: tuple[int, ...]) -> Tensor:
        return x.sum(dim=axes)

    @staticmethod
    def amax(x: Tensor, axes: tuple[int, ...]) -> Tensor:
        return x.amax(dim=axes)

    @staticmethod
    def matmul(a: Tensor, b: Tensor) -> Tensor:
        return torch.matmul(a, b)

    @staticmethod
    def multiply(a: Tensor, b: Tensor) -> Tensor:
        return a * b

    @staticmethod
    def divide(x: Tensor, count: int) -> Tensor:
        return x / count

    @staticmethod
    def diagonal(spec: str, x: Tensor) -> Tensor:
        return torch.einsum(spec, x)

    @staticmethod
    def concatenate(arrays: Sequence[Tensor], axis: int) -> Tensor:
        return torch.cat(list(arrays), dim=axis)

    binary: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
        "add": torch.add,
        "sub": torch.sub,
        "mul": torch.mul,
        "div": torch.div,
        "pow": torch.pow,
        "max": torch.maximum,
        "min": torch.minimum,
    }

    @staticmethod
    def where_positive(condition: Tensor, on_true: Tensor, on_false: Tensor) -> Tensor:
        return torch.where(condition > 0, on_true, on_false)


PLANS = einsum_plan.Plans(TorchOps(), leading_ones=False)
einsum = PLANS.einsum
binary = PLANS.binary
select = PLANS.select


def in_fp32(kernel: Kernel, dtype: torch.dtype) -> Kernel:
    """`kernel` computed in fp32 and cast back to `dtype`."""
    if dtype == torch.float32:
        return kernel
    return lambda *xs: kernel(*(x.float() for x in xs)).to(dtype)


# --- elementwise ---------------------------------------------------------------


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
    gradient); a row with no valid position, or whose valid scores are all
    -inf, comes out all zeros (torch's softmax gives NaN there, which the
    last `where` replaces), as on the other backends."""

    def run(x: Tensor, mask: Tensor) -> Tensor:
        scores = torch.where(mask > 0, x, -math.inf)
        y = torch.softmax(scores, dim=axis)
        return torch.where(scores.amax(dim=axis, keepdim=True) == -math.inf, 0.0, y)

    return in_fp32(run, dtype)


def constant_mask_softmax(
    axis: int, dtype: torch.dtype, valid: Tensor, rows: Tensor | None
) -> Kernel:
    """`masked_softmax` with a compile-time mask (a causal mask, a literal):
    `valid` is its Boolean form and `rows` where a row has any valid
    position (None: every row has one), both precomputed buffers, so a run
    costs what the hand-written `softmax(where(mask, x, -inf))` does. The
    mask operand itself is not read. Unlike `masked_softmax`, a row whose
    valid scores are all -inf (an input that rules the row out) is NaN, as
    in torch's softmax: catching it would cost a pass over the scores."""

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


def topk(k: int, axis: int, shape: Shape, by_rank: bool = False) -> Kernel:
    """Keeps the k largest entries along `axis`, zero elsewhere. A stable
    descending sort ranks equal values by position, so ties keep the lower
    position (`torch.topk` does not promise an order among ties).

    The k first positions of the sorted order mark the entries kept. With
    `by_rank` (symbolic sizes), every entry gets its rank instead and those
    below k are kept: the first k positions are a view that is contiguous
    exactly when the size is k, which `torch.export` guards on (fixing the
    size's `Dim`); ranks hold for every size, k or fewer included."""
    if k >= shape[axis]:
        return identity

    def run(x: Tensor) -> Tensor:
        order = torch.sort(x, dim=axis, descending=True, stable=True).indices
        if by_rank:
            along = [-1 if d == axis else 1 for d in range(len(shape))]
            positions = torch.arange(shape[axis], device=x.device).view(along)
            rank = torch.empty_like(order).scatter(axis, order, positions.expand_as(order))
            keep = rank < k
        else:
            top = order.narrow(axis, 0, k)
            keep = torch.zeros_like(x, dtype=torch.bool).scatter(axis, top, True)
        return torch.where(keep, x, 0.0)

    return run


# --- sampling ---------------------------------------------------------------------


def sample(samples: int, seed: int) -> Kernel:
    """`fuse.sample` as one graph node calling `draw`: a node cannot hold a
    `torch.Generator` (FX code generation cannot spell one), so the node
    makes its own, on the weights' device, each run."""
    return lambda weights: weights.tracer.create_proxy(
        "call_function", draw, (weights, samples, seed), {}
    )


def draw(weights: Tensor, samples: int, seed: int) -> Tensor:
    """`samples` positions drawn with replacement from `weights` (sampled in
    fp32 whatever the compute type), by a generator seeded with `seed`."""
    generator = torch.Generator(weights.device).manual_seed(seed)
    drawn = torch.multinomial(weights.float(), samples, replacement=True, generator=generator)
    return drawn.int()


def gather(dim: int) -> Kernel:
    return lambda x, indices: x.index_select(dim, indices)


# --- index arithmetic ----------------------------------------------------------------


def flat_positions(
    forms: Forms, box: Shape, tensor_shape: Shape, arange: Callable[[int], Tensor]
) -> Tensor:
    """`fuse.lowering.affine_access.flat_positions` computed by torch: per
    point of `box`, the flat (C-order) position in `tensor_shape` that the
    map `forms` takes it to, as int64 (`arange(n)` makes 0 .. n-1, on the
    table's device). Recorded into a graph at probe sizes, every size in it
    is a call argument that `symbolic.generalize` makes symbolic."""
    flat = arange(1).view([1] * len(box))  # [0]: a zero of the table's rank
    for k, (coefficients, constant, divisor) in enumerate(forms):
        value: Tensor | int = constant
        for j, coefficient in enumerate(coefficients):
            if coefficient:
                along = [-1 if d == j else 1 for d in range(len(box))]
                term = arange(box[j]).view(along)
                value = value + (term if coefficient == 1 else coefficient * term)
        if divisor != 1:
            value = value // divisor
        stride = math.prod(tensor_shape[k + 1 :])
        flat = flat + (value if stride == 1 else value * stride)
    return flat.expand(box)


def window(positions: Tensor, shape: Shape) -> Kernel:
    """`fuse.window`: one `torch.take` through the precomputed flat position
    of every window element (`fuse.lowering.affine_access`); autograd
    scatters gradients back through it."""
    return lambda x: torch.take(x, positions).reshape(shape)


def shift(order: Sequence[int], pads: Sequence[int]) -> Kernel:
    """A place that only shifts and permutes: a permute and a zero
    `F.pad` (`pads` as `F.pad` takes them, last dimension first)."""
    return lambda v: torch.nn.functional.pad(v.permute(*order), tuple(pads))


_SCATTER_REDUCE = {"sum": "sum", "max": "amax", "mean": "mean"}


def place(targets: Tensor, kind: str, size: int, shape: Shape) -> Kernel:
    """`fuse.place`: zeros with every operand element combined into the
    flat position `targets` gives it; `include_self=False` leaves elements
    no operand element reaches at zero."""
    reduce = _SCATTER_REDUCE[kind]
    return lambda v: (
        v.new_zeros(size)
        .scatter_reduce(0, targets, v.reshape(-1), reduce, include_self=False)
        .reshape(shape)
    )
