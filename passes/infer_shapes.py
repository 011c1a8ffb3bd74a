"""`fuse-infer-shapes`: index domain sizes from what is known.

Sizes are known for tensors whose declarations carry static dimensions
(bound sources and runtime inputs) and for `const` literals. Within a rule
one index name has one size, so sizes flow from the tensors a rule reads to
its left-hand side and on to every rule reading that tensor — and back, from
a rule to the tensors it reads whose sizes nothing else gives (`PosEnc[p,
d]` read beside `X[p, d]`) — until nothing changes. An index bound to two
sizes is an error naming both tensors, both sizes and the rule's location.

A dimension that nothing sizes, but that rules write at integer positions
(the facts `X(1)`, `X(3)` become `X[1] = 1`, `X[3] = 1`), is as large as
the largest such position plus one, the paper's reading of a fact-only
relation; sizes then flow on from there. A use that sizes it (`X(1)`
beside a 4-vector `W[i] X(i)`) wins, since it is bound first.

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
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DictionaryAttr,
    FileLineColLoc,
    IntegerAttr,
    ModuleOp,
    TensorType,
    i64,
)
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import (
    ArithOp,
    CallOp,
    LiteralOp,
    LoadOp,
    ProgramOp,
    RuleOp,
    SinkOp,
    TensorOp,
)
from fuse.dialects.fuse.affine import AffineIndex, as_affine
from fuse.dialects.fuse.attributes import IndexPosition, ProjectionKind
from fuse.dialects.fuse.declarative import part_of, programs
from fuse.dialects.fuse.scan import STEPS

from .expr_tree import body_ops
from .index_ranges import (
    EmptyRange,
    is_affine_rule,
    is_ranged,
    ranged_tensors,
    reached_extent,
    rule_ranges,
)
from .sweep import sweep_until_stable


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

    def bind(
        self, index: IndexPosition, size: int, tensor: str, where: Operation | None = None
    ) -> bool:
        """Binds `index` to `size`, read from `tensor`; a conflict is located
        at `where` (the access or call that read it; the rule by default)."""
        if not isinstance(index, str) or size == DYNAMIC_INDEX:
            return False
        known = self.sizes.get(index)
        if known is None:
            self.sizes[index] = _Binding(size, tensor)
            return True
        if known.size != size:
            raise ShapeConflict(
                f"{location_prefix(where or self.op)}index '{index}' has size {known.size} "
                f"in @{known.tensor} but size {size} in @{tensor}"
                f"{self.why_one_size(index, known.tensor, tensor)}"
            )
        return False

    def why_one_size(self, index: str, first: str, second: str) -> str:
        """Why `index` has one size in two terms of a sum (tensors `first` and
        `second`), where an index projected inside each term would have one
        size per term (DESIGN.md §3, case 4)."""
        if not isinstance(self.op, RuleOp) or not _in_different_terms(self.op, first, second):
            return ""
        if index in self.op.indices.data:
            return (
                f" ('{index}' is on the left-hand side of @{self.op.tensor_name}, "
                "so every term shares its size)"
            )
        if self.op.projection_kind is ProjectionKind.MAX:
            return (
                f" (max= projects '{index}' over the sum as a whole, so its terms share its size)"
            )
        return ""


def _in_different_terms(rule: RuleOp, first: str, second: str) -> bool:
    """Whether some `+` or `-` in the rule reads `first` on one side and
    `second` on the other."""

    def loaded(value: SSAValue) -> set[str]:
        return {op.tensor_name for op in _tree(value) if isinstance(op, LoadOp)}

    for op in body_ops(rule.body):
        if isinstance(op, ArithOp) and op.fn.data in ("add", "sub"):
            left, right = loaded(op.lhs), loaded(op.rhs)
            if (first in left and second in right) or (second in left and first in right):
                return True
    return False


def _tree(value: SSAValue) -> Iterator[Operation]:
    stack = [value.owner]
    while stack:
        op = stack.pop()
        yield op
        stack.extend(operand.owner for operand in op.operands)


def _accesses(op: RuleOp | SinkOp) -> Iterator[LoadOp | LiteralOp]:
    for inner in body_ops(op.body):
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
                sizes.bind(index, size, access.tensor_name, access)
        elif isinstance(access.value.type, TensorType):
            for index, size in zip(
                access.result.type.names, access.value.type.get_shape(), strict=True
            ):
                sizes.bind(index, size, "const literal", access)
    for call in body_ops(op.body):
        if isinstance(call, CallOp) and call.callee.data == "concat" and call.axis is not None:
            if call.merged:
                _bind_merged(sizes, call, call.merged, call.axis)
            else:
                _bind_concatenated(sizes, call, call.axis)


def _bind_concatenated(sizes: _RuleSizes, call: CallOp, axis: str) -> None:
    """A concat's axis is as long as its arguments' parts together."""
    parts = [n for arg in call.args for n in arg.type.names if part_of(n) == axis]
    known = [sizes.sizes.get(part) for part in parts]
    if parts and all(binding is not None for binding in known):
        total = sum(binding.size for binding in known if binding is not None)
        sizes.bind(axis, total, "concat of " + ", ".join(b.tensor for b in known if b), call)


def _bind_merged(sizes: _RuleSizes, call: CallOp, merged: tuple[str, ...], axis: str) -> None:
    """A head merge's axis is as long as its merged indices together."""
    known = [sizes.sizes.get(index) for index in merged]
    if all(binding is not None for binding in known):
        total = math.prod(binding.size for binding in known if binding is not None)
        sizes.bind(axis, total, "concat of " + ", ".join(b.tensor for b in known if b), call)


