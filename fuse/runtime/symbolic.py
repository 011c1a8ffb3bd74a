"""Symbolic sizes for exported artifacts: sizes that follow the program's
indices instead of one set of numbers.

Which sizes are one symbol. Within a rule an index has one size, so every
plain access `T[..., i, ...]` ties dimension k of `T` to the rule's `i`;
the classes of tensor dimensions tied together (a union-find over the
canonical rules, `fuse-canonicalize-projections`, so a `concat`'s parts are
indices of their own) are the program's symbolic sizes. A runtime input
dimension whose class holds a dimension of known size (a file source, a
`--shape` given) takes that size; the others are one symbol per class, named
by the index the input is declared with (`W[i, j]`: `i`, `j`; a second class
named `i` becomes `i_2`). Index arithmetic (`X[i + 1]`) ties nothing: the
sizes it gives are checked below. A rule with index arithmetic ranges its
indices over the sizes they share, so it ties nothing either (each
dimension is a symbol of its own, docs/export.md) except in a recurrence (a
tensor that reads itself, which becomes a scan: `H[i, t+1] = tanh(W[i, j]
H[j, t] + U[i, t])`): every step's state must have one size, so its rules
tie their plain indices as other rules do, and `H0`, `W`, `U` share `i`.

Even sizes. `rope` pairs the features of its feature axis, so that class's
size must be even: its symbol stands for half the size, named after the
index with `_half` (`rope(X[p, d])`: the dimension is `2*d_half`). Its
probe sizes are even (twice the class's prime), and the artifact declares
the dimension `2*d_half` and refuses an odd size (jax: its own shape
assertions; torch: an assertion in the graph,
fuse.lowering.torch.symbolic).

Minimum sizes. A constant position (`Obs[t, 3]`) ties nothing but bounds
its class from below (`SymbolicSizes.minimums`: that dimension has at
least 4 positions), as a slice does (`V[2:5]`: 5), so an artifact refuses
a smaller input where it is called instead of failing inside.

How the compiler sees them. The pipeline and the backends are written for
numbers, so a symbolic plan is compiled at *probe sizes*: each symbol gets a
distinct prime (`SymbolicSizes.probe`), and a size in the compiled program
is read back as an expression (`Size`). Products are read by factoring
over those primes: `1009` is `i`, `1009 * 1013 * 2` is `2 * i * j`;
compiling once more at twice those sizes checks that reading
(fuse.runtime.export compares the two generalized lowerings).

Sums, differences and floor divisions (`X[i + 1]` gives `i - 1`, a
`concat` `i + j`, a valid convolution pooled by 2 `floordiv(i - k + 2, 2)`)
are no products. Where the two differ, the program is lowered as it is at
probes 0, 1, 2 (every prime times 1, 2, 4: each ratio of sizes kept) and
two check probes of other numbers (`_check_values`), and `SymbolicSizes.reading`
reads every number that differs between the five texts, which must be
equal apart from their numbers (`decode_size` says how). The primes are
chosen per program so that every sum of a few symbols has a value of its
own (`_probe_primes`). What probe 0's reading answered is checked by
compiling the generalized plan at the check probe too, with the same
sizes evaluated there (`ProbeReading.at_check`): a number that only
looked like a size (a static 13 that a difference of primes also gives)
reads differently there, and the lowerings differ. A size that reads as no
expression, or as two, is an error; an artifact never gets a wrong size.

The backends then turn the probe-size plan into a shape-polymorphic one
(fuse.lowering.jax.symbolic, fuse.lowering.torch.symbolic).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from xdsl.dialects.builtin import ModuleOp, TensorType

from fuse.dialects.fuse import CallOp, LiteralOp, LoadOp, ProgramOp, RuleOp, SinkOp, TensorOp
from fuse.dialects.fuse.affine import SliceIndex
from fuse.errors import FuseError
from fuse.lowering.symbolic_sizes import Size, SizeReader, size_of_constant
from fuse.passes.dependencies import dependency_graph, is_recursive, strongly_connected_components
from fuse.passes.expr_tree import names_of
from fuse.passes.index_ranges import is_ranged, ranged_tensors
from fuse.passes.rope_lowering import rope_indices
from fuse.pipeline import run_passes


def _is_prime(n: int) -> bool:
    return n > 1 and all(n % d for d in range(2, math.isqrt(n) + 1))


# Probe sizes are primes from here: products factor uniquely; large enough
# that a program's own static sizes are unlikely to be multiples of one
# (`SymbolicSizes.primes` skips those that are), small enough that
# compile-time tables stay small.
FIRST_PRIME = 1009
# Probes 0, 1, 2 give every symbol its prime times these scales: every
# ratio of sizes is kept, so choices made by comparing sizes (an einsum's
# contraction order) come out the same at each.
PROBE_SCALES = (1, 2, 4)
# Two more probes check each reading (`SymbolicSizes._check_values`); the
# generalized plan is compiled again at the first.
CHECK_PROBES = (len(PROBE_SCALES), len(PROBE_SCALES) + 1)
CHECK_PROBE = CHECK_PROBES[0]
# The probes a program is lowered at to read its sizes.
READING_PROBES = (*range(len(PROBE_SCALES)), *CHECK_PROBES)
# The largest divisor a size's floor division is read with (pooling by 2..4).
MAX_DIVISOR = 4


def _linear_weight(count: int) -> int:
    """How many symbols (counted with their coefficients' magnitudes) a
    sum of symbols may have to be read back among `count` symbols: the
    primes are chosen so that all such sums differ, and they spread out
    fast as the weight grows."""
    return 4 if count <= 6 else 3 if count <= 8 else 2 if count <= 16 else 1


@dataclass(frozen=True)
class SymbolicSizes:
    """Every runtime input's sizes: a number where known, else its symbol."""

    dims: Mapping[str, tuple[int | str, ...]]
    # Sizes the program has for other reasons (sources, `--shape`): probe
    # primes avoid them, so a probe is never mistaken for one.
    static_sizes: frozenset[int] = field(default_factory=frozenset)
    # Symbols of classes whose size must be even (rope's feature axis): the
    # dimension is twice the symbol.
    even: frozenset[str] = field(default_factory=frozenset)
    # Symbol -> the least size the program's constant positions and slices
    # need (a symbol read at `X[t, 3]` has at least 4 positions); 1 where
    # absent.
    minimums: Mapping[str, int] = field(default_factory=dict)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols, in the order the inputs first use them."""
        seen: dict[str, None] = {}
        for dims in self.dims.values():
            seen.update((d, None) for d in dims if isinstance(d, str))
        return tuple(seen)

    def dimension(self, dim: int | str) -> str:
        """One dimension as `jax.export.symbolic_shape` spells it: `40`,
        `i`, or `2*d_half` for an even class."""
        return f"2*{dim}" if dim in self.even else str(dim)

    def describe(self) -> str:
        """`W[i, j], X[j, 40]`: each input with its symbols."""
        return ", ".join(
            f"{name}[{', '.join(map(self.dimension, dims))}]" for name, dims in self.dims.items()
        )

    def primes(self) -> dict[str, int]:
        """Symbol -> its prime (`_probe_primes`)."""
        return self._probe_primes[0]

    @cached_property
    def _probe_primes(self) -> tuple[dict[str, int], dict[int, dict[str, int]]]:
        """Each symbol's prime, and every sum of up to `_linear_weight`
        symbols (coefficients from -3 to 3) by its value at those primes.
        Primes are taken in increasing order, skipping those that divide a
        static size or that would give two such sums one value: a number
        of a plan at probe 0 that is such a sum is then that sum and no
        other (`decode_size`)."""
        weight = _linear_weight(len(self.symbols))
        sums: dict[int, dict[str, int]] = {0: {}}
        primes: dict[str, int] = {}
        candidate = FIRST_PRIME - 1
        for symbol in self.symbols:
            while True:
                candidate += 1
                if not _is_prime(candidate) or any(s % candidate == 0 for s in self.static_sizes):
                    continue
                grown = [
                    (value + c * candidate, {**combination, symbol: c})
                    for value, combination in sums.items()
                    for c in range(-3, 4)
                    if c and sum(map(abs, combination.values())) + abs(c) <= weight
                ]
                values = {value for value, _ in grown}
                if len(values) == len(grown) and not values & sums.keys():
                    break
            primes[symbol] = candidate
            sums |= dict(grown)
        del sums[0]
        return primes, sums

    def values(self, probe: int) -> dict[str, int]:
        """Symbol -> its number at `probe` (`READING_PROBES`)."""
        if probe in CHECK_PROBES:
            return self._check_values[probe]
        return {s: PROBE_SCALES[probe] * p for s, p in self.primes().items()}

    @cached_property
    def _check_values(self) -> dict[int, dict[str, int]]:
        """The check probes: for symbol k, a prime near 3 * its prime + 7 k
        (5 * its prime + 13 k at the second; increasing, as the primes are)
        plus a residue that varies with k. Far from proportional, so that
        two sums of symbols that are one number at probes 0-2 are two at a
        check probe, and of mixed residues, which tells `floordiv(i - k + 1,
        2)` from `floordiv(i - k, 2)`. A reading must hold at both: a size
        beyond what the primes tell apart that one check probe lets through
        by coincidence, the other refuses."""
        checks: dict[int, dict[str, int]] = {}
        for probe, (scale, step, shift) in zip(CHECK_PROBES, ((3, 7, 0), (5, 13, 1)), strict=True):
            values: dict[str, int] = {}
            previous = 0
            for k, (symbol, prime) in enumerate(self.primes().items()):
                previous = max(previous + 1, scale * prime + step * k)
                while not _is_prime(previous):
                    previous += 1
                values[symbol] = previous + (k + shift) % 4
                previous += 4
            checks[probe] = values
        return checks

    def probe(self, probe: int = 0) -> dict[str, tuple[int, ...]]:
        """The runtime inputs' shapes at `probe` (`values`)."""
        return self.shapes(self.values(probe))

    def shapes(self, values: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
        """The runtime inputs' shapes where each symbol has its number in
        `values` (an even class's dimension twice that)."""
        return {
            name: tuple(
                (2 if d in self.even else 1) * values[d] if isinstance(d, str) else d for d in dims
            )
            for name, dims in self.dims.items()
        }

    def read(self, size: int, probe: int = 0) -> Size:
        """A size of the plan compiled at `probe(probe)` (0 or 1) as a
        monomial, by factoring it over the primes. A size that is no
        monomial reads as a number that differs between the probes (`i +
        1`: 1010 and 2019; `i / 2` at probe 1: a negative number), which
        the comparison of the two probes reports; `reading` reads those.
        Zero (a slice's start) is a number: every prime divides it."""
        if size == 0:
            return Size(0)
        symbols = []
        for symbol, prime in self.primes().items():
            while size % prime == 0:
                symbols.append(symbol)
                size //= prime
        scale = PROBE_SCALES[probe] ** len(symbols)
        if size % scale:
            return Size(-size)
        return Size.monomial(size // scale, tuple(symbols))

    def reading(self, lowerings: Sequence[str]) -> ProbeReading:
        """How to read the sizes of a plan lowered at probe 0, from its
        lowerings at `READING_PROBES` (un-generalized texts
        of one program, equal apart from numbers): every number that
        differs between them is read back by `decode_size` (module
        docstring). A FuseError where the texts differ otherwise, or a
        number cannot be read or could be two sizes."""
        skeletons, columns = zip(*(_split_numbers(text) for text in lowerings), strict=True)
        if (
            any(skeleton != skeletons[0] for skeleton in skeletons)
            or len(set(map(len, columns))) != 1
        ):
            raise ProbesDiffer(lowerings)
        table: dict[int, Size] = {}
        seen: set[tuple[str, ...]] = set()
        for numbers in zip(*columns, strict=True):
            if numbers in seen or len(set(numbers)) == 1:
                continue
            seen.add(numbers)
            integers = _as_sizes(numbers)
            if integers is None:
                raise ProbesDiffer(lowerings, numbers)
            size = decode_size(integers, self)
            if table.setdefault(integers[0], size) != size:
                raise UnreadableSize(
                    f"the number {integers[0]} of the program at probe 0 "
                    f"({self.describe_probes(0)}) stands for both {table[integers[0]]} and {size}"
                )
        return ProbeReading(self, table)

    def describe_probes(self, *probes: int) -> str:
        """`i=1013, j=1019; i=2026, ...`: the symbols' numbers at `probes`
        (all five where none is given)."""
        return "; ".join(
            ", ".join(f"{s}={n}" for s, n in self.values(p).items())
            for p in probes or READING_PROBES
        )


class UnreadableSize(FuseError):
    """A number of the lowerings at the probes that reads as no size, or as
    two (fuse.runtime.export words the error)."""


class ProbesDiffer(FuseError):
    """The lowerings at two probes differ other than in numbers that read
    as sizes (fuse.runtime.export words the error)."""

    def __init__(self, lowerings: Sequence[str], numbers: Sequence[str] | None = None):
        lines = [text.splitlines() for text in lowerings]
        differing = (
            row
            for row in zip(*lines, strict=False)
            if len(set(row)) > 1
            and (numbers is None or all(n in line for n, line in zip(numbers, row, strict=True)))
        )
        row = next(differing, None)
        # the first two lines that differ, at probe 0 and another probe
        self.lines = (
            (row[0], next(line for line in row if line != row[0])) if row is not None else None
        )
        super().__init__("the lowered program differs between probe sizes")


@dataclass
class ProbeReading:
    """The `SizeReader`s of a plan at probe 0 and at `CHECK_PROBE`: the
    numbers `SymbolicSizes.reading` decoded, then monomials by their
    primes (as `SymbolicSizes.read`). What probe 0's reader answered
    makes the check probe's reader, so that compiling the plan at both and
    comparing the generalized lowerings checks every answer (a number that
    only looked like a size reads differently at the check probe)."""

    sizes: SymbolicSizes
    table: dict[int, Size]
    answered: dict[int, Size] = field(default_factory=dict)

    def at_probe(self, number: int) -> Size:
        if number not in self.answered:
            known = self.table.get(number)
            self.answered[number] = known if known is not None else self.sizes.read(number)
        return self.answered[number]

    def at_check(self) -> SizeReader:
        values = self.sizes.values(CHECK_PROBE)
        by_number: dict[int, Size] = {}
        for size in self.answered.values():
            number = size.at(values)
            if by_number.setdefault(number, size) != size:
                raise UnreadableSize(
                    f"the sizes {by_number[number]} and {size} are both {number} at the check "
                    "probe sizes"
                )
        return lambda number: by_number.get(number, Size(number))


# A number in a lowering's text: an integer or a float (`1.013000e+03`,
# `0.0314192101`); hexadecimal constants (`0xFF800000`, blobs) are text.
_NUMBER = re.compile(r"(0x[0-9A-Fa-f]{8,})|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)")


def _split_numbers(text: str) -> tuple[list[str], list[str]]:
    """`text` as the text between its numbers, and its numbers."""
    skeleton, numbers, start = [], [], 0
    for match in _NUMBER.finditer(text):
        if match.group(2) is None:
            continue
        skeleton.append(text[start : match.start()])
        numbers.append(match.group(2))
        start = match.end()
    skeleton.append(text[start:])
    return skeleton, numbers


def _as_sizes(numbers: Sequence[str]) -> tuple[int, ...] | None:
    """The sizes one number of the lowerings at each probe stands for:
    integers as they are, floats that are sizes or their inverse square
    roots (`size_of_constant`) as those sizes; None for others."""
    if all(re.fullmatch(r"-?\d+", n) for n in numbers):
        return tuple(int(n) for n in numbers)
    found = [size_of_constant(float(n)) for n in numbers]
    if any(f is None for f in found) or len({f[1] for f in found if f is not None}) != 1:
        return None
    return tuple(f[0] for f in found if f is not None)


def decode_size(numbers: Sequence[int], sizes: SymbolicSizes) -> Size:
    """The expression of the symbols that is `numbers[p]` at each probe p
    (`READING_PROBES`); a FuseError where none is or several are.

    Probes 0-2 scale every prime by 1, 2, 4, so a size's part of degree d
    grows by 2^d: a monomial of degree d is `n, 2^d n, 4^d n`, and a sum
    `L + c` of degree-1 terms and a constant is `L0 + c, 2 L0 + c, 4 L0 +
    c`, from which c = 2 n0 - n1 (probe 2 checks it); a degree-2 monomial
    beside them is read from all three. `L0`, a sum of symbols at their
    primes, is one sum and no other (`SymbolicSizes._probe_primes`); a
    product is the symbols whose primes divide it. A floor division by q
    is read as the division of some `q n + r` (0 <= r < q at each probe).
    Every candidate must also give the numbers at the two check probes. A size
    without division is the one polynomial through the numbers at probes
    0-2; else the floor divisions are tried, and only one may fit: a
    small size (a pooled difference of sizes) can be several."""
    primes, sums = sizes._probe_primes
    checks = [(sizes.values(probe), numbers[probe]) for probe in CHECK_PROBES]
    candidates: set[Size] = set()
    for divisor in range(1, MAX_DIVISOR + 1):
        for remainders in itertools.product(range(divisor), repeat=3):
            scaled = [divisor * n + r for n, r in zip(numbers, remainders, strict=False)]
            for form in _polynomials(scaled, primes, sums):
                size = Size.affine(form[0], form[1], divisor)
                if all(size.at(values) == number for values, number in checks):
                    candidates.add(size)
        if divisor == 1 and candidates:
            break  # the one fit of the probes' numbers: no division
    if len(candidates) == 1:
        return candidates.pop()
    at = f"{', '.join(map(str, numbers))} at the probe sizes {sizes.describe_probes()}"
    if not candidates:
        raise UnreadableSize(
            f"a size of the program is {at}: no expression of the symbols that exporting "
            f"reads (a sum of up to {_linear_weight(len(sizes.symbols))} symbols, counted "
            f"with their factors, a product of symbols, a constant, a floor division by up to "
            f"{MAX_DIVISOR})"
        )
    raise UnreadableSize(
        f"a size of the program is {at}: it could be any of "
        f"{', '.join(sorted(map(str, candidates)))}"
    )


def _polynomials(
    numbers: Sequence[int], primes: Mapping[str, int], sums: Mapping[int, Mapping[str, int]]
) -> Iterator[tuple[dict[tuple[str, ...], int], int]]:
    """The (terms, constant) that are `numbers` at the scales 1, 2, 4:
    a monomial of any degree, or a constant plus a sum of symbols plus at
    most one degree-2 monomial."""
    n0, n1, n2 = numbers
    if n0 and n1 % n0 == 0 and n1 // n0 > 0 and n2 * n0 == n1 * n1:
        degree = (n1 // n0).bit_length() - 1  # a monomial of degree 3 or more
        monomial = _monomial(n0, primes, degree) if degree >= 3 and n1 == n0 << degree else None
        if monomial is not None:
            yield monomial, 0
    quadratic, remainder = divmod((n2 - n1) - 2 * (n1 - n0), 6)
    if remainder:
        return
    linear = n1 - n0 - 3 * quadratic
    constant = n0 - linear - quadratic
    terms: dict[tuple[str, ...], int] = {}
    if quadratic:
        monomial = _monomial(quadratic, primes, 2)
        if monomial is None:
            return
        terms |= monomial
    if linear:
        combination = sums.get(linear)
        if combination is None:
            return
        terms |= {(symbol,): c for symbol, c in combination.items()}
    yield terms, constant


def _monomial(
    number: int, primes: Mapping[str, int], degree: int
) -> dict[tuple[str, ...], int] | None:
    """`{symbols: factor}` for `number = factor * product(primes of
    symbols)` with exactly `degree` symbols and a factor smaller than the
    primes; None if it is no such product."""
    symbols: list[str] = []
    for symbol, prime in primes.items():
        while number % prime == 0:
            symbols.append(symbol)
            number //= prime
    if len(symbols) != degree or abs(number) >= FIRST_PRIME:
        return None
    return {tuple(symbols): number}


def symbolic_sizes(
    module: ModuleOp, declared: Sequence[tuple[str, Sequence[str]]]
) -> SymbolicSizes:
    """Sizes of the runtime inputs `declared` (name, declared index names),
    whose sizes the declarative `module` leaves unknown, by the index
    classes (module docstring); the sizes `module` does know stay."""
    run_passes(module, ["fuse-canonicalize-projections"])
    program = next(op for op in module.walk() if isinstance(op, ProgramOp))
    classes = _IndexClasses()
    ranged, recurrent = ranged_tensors(program), _recurrent_tensors(program)
    # (tensor, k) and the positions it has at least (`_least_size`)
    least_sizes: list[tuple[tuple[str, int], int]] = []
    for op in program.body.block.ops:
        if isinstance(op, RuleOp | SinkOp):
            plain = _ties(op, ranged, recurrent)
            # a ranged rule's left-hand side grows to hold what it writes
            grows = isinstance(op, RuleOp) and is_ranged(op, ranged)
            for n, (tensor, indices) in enumerate(_accesses(op)):
                bounds = not (grows and n == 0)
                for k, index in enumerate(indices):
                    if isinstance(index, str) and plain:
                        classes.union((tensor, k), (id(op), index))
                    elif bounds and (least := _least_size(index)) is not None:
                        least_sizes.append(((tensor, k), least))
    static: dict[object, int] = {}
    even: set[object] = set()  # classes whose size must be even
    for op in program.body.block.ops:
        if isinstance(op, RuleOp | SinkOp):  # `const` literals size their indices
            even.update(classes.find((id(op), index)) for index in _paired_indices(op))
            for literal in op.body.walk():
                if isinstance(literal, LiteralOp) and isinstance(literal.value.type, TensorType):
                    names, shape = literal.result.type.names, literal.value.type.get_shape()
                    for index, size in zip(names, shape, strict=True):
                        static.setdefault(classes.find((id(op), index)), size)
        if isinstance(op, TensorOp):
            for k, size in enumerate(op.tensor_type.get_shape()):
                if size >= 0:
                    static.setdefault(classes.find((op.tensor_name, k)), size)
    names: dict[object, str] = {}
    dims: dict[str, tuple[int | str, ...]] = {}
    for name, indices in declared:
        row: list[int | str] = []
        for k, index in enumerate(indices):
            root = classes.find((name, k))
            if root in static:
                row.append(static[root])
            else:
                if root not in names:
                    suffix = "_half" if root in even else ""
                    names[root] = _fresh(index, set(names.values()), suffix)
                row.append(names[root])
        dims[name] = tuple(row)
    minimums: dict[str, int] = {}
    for dimension, least in least_sizes:
        root = classes.find(dimension)
        if root in names:
            # an even class's symbol is half its size
            least = -(-least // 2) if root in even else least
            minimums[names[root]] = max(minimums.get(names[root], 1), least)
    halves = frozenset(symbol for root, symbol in names.items() if root in even)
    return SymbolicSizes(dims, frozenset(static.values()), halves, minimums)


def _least_size(index: object) -> int | None:
    """How many positions a dimension accessed at `index` has at least: one
    past a constant position (`X[3]`: 4), a slice's stop (`X[2:5]`: 5), one
    past an open slice's start (`X[3:]`: 4, a slice of at least one); None
    for an index that needs no more than one position."""
    if isinstance(index, int):
        return index + 1
    if isinstance(index, SliceIndex):
        return index.stop if index.stop is not None else index.start + 1
    return None


def _paired_indices(op: RuleOp | SinkOp) -> Iterator[str]:
    """The feature index of each `rope` in `op`'s body, whose size must be
    even (its features rotate in pairs)."""
    for call in op.body.walk():
        if isinstance(call, CallOp) and call.callee.data == "rope" and names_of(call.args[0]):
            yield rope_indices(call, names_of(call.args[0]))[1]


def _recurrent_tensors(program: ProgramOp) -> set[str]:
    """The tensors that read themselves, directly or through others."""
    graph = dependency_graph(program)
    return {
        name
        for component in strongly_connected_components(graph)
        if is_recursive(component, graph)
        for name in component
    }


def _ties(op: RuleOp | SinkOp, ranged: set[str], recurrent: set[str]) -> bool:
    """Whether `op`'s plain indices tie their dimensions: in a rule that
    does not range its indices, and in every rule of a recurrence, whose
    steps must all have one size to be a scan's state (module docstring)."""
    return not is_ranged(op, ranged) or (isinstance(op, RuleOp) and op.tensor_name in recurrent)


def _accesses(op: RuleOp | SinkOp) -> Iterator[tuple[str, Sequence[object]]]:
    """Every tensor access of `op`: a rule's left-hand side first, then
    its loads."""
    if isinstance(op, RuleOp):
        yield op.tensor_name, op.indices.data
    for load in op.body.walk():
        if isinstance(load, LoadOp):
            yield load.tensor_name, load.indices.data


def _fresh(index: str, taken: set[str], suffix: str = "") -> str:
    """A symbol name for `index` (with `suffix`): an identifier
    (`jax.export` parses them), not yet taken."""
    base = (re.sub(r"\W", "_", index.split("#")[0]) or "n") + suffix
    if not base[0].isalpha():
        base = f"n{base}"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    return name


class _IndexClasses:
    """Union-find over tensor dimensions `(tensor, k)` and rule indices."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, node: object) -> object:
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, a: object, b: object) -> None:
        self.parent[self.find(a)] = self.find(b)
