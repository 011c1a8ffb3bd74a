"""`fuse-einsum-path{strategy=...}`: n-ary einsums -> trees of binary ones.

A projected join is emitted as one n-ary `fuse.einsum`. Contracted in one
go it costs the product of all its letters' sizes; contracted pairwise in a
good order it costs a few matrix products. This pass asks `opt_einsum` for
that order and spells it out as binary `fuse.einsum`s, so every backend runs
plain pairwise contractions (BLAS where matmul-shaped) and the order is
visible, testable IR rather than a backend's private choice.

* `strategy`: `auto` (opt_einsum's `auto`: exhaustive search up to 4
  tensor operands, branch-and-bound of narrowing breadth up to 14, greedy
  beyond), `greedy`, `optimal`, `dp` (dynamic programming) or `branch`,
  which is opt_einsum's `branch-2`: it explores the two best candidates at
  each step, so it stays fast on large joins, where `branch-all`'s search
  grows exponentially.
* Which einsums: `sum` and `mean` ones with 3+ operands and static shapes.
  One or two operands are already a single step. Dynamic dimensions leave
  an einsum alone (opt_einsum needs sizes, and a guess could pick a path
  far off the optimum; the runner specializes shapes before this pass, so
  this is rare). `max` is left alone: max does not distribute over a
  product of values of either sign (max_j(a_j c) = c min_j(a_j) for c < 0).
* Letters are projected as early as possible: before any join, each
  operand sums out the letters only it has (the backends would do it
  inside the step anyway; done first, opt_einsum weighs the sizes that
  really meet), and each intermediate keeps only the letters a later
  operand or the output needs, in their order of first appearance. In a
  binary step the operand holding the result's first letter goes first, so
  a matmul-shaped step yields the result's layout without a transpose.
* Rank-0 operands (runtime scalars, literal constants) stay out of the path
  search: they are multiplied together first and then into the smallest
  tensor of the tree (an operand, an intermediate or the result; the later
  one on ties), which costs that tensor's size once instead of riding
  along a large operand. This is valid because a sum-product is linear in
  every factor.
* `mean` becomes a sum times a `1/count` constant (count: the number of
  projected positions), placed like any scalar.
* `flops` on every emitted einsum is that step's estimate, by opt_einsum's
  `flop_count`; the tree's total is their sum (for the tensor steps, equal
  to opt_einsum's `opt_cost`). The final einsum carries the whole tree as
  `fuse.contraction_path`, in opt_einsum's path format over the original
  operands (then the `1/count` constant, for `mean`): it is a discardable
  attribute, not the `path` property, because backends execute `path` as
  a path over the op's own two operands.
* Paths are cached by (subscripts, shapes, strategy) in a module-level LRU
  cache, so recompiling for the same shapes does not search again.
* A one-operand einsum with the same subscripts in and out (and the same
  type) is an identity and folds away.

```mlir
// before
%D = fuse.einsum "ab,bc,cd,de->ae" sum (%A, %B, %C, %E) : (tensor<64x1024xf32>,
    tensor<1024x32xf32>, tensor<32x1024xf32>, tensor<1024x64xf32>) -> tensor<64x64xf32>
// after
%0 = fuse.einsum "ab,bc->ac" sum (%A, %B) {flops = 4194304 : i64} : ... -> tensor<64x32xf32>
%1 = fuse.einsum "cd,de->ce" sum (%C, %E) {flops = 4194304 : i64} : ... -> tensor<32x64xf32>
%D = fuse.einsum "ac,ce->ae" sum (%0, %1) {flops = 262144 : i64,
    fuse.contraction_path = [[0, 1], [0, 1], [0, 1]]} : ... -> tensor<64x64xf32>
```
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import opt_einsum
from opt_einsum.helpers import flop_count
from xdsl.context import Context
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    IntegerAttr,
    ModuleOp,
    TensorType,
)
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from fuse.dialects.fuse import ConstantOp, EinsumOp
from fuse.dialects.fuse.attributes import ProjectionKind
from fuse.dialects.fuse.subscripts import parse_subscripts

STRATEGIES = {
    "auto": "auto",
    "greedy": "greedy",
    "optimal": "optimal",
    "dp": "dp",
    "branch": "branch-2",
}

_MAX_I64 = 2**63 - 1  # IntegerAttr wraps larger values silently

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Step:
    """One binary (or unary) einsum of a tree. `positions` name its operands
    in the live operand list, opt_einsum style: they leave the list and the
    result is appended."""

    positions: tuple[int, ...]
    subscripts: str
    shape: Shape
    flops: int


def _first_position(letters: str, result: str) -> int:
    """Where the first of `letters` kept in `result` stands (else at the end)."""
    return min((result.index(c) for c in letters if c in result), default=len(result))


class _TreeBuilder:
    """Steps over a live operand list; nodes are numbered operands first,
    then step results."""

    def __init__(self, inputs: Sequence[str], sizes: dict[str, int]):
        self.letters = list(inputs)
        self.live = list(range(len(inputs)))
        self.sizes = sizes
        self.steps: list[Step] = []

    def contract(self, nodes: Sequence[int], result: str) -> int:
        """Emits a step over `nodes` keeping `result` (an identity emits
        nothing), the operand holding the result's first letter first."""
        if len(nodes) == 1 and self.letters[nodes[0]] == result:
            return nodes[0]
        nodes = sorted(nodes, key=lambda n: _first_position(self.letters[n], result))
        positions = tuple(self.live.index(n) for n in nodes)
        for node in nodes:
            self.live.remove(node)
        operands = [self.letters[n] for n in nodes]
        joined = set("".join(operands))
        flops = flop_count(joined, bool(joined - set(result)), len(nodes), self.sizes)
        shape = tuple(self.sizes[c] for c in result)
        self.steps.append(Step(positions, f"{','.join(operands)}->{result}", shape, flops))
        self.letters.append(result)
        self.live.append(len(self.letters) - 1)
        return self.live[-1]