def _propagate_affine_rule(rule: RuleOp | SinkOp, program: ProgramOp) -> list[str]:
    """Sizes under index arithmetic (`passes/index_ranges.py`): each
    left-hand-side dimension as long as the largest position it is written
    at, and each plain position of a read tensor whose size nothing gives as
    long as its variable's range. Returns the tensors whose shapes grew."""
    try:
        ranges = rule_ranges(rule, program)
    except EmptyRange as error:
        raise ShapeConflict(f"{location_prefix(rule)}{error}") from None
    grown: list[str] = []
    targets: list[tuple[str, Sequence[IndexPosition]]] = [
        (load.tensor_name, load.indices.data)
        for load in body_ops(rule.body)
        if isinstance(load, LoadOp)
    ]
    if isinstance(rule, RuleOp):
        targets.insert(0, (rule.tensor_name, rule.indices.data))
    for n, (tensor, positions) in enumerate(targets):
        declaration = program.lookup_tensor(tensor)
        assert declaration is not None
        shape = list(declaration.tensor_type.get_shape())
        changed = False
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
        if changed:
            declaration.tensor_type = TensorType(declaration.tensor_type.element_type, shape)
            grown.append(tensor)
    return grown


def _propagate_rule(rule: RuleOp, program: ProgramOp, ranged: set[str]) -> list[str]:
    """Binds the rule's index sizes; returns the tensors whose shapes grew."""
    if is_ranged(rule, ranged):
        return _propagate_affine_rule(rule, program)
    declaration = program.lookup_tensor(rule.tensor_name)
    assert declaration is not None
    sizes = _RuleSizes(rule)
    shape = list(declaration.tensor_type.get_shape())
    for index, size in zip(rule.indices.data, shape, strict=True):
        sizes.bind(index, size, rule.tensor_name)
    _bind_body(sizes, rule, program)
    grown = [rule.tensor_name] if _grow(declaration, rule.indices.data, sizes) else []
    return grown + _bind_read_tensors(sizes, rule, program)


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


def _bind_read_tensors(sizes: _RuleSizes, op: RuleOp | SinkOp, program: ProgramOp) -> list[str]:
    """Sizes flow backwards too: a tensor read as `PosEnc[p, d]` where the
    rule knows `p` and `d` from other tensors has that shape, even if
    nothing in its own rules binds it. Returns the tensors whose shapes grew."""
    grown: list[str] = []
    for access in _accesses(op):
        if not isinstance(access, LoadOp):
            continue
        declaration = program.lookup_tensor(access.tensor_name)
        assert declaration is not None
        if _grow(declaration, access.indices.data, sizes):
            grown.append(access.tensor_name)
    return grown


