"""Index arithmetic: affine index expressions and slices in index positions.

An index position of a `fuse.load`, `fuse.rule` or `fuse.query` is one of

* `str`: a plain index variable (`i`), as before;
* `int`: a constant index (`0`), as before;
* `AffineIndex`: an integer affine expression of index variables with an
  optional floor division by a positive constant, `(c1*v1 + ... + c0)
  floordiv d`: `t + 1`, `i - 1`, `x + dx`, `2 * i`, `(x + dx) floordiv 2`.
  One variable may be *virtual* (`*t`, `*t + 1`: DESIGN.md section 3b;
  iterated but not stored);
* `SliceIndex`: a contiguous range of one dimension bound to an index
  variable, `j in 2:` or `i in 4:8`: variable `v` ranges over `0 .. stop -
  start - 1` and reads position `start + v` (the front end binds a slice
  written `X[4:8]` to the left-hand-side index at the same position).

Positions are canonical: an expression that is a lone variable is a `str`,
one without variables is an `int`, so code that handles only plain
accesses sees exactly what it saw before index arithmetic existed. Build
positions with `affine_position`, which returns the canonical form.

Text form (inside `[...]` and `#fuse.indices<...>`), chosen to round-trip
through xDSL's lexer and to read like MLIR's affine maps:

    t + 1     i - 1     x + dx     2 * i     -1 * t + 7
    x floordiv 2        (x + dx) floordiv 2
    *t        *t + 1    j in 2:    i in 4:8

Names that are not bare identifiers (`p'`) and the words `in` and
`floordiv` print as string literals, so every position parses back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from xdsl.ir.affine import (
    AffineBinaryOpExpr,
    AffineBinaryOpKind,
    AffineConstantExpr,
    AffineDimExpr,
    AffineExpr,
    AffineMap,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer

_BARE_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$.]*")
_RESERVED = frozenset({"in", "floordiv"})


def spell_name(name: str) -> str:
    """An index name as the IR prints it: bare if it can be, else quoted."""
    if _BARE_IDENTIFIER.fullmatch(name) and name not in _RESERVED:
        return name
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass(frozen=True)
class AffineIndex:
    """`(sum(coefficient * variable) + constant) floordiv divisor`.

    `terms` lists (variable, nonzero coefficient) in order of first
    appearance; `divisor` is at least 1; `virtual`, if set, names the one
    variable written with a star (`*t + 1`). Instances are hashable values,
    so they can sit in attributes."""

    terms: tuple[tuple[str, int], ...]
    constant: int = 0
    divisor: int = 1
    virtual: str | None = None

    @property
    def coefficients(self) -> Mapping[str, int]:
        return MappingProxyType(dict(self.terms))

    def variables(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.terms)

    @property
    def is_plain_variable(self) -> bool:
        """Whether this is just a variable (`i`), which the canonical form
        spells as a `str`."""
        return (
            len(self.terms) == 1
            and self.terms[0][1] == 1
            and self.constant == 0
            and self.divisor == 1
            and self.virtual is None
        )

    @property
    def shifted_variable(self) -> str | None:
        """`t` for a position `t + c` (or `*t + c`): one variable shifted by
        a constant, the shape of a recurrence's step; else None."""
        if len(self.terms) == 1 and self.terms[0][1] == 1 and self.divisor == 1:
            return self.terms[0][0]
        return None

    def evaluate(self, values: Mapping[str, int]) -> int:
        """The position this expression reads for the given variable values."""
        numerator = sum(c * values[v] for v, c in self.terms) + self.constant
        return numerator // self.divisor

    def bounds(self, ranges: Mapping[str, tuple[int, int]]) -> tuple[int, int]:
        """The least and greatest position over a box of variable values
        (inclusive `(lo, hi)` per variable); floor division is monotone, so
        the corners bound it."""
        low = high = self.constant
        for name, coefficient in self.terms:
            lo, hi = ranges[name]
            low += min(coefficient * lo, coefficient * hi)
            high += max(coefficient * lo, coefficient * hi)
        return low // self.divisor, high // self.divisor

    def renamed(self, rename: Callable[[str], str]) -> AffineIndex:
        terms = tuple((rename(v), c) for v, c in self.terms)
        virtual = rename(self.virtual) if self.virtual is not None else None
        return AffineIndex(terms, self.constant, self.divisor, virtual)

    def __str__(self) -> str:
        pieces: list[str] = []
        for name, coefficient in self.terms:
            spelled = ("*" if name == self.virtual else "") + spell_name(name)
            sign = "+"
            if pieces and coefficient < 0:
                sign, coefficient = "-", -coefficient
            if coefficient != 1:
                spelled = f"{coefficient} * {spelled}"
            pieces.append(f"{sign} {spelled}" if pieces else spelled)
        if self.constant or not pieces:
            if not pieces:
                pieces.append(str(self.constant))
            elif self.constant > 0:
                pieces.append(f"+ {self.constant}")
            else:
                pieces.append(f"- {-self.constant}")
        text = " ".join(pieces)
        if self.divisor == 1:
            return text
        if len(pieces) > 1:
            text = f"({text})"
        return f"{text} floordiv {self.divisor}"


