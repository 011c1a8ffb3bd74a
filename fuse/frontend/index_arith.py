"""Index arithmetic folded into affine form (docs/index_arithmetic.md).

An index position such as `x+dx`, `T-1-t`, `(x+1)/S` or `2*i` is, once the
named constants are integers, `(sum(c * v) + c0) floordiv d`: `fold_index`
computes that form or says, with the place, why the expression is not
affine. Floor division composes exactly: `x/2/3` is `x floordiv 6`,
`x/2 + 1` is `(x + 2) floordiv 2`, `x/2 + y` is `(x + 2*y) floordiv 2`;
what does not fold (`2*(x/2)`, `x/2 + y/3`, `-(x/2)`) is refused rather
than approximated.
"""

from __future__ import annotations

from dataclasses import dataclass

from fuse.frontend.ast import Index, IndexArith, IndexConst, IndexSlice, IndexVar, Span


@dataclass(frozen=True)
class AffineForm:
    """`(sum(coefficient * variable) + constant) floordiv divisor`; `virtual`
    names a starred variable (`*t`)."""

    terms: tuple[tuple[str, int], ...]
    constant: int = 0
    divisor: int = 1
    virtual: str | None = None

    def scaled(self, factor: int) -> AffineForm:
        terms = tuple((v, c * factor) for v, c in self.terms)
        return AffineForm(terms, self.constant * factor, self.divisor, self.virtual)


class IndexArithmeticError(Exception):
    """An index expression that is not affine, with the place to blame."""

    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.message = message
        self.span = span


def fold_index(index: Index) -> AffineForm:
    """The affine form of an index position whose named constants are
    already integers (`IndexConst`); raises `IndexArithmeticError`."""
    if isinstance(index, IndexConst):
        return AffineForm((), index.value)
    if isinstance(index, IndexVar):
        return AffineForm(((index.name, 1),), 0, 1, index.name if index.virtual else None)
    if isinstance(index, IndexSlice):
        raise IndexArithmeticError("a slice cannot be part of index arithmetic", index.span)
    lhs, rhs = fold_index(index.lhs), fold_index(index.rhs)
    virtual = lhs.virtual or rhs.virtual
    if lhs.virtual and rhs.virtual and lhs.virtual != rhs.virtual:
        raise IndexArithmeticError(
            "an index position has at most one virtual ('*') variable", index.span
        )
    if index.op == "+":
        return _add(lhs, rhs, index, virtual)
    if index.op == "-":
        if rhs.divisor != 1:
            raise IndexArithmeticError(
                "subtracting a floor division is not affine (write the division last)",
                index.span,
            )
        return _add(lhs, rhs.scaled(-1), index, virtual)
    if index.op == "*":
        factor, other = (lhs, rhs) if not lhs.terms else (rhs, lhs)
        if factor.terms:
            raise IndexArithmeticError(
                "product of index variables is not affine: '*' needs a constant factor",
                index.span,
            )
        if other.divisor != 1 and factor.constant != 1:
            raise IndexArithmeticError(
                "multiplying a floor division is not affine (divide last: `(2*x)/S`)",
                index.span,
            )
        scaled = other.scaled(factor.constant)
        return AffineForm(scaled.terms, scaled.constant, other.divisor, virtual)
    # floor division
    if rhs.terms:
        raise IndexArithmeticError(
            "division by an index variable is not affine: '/' divides by a constant",
            index.rhs.span,
        )
    if rhs.constant <= 0:
        raise IndexArithmeticError(
            f"division by {rhs.constant} in an index position: the divisor must be a "
            "positive integer",
            index.rhs.span,
        )
    if not lhs.terms:
        return AffineForm((), (lhs.constant // lhs.divisor) // rhs.constant)
    return AffineForm(lhs.terms, lhs.constant, lhs.divisor * rhs.constant, virtual)


def _add(lhs: AffineForm, rhs: AffineForm, index: IndexArith, virtual: str | None) -> AffineForm:
    """`lhs + rhs`; `floor(q) + n` is `floor(q + n)` for an integer `n`, so
    one floor division may absorb an undivided side."""
    if lhs.divisor != 1 and rhs.divisor != 1:
        raise IndexArithmeticError(
            "sum of two floor divisions is not affine (divide once: `(x+y)/S`)", index.span
        )
    lhs, rhs = (_integer_quotient(side) for side in (lhs, rhs))
    divisor = max(lhs.divisor, rhs.divisor)
    if lhs.divisor == 1:
        lhs = lhs.scaled(divisor)
    else:
        rhs = rhs.scaled(divisor)
    return AffineForm(lhs.terms + rhs.terms, lhs.constant + rhs.constant, divisor, virtual)


def _integer_quotient(form: AffineForm) -> AffineForm:
    """A constant quotient is just an integer."""
    if form.terms or form.divisor == 1:
        return form
    return AffineForm((), form.constant // form.divisor)


def slice_bounds(index: IndexSlice) -> tuple[int, int | None]:
    """The integer bounds of a slice (start 0 where omitted); raises
    `IndexArithmeticError` for an empty or negative range."""
    start = 0 if index.start is None else _constant(index.start)
    stop = None if index.stop is None else _constant(index.stop)
    if start < 0 or (stop is not None and stop <= start):
        shown = f"{start}:{'' if stop is None else stop}"
        raise IndexArithmeticError(
            f"slice {shown} is empty or starts below 0: a slice needs 0 <= start < stop",
            index.span,
        )
    return start, stop


def _constant(bound: Index) -> int:
    form = fold_index(bound)
    if form.terms:  # the parser refuses variables in slice bounds
        raise IndexArithmeticError("the bounds of a slice are constants", bound.span)
    return form.constant // form.divisor


def index_problem(index: Index) -> IndexArithmeticError | None:
    """Why a resolved index position is not affine, or None."""
    try:
        if isinstance(index, IndexSlice):
            slice_bounds(index)
        elif isinstance(index, IndexArith):
            fold_index(index)
    except IndexArithmeticError as error:
        return error
    return None