def _tensor_steps(
    inputs: Sequence[str], output: str, sizes: dict[str, int], strategy: str
) -> list[tuple[list[int], str]]:
    """The steps over the rank > 0 operands, as (operand nodes, result
    letters); step k's result is node `len(inputs) + k`. First each operand
    sums out the letters only it has (the backends would do so inside the
    step anyway; done first, opt_einsum weighs the sizes that really meet),
    then opt_einsum's path."""
    letters = list(inputs)
    steps: list[tuple[list[int], str]] = []

    def step(nodes: list[int], result: str) -> int:
        steps.append((nodes, result))
        letters.append(result)
        return len(letters) - 1

    tensors = [n for n, operand in enumerate(inputs) if operand]
    live = list(tensors)
    if len(tensors) > 1:  # a lone tensor's one step sums everything out anyway
        for position, n in enumerate(tensors):
            needed = set(output).union(*(inputs[m] for m in tensors if m != n))
            kept = "".join(dict.fromkeys(c for c in inputs[n] if c in needed))
            if kept != inputs[n]:
                live[position] = step([n], kept)
    if not live:
        return steps
    subscripts = f"{','.join(letters[n] for n in live)}->{output}"
    shapes = [tuple(sizes[c] for c in letters[n]) for n in live]
    path, _ = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=strategy)
    for k, group in enumerate(path):
        nodes = [live[p] for p in group]
        live = [n for n in live if n not in nodes]
        needed = set(output).union(*(letters[n] for n in live))
        joined = dict.fromkeys("".join(letters[n] for n in nodes))
        live.append(
            step(nodes, output if k == len(path) - 1 else "".join(c for c in joined if c in needed))
        )
    return steps


def _letter_sizes(inputs: Sequence[str], shapes: Sequence[Shape]) -> dict[str, int]:
    return {
        c: n
        for letters, shape in zip(inputs, shapes, strict=True)
        for c, n in zip(letters, shape, strict=True)
    }


