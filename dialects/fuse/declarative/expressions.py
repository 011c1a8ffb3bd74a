"""The declarative level's expressions: the ops of a rule or sink body.

Each computes an indexed expression (`!fuse.expr<i, k>`): `fuse.load`
reads a tensor by symbol, `fuse.literal` is a number, `fuse.arith`,
`fuse.negate`, `fuse.project` and `fuse.call` combine expressions by index
name, so no order of evaluation is implied. A body ends in `fuse.yield`
(`statements.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    FloatAttr,
    StringAttr,
    SymbolRefAttr,
)
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import (
    Pure,
)
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from ..attributes import (
    ExprType,
    IndexListAttr,
    ProjectionKind,
    check_keyword,
    expr_type,
    index_list,
    keyword,
    symbol_ref,
)
from ..construction import init_op
from ..syntax import (
    parse_access,
    parse_bracketed_indices,
    parse_keyword,
    parse_signature,
    print_access,
    print_bracketed_indices,
    print_keyword,
    print_operand_list,
    print_signature,
)
from .statements import checked_expr_type, verify_access

CONCAT_PART = "#"


def concat_part(axis: str, number: int) -> str:
    """The index standing for `axis` inside argument `number` of a `concat`:
    the parts of the axis have sizes of their own (`a#0`, `a#1`)."""
    return f"{axis}{CONCAT_PART}{number}"


def part_of(index: str) -> str | None:
    """The axis a `concat` part index stands for, or None."""
    axis, separator, _ = index.partition(CONCAT_PART)
    return axis if separator else None


def ordered_union(*index_lists: Sequence[str]) -> tuple[str, ...]:
    """Indices of a product: every operand's indices, in order of first
    appearance."""
    seen: dict[str, None] = {}
    for indices in index_lists:
        for name in indices:
            seen.setdefault(name)
    return tuple(seen)


# --- rule bodies ---------------------------------------------------------------


@irdl_op_definition
class LoadOp(IRDLOperation):
    """Reads a tensor by symbol. Repeated indices take a diagonal; integer
    indices select one position. The result varies over the distinct names.

    ```mlir
    %0 = fuse.load @Obs[0, o] : !fuse.expr<o>
    ```
    """

    name = "fuse.load"

    tensor = prop_def(SymbolRefAttr)
    indices = prop_def(IndexListAttr)
    result = result_def(ExprType)

    traits = traits_def(Pure())

    def __init__(self, tensor: str, indices: Sequence[str | int]):
        positions = index_list(tuple(indices))
        init_op(
            self,
            properties={"tensor": symbol_ref(tensor), "indices": positions},
            result_types=[expr_type(positions.names())],
        )

    @property
    def tensor_name(self) -> str:
        return self.tensor.root_reference.data

    def verify_(self) -> None:
        expected = self.indices.names()
        if self.result.type.names != expected:
            raise VerifyException(
                f"fuse.load of @{self.tensor_name} varies over {list(expected)}, "
                f"but its result type says {list(self.result.type.names)}"
            )
        verify_access(self, self.tensor, self.indices, "fuse.load")

    def print(self, printer: Printer) -> None:
        print_access(printer, self.tensor, self.indices)
        printer.print_op_attributes(self.attributes)
        printer.print_string(" : ")
        printer.print_attribute(self.result.type)

    @classmethod
    def parse(cls, parser: Parser) -> LoadOp:
        tensor, indices = parse_access(parser)
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        result_type = parser.parse_type()
        op = cls(tensor.root_reference.data, indices.data)
        if result_type != op.result.type:
            parser.raise_error(
                f"fuse.load of @{op.tensor_name}{list(indices.data)} varies over "
                f"{list(indices.names())}, but its type says {result_type}"
            )
        op.attributes |= attributes
        return op


@irdl_op_definition
class LiteralOp(IRDLOperation):
    """A number (broadcast over any indices) or a literal tensor from
    `const([[...]])`, varying over the indices its result type lists.

    ```mlir
    %0 = fuse.literal 2.000000e+00 : f32 -> !fuse.expr<>
    %1 = fuse.literal dense<[1.0, 2.0]> : tensor<2xf32> -> !fuse.expr<i>
    ```
    """

    name = "fuse.literal"

    value = prop_def(FloatAttr | DenseIntOrFPElementsAttr)
    result = result_def(ExprType)

    traits = traits_def(Pure())

    assembly_format = "$value attr-dict `->` type($result)"

    def __init__(self, value: FloatAttr | DenseIntOrFPElementsAttr, result_type: ExprType):
        init_op(self, properties={"value": value}, result_types=[result_type])

    def verify_(self) -> None:
        rank = len(self.result.type.names)
        if isinstance(self.value, FloatAttr):
            if rank != 0:
                raise VerifyException("a scalar fuse.literal must have type !fuse.expr<>")
        elif self.value.get_type().get_num_dims() != rank:
            raise VerifyException(
                f"fuse.literal of rank {self.value.get_type().get_num_dims()} "
                f"cannot vary over {list(self.result.type.names)}"
            )


class ArithFunction(StrEnum):
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    POW = "pow"
    MAX = "max"


@irdl_op_definition
class ArithOp(IRDLOperation):
    """Elementwise arithmetic on indexed expressions, aligned by index name.
    `mul` is also the join of juxtaposition. The result varies over both
    operands' indices, in order of first appearance. `max` combines the rules
    of one `max=` tensor.

    ```mlir
    %2 = fuse.arith mul %0, %1 : !fuse.expr<i, k>, !fuse.expr<k, j>
    ```
    """

    name = "fuse.arith"

    fn = prop_def(StringAttr)
    lhs = operand_def(ExprType)
    rhs = operand_def(ExprType)
    result = result_def(ExprType)

    traits = traits_def(Pure())

    def __init__(self, fn: ArithFunction | str, lhs: SSAValue, rhs: SSAValue):
        lhs_type = checked_expr_type(lhs, "fuse.arith lhs")
        rhs_type = checked_expr_type(rhs, "fuse.arith rhs")
        init_op(
            self,
            properties={"fn": keyword(str(fn))},
            operands=[lhs, rhs],
            result_types=[expr_type(ordered_union(lhs_type.names, rhs_type.names))],
        )

    def verify_(self) -> None:
        check_keyword(self.fn.data, ArithFunction, "fuse.arith function")
        expected = ordered_union(self.lhs.type.names, self.rhs.type.names)
        if self.result.type.names != expected:
            raise VerifyException(
                f"fuse.arith result must vary over {list(expected)}, "
                f"got {list(self.result.type.names)}"
            )

    def print(self, printer: Printer) -> None:
        print_keyword(printer, self.fn)
        printer.print_string(" ")
        printer.print_operand(self.lhs)
        printer.print_string(", ")
        printer.print_operand(self.rhs)
        printer.print_op_attributes(self.attributes)
        printer.print_string(" : ")
        printer.print_attribute(self.lhs.type)
        printer.print_string(", ")
        printer.print_attribute(self.rhs.type)

    @classmethod
    def parse(cls, parser: Parser) -> ArithOp:
        fn = parse_keyword(parser, "arithmetic function")
        lhs = parser.parse_unresolved_operand()
        parser.parse_punctuation(",")
        rhs = parser.parse_unresolved_operand()
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        lhs_type = parser.parse_type()
        parser.parse_punctuation(",")
        rhs_type = parser.parse_type()
        op = cls(
            fn.data,
            parser.resolve_operand(lhs, lhs_type),
            parser.resolve_operand(rhs, rhs_type),
        )
        op.attributes |= attributes
        return op


@irdl_op_definition
class NegateOp(IRDLOperation):
    """Unary minus of an indexed expression.

    ```mlir
    %1 = fuse.negate %0 : !fuse.expr<i>
    ```
    """

    name = "fuse.negate"

    T: ClassVar = VarConstraint("T", base(ExprType))
    operand = operand_def(T)
    result = result_def(T)

    traits = traits_def(Pure())

    assembly_format = "$operand attr-dict `:` type($operand)"

    def __init__(self, operand: SSAValue):
        init_op(self, operands=[operand], result_types=[operand.type])


@irdl_op_definition
class ProjectOp(IRDLOperation):
    """Projects indices out of an indexed expression by sum, max or mean.
    `fuse-canonicalize-projections` makes every projection of the projection
    rule explicit as one of these.

    ```mlir
    %1 = fuse.project sum [k] %0 : !fuse.expr<i, k, j>
    ```
    """

    name = "fuse.project"

    kind = prop_def(StringAttr)
    axes = prop_def(IndexListAttr)
    operand = operand_def(ExprType)
    result = result_def(ExprType)

    traits = traits_def(Pure())

    def __init__(self, kind: ProjectionKind | str, axes: Sequence[str], operand: SSAValue):
        operand_type = checked_expr_type(operand, "fuse.project operand")
        kept = tuple(n for n in operand_type.names if n not in axes)
        init_op(
            self,
            properties={"kind": keyword(str(kind)), "axes": index_list(tuple(axes))},
            operands=[operand],
            result_types=[expr_type(kept)],
        )

    @property
    def projection_kind(self) -> ProjectionKind:
        return ProjectionKind(self.kind.data)

    def verify_(self) -> None:
        check_keyword(self.kind.data, ProjectionKind, "projection")
        operand_names = self.operand.type.names
        for axis in self.axes.data:
            if axis not in operand_names:
                raise VerifyException(
                    f"fuse.project over '{axis}', which the operand "
                    f"{list(operand_names)} does not vary over"
                )
        kept = tuple(n for n in operand_names if n not in self.axes.data)
        if self.result.type.names != kept:
            raise VerifyException(
                f"fuse.project result must vary over {list(kept)}, "
                f"got {list(self.result.type.names)}"
            )

    def print(self, printer: Printer) -> None:
        print_keyword(printer, self.kind)
        printer.print_string(" ")
        print_bracketed_indices(printer, self.axes)
        printer.print_string(" ")
        printer.print_operand(self.operand)
        printer.print_op_attributes(self.attributes)
        printer.print_string(" : ")
        printer.print_attribute(self.operand.type)

    @classmethod
    def parse(cls, parser: Parser) -> ProjectOp:
        kind = parse_keyword(parser, "projection kind")
        axes = parse_bracketed_indices(parser)
        operand = parser.parse_unresolved_operand()
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        operand_type = parser.parse_type()
        op = cls(
            kind.data, [str(a) for a in axes.data], parser.resolve_operand(operand, operand_type)
        )
        op.attributes |= attributes
        return op


@irdl_op_definition
class CallOp(IRDLOperation):
    """A builtin call on indexed expressions. Index functions take index
    names (`even[i]`, `causal_mask[i, j]`) instead of operands; keyword
    arguments are kept as a dictionary.

    ```mlir
    %1 = fuse.call softmax(%0) {axis = "t"} : (!fuse.expr<p, t>) -> !fuse.expr<p, t>
    %2 = fuse.call causal_mask[i, j]() : () -> !fuse.expr<i, j>
    ```
    """

    name = "fuse.call"

    callee = prop_def(StringAttr)
    index_args = opt_prop_def(IndexListAttr)
    keywords = opt_prop_def(DictionaryAttr)
    args = var_operand_def(ExprType)
    result = result_def(ExprType)

    traits = traits_def(Pure())

    def __init__(
        self,
        callee: str,
        args: Sequence[SSAValue],
        result_type: ExprType,
        *,
        index_args: Sequence[str] | None = None,
        keywords: dict[str, Attribute] | None = None,
    ):
        init_op(
            self,
            properties={
                "callee": keyword(callee),
                "index_args": index_list(tuple(index_args)) if index_args else None,
                "keywords": DictionaryAttr(keywords) if keywords else None,
            },
            operands=[args],
            result_types=[result_type],
        )

    @staticmethod
    def infer_indices(
        callee: str,
        arg_indices: Sequence[Sequence[str]],
        index_args: Sequence[str] = (),
        axis: str | None = None,
        merged: Sequence[str] = (),
    ) -> tuple[str, ...]:
        """The indices a call's result varies over. Index functions vary over
        their index arguments; `attention(Q, K, V)` over Q's indices not
        shared with K, then V's indices not in K alone; `concat` over its
        arguments' indices with each argument's part of the `axis`
        (`concat_part(axis, k)`, sized apart) joined into `axis`, or, with
        one argument, its `merged` indices flattened into `axis` (the
        paper's head merge); every other builtin over the union of its
        arguments' indices."""
        if index_args:
            return tuple(index_args)
        if callee == "grad":  # grad(Loss, W[i, j]) varies over W's indices
            return tuple(arg_indices[1])
        if callee == "concat" and merged and axis is not None:
            return (*(n for n in arg_indices[0] if n not in merged), axis)
        if callee == "attention":
            query, key, value = arg_indices[:3]
            attended = [n for n in key if n not in query]
            return ordered_union(
                [n for n in query if n not in key], [n for n in value if n not in attended]
            )
        if callee == "concat" and axis is not None:
            return ordered_union(
                *([axis if part_of(n) == axis else n for n in names] for names in arg_indices)
            )
        return ordered_union(*arg_indices)

    @property
    def axis(self) -> str | None:
        axis = self.keyword("axis")
        return axis.data if isinstance(axis, StringAttr) else None

    @property
    def merged(self) -> tuple[str, ...]:
        """The indices a one-argument `concat` flattens into its axis."""
        merge = self.keyword("merge")
        if not isinstance(merge, ArrayAttr):
            return ()
        return tuple(a.data for a in merge.data if isinstance(a, StringAttr))

    def keyword(self, name: str) -> Attribute | None:
        if self.keywords is None:
            return None
        return self.keywords.data.get(name)

    def verify_(self) -> None:
        from fuse.frontend.builtins import lookup

        builtin = lookup(self.callee.data)
        if builtin is None:
            raise VerifyException(f"fuse.call of unknown builtin '{self.callee.data}'")
        if builtin.index_args and self.args:
            raise VerifyException(f"builtin '{builtin.name}' takes index names, not operands")
        if not builtin.index_args and self.index_args is not None:
            raise VerifyException(f"builtin '{builtin.name}' takes operands, not index names")
        given = len(self.index_args.data) if self.index_args else len(self.args)
        if self.keywords is not None:
            unknown = sorted(set(self.keywords.data) - builtin.keywords)
            if unknown:
                raise VerifyException(f"builtin '{builtin.name}' has no keyword '{unknown[0]}'")
            if builtin.index_args and "axis" in self.keywords.data:
                given += 1
        if given < builtin.min_args or (
            builtin.most_args is not None and given > builtin.most_args
        ):
            raise VerifyException(
                f"builtin '{builtin.name}' takes {builtin.arity_text()} arguments, got {given}"
            )
        expected = self.infer_indices(
            self.callee.data,
            [a.type.names for a in self.args],
            [str(n) for n in self.index_args.data] if self.index_args else (),
            self.axis,
            self.merged,
        )
        if self.result.type.names != expected:
            raise VerifyException(
                f"fuse.call {self.callee.data} varies over {list(expected)}, "
                f"but its result type says {list(self.result.type.names)}"
            )

    def print(self, printer: Printer) -> None:
        printer.print_string(f" {self.callee.data}")
        if self.index_args is not None:
            print_bracketed_indices(printer, self.index_args)
        print_operand_list(printer, self.args)
        if self.keywords is not None:
            printer.print_string(" ")
            printer.print_attribute(self.keywords)
        # With the keyword, so that `parse` cannot mistake them for `keywords`.
        printer.print_op_attributes(self.attributes, print_keyword=True)
        print_signature(printer, [a.type for a in self.args], [self.result.type])

    @classmethod
    def parse(cls, parser: Parser) -> CallOp:
        callee = parser.parse_identifier("builtin name")
        index_args = None
        if parser.parse_optional_punctuation("[") is not None:
            from ..attributes import parse_index_positions

            index_args = [str(n) for n in parse_index_positions(parser)]
            parser.parse_punctuation("]")
        operands = parser.parse_comma_separated_list(
            parser.Delimiter.PAREN, parser.parse_unresolved_operand, "call arguments"
        )
        keywords = None
        dictionary = parser.parse_optional_attribute()
        if dictionary is not None:
            if not isinstance(dictionary, DictionaryAttr):
                parser.raise_error("expected a dictionary of keyword arguments")
            keywords = dict(dictionary.data)
        attributes = parser.parse_optional_attr_dict_with_keyword()
        input_types, output_types = parse_signature(parser)
        if len(output_types) != 1 or not isinstance(output_types[0], ExprType):
            parser.raise_error("fuse.call returns one !fuse.expr")
        args = parser.resolve_operands(operands, input_types, parser.pos)
        op = cls(callee, args, output_types[0], index_args=index_args, keywords=keywords)
        if attributes is not None:
            op.attributes |= attributes.data
        return op
