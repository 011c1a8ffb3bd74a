"""The ranges of a rule's index variables under index arithmetic.

A rule whose accesses are all plain (names and integers) sizes its indices
as `fuse-infer-shapes` always did: an index is as long as the dimensions it
names, and two different lengths are an error. A rule with an affine access
or a slice (docs/index_arithmetic.md) gives each variable the values for
which every access that uses it stays in bounds (a "valid" convolution):

* a variable alone in a position of a tensor of size N starts from
  `0 .. N-1`; a slice `j in 2:8` also caps `j` at `0 .. 5`;
* an affine position `(sum(c * v) + c0) floordiv d` in a dimension of size
  N needs `0 <= sum(c * v) + c0 <= d * N - 1` for every value of the other
  variables, which narrows each variable given the others' ranges;
* narrowing repeats until nothing changes.

On the left-hand side, a variable that nothing on the right-hand side
bounds ranges over its dimension (as in a plain rule); every other position
only needs to be at least 0, and the tensor is as long as the largest
position its rules write (`fuse-infer-shapes`), whatever order they come in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import DYNAMIC_INDEX, DictionaryAttr, IntegerAttr, TensorType

from fuse.dialects.fuse import LiteralOp, LoadOp, ProgramOp, RuleOp, SinkOp
from fuse.dialects.fuse.affine import AffineIndex, IndexPosition, SliceIndex, as_affine
from fuse.dialects.fuse.scan import STEPS

from .dependencies import dependency_graph, strongly_connected_components
from .expr_tree import body_ops


@dataclass(frozen=True)
class Range:
    """The values `start .. start + size - 1` of an index variable."""

    start: int
    size: int

    @property
    def last(self) -> int:
        return self.start + self.size - 1


class EmptyRange(Exception):
    """No value of a variable keeps every access in bounds."""

    def __init__(self, variable: str, low: int, high: int):
        super().__init__(
            f"index '{variable}' has no value that keeps every access in bounds "
            f"(it would range over {low}..{high})"
        )
        self.variable = variable


def is_affine_rule(op: RuleOp | SinkOp) -> bool:
    """Whether a rule or sink uses index arithmetic or slices anywhere."""
    if isinstance(op, RuleOp) and not op.indices.is_plain:
        return True
    return any(isinstance(o, LoadOp) and not o.indices.is_plain for o in body_ops(op.body))


def ranged_tensors(program: ProgramOp) -> set[str]:
    """The tensors with a rule that uses index arithmetic, and those
    recursive together with one: all their rules range their indices. A
    plain `Y[i] = A[i]` beside `Y[i] += B[i+1]` grows `Y` to hold both,
    whatever their order; and in the paper's GNN, `Z[n, l, e] = relu(W_P[l,
    e, d] Emb[n, l, d])` takes the L layers `W_P` has from the L + 1 of
    `Emb[n, l+1, d]`, which reads `Z` back, instead of demanding one size
    for `l`."""
    affine = {
        op.tensor_name
        for op in program.body.block.ops
        if isinstance(op, RuleOp) and is_affine_rule(op)
    }
    if not affine:
        return affine
    graph = dependency_graph(program)
    ranged = set(affine)
    for component in strongly_connected_components(graph):
        if len(component) > 1 and affine.intersection(component):
            ranged.update(component)
    return ranged


def is_ranged(op: RuleOp | SinkOp, ranged: set[str]) -> bool:
    """Whether `op` ranges its indices (`ranged`: `ranged_tensors` of its
    program, which holds the tensor of every affine rule, so a rule's body
    need not be walked again: compile time on large programs)."""
    if isinstance(op, RuleOp):
        return op.tensor_name in ranged
    return is_affine_rule(op)


def _shape(program: ProgramOp, tensor: str) -> tuple[int, ...]:
    declaration = program.lookup_tensor(tensor)
    assert declaration is not None, "the verifier checks declarations"
    return tuple(declaration.tensor_type.get_shape())


def accesses(
    op: RuleOp | SinkOp, program: ProgramOp
) -> Iterator[tuple[Sequence[IndexPosition], Sequence[int]]]:
    """Every access of a rule (its left-hand side last) with the shape of
    the tensor it indexes; a `const` literal indexes its own shape. On the
    left-hand side only a variable that nothing on the right bounds takes
    the dimension's size; other positions only need to be at least 0, and
    the tensor grows to hold what the rule writes there."""
    read: set[str] = set()
    for inner in body_ops(op.body):
        if isinstance(inner, LoadOp):
            read.update(inner.indices.names())
            yield inner.indices.data, _shape(program, inner.tensor_name)
        elif isinstance(inner, LiteralOp) and isinstance(inner.value.type, TensorType):
            read.update(inner.result.type.names)
            yield inner.result.type.names, tuple(inner.value.type.get_shape())
    if isinstance(op, RuleOp):
        steps = op.attributes.get(STEPS)
        for name, count in steps.data.items() if isinstance(steps, DictionaryAttr) else ():
            assert isinstance(count, IntegerAttr)
            yield (name,), (count.value.data,)
        shape = _shape(program, op.tensor_name)
        lhs_shape = [
            size if isinstance(position, str) and position not in read else DYNAMIC_INDEX
            for position, size in zip(op.indices.data, shape, strict=True)
        ]
        yield op.indices.data, lhs_shape


Bound = tuple[int | None, int | None]  # inclusive; None: unbounded that way


def _sum_bounds(
    terms: Sequence[tuple[str, int]], constant: int, bounds: Mapping[str, Bound]
) -> Bound:
    """The least and greatest value of `sum(c * v) + constant` over the
    variables' bounds (None where unbounded)."""
    low: int | None = constant
    high: int | None = constant
    for name, coefficient in terms:
        lo, hi = bounds.get(name, (None, None))
        least, most = (lo, hi) if coefficient > 0 else (hi, lo)
        low = None if low is None or least is None else low + coefficient * least
        high = None if high is None or most is None else high + coefficient * most
    return low, high


def variable_ranges(
    access_list: Sequence[tuple[Sequence[IndexPosition], Sequence[int]]],
) -> dict[str, Range]:
    """The range of every variable the accesses bound on both sides (the
    others are absent); raises `EmptyRange`. Every position must be at least
    0, and below its dimension's size where that is known."""
    bounds: dict[str, Bound] = {}
    constraints: list[tuple[AffineIndex, int | None]] = []

    def narrow(name: str, low: int | None, high: int | None) -> bool:
        old_low, old_high = bounds.get(name, (None, None))
        new_low = low if old_low is None else old_low if low is None else max(old_low, low)
        new_high = high if old_high is None else old_high if high is None else min(old_high, high)
        if new_low is not None and new_high is not None and new_low > new_high:
            raise EmptyRange(name, new_low, new_high)
        bounds[name] = (new_low, new_high)
        return (new_low, new_high) != (old_low, old_high)

    for positions, shape in access_list:
        for position, size in zip(positions, shape, strict=True):
            known = None if size == DYNAMIC_INDEX else size
            if isinstance(position, int):
                continue
            if isinstance(position, str):
                narrow(position, 0, None if known is None else known - 1)
                continue
            if isinstance(position, SliceIndex):
                stop = position.stop
                narrow(position.variable, 0, None if stop is None else stop - position.start - 1)
            constraints.append((as_affine(position), known))
    changed = True
    while changed:
        changed = False
        for affine, size in constraints:
            for name, coefficient in affine.terms:
                others = [(v, c) for v, c in affine.terms if v != name]
                rest_low, rest_high = _sum_bounds(others, affine.constant, bounds)
                # 0 <= coefficient * v + rest <= divisor * size - 1 for every rest
                least = None if rest_low is None else -rest_low
                most = None
                if size is not None and rest_high is not None:
                    most = affine.divisor * size - 1 - rest_high
                if coefficient > 0:
                    low = None if least is None else -(-least // coefficient)
                    high = None if most is None else most // coefficient
                else:
                    low = None if most is None else -(-most // coefficient)
                    high = None if least is None else least // coefficient
                changed = narrow(name, low, high) or changed
    return {
        name: Range(low, high - low + 1)
        for name, (low, high) in bounds.items()
        if low is not None and high is not None
    }


def rule_ranges(op: RuleOp | SinkOp, program: ProgramOp) -> dict[str, Range]:
    """`variable_ranges` of a rule's accesses. A plain left-hand-side
    variable that the right-hand side reads but does not bound (`P[e, c] =
    X[e, i] W[i, c, *s]` with W's size along c still unknown) ranges over
    the left-hand side's dimension where its size is known, so the size
    flows back to the tensors read."""
    access_list = list(accesses(op, program))
    ranges = variable_ranges(access_list)
    if isinstance(op, RuleOp):
        unbounded = [
            ((position,), (size,))
            for position, size in zip(op.indices.data, _shape(program, op.tensor_name), strict=True)
            if isinstance(position, str) and position not in ranges and size != DYNAMIC_INDEX
        ]
        if unbounded:
            ranges = variable_ranges(access_list + unbounded)
    return ranges


def reached_extent(position: IndexPosition, ranges: Mapping[str, Range]) -> int | None:
    """How long a dimension must be for `position` to stay inside it over
    `ranges` (None while a variable's range is unknown); raises
    `ValueError` for a position below zero."""
    affine = as_affine(position)
    if any(name not in ranges for name in affine.variables()):
        return None
    box = {name: (ranges[name].start, ranges[name].last) for name in affine.variables()}
    low, high = affine.bounds(box)
    if low < 0:
        raise ValueError(f"position '{position}' reaches {low}, below the first element")
    return high + 1
