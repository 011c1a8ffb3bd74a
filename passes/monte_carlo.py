"""`fuse-monte-carlo{samples=S, seed=N}`: sampled estimates of large sums.

A `sum` einsum over a projected letter j of size J adds J terms. This pass
replaces it with an importance-sampled estimate over S << J of them:

    sum_j f(j)  ~=  sum_{s<S} f(j_s) / (S q(j_s)),    j_s ~ q  i.i.d.

which is unbiased for any proposal q that is positive wherever f is
nonzero. Each sampled letter gets its own proposal and its own draw, and
an einsum projecting several large letters multiplies their weights. The
letters are sampled one after the other: the proposal of a later letter is
computed from the operands already gathered at the earlier letters'
samples (cheaper), which keeps the estimate unbiased, as it is unbiased
given the earlier draws.

* The proposal (computed in the IR, from the operands' values at run time):
  `q(j) = 0.5 / J + 0.5 * p(j) / sum(p)`, where `p(j)` is the product, over
  the operands holding j, of the L2 norm of that operand's slice at j. `p`
  alone would be the optimal proposal for a product of rank-one factors;
  the uniform half keeps every weight at most 2J/S (bounded variance where
  `p` is a poor guess) and q > 0 everywhere. Where every slice norm is 0
  the sum is exactly 0 whatever is drawn, so `sum(p) = 0` takes 1 instead
  (the `fuse.select`) and q is uniform-ish; the estimate is still 0.
* Rewrite: `idx = fuse.sample q`, every operand holding j gathered at `idx`
  along each of its j dimensions (j renamed to a fresh letter, the sample
  letter), one more operand `w = (1/S) / gather(q, idx)`, and the sample
  letter summed. A `mean` becomes this sum times 1/(number of projected
  positions). Letters of size <= S stay exact inside the same einsum.
* Left exact, with the reason in the discardable attribute
  `fuse.exact_reason`: einsums inside a `fuse.fixpoint` (iterating a
  sampled step does not iterate to an unbiased fixpoint, and the
  convergence test would compare different estimates), `max` einsums
  (sampling estimates sums, not maxima), einsums with dynamic shapes, ones
  whose projected letters all have at most S positions (exact is no
  dearer), and ones with no letter left to name a sample dimension.
* Seeds: sample op number k (in walk order) gets
  `SeedSequence([seed, k])`'s first 32-bit word, so a compile is
  reproducible and draws of different letters and einsums are independent.

Run it before `fuse-einsum-path`, which then orders the contraction of the
gathered operands and weights like any other n-ary einsum.

```mlir
// before (samples = 64)
%y = fuse.einsum "ij,j->i" sum (%A, %x) : (tensor<8x1000xf32>, tensor<1000xf32>) -> tensor<8xf32>
// after (proposal ops elided)
%idx = fuse.sample %q samples 64 seed 2915920133 : tensor<1000xf32> -> tensor<64xi32>
%A1 = fuse.gather %A dim 1 (%idx) : (tensor<8x1000xf32>, tensor<64xi32>) -> tensor<8x64xf32>
%x1 = fuse.gather %x dim 0 (%idx) : (tensor<1000xf32>, tensor<64xi32>) -> tensor<64xf32>
%qs = fuse.gather %q dim 0 (%idx) : (tensor<1000xf32>, tensor<64xi32>) -> tensor<64xf32>
%w = fuse.binary div ",a->a" (%inv_s, %qs) : (tensor<f32>, tensor<64xf32>) -> tensor<64xf32>
%y = fuse.einsum "ia,a,a->i" sum (%A1, %x1, %w) : (...) -> tensor<8xf32>
```
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, ModuleOp, StringAttr, TensorType
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from fuse.dialects.fuse import (
    BinaryOp,
    ConstantOp,
    EinsumOp,
    FixpointOp,
    GatherOp,
    SampleOp,
    SelectOp,
    UnaryOp,
)
from fuse.dialects.fuse.attributes import ProjectionKind
from fuse.dialects.fuse.subscripts import parse_subscripts

EXACT_REASON = "fuse.exact_reason"


def derived_seed(seed: int, position: int) -> int:
    """The seed of sample op number `position`: well mixed, so nearby pass
    seeds and positions give independent streams on every backend."""
    return int(np.random.SeedSequence([seed, position]).generate_state(1)[0])


class _Emitter:
    """Builds the ops of one rewrite, in order, before the einsum."""

    def __init__(self, element_type: Attribute):
        self.element_type = element_type
        self.ops: list[Operation] = []

    def add(self, op: Operation) -> SSAValue:
        self.ops.append(op)
        return op.results[0]

    def scalar(self, value: float) -> SSAValue:
        scalar_type = TensorType(self.element_type, [])
        return self.add(ConstantOp(DenseIntOrFPElementsAttr.from_list(scalar_type, [value])))

    def vector(self, size: int) -> TensorType:
        return TensorType(self.element_type, [size])

    def proposal(self, letter: str, size: int, holders: list[tuple[str, SSAValue]]) -> SSAValue:
        """q(j) = 0.5/J + 0.5 p(j)/sum(p), p(j) = prod of slice norms (see
        the module docstring): sqrt of the product of squared norms."""
        squares = [
            self.add(EinsumOp(f"{letters},{letters}->{letter}", "sum", [v, v], self.vector(size)))
            for letters, v in holders
        ]
        if len(squares) > 1:
            joined = ",".join(letter * len(squares)) + f"->{letter}"
            squares = [self.add(EinsumOp(joined, "sum", squares, self.vector(size)))]
        norms = self.add(UnaryOp("sqrt", squares[0]))
        scalar_type = TensorType(self.element_type, [])
        twice = self.add(EinsumOp(f"{letter},->", "sum", [norms, self.scalar(2.0)], scalar_type))
        nonzero = self.add(SelectOp(",,->", twice, twice, self.scalar(1.0), scalar_type))
        share = self.add(BinaryOp("div", f"{letter},->{letter}", norms, nonzero, self.vector(size)))
        uniform = self.scalar(0.5 / size)
        return self.add(BinaryOp("add", f"{letter},->{letter}", share, uniform, self.vector(size)))


def _exact_reason(
    op: EinsumOp, projected: list[str], sizes: dict[str, int], samples: int
) -> str | None:
    """Why `op` stays exact, or None if some letter is worth sampling."""
    if op.projection_kind is ProjectionKind.MAX:
        return "max projection: sampling estimates sums, not maxima"
    parent = op.parent_op()
    while parent is not None:
        if isinstance(parent, FixpointOp):
            return "inside a fixpoint: a sampled step does not iterate to an unbiased fixpoint"
        parent = parent.parent_op()
    if any(n < 0 for n in sizes.values()):
        return "dynamic shape"
    if all(sizes[c] <= samples for c in projected):
        return f"every projected letter has at most {samples} positions"
    return None


def _fresh_letters(used: str) -> Iterator[str]:
    return (c for c in string.ascii_letters if c not in used)


@dataclass(frozen=True)
class MonteCarloPass(ModulePass):
    """See the module docstring."""

    name = "fuse-monte-carlo"

    samples: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be >= 1, got {self.samples}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        draws = 0
        for einsum in [o for o in op.walk() if isinstance(o, EinsumOp)]:
            draws = self.rewrite(einsum, draws)

    def rewrite(self, op: EinsumOp, draws: int) -> int:
        """Samples the large projected letters of `op`, or records why not;
        returns the number of sample ops emitted so far."""
        inputs, output = parse_subscripts(op.subscripts.data)
        sizes = {
            c: n
            for letters, v in zip(inputs, op.inputs, strict=True)
            for c, n in zip(letters, v.type.get_shape(), strict=True)
        }
        projected = [c for c in dict.fromkeys("".join(inputs)) if c not in output]
        if not projected:
            return draws
        reason = _exact_reason(op, projected, sizes, self.samples)
        fresh = _fresh_letters("".join(inputs) + output)
        sampled = [c for c in projected if sizes[c] > self.samples]
        if reason is None and len(sampled) > len(string.ascii_letters) - len(sizes):
            reason = "no letter left to name a sample dimension"
        if reason is not None:
            op.attributes[EXACT_REASON] = StringAttr(reason)
            return draws
        emit = _Emitter(op.result.type.element_type)
        operands, letters = list(op.inputs), list(inputs)
        for letter in sampled:
            holders = [(ls, v) for ls, v in zip(letters, operands, strict=True) if letter in ls]
            q = emit.proposal(letter, sizes[letter], holders)
            idx = emit.add(SampleOp(q, self.samples, derived_seed(self.seed, draws)))
            draws += 1
            name = next(fresh)
            for n, (ls, value) in enumerate(zip(letters, operands, strict=True)):
                for dim, c in enumerate(ls):
                    if c == letter:
                        value = emit.add(GatherOp(value, dim, idx))
                operands[n], letters[n] = value, ls.replace(letter, name)
            picked = emit.add(GatherOp(q, 0, idx))
            weight = emit.vector(self.samples)
            inverse = emit.scalar(1.0 / self.samples)
            operands.append(emit.add(BinaryOp("div", f",{name}->{name}", inverse, picked, weight)))
            letters.append(name)
        if op.projection_kind is ProjectionKind.MEAN:
            operands.append(emit.scalar(1.0 / math.prod(sizes[c] for c in projected)))
            letters.append("")
        estimate = EinsumOp(f"{','.join(letters)}->{output}", "sum", operands, op.result.type)
        estimate.attributes |= op.attributes
        estimate.result.name_hint = op.result.name_hint
        for new_op in [*emit.ops, estimate]:  # the equation's location, for diagnostics
            new_op.location = op.location
        Rewriter.insert_op([*emit.ops, estimate], InsertPoint.before(op))
        Rewriter.replace_op(op, [], [estimate.result])
        return draws
