"""Sizes as expressions of symbols, shared by the backends' symbolic
lowerings (fuse.lowering.jax.symbolic, fuse.lowering.torch.symbolic) and
the runtime that chooses the symbols and reads them back
(fuse.runtime.symbolic).

A `Size` is what a program's index arithmetic makes of its inputs' sizes:
a sum of terms, each an integer times a product of symbols, plus a
constant, optionally floor-divided by a small positive integer --
`i`, `2*i*j`, `i + j` (a concat), `i - k + 1` (a valid convolution),
`floordiv(i - k + 1, 2)` (pooling by 2), `d0 - 3` (a slice `V[3:]`). Its
`str` is the syntax of `jax.export.symbolic_shape`.

A plan with symbolic sizes is compiled at probe sizes; a `SizeReader`
reads a size of that plan back as a `Size`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

T = TypeVar("T")

# One term of a size: (coefficient, symbols of its product, sorted)
Term = tuple[int, tuple[str, ...]]


@dataclass(frozen=True)
class Size:
    """`floordiv(sum(c * product(symbols)) + constant, divisor)`; static
    (a number) where it has no terms. Build sizes with `Size.of`,
    `Size.monomial` and `Size.affine`, which keep one normal form (terms
    sorted and merged, no zero coefficient, a divisor of 1 where dividing
    changes nothing), so equal expressions compare and hash equal."""

    constant: int = 0
    terms: tuple[Term, ...] = ()
    divisor: int = 1

    @staticmethod
    def of(symbol: str) -> Size:
        return Size(0, ((1, (symbol,)),))

    @staticmethod
    def monomial(factor: int, symbols: tuple[str, ...]) -> Size:
        """`factor * product(symbols)` (a number where `symbols` is empty)."""
        return Size.affine(
            {tuple(sorted(symbols)): factor} if symbols else {}, 0 if symbols else factor
        )

    @staticmethod
    def affine(terms: Mapping[tuple[str, ...], int], constant: int = 0, divisor: int = 1) -> Size:
        """`floordiv(sum(c * product(s) for s, c in terms) + constant, divisor)`
        in normal form."""
        merged: dict[tuple[str, ...], int] = {}
        for symbols, coefficient in terms.items():
            key = tuple(sorted(symbols))
            merged[key] = merged.get(key, 0) + coefficient
        # higher degrees first, then by symbols: one order for equal sizes
        kept = tuple(
            sorted(((c, s) for s, c in merged.items() if c and s), key=lambda t: (-len(t[1]), t[1]))
        )
        if divisor < 1:
            raise ValueError(f"a size's divisor must be positive, got {divisor}")
        # floordiv(g*L + c, g*q) = floordiv(L + floordiv(c, g), q)
        common = math.gcd(divisor, *(c for c, _ in kept))
        if common > 1:
            kept = tuple((c // common, s) for c, s in kept)
            constant, divisor = constant // common, divisor // common
        if divisor > 1 and not kept:
            constant, divisor = constant // divisor, 1
        return Size(constant, kept, divisor)

    @property
    def is_static(self) -> bool:
        return not self.terms

    @property
    def value(self) -> int:
        """The number a static size is."""
        assert self.is_static, f"{self} is not a number"
        return self.constant

    @property
    def symbol(self) -> str | None:
        """The symbol this size is exactly, if it is one."""
        if self.is_monomial and len(self.terms) == 1 and self.terms[0][0] == 1:
            symbols = self.terms[0][1]
            return symbols[0] if len(symbols) == 1 else None
        return None

    @property
    def is_monomial(self) -> bool:
        """`factor * product(symbols)`, a number included."""
        return len(self.terms) <= 1 and self.divisor == 1 and not (self.terms and self.constant)

    @property
    def factor(self) -> int:
        """A monomial's factor (a number's value)."""
        assert self.is_monomial, f"{self} is not a monomial"
        return self.terms[0][0] if self.terms else self.constant

    @property
    def symbols(self) -> tuple[str, ...]:
        """A monomial's product (`i*i*j`: `("i", "i", "j")`); for other
        sizes every symbol they use, once each, sorted."""
        if self.is_monomial:
            return self.terms[0][1] if self.terms else ()
        return tuple(sorted({s for _, symbols in self.terms for s in symbols}))

    def evaluate(
        self, symbol: Callable[[str], T], arithmetic: SizeArithmetic[T] | None = None
    ) -> T:
        """The size computed from each symbol's value `symbol(name)` with
        `arithmetic` (Python's operators on ints or on `jax.export`
        dimensions by default; an IR builder's ops for a lowering)."""
        ops = arithmetic if arithmetic is not None else PYTHON_ARITHMETIC
        value: T | None = None
        # Positive terms first, so a size is built without negative values
        for coefficient, symbols in sorted(self.terms, key=lambda term: term[0] < 0):
            product: T | None = None
            for name in symbols:
                product = symbol(name) if product is None else ops.multiply(product, symbol(name))
            assert product is not None
            if abs(coefficient) != 1:
                product = ops.multiply(ops.constant(abs(coefficient)), product)
            if value is None:
                value = product if coefficient > 0 else ops.subtract(ops.constant(0), product)
            else:
                value = (ops.add if coefficient > 0 else ops.subtract)(value, product)
        if value is None:
            value = ops.constant(self.constant)
        elif self.constant:
            value = (ops.add if self.constant > 0 else ops.subtract)(
                value, ops.constant(abs(self.constant))
            )
        if self.divisor != 1:
            value = ops.floordiv(value, ops.constant(self.divisor))
        return value

    def at(self, values: Mapping[str, int]) -> int:
        """The size when each symbol has the number `values[symbol]`."""
        return self.evaluate(values.__getitem__)

    def __str__(self) -> str:
        parts: list[str] = []
        for coefficient, symbols in sorted(self.terms, key=lambda term: term[0] < 0):
            product = "*".join(
                [*([str(abs(coefficient))] if abs(coefficient) != 1 else []), *symbols]
            )
            sign = "-" if coefficient < 0 else "+"
            parts.append(product if not parts and sign == "+" else f"{sign} {product}")
        if self.constant or not parts:
            number = abs(self.constant) if parts else self.constant
            parts.append(f"{'-' if self.constant < 0 else '+'} {number}" if parts else str(number))
        text = " ".join(parts)
        return f"floordiv({text}, {self.divisor})" if self.divisor != 1 else text


class SizeArithmetic(NamedTuple, Generic[T]):
    """How `Size.evaluate` builds a size: from numbers and four operations."""

    constant: Callable[[int], T]
    add: Callable[[T, T], T]
    subtract: Callable[[T, T], T]
    multiply: Callable[[T, T], T]
    floordiv: Callable[[T, T], T]


PYTHON_ARITHMETIC: SizeArithmetic[Any] = SizeArithmetic(
    lambda n: n, operator.add, operator.sub, operator.mul, operator.floordiv
)

SizeReader = Callable[[int], Size]


class SizeConstant(NamedTuple):
    """A scalar constant of a plan at probe sizes that stands for a size."""

    number: int  # the size at the probe
    size: Size
    inverse_root: bool  # the constant is 1/sqrt(size), else the size


def size_of_constant(value: float) -> tuple[int, bool] | None:
    """The size a scalar constant may stand for: (n, False) for a float
    that is the integer n > 1 (a layer norm's `n`), (n, True) for one that
    is 1/sqrt(n) (attention's default scale); None for others."""
    if not math.isfinite(value) or value <= 0:
        return None
    for number, inverse_root in ((value, False), (1 / (value * value), True)):
        rounded = round(number)
        # fp32 keeps about 7 digits: the scale of a size up to ~10^6 rounds back to it
        if rounded > 1 and abs(number - rounded) <= rounded * 1e-6:
            return rounded, inverse_root
    return None


def size_in_constant(value: float, read: SizeReader) -> SizeConstant | None:
    """The symbolic size a scalar constant of a plan at probe sizes stands
    for (`size_of_constant`); None for a constant that is neither. A number
    that only happens to look like one is caught by comparing probes'
    lowerings (fuse.runtime.export): at another probe it reads differently."""
    found = size_of_constant(value)
    if found is None:
        return None
    size = read(found[0])
    return None if size.is_static else SizeConstant(found[0], size, found[1])
