"""Rebuilding declarative rule bodies.

A rule body is a tree of indexed expressions whose types (`!fuse.expr<...>`)
are derived from their operands, so renaming an index or projecting a
sub-expression changes the types of everything above it. Rather than patch
types in place, passes rebuild the tree bottom-up through `BodyRebuilder`,
which re-creates each op with its constructor (recomputing types) and lets a
subclass intervene at each node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, StringAttr
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from fuse.dialects.fuse import (
    ArithOp,
    CallOp,
    ExprType,
    LiteralOp,
    LoadOp,
    NegateOp,
    ProjectOp,
    YieldOp,
)
from fuse.dialects.fuse.affine import IndexPosition, rename_position
from fuse.dialects.fuse.declarative import CONCAT_PART, concat_part, part_of


def body_ops(body: Region) -> list[Operation]:
    """Every op in `body`, nested ones included, in `body.walk()` order, in
    half its time: `walk` stacks three generators per op, and the passes
    walk every rule body many times (24,000 walks for 2,000 equations)."""
    ops: list[Operation] = []
    for block in body.blocks:
        op = block.first_op
        while op is not None:
            ops.append(op)
            for region in op.regions:
                ops += body_ops(region)
            op = op.next_op
    return ops


def yielded_value(body: Region) -> SSAValue:
    terminator = body.block.last_op
    # `operands`, not the `values` accessor: passes ask for it thousands of
    # times, and the accessor costs twice as much.
    assert isinstance(terminator, YieldOp) and len(terminator.operands) == 1
    return terminator.operands[0]


def names_of(value: SSAValue) -> tuple[str, ...]:
    assert isinstance(value.type, ExprType)
    return value.type.names


class BodyRebuilder:
    """Re-creates an expression tree into a fresh block.

    `rename` maps index names (identity where absent). Subclasses override
    `rebuild` to transform nodes, calling `rebuild_node` for the default
    re-creation."""

    def __init__(self, rename: Mapping[str, str] | None = None):
        self.rename_map = dict(rename or {})
        self.block = Block()

    def name(self, index: IndexPosition) -> IndexPosition:
        if not isinstance(index, str):  # an integer, or the variables of index arithmetic
            return rename_position(index, lambda variable: str(self.name(variable)))
        axis = part_of(index)
        if axis is not None and index not in self.rename_map:  # a concat part follows its axis
            return concat_part(str(self.name(axis)), int(index.rpartition(CONCAT_PART)[2]))
        return self.rename_map.get(index, index)

    def emit(self, op: Operation) -> SSAValue:
        self.block.add_op(op)
        return op.results[0]

    def into_region(self, root: SSAValue) -> Region:
        self.block.add_op(YieldOp(self.rebuild(root)))
        return Region(self.block)

    def rebuild(self, value: SSAValue) -> SSAValue:
        return self.rebuild_node(value)

    def rebuild_node(
        self, value: SSAValue, child: Callable[[SSAValue], SSAValue] | None = None
    ) -> SSAValue:
        """Re-creates the op defining `value`, rebuilding operands with
        `child` (default: `self.rebuild`)."""
        child = child or self.rebuild
        op = value.owner
        match op:
            case LoadOp():
                return self.emit(LoadOp(op.tensor_name, [self.name(i) for i in op.indices.data]))
            case LiteralOp():
                renamed = ExprType(tuple(str(self.name(n)) for n in op.result.type.names))
                return self.emit(LiteralOp(op.value, renamed))
            case ArithOp():
                return self.emit(ArithOp(op.fn.data, child(op.lhs), child(op.rhs)))
            case NegateOp():
                return self.emit(NegateOp(child(op.operand)))
            case ProjectOp():
                axes = [str(self.name(a)) for a in op.axes.data]
                return self.emit(ProjectOp(op.kind.data, axes, child(op.operand)))
            case CallOp():
                return self.emit(self.rebuild_call(op, [child(a) for a in op.args]))
        raise AssertionError(f"unexpected op in a rule body: {op}")

    def rebuild_call(self, op: CallOp, args: list[SSAValue]) -> CallOp:
        index_args = [str(self.name(i)) for i in op.index_args.data] if op.index_args else []
        keywords: dict[str, Attribute] | None = None
        if op.keywords is not None:
            keywords = dict(op.keywords.data)
            axis = keywords.get("axis")
            if isinstance(axis, StringAttr):
                keywords["axis"] = StringAttr(str(self.name(axis.data)))
            if op.merged:
                keywords["merge"] = ArrayAttr([StringAttr(str(self.name(n))) for n in op.merged])
        axis = keywords.get("axis") if keywords is not None else None
        result = CallOp.infer_indices(
            op.callee.data,
            [names_of(a) for a in args],
            index_args,
            axis.data if isinstance(axis, StringAttr) else None,
            [str(self.name(n)) for n in op.merged],
        )
        return CallOp(
            op.callee.data,
            args,
            ExprType(result),
            index_args=index_args or None,
            keywords=keywords,
        )


def keyword_dict(op: CallOp) -> dict[str, Attribute]:
    return dict(op.keywords.data) if isinstance(op.keywords, DictionaryAttr) else {}
