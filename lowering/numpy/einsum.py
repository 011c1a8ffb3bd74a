"""`fuse.einsum` as BLAS calls planned at compile time.

`np.einsum` re-parses its subscripts and re-plans on every call, and runs
most contractions in its own loops rather than BLAS. Here every contraction
is planned once, from the static shapes:

* a letter repeated within one operand (a diagonal) is taken first, as a
  view, so the rest of the plan sees distinct letters per operand;
* sum, one operand: `x.sum(axes)` and a transpose;
* sum, two operands: letters only one side needs are summed out first; if
  nothing is contracted the product is a broadcast multiply; otherwise both
  sides are transposed and reshaped to `[batch,] rows, k` and
  `[batch,] k, cols`, multiplied with `@` (gemm, batched for shared output
  letters) and the product is reshaped and transposed to the output;
* sum, three or more operands: pairwise steps in the order of the op's
  `path` (opt_einsum's "contract path" format), or of a path opt_einsum
  chooses at compile time;
* mean: the sum divided by the number of projected positions;
* max: the broadcast product of all operands, maximized over the projected
  letters. A contraction path does not apply: max does not distribute over a
  product of values of either sign.

These kernels see dense arrays only; `sparse.py` has the kernels for
operands that may be `scipy.sparse` relations.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import opt_einsum

from fuse.errors import FuseError
from fuse.lowering.subscripts import align

from .kernels import Array, Kernel, Shape, Transform, aligner, compose, identity, relayout

Sizes = dict[str, int]
Path = Sequence[Sequence[int]]


def einsum(
    inputs: Sequence[str],
    output: str,
    shapes: Sequence[Shape],
    kind: str,
    path: Path | None = None,
) -> Kernel:
    """The kernel of one `fuse.einsum` with at least one operand."""
    sizes = {
        c: n
        for letters, shape in zip(inputs, shapes, strict=True)
        for c, n in zip(letters, shape, strict=True)
    }
    diagonals = [_diagonal(letters) for letters in inputs]
    distinct = [letters for _, letters in diagonals]
    if kind == "max":
        body = _max_product(distinct, output, sizes)
    else:
        body = _sum(distinct, output, sizes, path)
        if kind == "mean":
            body = _mean(body, math.prod(sizes[c] for c in set("".join(distinct)) - set(output)))
    takes = [take for take, _ in diagonals]
    if all(take is identity for take in takes):
        return body
    return lambda *xs: body(*(take(x) for take, x in zip(takes, xs, strict=True)))


def _mean(body: Kernel, count: int) -> Kernel:
    """The sum over `count` projected positions, divided by `count`."""
    if count == 1:
        return body
    divisor = np.float32(count)
    return lambda *xs: body(*xs) / divisor


def _diagonal(letters: str) -> tuple[Transform, str]:
    """A repeated letter within one operand: `iij -> ij` as a strided view."""
    distinct = "".join(dict.fromkeys(letters))
    if distinct == letters:
        return identity, letters
    spec = f"{letters}->{distinct}"
    return (lambda x: np.einsum(spec, x)), distinct


def _shape(letters: str, sizes: Sizes) -> Shape:
    return tuple(sizes[c] for c in letters)


# --- sum -------------------------------------------------------------------------


def _sum(inputs: Sequence[str], output: str, sizes: Sizes, path: Path | None) -> Kernel:
    if len(inputs) == 1:
        return _reduce(inputs[0], output, sizes)
    if len(inputs) == 2:
        return _pairwise(inputs[0], inputs[1], output, sizes)
    if path is None:
        subscripts = f"{','.join(inputs)}->{output}"
        shapes = [_shape(letters, sizes) for letters in inputs]
        path, _ = opt_einsum.contract_path(subscripts, *shapes, shapes=True)
    return _along_path(inputs, output, sizes, path)


def _summed(letters: str, drop: str, sizes: Sizes) -> tuple[Transform, str]:
    """Sums `drop` out of an operand with `letters`; the letters left."""
    axes = tuple(n for n, c in enumerate(letters) if c in drop)
    kept = "".join(c for c in letters if c not in drop)
    if not axes:
        return identity, letters
    return (lambda x: x.sum(axis=axes)), kept


def _reorder(source: str, target: str, sizes: Sizes, shape: Shape | None = None) -> Transform:
    """Transposes letters `source` into `target` order, then reshapes to
    `shape` (default: no reshape)."""
    permutation = tuple(source.index(c) for c in target)
    new_shape = _shape(target, sizes) if shape is None else shape
    return relayout(permutation, _shape(source, sizes), new_shape)


def _reduce(letters: str, output: str, sizes: Sizes) -> Kernel:
    summed, kept = _summed(letters, "".join(c for c in letters if c not in output), sizes)
    return compose(summed, _reorder(kept, output, sizes))


def _pairwise(a: str, b: str, output: str, sizes: Sizes) -> Kernel:
    sum_a, a = _summed(a, "".join(c for c in a if c not in b + output), sizes)
    sum_b, b = _summed(b, "".join(c for c in b if c not in a + output), sizes)
    contracted = "".join(c for c in a if c in b and c not in output)
    if not contracted:
        left = compose(sum_a, aligner(align(a, output), _shape(a, sizes)))
        right = compose(sum_b, aligner(align(b, output), _shape(b, sizes)))
        return lambda x, y: left(x) * right(y)
    batch = "".join(c for c in output if c in a and c in b)
    rows = "".join(c for c in a if c not in b)
    cols = "".join(c for c in b if c not in a)
    lead = (math.prod(_shape(batch, sizes)),) if batch else ()
    k = math.prod(_shape(contracted, sizes))
    m, n = math.prod(_shape(rows, sizes)), math.prod(_shape(cols, sizes))
    left = compose(sum_a, _reorder(a, batch + rows + contracted, sizes, (*lead, m, k)))
    right = compose(sum_b, _reorder(b, batch + contracted + cols, sizes, (*lead, k, n)))
    product = batch + rows + cols
    finish = compose(
        _reshape((*lead, m, n), _shape(product, sizes)), _reorder(product, output, sizes)
    )
    return lambda x, y: finish(left(x) @ right(y))


def _reshape(shape: Shape, new_shape: Shape) -> Transform:
    return identity if shape == new_shape else lambda x: x.reshape(new_shape)


def _along_path(inputs: Sequence[str], output: str, sizes: Sizes, path: Path) -> Kernel:
    """Contracts groups of operands in path order; each result goes to the
    end of the operand list and keeps only the letters still needed."""
    live = list(inputs)
    steps: list[tuple[tuple[int, ...], tuple[int, ...], Kernel]] = []
    for group in path:
        members = tuple(group)
        if len(set(members)) != len(members) or not all(0 <= n < len(live) for n in members):
            raise FuseError(
                f"fuse.einsum path step {list(members)} is invalid for {len(live)} operands"
            )
        rest = tuple(n for n in range(len(live)) if n not in members)
        needed = set(output).union(*(live[n] for n in rest))
        joined = dict.fromkeys("".join(live[n] for n in members))
        kept = "".join(c for c in joined if c in needed) if rest else output
        steps.append((members, rest, _sum([live[n] for n in members], kept, sizes, None)))
        live = [*(live[n] for n in rest), kept]
    if len(live) != 1:
        raise FuseError(f"fuse.einsum path leaves {len(live)} operands uncontracted")

    def run(*arrays: Array) -> Array:
        live = arrays
        for members, rest, kernel in steps:
            result = kernel(*(live[n] for n in members))
            live = (*(live[n] for n in rest), result)
        return live[0]

    return run


# --- max -------------------------------------------------------------------------


def _max_product(inputs: Sequence[str], output: str, sizes: Sizes) -> Kernel:
    projected = "".join(c for c in dict.fromkeys("".join(inputs)) if c not in output)
    full = output + projected
    layouts = [aligner(align(letters, full), _shape(letters, sizes)) for letters in inputs]
    axes = tuple(range(len(output), len(full)))

    def run(*arrays: Array) -> Array:
        product = functools.reduce(
            np.multiply, (layout(x) for layout, x in zip(layouts, arrays, strict=True))
        )
        return product.max(axis=axes) if axes else product

    return run
