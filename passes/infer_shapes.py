"""`fuse-infer-shapes`: index domain sizes from what is known.

Sizes are known for tensors whose declarations carry static dimensions
(bound sources and runtime inputs) and for `const` literals. Within a rule
one index name has one size, so sizes flow from the tensors a rule reads to
its left-hand side and on to every rule reading that tensor — and back, from
a rule to the tensors it reads whose sizes nothing else gives (`PosEnc[p,
d]` read beside `X[p, d]`) — until nothing changes. An index bound to two sizes is an error naming both tensors, both
sizes and the rule's location.

A rule with index arithmetic or slices (`Image[x + dx]`, `X[i, t + 1]`)
sizes its variables by what keeps every access in bounds instead
(`passes/index_ranges.py`, docs/index_arithmetic.md), and its left-hand
side as long as the largest position it writes.

```mlir
// before
fuse.tensor @W[i, j] input : tensor<4x8xf32>
fuse.tensor @Y[i] : tensor<?xf32>
fuse.rule @Y[i] sum { ... fuse.load @W[i, j] ... }
// after
fuse.tensor @Y[i] : tensor<4xf32>
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import DYNAMIC_INDEX, FileLineColLoc, ModuleOp, TensorType
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import CallOp, LiteralOp, LoadOp, ProgramOp, RuleOp, SinkOp, TensorOp
from fuse.dialects.fuse.attributes import IndexPosition
from fuse.dialects.fuse.declarative import part_of

from .index_ranges import (
    EmptyRange,
    is_affine_rule,
    is_ranged,
    ranged_tensors,
    reached_extent,
    rule_ranges,
)


def location_prefix(op: Operation) -> str:
    """`file:line:col: ` for ops the IR builder located, else nothing."""
    loc = op.location
    if isinstance(loc, FileLineColLoc):
        return f"{loc.filename.data}:{loc.line.data}:{loc.column.data}: "
    parent = op.parent_op()
    return location_prefix(parent) if parent is not None else ""


class ShapeConflict(DiagnosticException):
    """One index bound to two sizes."""


@dataclass
class _Binding:
    size: int
    tensor: str


class _RuleSizes:
    """Index sizes within one rule, remembering which tensor bound each."""

    def __init__(self, op: Operation):
        self.op = op
        self.sizes: dict[str, _Binding] = {}

    def bind(self, index: IndexPosition, size: int, tensor: str) -> bool:
        if not isinstance(index, str) or size == DYNAMIC_INDEX:
            return False
        known = self.sizes.get(index)
        if known is None:
            self.sizes[index] = _Binding(size, tensor)
            return True
        if known.size != size:
            raise ShapeConflict(
                f"{location_prefix(self.op)}index '{index}' has size {known.size} in "
                f"@{known.tensor} but size {size} in @{tensor}"
            )
        return False


def _accesses(op: RuleOp | SinkOp) -> Iterator[LoadOp | LiteralOp]:
    for inner in op.body.walk():
        if isinstance(inner, LoadOp | LiteralOp):
            yield inner


def _bind_body(sizes: _RuleSizes, op: RuleOp | SinkOp, program: ProgramOp) -> None:
    for access in _accesses(op):
        if isinstance(access, LoadOp):
            declaration = program.lookup_tensor(access.tensor_name)
            assert declaration is not None
            for index, size in zip(
                access.indices.data, declaration.tensor_type.get_shape(), strict=True
            ):
                sizes.bind(index, size, access.tensor_name)
        elif isinstance(access.value.type, TensorType):
            for index, size in zip(
                access.result.type.names, access.value.type.get_shape(), strict=True
            ):
                sizes.bind(index, size, "const literal")
    for call in op.body.walk():
        if isinstance(call, CallOp) and call.callee.data == "concat" and call.axis is not None:
            if call.merged:
                _bind_merged(sizes, call.merged, call.axis)
            else:
                _bind_concatenated(sizes, call, call.axis)


def _bind_concatenated(sizes: _RuleSizes, call: CallOp, axis: str) -> None:
    """A concat's axis is as long as its arguments' parts together."""
    parts = [n for arg in call.args for n in arg.type.names if part_of(n) == axis]
    known = [sizes.sizes.get(part) for part in parts]
    if parts and all(binding is not None for binding in known):
        total = sum(binding.size for binding in known if binding is not None)
        sizes.bind(axis, total, "concat of " + ", ".join(b.tensor for b in known if b))


def _bind_merged(sizes: _RuleSizes, merged: tuple[str, ...], axis: str) -> None:
    """A head merge's axis is as long as its merged indices together."""
    known = [sizes.sizes.get(index) for index in merged]
    if all(binding is not None for binding in known):
        total = math.prod(binding.size for binding in known if binding is not None)
        sizes.bind(axis, total, "concat of " + ", ".join(b.tensor for b in known if b))


