"""Custom directives for the declarative assembly formats of `fuse` ops.

xDSL's `assembly_format` says most of the dataflow syntax directly; these
directives say what it cannot, or cannot with an error that points at the
input:

* `custom<Keyword>($prop)`: a `StringAttr` property spelled as a bare word
  (`sum`, `relu`, `semi_naive`) instead of a string literal. The property
  stays a string, so an unknown word parses and the op's verifier names it
  with the words it accepts.
* `custom<DenseValue>($value, type($result))`: a dense elements attribute
  printed with its type (`dense<[1.0, 2.0]> : tensor<2xf32>`), which is
  also the result's type, so the type is written once.
* `custom<SameType>(type($operand), type($result))`: one type for an
  operand and a result of the same type, written once (`: tensor<4xf32>`).
* `custom<AffineMapProp>($map)`: an `affine_map<...>` attribute. A plain
  `$map` takes any attribute and rejects a wrong one after parsing, without
  saying where; this directive reports it at the attribute.
"""

from __future__ import annotations

from xdsl.dialects.builtin import AffineMapAttr, DenseIntOrFPElementsAttr, StringAttr
from xdsl.irdl import IRDLOperation
from xdsl.irdl.declarative_assembly_format import (
    AttributeVariable,
    CustomDirective,
    ParsingState,
    PrintingState,
    TypeDirective,
    irdl_custom_directive,
)
from xdsl.parser import Parser
from xdsl.printer import Printer


@irdl_custom_directive
class Keyword(CustomDirective):
    """A string property as a bare identifier: `sum` for `"sum"`."""

    value: AttributeVariable

    def parse(self, parser: Parser, state: ParsingState) -> None:
        word = parser.parse_optional_identifier()
        if word is None:
            parser.raise_error(f"expected a bare word for '{self.value.name}'")
        self.value.set(state, StringAttr(word))

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        attr = self.value.get(op)
        assert isinstance(attr, StringAttr)
        state.print_whitespace(printer)
        printer.print_string(attr.data)


@irdl_custom_directive
class DenseValue(CustomDirective):
    """A dense elements attribute whose type is also the result's:
    `dense<1.0> : tensor<f32>` gives both the value and `type($result)`."""

    value: AttributeVariable
    result_type: TypeDirective

    def parse(self, parser: Parser, state: ParsingState) -> None:
        attr = parser.parse_attribute()
        if not isinstance(attr, DenseIntOrFPElementsAttr):
            parser.raise_error(f"expected a dense elements attribute, got {attr}")
        self.value.set(state, attr)
        self.result_type.set(state, [attr.get_type()])

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        state.print_whitespace(printer)
        printer.print_attribute(self.value.get(op))


@irdl_custom_directive
class SameType(CustomDirective):
    """One type for an operand and a result that share it (`: tensor<4xf32>`
    for `fuse.unary`); the op's verifier checks that they do."""

    operand_type: TypeDirective
    result_type: TypeDirective

    def parse(self, parser: Parser, state: ParsingState) -> None:
        shared = parser.parse_type()
        self.operand_type.set(state, [shared])
        self.result_type.set(state, [shared])

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        state.print_whitespace(printer)
        printer.print_attribute(self.result_type.get(op)[0])


@irdl_custom_directive
class AffineMapProp(CustomDirective):
    """An `affine_map<...>` attribute, reported where it is when it is
    something else."""

    map: AttributeVariable

    def parse(self, parser: Parser, state: ParsingState) -> None:
        start = parser.pos
        attr = parser.parse_attribute()
        if not isinstance(attr, AffineMapAttr):
            parser.raise_error(f"expected an affine_map, got {attr}", start, parser.pos)
        self.map.set(state, attr)

    def print(self, printer: Printer, state: PrintingState, op: IRDLOperation) -> None:
        state.print_whitespace(printer)
        printer.print_attribute(self.map.get(op))
