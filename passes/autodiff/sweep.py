"""The machinery of fuse-autodiff: emitting gradient ops, activity
(which values depend on the tensors differentiated by), the reverse sweep
and the registry of gradient rules, keyed by op class."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, IntegerType, StringAttr, TensorType, f32
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import (
    BinaryOp,
    ConstantOp,
    EinsumOp,
    FixpointOp,
    IndexFnOp,
    PlaceOp,
    SampleOp,
    ScanOp,
    SelectOp,
    UnaryOp,
    WindowOp,
)
from fuse.dialects.fuse.affine import LinearForm, affine_map_of
from fuse.passes.infer_shapes import location_prefix

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
GRAD_PREFIX = "grad."
COTANGENT_PREFIX = "cotangent."


class AutodiffError(DiagnosticException):
    """A gradient this pass cannot build, located at the equation."""


def error_at(op: Operation, message: str) -> AutodiffError:
    return AutodiffError(f"{location_prefix(op)}{message}")


def describe(op: Operation) -> str:
    """`fuse.unary sin` / `fuse.einsum max "ij->i"`: what a message names."""
    parts = [op.name]
    for key in ("fn", "kind", "subscripts"):
        value = op.properties.get(key)
        if isinstance(value, StringAttr):
            parts.append(f'"{value.data}"' if key == "subscripts" else value.data)
    return " ".join(parts)


def static_shape(value: SSAValue, op: Operation, why: str) -> tuple[int, ...]:
    shape = tuple(value.type.get_shape())
    if any(size < 0 for size in shape):
        raise error_at(
            op,
            f"the gradient of {describe(op)} needs static sizes ({why}), got {value.type}: "
            "run fuse-infer-shapes with known input shapes first",
        )
    return shape


def is_float(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and not isinstance(
        value.type.element_type, IntegerType
    )


# --- emitting gradient ops --------------------------------------------------------


def unit(rank: int, k: int, coefficient: int = 1) -> tuple[int, ...]:
    """The coefficients of `coefficient * d_k` over `rank` dimensions (a
    `LinearForm`'s)."""
    return tuple(coefficient if j == k else 0 for j in range(rank))


@dataclass
class Emitter:
    """Builds gradient ops at one insertion point (before `before` in
    `block`, else at its end), located at the equation they differentiate."""

    block: Block
    before: Operation | None = None
    location: Attribute | None = None

    def emit(self, op: Operation) -> SSAValue:
        if self.location is not None:
            op.location = self.location
        if self.before is not None:
            self.block.insert_op_before(op, self.before)
        else:
            self.block.add_op(op)
        return op.results[0]

    def constant(self, array: np.ndarray) -> SSAValue:
        array = np.asarray(array, dtype=np.float32)
        tensor_type = TensorType(f32, array.shape)
        values = [float(v) for v in array.ravel()]
        return self.emit(ConstantOp(DenseIntOrFPElementsAttr.from_list(tensor_type, values)))

    def scalar(self, value: float) -> SSAValue:
        return self.constant(np.array(value))

    def einsum(
        self,
        subscripts: str,
        inputs: Sequence[SSAValue],
        result_type: TensorType,
        kind: str = "sum",
    ) -> SSAValue:
        ins, out = subscripts.split("->")
        if kind == "sum" and len(inputs) == 1 and ins == out:  # the identity
            return inputs[0]
        return self.emit(EinsumOp(subscripts, kind, inputs, result_type))

    def binary(
        self, fn: str, subscripts: str, lhs: SSAValue, rhs: SSAValue, result_type: TensorType
    ) -> SSAValue:
        return self.emit(BinaryOp(fn, subscripts, lhs, rhs, result_type))

    def unary(self, fn: str, value: SSAValue) -> SSAValue:
        return self.emit(UnaryOp(fn, value))

    def same(self, fn: str, lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        """`fn` of two tensors of one shape."""
        s = LETTERS[: lhs.type.get_num_dims()]
        return self.binary(fn, f"{s},{s}->{s}", lhs, rhs, lhs.type)

    def with_scalar(
        self, fn: str, value: SSAValue, number: float, *, left: bool = False
    ) -> SSAValue:
        """`value fn number` (or `number fn value` with `left`)."""
        s = LETTERS[: value.type.get_num_dims()]
        c = self.scalar(number)
        if left:
            return self.binary(fn, f",{s}->{s}", c, value, value.type)
        return self.binary(fn, f"{s},->{s}", value, c, value.type)

    def reduce(
        self, value: SSAValue, letters: str, target: str, result_type: TensorType
    ) -> SSAValue:
        """`value` (over `letters`) summed down to `target`'s letters."""
        if letters == target:
            return value
        return self.einsum(f"{letters}->{target}", [value], result_type)

    def broadcast_like(
        self, value: SSAValue, letters: str, shape_of: SSAValue, target: str
    ) -> SSAValue:
        """`value` broadcast to the shape of `shape_of` (over `target`): a
        select with equal branches, so no constant of (possibly dynamic)
        size is needed and `shape_of`'s values do not matter."""
        subscripts = f"{target},{letters},{letters}->{target}"
        return self.emit(SelectOp(subscripts, shape_of, value, value, shape_of.type))

    def window(self, x: SSAValue, forms: Sequence[LinearForm], shape: Sequence[int]) -> SSAValue:
        """`result[d] = x[forms(d)]` over a box of `shape` (a `fuse.window`)."""
        result_type = TensorType(x.type.element_type, list(shape))
        return self.emit(WindowOp(x, affine_map_of(forms, len(shape)), result_type))

    def place(
        self, v: SSAValue, forms: Sequence[LinearForm], shape: Sequence[int], kind: str = "sum"
    ) -> SSAValue:
        """`v[d]` combined by `kind` into `result[forms(d)]` of `shape`,
        zeros elsewhere (a `fuse.place`)."""
        result_type = TensorType(v.type.element_type, list(shape))
        rank = v.type.get_num_dims()
        return self.emit(PlaceOp(v, affine_map_of(forms, rank), kind, result_type))

    def sign(self, value: SSAValue) -> SSAValue:
        """-1, 0 or 1: step(x) - step(-x)."""
        return self.same(
            "sub", self.unary("step", value), self.unary("step", self.unary("neg", value))
        )


# --- activity ---------------------------------------------------------------------


def is_step(op: Operation) -> bool:
    """`step`, or `sig` at temperature 0 (which is `step`)."""
    return isinstance(op, UnaryOp) and (
        op.fn.data == "step"
        or (op.fn.data == "sig" and op.temperature is not None and op.temperature.value.data == 0)
    )


def _zero_gradient(op: Operation, straight_through: bool) -> bool:
    """Ops whose results have zero derivative everywhere they have one
    (`step` unless it is straight-through)."""
    return (is_step(op) and not straight_through) or isinstance(
        op, ConstantOp | IndexFnOp | SampleOp
    )


def captures(op: Operation) -> list[SSAValue]:
    """Values defined outside `op` that its regions read (not its operands)."""
    inside = set(op.walk())
    captured: dict[SSAValue, None] = {}  # ordered, without repeats
    for nested in inside - {op}:
        for operand in nested.operands:
            owner = operand.owner
            defining = owner if isinstance(owner, Operation) else owner.parent_op()
            if defining not in inside:
                captured[operand] = None
    return list(captured)


def active_values(
    ops: Iterable[Operation], seeds: set[SSAValue], straight_through: bool = False
) -> set[SSAValue]:
    """The float values among `ops`' results that depend on `seeds` through
    ops with a nonzero derivative (`seeds` included)."""
    active = set(seeds)
    for op in ops:
        if _zero_gradient(op, straight_through):
            if isinstance(op, SampleOp) and op.weights in active:
                raise error_at(
                    op,
                    "a Monte-Carlo projection (fuse.sample) whose proposal depends on the "
                    "tensors being differentiated has no gradient here: compile with "
                    "ExecutionConfig(projection='exact')",
                )
            continue
        if isinstance(op, FixpointOp):
            if not any(v in active for v in captures(op)):
                continue
            body = op.body.block
            inner = active_values(body.ops, active | set(body.args), straight_through)
            if any(v in inner for v in body.last_op.operands):
                active.update(op.results)
            continue
        if isinstance(op, ScanOp):
            active.update(_active_scan_results(op, active, straight_through))
            continue
        if any(v in active for v in op.operands):
            active.update(r for r in op.results if is_float(r))
    return active


def _active_scan_results(
    op: ScanOp, active: set[SSAValue], straight_through: bool
) -> list[SSAValue]:
    """A scan's results whose state depends on an active value: its initial
    value, a scanned input, a value its body reads, or (through the
    recurrence) another state that does; iterated until nothing changes."""
    body = op.body.block
    states, slices = body.args[: len(op.init)], body.args[len(op.init) :]
    seeds = active | {s for s, x in zip(slices, op.xs, strict=True) if x in active}
    state_active = [v in active for v in op.init]
    while True:
        inner = active_values(
            body.ops,
            seeds | {s for s, on in zip(states, state_active, strict=True) if on},
            straight_through,
        )
        grown = [
            on or v in inner for on, v in zip(state_active, body.last_op.operands, strict=True)
        ]
        if grown == state_active:
            break
        state_active = grown
    return [r for r, on in zip(op.results, state_active, strict=True) if on and is_float(r)]


# --- the reverse sweep --------------------------------------------------------------

GradientRule = Callable[["ReverseSweep", Operation, list[SSAValue | None]], None]
GRADIENT_RULES: dict[type[Operation], GradientRule] = {}


def gradient_rule(op_class: type[Operation]) -> Callable[[GradientRule], GradientRule]:
    """Registers the gradient rule of `op_class`: `rule(sweep, op,
    cotangents)` calls `sweep.accumulate(operand, gradient)` for each
    operand in `sweep.active` (`cotangents` has one entry per result, None
    where nothing flows back). Passes that add dataflow ops register theirs
    here."""

    def register(rule: GradientRule) -> GradientRule:
        GRADIENT_RULES[op_class] = rule
        return rule

    return register


@dataclass
class ReverseSweep:
    """Cotangents of values, built backwards over a list of ops."""

    emitter: Emitter
    active: set[SSAValue]
    # `step` passes cotangents through unchanged (a straight-through
    # estimator) instead of blocking them.
    straight_through: bool = False
    adjoints: dict[SSAValue, SSAValue] = field(default_factory=dict)

    def accumulate(self, value: SSAValue, gradient: SSAValue) -> None:
        if value not in self.active:
            return
        previous = self.adjoints.get(value)
        self.adjoints[value] = (
            gradient if previous is None else self.emitter.same("add", previous, gradient)
        )

    def run(self, ops: Sequence[Operation]) -> None:
        for op in reversed(ops):
            cotangents = [self.adjoints.get(r) for r in op.results]
            if all(c is None for c in cotangents) or not any(r in self.active for r in op.results):
                continue
            rule = GRADIENT_RULES.get(type(op))
            if rule is None:
                raise error_at(op, f"no gradient rule for {describe(op)}")
            self.emitter.location = op.location
            rule(self, op, cotangents)


def check_distinct(op: Operation, letters: str) -> None:
    if len(set(letters)) != len(letters):
        raise error_at(
            op,
            f"no gradient rule for {describe(op)}: an operand repeats an index ('{letters}', "
            "a diagonal)",
        )