@functools.lru_cache(maxsize=1024)
def contraction_tree(subscripts: str, shapes: tuple[Shape, ...], strategy: str) -> tuple[Step, ...]:
    """The steps computing `subscripts` (a sum) over operands of `shapes`,
    with `strategy` an opt_einsum optimizer name (see the module docstring)."""
    inputs, output = parse_subscripts(subscripts)
    sizes = _letter_sizes(inputs, shapes)
    tensor_steps = _tensor_steps(inputs, output, sizes, strategy)
    letters = [*inputs, *(result for _, result in tensor_steps)]
    tree = _TreeBuilder(inputs, sizes)
    scalars = [n for n, s in enumerate(inputs) if not s]
    scale = functools.reduce(lambda s, t: tree.contract([s, t], ""), scalars) if scalars else None
    # The smallest tensor takes the scalar; ties go to the later node.
    target = max(
        (n for n in range(len(letters)) if letters[n]),
        key=lambda n: (-math.prod(sizes[c] for c in letters[n]), n),
        default=None,
    )
    current = {n: n for n in range(len(inputs))}  # planned node -> tree node with its value

    def take_scale(planned: int) -> None:
        if scale is not None and planned == target:
            current[planned] = tree.contract([current[planned], scale], letters[planned])

    for planned in range(len(inputs)):
        take_scale(planned)
    for k, (group, result) in enumerate(tensor_steps):
        planned = len(inputs) + k
        current[planned] = tree.contract([current[n] for n in group], result)
        take_scale(planned)
    return tuple(tree.steps)


def _is_static(value: SSAValue) -> bool:
    assert isinstance(value.type, TensorType)
    return all(size >= 0 for size in value.type.get_shape())


def _i64(value: int) -> IntegerAttr:
    return IntegerAttr(min(value, _MAX_I64), 64)


def _reciprocal_of_count(inputs: Sequence[str], shapes: Sequence[Shape], output: str) -> float:
    """1 / the number of positions a mean projects over."""
    sizes = _letter_sizes(inputs, shapes)
    return 1.0 / math.prod(sizes[c] for c in set("".join(inputs)) - set(output))


def split_einsum(op: EinsumOp, strategy: str) -> None:
    """Replaces a 3+-operand sum/mean einsum with static shapes by its tree."""
    if not all(_is_static(v) for v in [*op.inputs, op.result]):
        return
    inputs, output = parse_subscripts(op.subscripts.data)
    operands: list[SSAValue] = list(op.inputs)
    shapes: list[Shape] = [tuple(v.type.get_shape()) for v in operands]
    element_type = op.result.type.element_type
    new_ops: list[Operation] = []
    if op.projection_kind is ProjectionKind.MEAN:
        scale = _reciprocal_of_count(inputs, shapes, output)
        scalar_type = TensorType(element_type, [])
        new_ops.append(ConstantOp(DenseIntOrFPElementsAttr.from_list(scalar_type, [scale])))
        operands.append(new_ops[-1].results[0])
        inputs.append("")
        shapes.append(())
    steps = contraction_tree(f"{','.join(inputs)}->{output}", tuple(shapes), strategy)
    for step in steps:
        step_inputs = [operands[p] for p in step.positions]
        operands = [v for p, v in enumerate(operands) if p not in step.positions]
        einsum = EinsumOp(step.subscripts, "sum", step_inputs, TensorType(element_type, step.shape))
        einsum.properties["flops"] = _i64(step.flops)
        new_ops.append(einsum)
        operands.append(einsum.result)
    final = new_ops[-1]
    final.attributes |= op.attributes
    final.attributes["fuse.contraction_path"] = ArrayAttr(
        [ArrayAttr([_i64(p) for p in step.positions]) for step in steps]
    )
    final.results[0].name_hint = op.result.name_hint
    for new_op in new_ops:  # the equation's location, for diagnostics
        new_op.location = op.location
    Rewriter.insert_op(new_ops, InsertPoint.before(op))
    Rewriter.replace_op(op, [], [final.results[0]])


def fold_identity(op: EinsumOp) -> None:
    """`fuse.einsum "ab->ab"` of a value of the result's type is that value."""
    inputs, output = parse_subscripts(op.subscripts.data)
    if inputs == [output] and op.inputs[0].type == op.result.type:
        Rewriter.replace_op(op, [], [op.inputs[0]])


@dataclass(frozen=True)
class EinsumPathPass(ModulePass):
    """See the module docstring."""

    name = "fuse-einsum-path"

    strategy: str = "auto"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy '{self.strategy}' is not one of {', '.join(STRATEGIES)}")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for einsum in [o for o in op.walk() if isinstance(o, EinsumOp)]:
            if len(einsum.inputs) == 1:
                fold_identity(einsum)
            elif len(einsum.inputs) > 2 and einsum.projection_kind is not ProjectionKind.MAX:
                split_einsum(einsum, STRATEGIES[self.strategy])
