"""`fuse.einsum` as torch matmuls planned at compile time.

The plan is the NumPy backend's (`fuse.lowering.numpy.einsum`), so both
backends contract in the same order and round alike:

* a letter repeated within one operand (a diagonal) is taken first, as a
  view (`torch.einsum("iij->ij", x)`);
* sum, one operand: `x.sum(dims)` and a permute;
* sum, two operands: letters only one side needs are summed out first; if
  nothing is contracted the product is a broadcast multiply; otherwise both
  sides are permuted and reshaped to `[batch,] rows, k` and
  `[batch,] k, cols`, multiplied with `torch.matmul` and reshaped and
  permuted to the output. In the FX graph a plain `x @ w` is one node;
* sum, three or more operands: pairwise steps in the order of the op's
  `path` (opt_einsum's format, written by `fuse-einsum-path`), or of a path
  opt_einsum chooses at compile time;
* mean: the sum divided by the number of projected positions;
* max: the broadcast product of all operands, `amax` over the projected
  letters (a contraction path does not apply: max does not distribute over
  a product of values of either sign).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import opt_einsum
import torch

from fuse.lowering.subscripts import align

from .kernels import Kernel, Shape, Tensor, Transform, aligner, compose, identity, relayout

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
            count = math.prod(sizes[c] for c in set("".join(distinct)) - set(output))
            body = _mean(body, count)
    takes = [take for take, _ in diagonals]
    if all(take is identity for take in takes):
        return body
    return lambda *xs: body(*(take(x) for take, x in zip(takes, xs, strict=True)))


def _mean(body: Kernel, count: int) -> Kernel:
    if count == 1:
        return body
    return lambda *xs: body(*xs) / count


def _diagonal(letters: str) -> tuple[Transform, str]:
    distinct = "".join(dict.fromkeys(letters))
    if distinct == letters:
        return identity, letters
    spec = f"{letters}->{distinct}"
    return (lambda x: torch.einsum(spec, x)), distinct


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


def _summed(letters: str, drop: str) -> tuple[Transform, str]:
    """Sums `drop` out of an operand with `letters`; the letters left."""
    dims = tuple(n for n, c in enumerate(letters) if c in drop)
    kept = "".join(c for c in letters if c not in drop)
    if not dims:
        return identity, letters
    return (lambda x: x.sum(dim=dims)), kept


def _reorder(source: str, target: str, sizes: Sizes, shape: Shape | None = None) -> Transform:
    permutation = tuple(source.index(c) for c in target)
    new_shape = _shape(target, sizes) if shape is None else shape
    return relayout(permutation, _shape(source, sizes), new_shape)


def _reduce(letters: str, output: str, sizes: Sizes) -> Kernel:
    summed, kept = _summed(letters, "".join(c for c in letters if c not in output))
    return compose(summed, _reorder(kept, output, sizes))


def _pairwise(a: str, b: str, output: str, sizes: Sizes) -> Kernel:
    sum_a, a = _summed(a, "".join(c for c in a if c not in b + output))
    sum_b, b = _summed(b, "".join(c for c in b if c not in a + output))
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
    reshape = relayout(tuple(range(len(lead) + 2)), (*lead, m, n), _shape(product, sizes))
    finish = compose(reshape, _reorder(product, output, sizes))
    return lambda x, y: finish(torch.matmul(left(x), right(y)))


def _along_path(inputs: Sequence[str], output: str, sizes: Sizes, path: Path) -> Kernel:
    """Contracts groups of operands in path order; each result goes to the
    end of the operand list and keeps only the letters still needed. (The
    op's verifier has checked that the path contracts every operand.)"""
    live = list(inputs)
    steps: list[tuple[tuple[int, ...], tuple[int, ...], Kernel]] = []
    for group in path:
        members = tuple(group)
        rest = tuple(n for n in range(len(live)) if n not in members)
        needed = set(output).union(*(live[n] for n in rest))
        joined = dict.fromkeys("".join(live[n] for n in members))
        kept = "".join(c for c in joined if c in needed) if rest else output
        steps.append((members, rest, _sum([live[n] for n in members], kept, sizes, None)))
        live = [*(live[n] for n in rest), kept]

    def run(*tensors: Tensor) -> Tensor:
        live = tensors
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
    dims = tuple(range(len(output), len(full)))

    def run(*tensors: Tensor) -> Tensor:
        product = functools.reduce(
            torch.mul, (layout(x) for layout, x in zip(layouts, tensors, strict=True))
        )
        return product.amax(dim=dims) if dims else product

    return run