def _size_from_integer_positions(
    statements: Sequence[RuleOp | SinkOp], program: ProgramOp
) -> list[str]:
    """Gives every still unknown dimension that rules write at integer
    positions the size largest position + 1 (`X(1) = 1`: nothing else sizes
    it); returns the tensors whose shapes grew.

    A recurrence's axis (`Emb[n, l+1, d]`) grows with each step, so what
    its rules write does not bound it; the integer positions it is read at
    do, as the paper's GNN reads `Emb[n, L, d]` for L layers: `Emb[n, 3,
    d]` sizes the axis 4 and stops the stepping variable where it writes
    position 3 (`{fuse.steps = {l = 3}}`, as `S = 3` does for `*s`)."""
    written: dict[tuple[str, int], int] = {}
    read: dict[tuple[str, int], int] = {}
    stepping: dict[tuple[str, int], list[tuple[RuleOp, AffineIndex]]] = {}
    for statement in statements:
        if isinstance(statement, RuleOp):
            for n, index in enumerate(statement.indices.data):
                key = (statement.tensor_name, n)
                if isinstance(index, int):
                    written[key] = max(written.get(key, -1), index)
                elif not isinstance(index, str):
                    stepping.setdefault(key, []).append((statement, as_affine(index)))
        for access in _accesses(statement):
            if isinstance(access, LoadOp):
                for n, index in enumerate(access.indices.data):
                    if isinstance(index, int):
                        key = (access.tensor_name, n)
                        read[key] = max(read.get(key, -1), index)
    largest = {key: position for key, position in written.items() if key not in stepping}
    grown: list[str] = []
    for (tensor, n), rules in stepping.items():
        declaration = program.lookup_tensor(tensor)
        assert declaration is not None
        unknown = declaration.tensor_type.get_shape()[n] == DYNAMIC_INDEX
        if unknown and (tensor, n) in read and _bound_steps(rules, read[tensor, n]):
            largest[tensor, n] = max(read[tensor, n], written.get((tensor, n), -1))
    for (tensor, n), position in largest.items():
        declaration = program.lookup_tensor(tensor)
        assert declaration is not None
        shape = list(declaration.tensor_type.get_shape())
        if shape[n] == DYNAMIC_INDEX:
            shape[n] = position + 1
            declaration.tensor_type = TensorType(declaration.tensor_type.element_type, shape)
            grown.append(tensor)
    return grown


def _bound_steps(rules: Sequence[tuple[RuleOp, AffineIndex]], last: int) -> bool:
    """Gives each rule stepping an axis at `v + k` the step count `last + 1
    - k` for `v`, so it writes up to position `last`; False (nothing
    changed) where a position is not one variable plus a constant, or a
    rule already has a count for it."""
    counts: list[tuple[RuleOp, str, int]] = []
    for rule, position in rules:
        variable = position.shifted_variable
        if variable is None:
            return False
        steps = rule.attributes.get(STEPS)
        if isinstance(steps, DictionaryAttr) and variable in steps.data:
            return False
        counts.append((rule, variable, last + 1 - position.constant))
    if any(count < 1 for _, _, count in counts):
        return False
    for rule, variable, count in counts:
        steps = rule.attributes.get(STEPS)
        given = dict(steps.data) if isinstance(steps, DictionaryAttr) else {}
        rule.attributes[STEPS] = DictionaryAttr({**given, variable: IntegerAttr(count, i64)})
    return True


def _propagate_sink(sink: SinkOp, program: ProgramOp) -> list[str]:
    if is_affine_rule(sink):
        return _propagate_affine_rule(sink, program)
    sizes = _RuleSizes(sink)
    _bind_body(sizes, sink, program)
    return _bind_read_tensors(sizes, sink, program)


def _accessed(op: RuleOp | SinkOp) -> Counter[str]:
    """How often the statement accesses each tensor (defines or reads it)."""
    counts = Counter(access.tensor_name for access in _accesses(op) if isinstance(access, LoadOp))
    if isinstance(op, RuleOp):
        counts[op.tensor_name] += 1
    return counts


def infer_program_shapes(program: ProgramOp) -> None:
    """Propagates sizes through the rules, then the sinks, until no shape
    grows (see `sweep_until_stable`); then sizes the dimensions only integer
    left-hand-side positions write, and propagates again."""
    ops = program.body.block.ops
    statements: list[RuleOp | SinkOp] = [
        *(op for op in ops if isinstance(op, RuleOp)),
        *(op for op in ops if isinstance(op, SinkOp)),
    ]

    ranged = ranged_tensors(program)

    def run(position: int) -> list[str]:
        statement = statements[position]
        if isinstance(statement, RuleOp):
            return _propagate_rule(statement, program, ranged)
        return _propagate_sink(statement, program)

    accessed = [_accessed(statement) for statement in statements]
    while True:
        sweep_until_stable(accessed, run)
        if not _size_from_integer_positions(statements, program):
            return


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
        for program in programs(op):
            infer_program_shapes(program)
