"""Attributes and types of the `fuse` dialect.

* `#fuse.indices<i, "p'", 0, t + 1, x floordiv 2, j in 2:>` (`IndexListAttr`):
  the index positions of a tensor access or left-hand side. A position is an
  index name, an integer constant index, an affine index expression or a
  slice (`fuse.dialects.fuse.affine`, which also gives their text form).
  Names that are not bare identifiers (primed names such as `p'`) print as
  string literals.
* `!fuse.expr<i, k>` (`ExprType`): the type of a value in a declarative rule
  body, an indexed expression whose free indices are listed in order.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from enum import auto
from functools import lru_cache
from typing import cast

import numpy as np
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    f32,
)
from xdsl.ir import Data, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition, param_def
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from .affine import (
    IndexPosition,
    parse_optional_position,
    parse_position,
    position_problem,
    position_variables,
    print_position,
)


def print_index_positions(printer: Printer, positions: Iterable[IndexPosition]) -> None:
    printer.print_list(positions, lambda p: print_position(printer, p))


def parse_index_positions(parser: AttrParser) -> tuple[IndexPosition, ...]:
    """Parses a possibly empty comma-separated list up to a closing `>`/`]`."""
    first = parse_optional_position(parser)
    if first is None:
        return ()
    positions: list[IndexPosition] = [first]
    while parser.parse_optional_punctuation(",") is not None:
        positions.append(parse_position(parser))
    return tuple(positions)


@irdl_attr_definition
class IndexListAttr(Data[tuple[IndexPosition, ...]]):
    """Index positions of an access: names, integer constant indices, and
    affine expressions and slices (`fuse.dialects.fuse.affine`)."""

    name = "fuse.indices"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple[IndexPosition, ...]:
        with parser.in_angle_brackets():
            return parse_index_positions(parser)

    def print_parameter(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            print_index_positions(printer, self.data)

    def verify(self) -> None:
        for position in self.data:
            problem = position_problem(position)
            if problem is not None:
                raise VerifyException(f"index position '{position}' {problem}")

    @staticmethod
    def from_positions(positions: Sequence[IndexPosition]) -> IndexListAttr:
        return IndexListAttr(tuple(positions))

    def names(self) -> tuple[str, ...]:
        """The distinct index variables, in order of first appearance
        (including those inside affine positions and slices): what a load
        of these positions varies over."""
        seen: dict[str, None] = {}
        for p in self.data:
            for name in position_variables(p):
                seen.setdefault(name)
        return tuple(seen)

    @property
    def is_plain(self) -> bool:
        """Whether every position is a variable or an integer."""
        return all(isinstance(p, str | int) for p in self.data)


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
        # Every position is a name (`verify`, which runs on construction):
        # no copy, as passes ask every value of every body for its names.
        return cast(tuple[str, ...], self.indices.data)

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
# symbol references, keywords, function names and subscripts, locations'
# parts, scalar literals) makes building IR for large programs several
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


@lru_cache(maxsize=8192)
def keyword(text: str) -> StringAttr:
    """A string that many ops repeat: a keyword, a function or tensor name,
    einsum subscripts, a file name."""
    return StringAttr(text)


@lru_cache(maxsize=8192)
def int_attr(value: int) -> IntAttr:
    """A small integer such as a line or column of a location."""
    return IntAttr(value)


@lru_cache(maxsize=1024)
def i64_attr(value: int) -> IntegerAttr:
    return IntegerAttr(value, 64)


def f32_attr(value: float) -> FloatAttr:
    """`value : f32`, shared between equal literals. Equal is bit-equal:
    `-0.0 == 0.0`, yet the two print (and divide) differently."""
    return _f32_of_bits(struct.pack("<d", value))


@lru_cache(maxsize=1024)
def _f32_of_bits(bits: bytes) -> FloatAttr:
    return FloatAttr(struct.unpack("<d", bits)[0], f32)


@lru_cache(maxsize=8192)
def f32_tensor(shape: tuple[int, ...]) -> TensorType:
    """`tensor<...xf32>` of `shape` (-1: dynamic), the dataflow level's type."""
    return TensorType(f32, shape)


_SHARED_DENSE_ELEMENTS = 64  # larger constants are rarely repeated


def f32_dense(array: np.ndarray) -> DenseIntOrFPElementsAttr:
    """The elements of `array` as f32, shared between equal small arrays
    (scalar literals, the ones a broadcast multiplies by)."""
    array = np.asarray(array, dtype=np.float32)
    if array.size <= _SHARED_DENSE_ELEMENTS:
        return _small_f32_dense(array.shape, array.tobytes())
    return _f32_dense_of(array)


@lru_cache(maxsize=1024)
def _small_f32_dense(shape: tuple[int, ...], data: bytes) -> DenseIntOrFPElementsAttr:
    return _f32_dense_of(np.frombuffer(data, dtype=np.float32).reshape(shape))


def _f32_dense_of(array: np.ndarray) -> DenseIntOrFPElementsAttr:
    values = [float(v) for v in array.ravel()]
    return DenseIntOrFPElementsAttr.from_list(f32_tensor(array.shape), values)
