"""Attributes and types of the `fuse` dialect.

* `#fuse.indices<i, "p'", 0>` (`IndexListAttr`): the index positions of a
  tensor access or left-hand side. A position is an index name or an integer
  constant index. Names that are not bare identifiers (primed names such as
  `p'`) print as string literals.
* `!fuse.expr<i, k>` (`ExprType`): the type of a value in a declarative rule
  body, an indexed expression whose free indices are listed in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from enum import auto
from functools import lru_cache

from xdsl.dialects.builtin import StringAttr, SymbolRefAttr, TensorType, f32
from xdsl.ir import Data, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition, param_def
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

IndexPosition = str | int

_BARE_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$.]*")


def print_index_position(printer: Printer, position: IndexPosition) -> None:
    if isinstance(position, int):
        printer.print_string(str(position))
    elif _BARE_IDENTIFIER.fullmatch(position):
        printer.print_string(position)
    else:
        printer.print_string_literal(position)


def parse_index_position(parser: AttrParser) -> IndexPosition:
    integer = parser.parse_optional_integer(allow_boolean=False)
    if integer is not None:
        return integer
    return parser.parse_identifier_or_str_literal("index name or integer")


def print_index_positions(printer: Printer, positions: Iterable[IndexPosition]) -> None:
    printer.print_list(positions, lambda p: print_index_position(printer, p))


def parse_index_positions(parser: AttrParser) -> tuple[IndexPosition, ...]:
    """Parses a possibly empty comma-separated list up to a closing `>`/`]`."""
    first = parser.parse_optional_integer(allow_boolean=False)
    if first is None:
        name = parser.parse_optional_identifier_or_str_literal()
        if name is None:
            return ()
        first = name
    positions: list[IndexPosition] = [first]
    while parser.parse_optional_punctuation(",") is not None:
        positions.append(parse_index_position(parser))
    return tuple(positions)


@irdl_attr_definition
class IndexListAttr(Data[tuple[IndexPosition, ...]]):
    """Index positions of an access: names and integer constant indices."""

    name = "fuse.indices"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple[IndexPosition, ...]:
        with parser.in_angle_brackets():
            return parse_index_positions(parser)

    def print_parameter(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            print_index_positions(printer, self.data)

    @staticmethod
    def from_positions(positions: Sequence[IndexPosition]) -> IndexListAttr:
        return IndexListAttr(tuple(positions))

    def names(self) -> tuple[str, ...]:
        """The distinct index names, in order of first appearance."""
        seen: dict[str, None] = {}
        for p in self.data:
            if isinstance(p, str):
                seen.setdefault(p)
        return tuple(seen)


@irdl_attr_definition
class ExprType(ParametrizedAttribute, TypeAttribute):
    """An indexed expression in a declarative rule body: a value that varies
    over the listed free indices (in this order)."""

    name = "fuse.expr"

    indices: IndexListAttr = param_def(IndexListAttr)

    def __init__(self, indices: Sequence[str] | IndexListAttr):
        if not isinstance(indices, IndexListAttr):
            indices = IndexListAttr(tuple(indices))
        super().__init__(indices)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[IndexListAttr]:
        with parser.in_angle_brackets():
            return [IndexListAttr(parse_index_positions(parser))]

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            print_index_positions(printer, self.indices.data)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(str(p) for p in self.indices.data)

    def verify(self) -> None:
        names = self.indices.data
        if any(not isinstance(p, str) for p in names):
            raise VerifyException(f"!fuse.expr lists index names only, got {list(names)}")
        if len(set(names)) != len(names):
            raise VerifyException(f"!fuse.expr lists each index once, got {list(names)}")


class ProjectionKind(StrEnum):
    """How the indices a left-hand side drops are projected."""

    SUM = auto()
    MAX = auto()
    MEAN = auto()


class FixpointStrategy(StrEnum):
    """How a `fuse.fixpoint` iterates: recompute everything, or only deltas."""

    NAIVE = auto()
    SEMI_NAIVE = auto()


def check_keyword(value: str, allowed: type[StrEnum], what: str) -> None:
    """Verifier helper for keyword-valued properties."""
    choices = [member.value for member in allowed]
    if value not in choices:
        raise VerifyException(f"unknown {what} '{value}', expected one of {', '.join(choices)}")


# Attributes are immutable, so equal ones can be shared. Interning the ones
# every rule body creates over and over (index lists, expression types,
# symbol references, keywords) makes building IR for large programs several
# times faster: xDSL verifies each attribute it constructs.


@lru_cache(maxsize=8192)
def index_list(positions: tuple[IndexPosition, ...]) -> IndexListAttr:
    return IndexListAttr(positions)


@lru_cache(maxsize=8192)
def expr_type(names: tuple[str, ...]) -> ExprType:
    return ExprType(index_list(names))


@lru_cache(maxsize=8192)
def symbol_ref(name: str) -> SymbolRefAttr:
    return SymbolRefAttr(name)


@lru_cache(maxsize=1024)
def keyword(text: str) -> StringAttr:
    return StringAttr(text)


@lru_cache(maxsize=8192)
def f32_tensor(shape: tuple[int, ...]) -> TensorType:
    """`tensor<...xf32>` of `shape` (-1: dynamic), the dataflow level's type."""
    return TensorType(f32, shape)
