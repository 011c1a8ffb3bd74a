"""`fuse.einsum` planned once from static shapes, for any array library.

The NumPy and Torch backends contract the same way; only the array calls
differ, so the plan lives here and each backend supplies an `ArrayOps`
(NumPy arrays; torch tensors, or `torch.fx` proxies while a graph is
traced). Every contraction is planned once:

* a letter repeated within one operand (a diagonal) is taken first, so the
  rest of the plan sees distinct letters per operand;
* sum, one operand: a sum over the projected axes and a transpose;
* sum, two operands: letters only one side needs are summed out first; if
  nothing is contracted the product is a broadcast multiply; otherwise both
  sides are transposed and reshaped to `[batch,] rows, k` and
  `[batch,] k, cols`, multiplied with one (batched) matmul, and the product
  is reshaped and transposed to the output;
* sum, three or more operands: pairwise steps in the order of the op's
  `path` (opt_einsum's format; the verifier has checked it), or of a path
  opt_einsum chooses at compile time;
* mean: the sum divided by the number of projected positions;
* max: the broadcast product of all operands, maximized over the projected
  letters (a path does not apply: max does not distribute over a product of
  values of either sign). That product is materialized, so with a
  `block_size` (`ExecutionConfig.block_size`) it is computed in blocks of
  that many positions of the output's first letter, bounding its memory.

Also here, because every kernel of both backends uses them: `relayout`
(transpose then reshape, skipping no-op halves), `aligner` (an operand laid
out along an output for broadcasting) and `compose`. `Plans` binds all of
it to one backend's `ArrayOps`, and builds with it the other ops that are
operands aligned along an output: `fuse.binary` and `fuse.select`. Each
backend's kernels module holds one `Plans`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import opt_einsum

from fuse.lowering.subscripts import Alignment, align, alignments

Array = Any  # an array of the backend's library
Kernel = Callable[..., Array]
Transform = Callable[[Array], Array]
Shape = tuple[int, ...]
Sizes = dict[str, int]
Path = Sequence[Sequence[int]]


class ArrayOps(Protocol):
    """The array calls a planned einsum and an aligned elementwise op make."""

    def transpose(self, x: Array, permutation: tuple[int, ...]) -> Array: ...
    def reshape(self, x: Array, shape: Shape) -> Array: ...
    def sum(self, x: Array, axes: tuple[int, ...]) -> Array: ...
    def amax(self, x: Array, axes: tuple[int, ...]) -> Array: ...
    def matmul(self, a: Array, b: Array) -> Array: ...
    def multiply(self, a: Array, b: Array) -> Array: ...
    def divide(self, x: Array, count: int) -> Array: ...
    def concatenate(self, arrays: Sequence[Array], axis: int) -> Array: ...
    def diagonal(self, spec: str, x: Array) -> Array:
        """A one-operand einsum such as `"iij->ij"`."""
        ...

    # The elementwise ops (`Plans.binary`, `Plans.select`).
    binary: Mapping[str, Callable[[Array, Array], Array]]  # by `fuse.binary` function name

    def where_positive(self, condition: Array, on_true: Array, on_false: Array) -> Array:
        """`where(condition > 0, on_true, on_false)`."""
        ...


# --- layout --------------------------------------------------------------------


def identity(x: Array) -> Array:
    return x


def compose(first: Transform, second: Transform) -> Transform:
    """`second(first(x))`, without a call layer for an identity."""
    if first is identity:
        return second
    if second is identity:
        return first
    return lambda x: second(first(x))


def relayout(
    ops: ArrayOps, permutation: tuple[int, ...], shape: Shape, new_shape: Shape
) -> Transform:
    """Transpose by `permutation`, then reshape to `new_shape`, for an array
    of static `shape`, skipping whichever half is a no-op."""
    transpose = permutation != tuple(range(len(permutation)))
    reshape = tuple(shape[d] for d in permutation) != new_shape
    if transpose and reshape:
        return lambda x: ops.reshape(ops.transpose(x, permutation), new_shape)
    if transpose:
        return lambda x: ops.transpose(x, permutation)
    if reshape:
        return lambda x: ops.reshape(x, new_shape)
    return identity


def aligner(
    ops: ArrayOps, alignment: Alignment, shape: Shape, *, leading_ones: bool = True
) -> Transform:
    """Lays an operand of static `shape` out along an output's dimensions,
    so that broadcasting does the rest. With `leading_ones=False`, size-1
    dimensions that would only lead are left out (broadcasting adds them;
    torch graphs get one node fewer). NumPy keeps them: a `scipy.sparse`
    operand broadcasts against a 2-D array but not against a scalar."""
    permutation = alignment.permutation
    permuted = tuple(shape[d] for d in permutation)
    template = alignment.shape_template
    if not leading_ones and all(d is None for d in template[len(template) - len(shape) :]):
        return relayout(ops, permutation, shape, permuted)
    return relayout(ops, permutation, shape, alignment.expanded_shape(permuted))


# --- einsum --------------------------------------------------------------------


@dataclass(frozen=True)
class Plans:
    """The planners above bound to one backend's array calls, and to its
    choice of `leading_ones` for operands aligned along an output (see
    `aligner`): each backend's kernels module holds one."""

    ops: ArrayOps
    leading_ones: bool = True

    def aligner(self, alignment: Alignment, shape: Shape) -> Transform:
        return aligner(self.ops, alignment, shape, leading_ones=self.leading_ones)

    def binary(self, fn: str, subscripts: str, shapes: Sequence[Shape]) -> Kernel:
        """`fuse.binary`: operands aligned to the output letters, then one op."""
        return self._aligned(self.ops.binary[fn], subscripts, shapes)

    def select(self, subscripts: str, shapes: Sequence[Shape]) -> Kernel:
        """`fuse.select`: where(condition > 0, on_true, on_false), aligned."""
        return self._aligned(self.ops.where_positive, subscripts, shapes)

    def _aligned(self, combine: Kernel, subscripts: str, shapes: Sequence[Shape]) -> Kernel:
        """Each operand of `subscripts` laid out along the output letters,
        then `combine`. Specialized by arity (two or three operands), so a
        run is one call per layout and one of `combine`."""
        plans, _ = alignments(subscripts)
        layouts = [self.aligner(plan, shape) for plan, shape in zip(plans, shapes, strict=True)]
        if len(layouts) == 2:
            lhs, rhs = layouts
            return lambda x, y: combine(lhs(x), rhs(y))
        first, second, third = layouts
        return lambda x, y, z: combine(first(x), second(y), third(z))

    def einsum(
        self,
        inputs: Sequence[str],
        output: str,
        shapes: Sequence[Shape],
        kind: str,
        path: Path | None = None,
        block_size: int | None = None,
    ) -> Kernel:
        """The kernel of one `fuse.einsum` with at least one operand."""
        sizes = {
            c: n
            for letters, shape in zip(inputs, shapes, strict=True)
            for c, n in zip(letters, shape, strict=True)
        }
        planner, ops = _Planner(self.ops, sizes), self.ops
        diagonals = [planner.diagonal(letters) for letters in inputs]
        distinct = [letters for _, letters in diagonals]
        if kind == "max":
            body = planner.max_product(distinct, output, block_size)
        else:
            body = planner.sum(distinct, output, path)
            count = math.prod(sizes[c] for c in set("".join(distinct)) - set(output))
            if kind == "mean" and count != 1:
                summed = body
                body = lambda *xs: ops.divide(summed(*xs), count)  # noqa: E731
        takes = [take for take, _ in diagonals]
        if all(take is identity for take in takes):
            return body
        return lambda *xs: body(*(take(x) for take, x in zip(takes, xs, strict=True)))