@dataclass(frozen=True)
class SliceIndex:
    """`variable in start:stop` (`stop` None: to the end of the dimension):
    the variable ranges over `0 .. stop - start - 1` and reads position
    `start + variable`."""

    variable: str
    start: int
    stop: int | None = None

    def variables(self) -> tuple[str, ...]:
        return (self.variable,)

    def as_affine(self) -> AffineIndex:
        """The position read, without the range limit the stop imposes."""
        return AffineIndex(((self.variable, 1),), self.start)

    def renamed(self, rename: Callable[[str], str]) -> SliceIndex:
        return SliceIndex(rename(self.variable), self.start, self.stop)

    def __str__(self) -> str:
        stop = "" if self.stop is None else str(self.stop)
        return f"{spell_name(self.variable)} in {self.start}:{stop}"


IndexPosition = str | int | AffineIndex | SliceIndex


def affine_position(
    terms: Iterable[tuple[str, int]],
    constant: int = 0,
    divisor: int = 1,
    virtual: str | None = None,
) -> IndexPosition:
    """The canonical position of `(sum(c * v) + constant) floordiv divisor`:
    like terms are collected and zero ones dropped, the divisor reduced by
    the gcd it shares with every coefficient and the constant, and a lone
    variable or a constant returned as `str` or `int`."""
    if divisor < 1:
        raise ValueError(f"floor division by {divisor}: the divisor must be a positive integer")
    collected: dict[str, int] = {}
    for name, coefficient in terms:
        collected[name] = collected.get(name, 0) + coefficient
    kept = tuple((name, c) for name, c in collected.items() if c != 0)
    common = math.gcd(divisor, constant, *(c for _, c in kept))
    if common > 1:
        kept = tuple((name, c // common) for name, c in kept)
        constant, divisor = constant // common, divisor // common
    if virtual is not None and virtual not in dict(kept):
        virtual = None
    if not kept:
        return constant // divisor
    index = AffineIndex(kept, constant, divisor, virtual)
    return kept[0][0] if index.is_plain_variable else index


def position_problem(position: IndexPosition) -> str | None:
    """What makes a position malformed (built by hand rather than through
    `affine_position`), or None."""
    if isinstance(position, SliceIndex):
        if position.start < 0 or (position.stop is not None and position.stop <= position.start):
            return "is an empty slice or starts below 0 (a slice needs 0 <= start < stop)"
        return None
    if not isinstance(position, AffineIndex):
        return None
    if position.divisor < 1:
        return "divides by a non-positive number"
    canonical = affine_position(
        position.terms, position.constant, position.divisor, position.virtual
    )
    if canonical != position:
        return f"is not in canonical form (write it as '{canonical}')"
    if position.virtual is not None and len(position.terms) != 1:
        return "has a virtual ('*') variable beside other variables"
    return None


def position_variables(position: IndexPosition) -> tuple[str, ...]:
    """The index variables a position mentions."""
    if isinstance(position, str):
        return (position,)
    if isinstance(position, int):
        return ()
    return position.variables()


def rename_position(position: IndexPosition, rename: Callable[[str], str]) -> IndexPosition:
    """`position` with its variables renamed."""
    if isinstance(position, str):
        return rename(position)
    if isinstance(position, int):
        return position
    return position.renamed(rename)


def as_affine(position: IndexPosition) -> AffineIndex:
    """Any position as an `AffineIndex` (a slice without its stop)."""
    if isinstance(position, str):
        return AffineIndex(((position, 1),))
    if isinstance(position, int):
        return AffineIndex((), position)
    if isinstance(position, SliceIndex):
        return position.as_affine()
    return position


def is_plain(positions: Iterable[IndexPosition]) -> bool:
    """Whether every position is a variable or an integer: an access that
    needs no index arithmetic."""
    return all(isinstance(p, str | int) for p in positions)


# --- text form -------------------------------------------------------------------


def print_position(printer: Printer, position: IndexPosition) -> None:
    if isinstance(position, str):
        printer.print_string(spell_name(position))
    else:
        printer.print_string(str(position))


def _parse_optional_term(
    parser: AttrParser, virtual: list[str]
) -> tuple[list[tuple[str, int]], int] | None:
    """`[INT '*'] ['*'] NAME`, `INT` or `'(' sum ')'` as (terms, constant);
    None, consuming nothing, where no term starts."""
    if parser.parse_optional_punctuation("(") is not None:
        terms, constant = _parse_sum(parser, virtual)
        parser.parse_punctuation(")")
        return terms, constant
    coefficient = parser.parse_optional_integer(allow_boolean=False)
    if coefficient is not None and parser.parse_optional_punctuation("*") is None:
        return [], coefficient
    star = parser.parse_optional_punctuation("*") is not None
    name = parser.parse_optional_identifier_or_str_literal()
    if name is None:
        if coefficient is None and not star:
            return None
        parser.raise_error("expected an index name")
    if star:
        virtual.append(name)
    return [(name, 1 if coefficient is None else coefficient)], 0


def _parse_term(parser: AttrParser, virtual: list[str]) -> tuple[list[tuple[str, int]], int]:
    term = _parse_optional_term(parser, virtual)
    if term is None:
        parser.raise_error("expected an index position (a name, an integer or an expression)")
    return term


def _parse_sum(parser: AttrParser, virtual: list[str]) -> tuple[list[tuple[str, int]], int]:
    return _parse_rest_of_sum(parser, virtual, _parse_term(parser, virtual))


def _parse_rest_of_sum(
    parser: AttrParser, virtual: list[str], first: tuple[list[tuple[str, int]], int]
) -> tuple[list[tuple[str, int]], int]:
    terms, constant = first
    while True:
        if parser.parse_optional_punctuation("+") is not None:
            sign = 1
        elif parser.parse_optional_punctuation("-") is not None:
            sign = -1
        else:
            return terms, constant
        more, more_constant = _parse_term(parser, virtual)
        terms = terms + [(name, sign * c) for name, c in more]
        constant += sign * more_constant


def parse_optional_position(parser: AttrParser) -> IndexPosition | None:
    """One index position in the text form of the module docstring, or
    None (consuming nothing) where none starts."""
    pos = parser.pos
    virtual: list[str] = []
    first = _parse_optional_term(parser, virtual)
    if first is None:
        return None
    terms, constant = _parse_rest_of_sum(parser, virtual, first)
    plain = len(terms) == 1 and terms[0][1] == 1 and constant == 0 and not virtual
    if plain and parser.parse_optional_keyword("in") is not None:
        start = parser.parse_integer(allow_boolean=False)
        parser.parse_punctuation(":")
        stop = parser.parse_optional_integer(allow_boolean=False)
        if start < 0 or (stop is not None and stop <= start):
            parser.raise_error(
                f"slice {start}:{'' if stop is None else stop} is empty or starts "
                "below 0: a slice needs 0 <= start < stop",
                pos,
                parser.pos,
            )
        return SliceIndex(terms[0][0], start, stop)
    divisor = 1
    if parser.parse_optional_keyword("floordiv") is not None:
        divisor = parser.parse_integer(allow_boolean=False)
        if divisor < 1:
            parser.raise_error(
                f"floordiv by {divisor}: the divisor must be a positive integer",
                pos,
                parser.pos,
            )
    if len(virtual) > 1:
        parser.raise_error(
            "an index position has at most one virtual ('*') variable", pos, parser.pos
        )
    return affine_position(terms, constant, divisor, virtual[0] if virtual else None)


def parse_position(parser: AttrParser) -> IndexPosition:
    position = parse_optional_position(parser)
    if position is None:
        parser.raise_error("expected an index position (a name, an integer or an expression)")
    return position


# --- affine maps of the dataflow level ---------------------------------------------


@dataclass(frozen=True)
class LinearForm:
    """One result of an affine map as `(sum(coefficients[k] * dk) + constant)
    floordiv divisor`: what backends compute index tables and strides from."""

    coefficients: tuple[int, ...]
    constant: int = 0
    divisor: int = 1

    def bounds(self, shape: Sequence[int]) -> tuple[int, int]:
        """The least and greatest value over the box `0 <= dk < shape[k]`
        (every extent at least 1)."""
        low = high = self.constant
        for coefficient, size in zip(self.coefficients, shape, strict=True):
            low += min(0, coefficient * (size - 1))
            high += max(0, coefficient * (size - 1))
        return low // self.divisor, high // self.divisor

    def values(self, shape: Sequence[int]) -> np.ndarray:
        """The value at every point of the box, as an int64 array of `shape`."""
        total = np.full(tuple(shape), self.constant, dtype=np.int64)
        for k, coefficient in enumerate(self.coefficients):
            if coefficient:
                axis = [1] * len(shape)
                axis[k] = shape[k]
                total = total + coefficient * np.arange(shape[k], dtype=np.int64).reshape(axis)
        return total // self.divisor


class UnsupportedAffineExpr(ValueError):
    """An affine expression outside what the dataflow ops take (symbols,
    `mod`, `ceildiv`, a product of dimensions, a non-positive divisor)."""


def linear_form(expr: AffineExpr, num_dims: int) -> LinearForm:
    """`expr` as a `LinearForm`; raises `UnsupportedAffineExpr`."""
    if isinstance(expr, AffineDimExpr):
        coefficients = [0] * num_dims
        coefficients[expr.position] = 1
        return LinearForm(tuple(coefficients))
    if isinstance(expr, AffineConstantExpr):
        return LinearForm((0,) * num_dims, expr.value)
    if not isinstance(expr, AffineBinaryOpExpr):
        raise UnsupportedAffineExpr(f"'{expr}' uses a symbol")
    lhs, rhs = linear_form(expr.lhs, num_dims), linear_form(expr.rhs, num_dims)
    if expr.kind is AffineBinaryOpKind.Add and lhs.divisor == rhs.divisor == 1:
        coefficients = tuple(a + b for a, b in zip(lhs.coefficients, rhs.coefficients, strict=True))
        return LinearForm(coefficients, lhs.constant + rhs.constant)
    if expr.kind is AffineBinaryOpKind.Mul and lhs.divisor == rhs.divisor == 1:
        factor, other = (rhs, lhs) if not any(rhs.coefficients) else (lhs, rhs)
        if not any(factor.coefficients):
            scaled = tuple(factor.constant * c for c in other.coefficients)
            return LinearForm(scaled, factor.constant * other.constant)
    constant_divisor = not any(rhs.coefficients) and rhs.constant >= 1 and rhs.divisor == 1
    if expr.kind is AffineBinaryOpKind.FloorDiv and constant_divisor:
        return LinearForm(lhs.coefficients, lhs.constant, lhs.divisor * rhs.constant)
    raise UnsupportedAffineExpr(
        f"'{expr}' is not a sum of constant multiples of dimensions, optionally divided "
        "(floordiv) by a positive constant"
    )


def linear_forms(affine_map: AffineMap) -> list[LinearForm]:
    if affine_map.num_symbols:
        raise UnsupportedAffineExpr("the map has symbols")
    return [linear_form(expr, affine_map.num_dims) for expr in affine_map.results]


def affine_map_of(forms: Sequence[LinearForm], num_dims: int) -> AffineMap:
    """The map whose results are `forms`, built one canonical way (so a map
    rebuilt from its forms prints as the original did)."""
    results: list[AffineExpr] = []
    for form in forms:
        expr: AffineExpr | None = None
        for k, coefficient in enumerate(form.coefficients):
            if coefficient:
                term = AffineExpr.dimension(k) * coefficient
                expr = term if expr is None else expr + term
        if expr is None:
            expr = AffineExpr.constant(form.constant)
        elif form.constant:
            expr = expr + form.constant
        results.append(expr // form.divisor if form.divisor != 1 else expr)
    return AffineMap(num_dims, 0, tuple(results))


def access_map(
    positions: Sequence[IndexPosition],
    variables: Sequence[str],
    starts: Mapping[str, int],
) -> AffineMap:
    """The map from the dimensions of an iteration space (one per variable,
    `dk = variables[k] - starts[variables[k]]`) to the positions an access
    reads or writes."""
    forms: list[LinearForm] = []
    for position in positions:
        affine = as_affine(position)
        coefficients = dict(affine.terms)
        constant = affine.constant + sum(c * starts.get(v, 0) for v, c in affine.terms)
        row = tuple(coefficients.get(name, 0) for name in variables)
        forms.append(LinearForm(row, constant, affine.divisor))
    return affine_map_of(forms, len(variables))
