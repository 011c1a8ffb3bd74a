"""`fuse-semi-naive{strategy=...}`: naive fixpoints -> semi-naive (delta) form.

A naive `fuse.fixpoint` recomputes every fact from every fact at every
step. Where the aggregate allows it, this pass rewrites it so each step
joins only what changed in the last one (`deltas`), as semi-naive Datalog
evaluation does. Each yielded value of the body is classified by its
aggregate:

* Boolean OR, `step(x)` (a Boolean tensor as `fuse-stratify` emits it):
  `next = step(current + delta(x))`, deltas `changed`.
* max, a `fuse.binary max` or a max-projecting `fuse.einsum`:
  `next = max(current, delta(v))`, deltas `changed`.
* anything else is treated as sum recursion: `next = current + delta(v)`,
  deltas `difference`. Valid only where `v` is affine in the recursive
  values (einsums with one recursive operand, `add`, `sub`, `neg`, division
  by a value that does not recur).

`delta(v)` follows the use-def chains from the yielded value back to the
body's arguments (all of them, for a mutually recursive component, whose
yielded values are rewritten one by one): an argument becomes its delta, a value that depends on no
argument contributes nothing (`current` already holds it: that is how base
terms drop out), `add`/`sub`/`max` take the delta of their changing side,
and an einsum with recursive operands R1..Rk becomes the sum (max, under
max) over i of the einsum with Ri -> delta(Ri) and the others in full. That
product rule is exact under sum only for k = 1; for OR and max it covers
every new fact and derives nothing false, so non-linear rules (`Path(x,z) =
Path(x,y) Path(y,z)`) are rewritten too. OR and max rely on the values
being nonnegative (Datalog facts, max-times over nonnegative weights): that
is what makes the naive iteration monotone and zero the "nothing new"
element of a `changed` delta.

`init` is the body at zeros: the body cloned with the arguments replaced by
zeros, folded as it goes (a product with a zero factor vanishes, `x + 0` is
`x`, other ops get a scalar zero), so a zero tensor is built only where no
other operand gives the shape.

The fixpoint stays naive, with `naive_reason` saying why, where a recursive
value goes through an op that does not distribute over its aggregate
(`relu`, `softmax`, division by it, a sum projection under max, a product
of two recursive values under sum), where one component mixes sum
recursion with OR/max recursion, and where `init` needs a zero tensor of
dynamic shape (the runner specializes shapes before this pass runs, so
only shape-free IR meets that).

* `strategy=auto`: rewrite wherever valid, record `naive_reason` elsewhere.
* `strategy=semi_naive`: the same, but a fixpoint that cannot be rewritten
  is an error naming its tensors and the reason.
* `strategy=naive`: change nothing.

```mlir
// before
%Path = fuse.fixpoint naive {tensors = ["Path"]} : tensor<9x9xf32> {
^bb0(%Path_1: tensor<9x9xf32>):
  %0 = fuse.einsum "ab,bc->ac" sum (%Path_1, %Edge) : (tensor<9x9xf32>, tensor<9x9xf32>) -> tensor<9x9xf32>
  %1 = fuse.binary add "ac,ac->ac" (%Edge, %0) : (tensor<9x9xf32>, tensor<9x9xf32>) -> tensor<9x9xf32>
  %Path_2 = fuse.unary step %1 : tensor<9x9xf32>
  fuse.yield %Path_2 : tensor<9x9xf32>
}
// after
%Path = fuse.fixpoint semi_naive {tensors = ["Path"], deltas = ["changed"]} : tensor<9x9xf32> init {
  %0 = fuse.unary step %Edge : tensor<9x9xf32>
  fuse.yield %0 : tensor<9x9xf32>
} {
^bb0(%Path_1: tensor<9x9xf32>, %dPath: tensor<9x9xf32>):
  %1 = fuse.einsum "ab,bc->ac" sum (%dPath, %Edge) : (tensor<9x9xf32>, tensor<9x9xf32>) -> tensor<9x9xf32>
  %2 = fuse.binary add "ab,ab->ab" (%Path_1, %1) : (tensor<9x9xf32>, tensor<9x9xf32>) -> tensor<9x9xf32>
  %3 = fuse.unary step %2 : tensor<9x9xf32>
  fuse.yield %3 : tensor<9x9xf32>
}
```
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter
from xdsl.utils.exceptions import DiagnosticException
from xdsl.utils.str_enum import StrEnum

from fuse.dialects.fuse import (
    BinaryOp,
    ConstantOp,
    EinsumOp,
    FixpointOp,
    UnaryOp,
    YieldOp,
)
from fuse.dialects.fuse.fixpoint import DeltaKind
from fuse.dialects.fuse.subscripts import parse_subscripts
from fuse.passes.infer_shapes import location_prefix

STRATEGIES = ("auto", "semi_naive", "naive")


class Aggregate(StrEnum):
    """How one result of a fixpoint combines what its rules derive."""

    OR = "Boolean OR"
    MAX = "max"
    SUM = "sum"


# Per aggregate: the einsum projections and binary functions through which a
# delta propagates exactly (every new fact covered, nothing false derived).
_PROJECTIONS = {
    Aggregate.OR: {"sum", "max", "mean"},
    Aggregate.MAX: {"max"},
    Aggregate.SUM: {"sum", "mean"},
}
_BINARY = {Aggregate.OR: {"add", "max"}, Aggregate.MAX: {"max"}, Aggregate.SUM: {"add", "sub"}}


class NotRewritable(Exception):
    """Why a fixpoint has to stay naive."""


def _used_values(op: Operation) -> Iterator[SSAValue]:
    """Operands of `op` and of every op nested in its regions."""
    for inner in op.walk():
        yield from inner.operands


def _identity(rank: int) -> str:
    """Subscripts of an elementwise op on two operands of one shape."""
    letters = string.ascii_letters[:rank]
    return f"{letters},{letters}->{letters}"


def _aggregate(value: SSAValue) -> tuple[Aggregate, SSAValue]:
    """The aggregate of a yielded value, and the value whose delta to take
    (under OR, the sum inside the final `step`)."""
    op = value.owner
    if isinstance(op, UnaryOp) and op.fn.data == "step":
        return Aggregate.OR, op.operand
    if (isinstance(op, BinaryOp) and op.fn.data == "max") or (
        isinstance(op, EinsumOp) and op.kind.data == "max"
    ):
        return Aggregate.MAX, value
    return Aggregate.SUM, value


class _SemiNaiveBuilder:
    """Builds the `init` and delta `body` blocks of one naive fixpoint.

    Values of the old body are translated on demand along use-def chains:
    `full` (the value at the current iterate), `first` (at zeros; None
    stands for all zeros) and `delta` (None: does not change)."""

    def __init__(self, fixpoint: FixpointOp):
        old = fixpoint.body.block
        self.fixpoint = fixpoint
        self.local = {*old.args, *(r for op in old.ops for r in op.results)}
        self.recursive: set[SSAValue] = set(old.args)
        for op in old.ops:
            if any(v in self.recursive for v in _used_values(op)):
                self.recursive.update(op.results)
        types = [r.type for r in fixpoint.results]
        self.body = Block(arg_types=[*types, *types])
        self.init = Block()
        count = len(types)
        self.current, deltas = self.body.args[:count], self.body.args[count:]
        for arg, cur, delta in zip(old.args, self.current, deltas, strict=True):
            cur.name_hint = arg.name_hint
            delta.name_hint = f"d{arg.name_hint}" if arg.name_hint else None
        self.full_values: dict[SSAValue, SSAValue] = dict(zip(old.args, self.current, strict=True))
        self.first_values: dict[SSAValue, SSAValue | None] = dict.fromkeys(old.args)
        self.delta_values: dict[tuple[SSAValue, Aggregate], SSAValue] = {
            (arg, aggregate): delta
            for arg, delta in zip(old.args, deltas, strict=True)
            for aggregate in Aggregate
        }

    def build(self) -> FixpointOp:
        old = self.fixpoint
        terminator = old.body.block.last_op
        assert isinstance(terminator, YieldOp)
        aggregates = [_aggregate(v) for v in terminator.values]
        changing = {
            name: aggregate
            for name, value, (aggregate, _) in zip(
                old.tensor_names, terminator.values, aggregates, strict=True
            )
            if value in self.recursive
        }
        sums = [n for n, a in changing.items() if a is Aggregate.SUM]
        lattice = [n for n, a in changing.items() if a is not Aggregate.SUM]
        if sums and lattice:
            raise NotRewritable(
                f"mixes sum recursion ({', '.join(sums)}) with Boolean/max recursion "
                f"({', '.join(lattice)})"
            )
        next_values: list[SSAValue] = []
        for name, cur, (aggregate, value) in zip(
            old.tensor_names, self.current, aggregates, strict=True
        ):
            try:
                next_values.append(self.next_value(cur, aggregate, value))
            except NotRewritable as reason:
                raise NotRewritable(f"{name}: {reason}") from None
        self.body.add_op(YieldOp(*next_values))
        first = [self.first(v) for v in terminator.values]
        self.init.add_op(
            YieldOp(
                *(
                    self.zeros(r.type, self.init) if v is None else v
                    for v, r in zip(first, old.results, strict=True)
                )
            )
        )
        kind = DeltaKind.DIFFERENCE if sums else DeltaKind.CHANGED
        new = FixpointOp(
            "semi_naive",
            old.tensor_names,
            [r.type for r in old.results],
            Region(self.body),
            Region(self.init),
        )
        new.properties["deltas"] = ArrayAttr([StringAttr(str(kind))] * len(old.results))
        for key in ("max_iters", "tolerance"):
            if key in old.properties:
                new.properties[key] = old.properties[key]
        new.attributes |= old.attributes
        new.location = old.location
        for before, after in zip(old.results, new.results, strict=True):
            after.name_hint = before.name_hint
        return new

    def next_value(self, current: SSAValue, aggregate: Aggregate, value: SSAValue) -> SSAValue:
        """`current` combined with the delta of `value` by the aggregate."""
        delta = self.delta(value, aggregate)
        if delta is None:  # depends on no recursive value: fixed by `init`
            return current
        fn = "max" if aggregate is Aggregate.MAX else "add"
        rank = len(current.type.get_shape())
        combined = self.emit(BinaryOp(fn, _identity(rank), current, delta, current.type))
        if aggregate is Aggregate.OR:
            return self.emit(UnaryOp("step", combined))
        return combined

    # --- translating old body values ------------------------------------------

    def full(self, value: SSAValue) -> SSAValue:
        """`value` at the current iterate, in the new body."""
        if value not in self.local:
            return value
        if value not in self.full_values:
            clone = self.copy(value.owner, self.body, self.full)
            self.full_values.update(zip(value.owner.results, clone.results, strict=True))
        return self.full_values[value]

    def first(self, value: SSAValue) -> SSAValue | None:
        """`value` at zeros, in the init block (None: all zeros)."""
        if value not in self.local:
            return value
        if value not in self.first_values:
            op = value.owner
            if value not in self.recursive:
                clone = self.copy(op, self.init, self.first_nonzero)
                self.first_values.update(zip(op.results, clone.results, strict=True))
                return self.first_values[value]
            # `delta` accepted the body, so a recursive value is made by one
            # of these ops (and a division has a recursive numerator only)
            assert isinstance(op, EinsumOp | BinaryOp | UnaryOp)
            if isinstance(op, BinaryOp) and op.fn.data != "div":
                # x + 0 = x, but max(x, 0) is x only for x >= 0: keep it exact
                operands = [self.first(v) for v in op.operands]
                result = self.with_zeros(op, operands, self.init, identities={"add", "sub"})
            elif any(self.first(v) is None for v in op.operands if v in self.recursive):
                # an einsum with a zero factor, step(0), -0 and 0 / b are zero
                # (naive iteration makes 0 / 0 a NaN, and so does the delta)
                result = None
            else:
                operands = [self.first_nonzero(v) for v in op.operands]
                result = self.rebuild(op, operands, self.init)
            self.first_values[value] = result
        return self.first_values[value]

    def first_nonzero(self, value: SSAValue) -> SSAValue:
        """`first` of a value known not to be all zeros."""
        first = self.first(value)
        assert first is not None
        return first

    def delta(self, value: SSAValue, aggregate: Aggregate) -> SSAValue | None:
        """What `value` gains in one step, from the deltas of the arguments
        (None where it does not depend on them)."""
        if value not in self.recursive:
            return None
        key = (value, aggregate)
        if key not in self.delta_values:
            self.delta_values[key] = self.delta_of(value.owner, aggregate)
        return self.delta_values[key]

    def delta_of(self, op: Operation, aggregate: Aggregate) -> SSAValue:
        if isinstance(op, EinsumOp):
            return self.delta_einsum(op, aggregate)
        if isinstance(op, BinaryOp) and op.fn.data in _BINARY[aggregate]:
            deltas = [self.delta(v, aggregate) for v in (op.lhs, op.rhs)]
            # no change on one side is a zero: the identity of add, sub and
            # (on the nonnegative values of OR and max) max
            result = self.with_zeros(op, deltas, self.body, identities=_BINARY[aggregate])
            assert result is not None
            return result
        if (
            isinstance(op, BinaryOp)
            and op.fn.data == "div"
            and aggregate is Aggregate.SUM
            and op.rhs not in self.recursive
        ):  # (a + d) / b = a / b + d / b
            delta = self.delta(op.lhs, aggregate)
            assert delta is not None
            return self.rebuild(op, [delta, self.full(op.rhs)], self.body)
        if isinstance(op, UnaryOp) and op.fn.data == "neg" and aggregate is Aggregate.SUM:
            delta = self.delta(op.operand, aggregate)
            assert delta is not None
            return self.emit(UnaryOp("neg", delta))
        detail = getattr(op, "fn", None) or getattr(op, "kind", None)  # relu, softmax
        what = f"{op.name} {detail.data}" if isinstance(detail, StringAttr) else op.name
        raise NotRewritable(f"{what} of a recursive value does not distribute over {aggregate}")

    def delta_einsum(self, op: EinsumOp, aggregate: Aggregate) -> SSAValue:
        """The product rule: sum (max) over the recursive operands of the
        einsum with that operand's delta and the others in full."""
        inputs, output = parse_subscripts(op.subscripts.data)
        projected = set("".join(inputs)) - set(output)
        if projected and op.kind.data not in _PROJECTIONS[aggregate]:
            raise NotRewritable(
                f"a {op.kind.data} projection of a recursive value does not distribute "
                f"over {aggregate}"
            )
        positions = [i for i, v in enumerate(op.inputs) if v in self.recursive]
        if aggregate is Aggregate.SUM and len(positions) > 1:
            raise NotRewritable(
                f"a product of {len(positions)} recursive values is not linear (non-linear "
                "sum recursion)"
            )
        terms = []
        for i in positions:
            delta = self.delta(op.inputs[i], aggregate)
            assert delta is not None
            operands = [delta if j == i else self.full(v) for j, v in enumerate(op.inputs)]
            terms.append(self.rebuild(op, operands, self.body))
        fn = "max" if aggregate is Aggregate.MAX else "add"
        result = terms[0]
        for term in terms[1:]:
            subscripts = _identity(len(op.result.type.get_shape()))
            result = self.emit(BinaryOp(fn, subscripts, result, term, op.result.type))
        return result

    # --- emitting ----------------------------------------------------------------

    def emit(self, op: Operation, block: Block | None = None) -> SSAValue:
        (block or self.body).add_op(op)
        return op.results[0]

    def copy(
        self, op: Operation, block: Block, translate: Callable[[SSAValue], SSAValue]
    ) -> Operation:
        """Clones `op` into `block` with its old-body operands translated."""
        mapper = {v: translate(v) for v in _used_values(op) if v in self.local}
        clone = op.clone(value_mapper=mapper)
        block.add_op(clone)
        return clone

    def rebuild(self, op: Operation, operands: Sequence[SSAValue], block: Block) -> SSAValue:
        """`op` (keeping its properties, not its name) over new operands."""
        clone = op.clone(value_mapper={}, clone_name_hints=False)
        clone.operands = operands
        return self.emit(clone, block)

    def with_zeros(
        self,
        op: BinaryOp,
        operands: Sequence[SSAValue | None],
        block: Block,
        identities: set[str],
    ) -> SSAValue | None:
        """`op` over operands where None stands for zeros: the other side
        where zero is `op`'s identity, else zero as a scalar constant (or, for
        a side whose letters the other lacks, a full zero tensor)."""
        lhs, rhs = operands
        if lhs is None and rhs is None:
            return None  # add, sub and max of zeros
        if lhs is not None and rhs is not None:
            return self.rebuild(op, [lhs, rhs], block)
        (lhs_letters, rhs_letters), output = parse_subscripts(op.subscripts.data)
        kept, letters = (lhs, lhs_letters) if rhs is None else (rhs, rhs_letters)
        assert kept is not None
        zero_is_identity = op.fn.data in identities and not (op.fn.data == "sub" and lhs is None)
        if zero_is_identity and letters == output and kept.type == op.result.type:
            return kept
        if set(letters) == set(output):
            zero = self.zeros(TensorType(f32, []), block)
            lhs_letters, rhs_letters = ("", rhs_letters) if lhs is None else (lhs_letters, "")
        else:
            zero = self.zeros((op.lhs if lhs is None else op.rhs).type, block)
        subscripts = f"{lhs_letters},{rhs_letters}->{output}"
        pair = (zero, kept) if lhs is None else (kept, zero)
        return self.emit(BinaryOp(op.fn.data, subscripts, *pair, op.result.type), block)

    def zeros(self, tensor_type: Attribute, block: Block) -> SSAValue:
        """A zero constant (a splat, so its size does not matter)."""
        assert isinstance(tensor_type, TensorType)
        if any(size < 0 for size in tensor_type.get_shape()):
            raise NotRewritable(f"needs a zero tensor of dynamic shape {tensor_type}")
        value = DenseIntOrFPElementsAttr.from_list(tensor_type, [0.0])
        return self.emit(ConstantOp(value), block)