class _Planner:
    """Builds the kernels of one einsum from the sizes of its letters."""

    def __init__(self, ops: ArrayOps, sizes: Sizes):
        self.ops = ops
        self.sizes = sizes

    def shape(self, letters: str) -> Shape:
        return tuple(self.sizes[c] for c in letters)

    def diagonal(self, letters: str) -> tuple[Transform, str]:
        """A repeated letter within one operand: `iij -> ij`."""
        distinct = "".join(dict.fromkeys(letters))
        if distinct == letters:
            return identity, letters
        spec, ops = f"{letters}->{distinct}", self.ops
        return (lambda x: ops.diagonal(spec, x)), distinct

    def reorder(self, source: str, target: str, shape: Shape | None = None) -> Transform:
        """Letters `source` into `target` order, then reshaped to `shape`."""
        permutation = tuple(source.index(c) for c in target)
        new_shape = self.shape(target) if shape is None else shape
        return relayout(self.ops, permutation, self.shape(source), new_shape)

    def summed(self, letters: str, drop: str) -> tuple[Transform, str]:
        """Sums `drop` out of an operand with `letters`; the letters left."""
        axes = tuple(n for n, c in enumerate(letters) if c in drop)
        kept = "".join(c for c in letters if c not in drop)
        if not axes:
            return identity, letters
        ops = self.ops
        return (lambda x: ops.sum(x, axes)), kept

    def sum(self, inputs: Sequence[str], output: str, path: Path | None) -> Kernel:
        if len(inputs) == 1:
            summed, kept = self.summed(inputs[0], "".join(c for c in inputs[0] if c not in output))
            return compose(summed, self.reorder(kept, output))
        if len(inputs) == 2:
            return self.pairwise(inputs[0], inputs[1], output)
        if path is None:
            subscripts = f"{','.join(inputs)}->{output}"
            shapes = [self.shape(letters) for letters in inputs]
            path, _ = opt_einsum.contract_path(subscripts, *shapes, shapes=True)
        return self.along_path(inputs, output, path)

    def pairwise(self, a: str, b: str, output: str) -> Kernel:
        ops = self.ops
        sum_a, a = self.summed(a, "".join(c for c in a if c not in b + output))
        sum_b, b = self.summed(b, "".join(c for c in b if c not in a + output))
        contracted = "".join(c for c in a if c in b and c not in output)
        if not contracted:
            left = compose(sum_a, aligner(ops, align(a, output), self.shape(a)))
            right = compose(sum_b, aligner(ops, align(b, output), self.shape(b)))
            return lambda x, y: ops.multiply(left(x), right(y))
        batch = "".join(c for c in output if c in a and c in b)
        rows = "".join(c for c in a if c not in b)
        cols = "".join(c for c in b if c not in a)
        lead = (math.prod(self.shape(batch)),) if batch else ()
        k = math.prod(self.shape(contracted))
        m, n = math.prod(self.shape(rows)), math.prod(self.shape(cols))
        left = compose(sum_a, self.reorder(a, batch + rows + contracted, (*lead, m, k)))
        right = compose(sum_b, self.reorder(b, batch + contracted + cols, (*lead, k, n)))
        product = batch + rows + cols
        unflatten = relayout(ops, tuple(range(len(lead) + 2)), (*lead, m, n), self.shape(product))
        finish = compose(unflatten, self.reorder(product, output))
        return lambda x, y: finish(ops.matmul(left(x), right(y)))

    def along_path(self, inputs: Sequence[str], output: str, path: Path) -> Kernel:
        """Contracts groups of operands in path order; each result goes to
        the end of the operand list and keeps only the letters still needed."""
        live = list(inputs)
        steps: list[tuple[tuple[int, ...], tuple[int, ...], Kernel]] = []
        for group in path:
            members = tuple(group)
            rest = tuple(n for n in range(len(live)) if n not in members)
            needed = set(output).union(*(live[n] for n in rest))
            joined = dict.fromkeys("".join(live[n] for n in members))
            kept = "".join(c for c in joined if c in needed) if rest else output
            steps.append((members, rest, self.sum([live[n] for n in members], kept, None)))
            live = [*(live[n] for n in rest), kept]

        def run(*arrays: Array) -> Array:
            values = arrays
            for members, rest, kernel in steps:
                result = kernel(*(values[n] for n in members))
                values = (*(values[n] for n in rest), result)
            return values[0]

        return run

    def max_product(self, inputs: Sequence[str], output: str, block_size: int | None) -> Kernel:
        ops = self.ops
        projected = "".join(c for c in dict.fromkeys("".join(inputs)) if c not in output)
        full = output + projected
        layouts = [aligner(ops, align(letters, full), self.shape(letters)) for letters in inputs]
        axes = tuple(range(len(output), len(full)))

        def whole(*arrays: Array) -> Array:
            product = functools.reduce(
                ops.multiply, (layout(x) for layout, x in zip(layouts, arrays, strict=True))
            )
            return ops.amax(product, axes) if axes else product

        rows = self.sizes[output[0]] if output else 0
        if block_size is None or not axes or rows <= block_size:
            return whole
        blocked = [output[0] in letters for letters in inputs]

        def in_blocks(*arrays: Array) -> Array:
            laid_out = [layout(x) for layout, x in zip(layouts, arrays, strict=True)]
            parts = []
            for start in range(0, rows, block_size):
                block = [
                    x[start : start + block_size] if cut else x
                    for x, cut in zip(laid_out, blocked, strict=True)
                ]
                parts.append(ops.amax(functools.reduce(ops.multiply, block), axes))
            return ops.concatenate(parts, 0)

        return in_blocks
