"""Reading sizes back from a plan compiled at probe sizes
(fuse.runtime.symbolic): every expression `Size` holds is read back
exactly from its numbers at the probes, and what cannot be read (or could
be two sizes) is refused, never read as another size.

The exports of whole programs are tests/test_export_symbolic.py."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import FuseError
from fuse.lowering.symbolic_sizes import Size, size_in_constant
from fuse.runtime.symbolic import (
    CHECK_PROBE,
    CHECK_PROBES,
    MAX_DIVISOR,
    READING_PROBES,
    ProbesDiffer,
    SymbolicSizes,
    decode_size,
)

PROBES = READING_PROBES
NAMES = ("i", "j", "k", "l", "m", "n", "o", "p")


def _sizes(count: int) -> SymbolicSizes:
    return SymbolicSizes({"X": NAMES[:count]})


def _numbers(size: Size, sizes: SymbolicSizes) -> list[int]:
    """`size` at each probe, as the plan compiled there holds it."""
    return [size.at(sizes.values(probe)) for probe in PROBES]


@st.composite
def linear_forms(draw: st.DrawFn, extra_weight: int = 0) -> tuple[SymbolicSizes, Size]:
    """A symbol count and a sum of its symbols (factors -3..3, up to the
    weight the probes tell apart, plus `extra_weight`) plus a constant."""
    count = draw(st.integers(1, 8))
    sizes = _sizes(count)
    weight = {1: 4, 2: 4, 3: 4, 4: 4, 5: 4, 6: 4, 7: 3, 8: 3}[count] + extra_weight
    factors = draw(st.lists(st.integers(-3, 3), min_size=count, max_size=count))
    while sum(map(abs, factors)) > weight:
        k = max(range(count), key=lambda n: abs(factors[n]))
        factors[k] -= 1 if factors[k] > 0 else -1
    terms = {(NAMES[k],): c for k, c in enumerate(factors)}
    return sizes, Size.affine(terms, draw(st.integers(-40, 40)))


@settings(max_examples=200, deadline=None)
@given(linear_forms())
def test_sums_of_symbols_read_back_exactly(form: tuple[SymbolicSizes, Size]) -> None:
    sizes, size = form
    assert decode_size(_numbers(size, sizes), sizes) == size


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(st.sampled_from(NAMES[:4]), min_size=1, max_size=3),
    st.integers(-3, 3).filter(bool),
    st.integers(-3, 3),
    st.integers(-20, 20),
)
def test_products_beside_a_sum_read_back_exactly(
    count: int, product: list[str], factor: int, linear: int, constant: int
) -> None:
    """`2*i*j`, `i*j*k`, and a degree-2 product beside a sum: `i*j - i + 3`."""
    sizes = _sizes(max(count, len(set(product)), *(NAMES.index(s) + 1 for s in product)))
    terms = {tuple(product): factor}
    if len(product) == 2:
        terms[("i",)] = linear
    else:
        constant = 0  # a monomial of degree 1 or 3 stands alone
    size = Size.affine(terms, constant)
    assert decode_size(_numbers(size, sizes), sizes) == size


@settings(max_examples=200, deadline=None)
@given(linear_forms(), st.integers(2, MAX_DIVISOR))
def test_floor_divisions_read_back_or_are_refused_as_ambiguous(
    form: tuple[SymbolicSizes, Size], divisor: int
) -> None:
    """`floordiv(L + c, q)` reads back as itself (or as the same function
    in normal form); where the probes cannot tell it from another, it is
    refused, naming it among the candidates."""
    sizes, linear = form
    size = Size.affine(dict((s, c) for c, s in linear.terms), linear.constant, divisor)
    numbers = _numbers(size, sizes)
    try:
        assert decode_size(numbers, sizes) == size
    except FuseError as error:
        assert "could be any of" in str(error) and str(size) in str(error)


@settings(max_examples=200, deadline=None)
@given(linear_forms(extra_weight=3))
def test_sums_of_more_symbols_than_the_probes_tell_apart_are_refused(
    form: tuple[SymbolicSizes, Size],
) -> None:
    """A sum beyond the weight the primes were chosen for may equal another
    sum at probe 0; the check probes refuse it rather than read it wrong."""
    sizes, size = form
    try:
        assert decode_size(_numbers(size, sizes), sizes) == size
    except FuseError as error:
        assert "no expression of the symbols" in str(error) or "could be any of" in str(error)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 4),
    st.lists(st.integers(-(10**7), 10**7), min_size=len(PROBES), max_size=len(PROBES)),
)
def test_any_numbers_read_as_a_size_that_gives_them_or_are_refused(
    count: int, numbers: list[int]
) -> None:
    sizes = _sizes(count)
    try:
        size = decode_size(numbers, sizes)
    except FuseError:
        return
    assert _numbers(size, sizes) == numbers


def test_the_primes_tell_every_small_sum_apart_and_avoid_static_sizes() -> None:
    sizes = SymbolicSizes({"X": ("i", "j", 3 * 1009), "Y": ("k",)}, frozenset({3 * 1009}))
    primes = sizes.primes()
    assert 1009 not in primes.values() and len(set(primes.values())) == 3
    assert all(all(n % d for d in range(2, math.isqrt(n) + 1)) for n in primes.values()), (
        "primes, so that products factor"
    )
    for probe in CHECK_PROBES:
        check = sizes.values(probe)
        assert sorted(check, key=check.__getitem__) == sorted(primes, key=primes.__getitem__)


def test_reading_aligns_the_lowerings_numbers() -> None:
    """Each number that differs between the lowerings at the five probes is
    read; floats that are a size or its inverse square root (a mean's
    divisor, attention's scale) are read as that size."""
    sizes = _sizes(2)

    def lowering(probe: int) -> str:
        values = sizes.values(probe)
        i, j = values["i"], values["j"]
        return (
            f"%0 = slice(%X) : tensor<{i}x{j}xf32> -> tensor<{i - 3}x{i + j}xf32>\n"
            f"%1 = constant dense<{float(j):e}> {1 / math.sqrt(i):.10g} : tensor<4xi32>"
        )

    reading = sizes.reading([lowering(p) for p in PROBES])
    i, j = (sizes.values(0)[s] for s in "ij")
    assert reading.at_probe(i - 3) == Size.affine({("i",): 1}, -3)
    assert reading.at_probe(i + j) == Size.affine({("i",): 1, ("j",): 1})
    assert reading.at_probe(j) == Size.of("j")
    assert size_in_constant(1 / math.sqrt(i), reading.at_probe).size == Size.of("i")
    assert reading.at_probe(4) == Size(4), "a number the probes share is static"
    check = reading.at_check()
    assert check(sizes.values(CHECK_PROBE)["i"] - 3) == Size.affine({("i",): 1}, -3)


def test_lowerings_that_differ_beyond_their_numbers_are_refused() -> None:
    sizes = _sizes(1)
    texts = [f"tensor<{sizes.values(p)['i']}xf32>" for p in PROBES]
    texts[-1] = texts[-1].replace("tensor", "memref")
    with pytest.raises(ProbesDiffer):
        sizes.reading(texts)
    with pytest.raises(FuseError, match="no expression of the symbols"):
        # `i * i - i` beside a float that is no size
        sizes.reading([f"dense<{sizes.values(p)['i'] ** 3 + 1}>" for p in PROBES])


def test_size_text_is_what_jax_export_parses() -> None:
    """`str(size)` is `jax.export.symbolic_shape` syntax for the same
    expression (jax normalizes it: compared as expressions)."""
    from jax import export

    scope = export.SymbolicScope()
    symbols = dict(zip("ijk", export.symbolic_shape("i, j, k", scope=scope), strict=True))
    for size in [
        Size.of("i"),
        Size.monomial(2, ("j", "i")),
        Size.affine({("i",): 1, ("k",): -1}, 1, 2),
        Size.affine({("i",): -1}, 5),
        Size.affine({("i", "j"): 1, ("i",): -2}, -1),
        Size(7),
    ]:
        (parsed,) = export.symbolic_shape(str(size), scope=scope)
        assert parsed == size.evaluate(symbols.__getitem__), str(size)