def _propagate_affine_rule(rule: RuleOp | SinkOp, program: ProgramOp) -> bool:
    """Sizes under index arithmetic (`passes/index_ranges.py`): each
    left-hand-side dimension as long as the largest position it is written
    at, and each plain position of a read tensor whose size nothing gives as
    long as its variable's range. Returns whether a shape grew."""
    try:
        ranges = rule_ranges(rule, program)
    except EmptyRange as error:
        raise ShapeConflict(f"{location_prefix(rule)}{error}") from None
    changed = False
    targets: list[tuple[str, Sequence[IndexPosition]]] = [
        (load.tensor_name, load.indices.data)
        for load in rule.body.walk()
        if isinstance(load, LoadOp)
    ]
    if isinstance(rule, RuleOp):
        targets.insert(0, (rule.tensor_name, rule.indices.data))
    for n, (tensor, positions) in enumerate(targets):
        declaration = program.lookup_tensor(tensor)
        assert declaration is not None
        shape = list(declaration.tensor_type.get_shape())
        for k, position in enumerate(positions):
            is_lhs = n == 0 and isinstance(rule, RuleOp)
            if not is_lhs and not isinstance(position, str):
                continue  # a read through arithmetic says nothing of the size read
            try:
                extent = reached_extent(position, ranges)
            except ValueError as error:
                raise ShapeConflict(f"{location_prefix(rule)}{error} of @{tensor}") from None
            if extent is None or (isinstance(position, int) and shape[k] == DYNAMIC_INDEX):
                # A constant position (`X[i, 0] = X0[i]`) is sized where the
                # dimension is used, as without index arithmetic: sizing it
                # here would make a recurrence grow one step per pass.
                continue
            fixed = declaration.input is not None or declaration.source is not None
            if shape[k] == DYNAMIC_INDEX or (extent > shape[k] and is_lhs and not fixed):
                shape[k] = extent  # a tensor's rules together: the longest
                changed = True
            elif extent > shape[k]:
                raise ShapeConflict(
                    f"{location_prefix(rule)}@{tensor}[{', '.join(map(str, positions))}] "
                    f"writes position {extent - 1} of dimension {k}, which has size {shape[k]}"
                )
        declaration.tensor_type = TensorType(declaration.tensor_type.element_type, shape)
    return changed


def _propagate_rule(rule: RuleOp, program: ProgramOp, ranged: set[str]) -> bool:
    """Binds the rule's index sizes; returns whether its tensor's shape grew."""
    if is_ranged(rule, ranged):
        return _propagate_affine_rule(rule, program)
    declaration = program.lookup_tensor(rule.tensor_name)
    assert declaration is not None
    sizes = _RuleSizes(rule)
    shape = list(declaration.tensor_type.get_shape())
    for index, size in zip(rule.indices.data, shape, strict=True):
        sizes.bind(index, size, rule.tensor_name)
    _bind_body(sizes, rule, program)
    changed = _grow(declaration, rule.indices.data, sizes)
    return _bind_read_tensors(sizes, rule, program) or changed


def _grow(declaration: TensorOp, indices: Sequence[IndexPosition], sizes: _RuleSizes) -> bool:
    """Gives the declaration's unknown dimensions the sizes the rule bound
    to the indices at those positions; returns whether any was unknown."""
    shape = list(declaration.tensor_type.get_shape())
    grew = False
    for n, index in enumerate(indices):
        binding = sizes.sizes.get(index) if isinstance(index, str) else None
        if binding is not None and shape[n] == DYNAMIC_INDEX:
            shape[n] = binding.size
            grew = True
    if grew:
        declaration.tensor_type = TensorType(declaration.tensor_type.element_type, shape)
    return grew


def _bind_read_tensors(sizes: _RuleSizes, op: RuleOp | SinkOp, program: ProgramOp) -> bool:
    """Sizes flow backwards too: a tensor read as `PosEnc[p, d]` where the
    rule knows `p` and `d` from other tensors has that shape, even if
    nothing in its own rules binds it. Returns whether a shape grew."""
    changed = False
    for access in _accesses(op):
        if not isinstance(access, LoadOp):
            continue
        declaration = program.lookup_tensor(access.tensor_name)
        assert declaration is not None
        changed = _grow(declaration, access.indices.data, sizes) or changed
    return changed


def infer_program_shapes(program: ProgramOp) -> None:
    rules = [op for op in program.body.block.ops if isinstance(op, RuleOp)]
    sinks = [op for op in program.body.block.ops if isinstance(op, SinkOp)]
    ranged = ranged_tensors(program)
    while any(
        [
            *(_propagate_rule(rule, program, ranged) for rule in rules),
            *(_propagate_sink(sink, program) for sink in sinks),
        ]
    ):
        pass


def _propagate_sink(sink: SinkOp, program: ProgramOp) -> bool:
    if is_affine_rule(sink):
        return _propagate_affine_rule(sink, program)
    sizes = _RuleSizes(sink)
    _bind_body(sizes, sink, program)
    return _bind_read_tensors(sizes, sink, program)


def declared_shapes(program: ProgramOp) -> dict[str, tuple[int, ...]]:
    return {
        op.tensor_name: tuple(op.tensor_type.get_shape())
        for op in program.body.block.ops
        if isinstance(op, TensorOp)
    }


@dataclass(frozen=True)
class InferShapesPass(ModulePass):
    """See the module docstring."""

    name = "fuse-infer-shapes"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in [o for o in op.walk() if isinstance(o, ProgramOp)]:
            infer_program_shapes(program)