def semi_naive_form(fixpoint: FixpointOp) -> FixpointOp:
    """The semi-naive equivalent of a naive fixpoint (not inserted); raises
    `NotRewritable` with the reason where there is none."""
    return _SemiNaiveBuilder(fixpoint).build()


@dataclass(frozen=True)
class SemiNaivePass(ModulePass):
    """See the module docstring."""

    name = "fuse-semi-naive"

    strategy: str = "auto"

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"fuse-semi-naive: strategy '{self.strategy}' is not one of {', '.join(STRATEGIES)}"
            )

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.strategy == "naive":
            return
        # inner fixpoints first (outer bodies clone them), otherwise in order
        ops = op.walk(region_first=True)
        for fixpoint in [o for o in ops if isinstance(o, FixpointOp) and not o.is_semi_naive]:
            try:
                rewritten = semi_naive_form(fixpoint)
            except NotRewritable as reason:
                if self.strategy == "semi_naive":
                    raise DiagnosticException(
                        f"{location_prefix(fixpoint)}fuse-semi-naive: the fixpoint of {', '.join(fixpoint.tensor_names)} "
                        f"cannot be semi-naive: {reason}"
                    ) from None
                fixpoint.properties["naive_reason"] = StringAttr(str(reason))
                continue
            Rewriter.replace_op(fixpoint, rewritten)
