"""Parsing and printing pieces shared by the custom syntax of `fuse` ops."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import StringAttr, SymbolRefAttr
from xdsl.ir import Attribute, SSAValue
from xdsl.parser import Parser
from xdsl.printer import Printer

from .attributes import (
    IndexListAttr,
    IndexPosition,
    parse_index_positions,
    print_index_positions,
)


def print_access(printer: Printer, tensor: SymbolRefAttr, indices: IndexListAttr) -> None:
    """`@A[i, k]`"""
    printer.print_string(" ")
    printer.print_attribute(tensor)
    printer.print_string("[")
    print_index_positions(printer, indices.data)
    printer.print_string("]")


def parse_access(parser: Parser) -> tuple[SymbolRefAttr, IndexListAttr]:
    tensor = SymbolRefAttr(parser.parse_symbol_name())
    indices = parse_bracketed_indices(parser)
    return tensor, indices


def parse_bracketed_indices(parser: Parser) -> IndexListAttr:
    parser.parse_punctuation("[")
    positions: tuple[IndexPosition, ...] = parse_index_positions(parser)
    parser.parse_punctuation("]")
    return IndexListAttr(positions)


def print_bracketed_indices(printer: Printer, indices: IndexListAttr) -> None:
    printer.print_string("[")
    print_index_positions(printer, indices.data)
    printer.print_string("]")


def print_keyword(printer: Printer, keyword: StringAttr) -> None:
    printer.print_string(f" {keyword.data}")


def parse_keyword(parser: Parser, what: str) -> StringAttr:
    return StringAttr(parser.parse_identifier(what))


def print_operand_list(printer: Printer, values: Sequence[SSAValue]) -> None:
    printer.print_string("(")
    printer.print_list(values, printer.print_operand)
    printer.print_string(")")


def print_types(printer: Printer, types: Sequence[Attribute]) -> None:
    printer.print_list(types, printer.print_attribute)


def parse_types(parser: Parser) -> list[Attribute]:
    types = [parser.parse_type()]
    while parser.parse_optional_punctuation(",") is not None:
        types.append(parser.parse_type())
    return types


def print_signature(
    printer: Printer, inputs: Sequence[Attribute], outputs: Sequence[Attribute]
) -> None:
    """` : (t1, t2) -> t3`"""
    printer.print_string(" : (")
    print_types(printer, inputs)
    printer.print_string(") -> ")
    print_types(printer, outputs)


def parse_signature(parser: Parser) -> tuple[list[Attribute], list[Attribute]]:
    parser.parse_punctuation(":")
    inputs = parser.parse_comma_separated_list(
        parser.Delimiter.PAREN, parser.parse_type, "operand types"
    )
    parser.parse_punctuation("->")
    return inputs, parse_types(parser)
