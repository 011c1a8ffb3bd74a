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
sizes it gives are checked below. A constant position (`Obs[t, 3]`) ties
nothing either but bounds its class from below (`SymbolicSizes.minimums`:
that dimension has at least 4 positions), so an artifact refuses a smaller
input where it is called instead of failing inside.

How the compiler sees them. The pipeline and the backends are written for
numbers, so a symbolic plan is compiled at *probe sizes*: each symbol gets a
distinct prime (`SymbolicSizes.probe`), and a size in the compiled program
is read back as an expression (`Size`) by factoring it over those primes:
`1009` is `i`, `1009 * 1013 * 2` is `2 * i * j`. Compiling once more at
twice those sizes checks that reading: a size that is not the same
expression at both probes (`X[i + 1]` gives `i - 1`, a `concat` gives
`i + j`) follows the symbols in a way an artifact cannot express, and
exporting names it (fuse.runtime.export compares the two lowerings). The
backends then turn the probe-size plan into a shape-polymorphic one
(fuse.lowering.jax.symbolic, fuse.lowering.torch.symbolic).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp, TensorType

from fuse.dialects.fuse import LiteralOp, LoadOp, ProgramOp, RuleOp, SinkOp, TensorOp
from fuse.errors import FuseError
from fuse.lowering.symbolic_sizes import Size
from fuse.passes.index_ranges import is_ranged, ranged_tensors
from fuse.pipeline import run_passes


def _primes(start: int, count: int) -> tuple[int, ...]:
    found: list[int] = []
    candidate = start
    while len(found) < count:
        if all(candidate % d for d in range(2, math.isqrt(candidate) + 1)):
            found.append(candidate)
        candidate += 1
    return tuple(found)


# Probe sizes: primes, so that products factor uniquely; large enough that a
# program's own static sizes are unlikely to be multiples of one (exporting
# refuses the few that are), small enough that compile-time tables stay small.
PROBE_PRIMES = _primes(1009, 64)


@dataclass(frozen=True)
class SymbolicSizes:
    """Every runtime input's sizes: a number where known, else its symbol."""

    dims: Mapping[str, tuple[int | str, ...]]
    # Sizes the program has for other reasons (sources, `--shape`): probe
    # primes avoid them, so a probe is never mistaken for one.
    static_sizes: frozenset[int] = field(default_factory=frozenset)
    # Symbol -> the least size the program's constant positions need (a
    # symbol read at `X[t, 3]` has at least 4 positions); 1 where absent.
    minimums: Mapping[str, int] = field(default_factory=dict)

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols, in the order the inputs first use them."""
        seen: dict[str, None] = {}
        for dims in self.dims.values():
            seen.update((d, None) for d in dims if isinstance(d, str))
        return tuple(seen)

    def describe(self) -> str:
        """`W[i, j], X[j, 40]`: each input with its symbols."""
        return ", ".join(f"{name}[{', '.join(map(str, dims))}]" for name, dims in self.dims.items())

    def primes(self) -> dict[str, int]:
        """Symbol -> its prime."""
        usable = [p for p in PROBE_PRIMES if not any(s % p == 0 for s in self.static_sizes)]
        if len(self.symbols) > len(usable):
            raise FuseError(f"exporting supports at most {len(usable)} symbolic sizes")
        return dict(zip(self.symbols, usable, strict=False))

    def probe(self, probe: int = 0) -> dict[str, tuple[int, ...]]:
        """The runtime inputs' shapes at probe sizes: probe 0 gives each
        symbol its prime, probe 1 twice that. Probe 1 keeps every ratio of
        sizes, so choices made by comparing them (an einsum's contraction
        order) come out the same at both."""
        scale = 2 if probe else 1
        primes = self.primes()
        return {
            name: tuple(scale * primes[d] if isinstance(d, str) else d for d in dims)
            for name, dims in self.dims.items()
        }

    def read(self, size: int, probe: int = 0) -> Size:
        """A size of the plan compiled at `probe(probe)`, as an expression.
        A size that is no such expression reads as a number that differs
        between the probes (`i + 1`: 1010 and 2019; `i / 2` at probe 1: a
        negative number), which the comparison of the two probes reports.
        Zero (a slice's start) is a number: every prime divides it."""
        if size == 0:
            return Size(0)
        symbols = []
        for symbol, prime in self.primes().items():
            while size % prime == 0:
                symbols.append(symbol)
                size //= prime
        scale = 2 ** len(symbols) if probe else 1
        if size % scale:
            return Size(-size)
        return Size(size // scale, tuple(sorted(symbols)))


def symbolic_sizes(
    module: ModuleOp, declared: Sequence[tuple[str, Sequence[str]]]
) -> SymbolicSizes:
    """Sizes of the runtime inputs `declared` (name, declared index names),
    whose sizes the declarative `module` leaves unknown, by the index
    classes (module docstring); the sizes `module` does know stay."""
    run_passes(module, ["fuse-canonicalize-projections"])
    program = next(op for op in module.walk() if isinstance(op, ProgramOp))
    classes = _IndexClasses()
    ranged = ranged_tensors(program)
    # (tensor, k) read or written at constant position c: c + 1 positions at least
    constant_positions: list[tuple[tuple[str, int], int]] = []
    for op in program.body.block.ops:
        if isinstance(op, RuleOp | SinkOp):
            plain = not is_ranged(op, ranged)
            for n, (tensor, indices) in enumerate(_accesses(op)):
                # a ranged rule's left-hand side grows to hold its constant positions
                bounds = plain or not (isinstance(op, RuleOp) and n == 0)
                for k, index in enumerate(indices):
                    if isinstance(index, str) and plain:
                        classes.union((tensor, k), (id(op), index))
                    elif isinstance(index, int) and bounds:
                        constant_positions.append(((tensor, k), index))
    static: dict[object, int] = {}
    for op in program.body.block.ops:
        if isinstance(op, RuleOp | SinkOp):  # `const` literals size their indices
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
                    names[root] = _fresh(index, set(names.values()))
                row.append(names[root])
        dims[name] = tuple(row)
    minimums: dict[str, int] = {}
    for dimension, position in constant_positions:
        symbol = names.get(classes.find(dimension))
        if symbol is not None:
            minimums[symbol] = max(minimums.get(symbol, 1), position + 1)
    return SymbolicSizes(dims, frozenset(static.values()), minimums)


def _accesses(op: RuleOp | SinkOp) -> Iterator[tuple[str, Sequence[object]]]:
    """Every tensor access of `op`: a rule's left-hand side first, then
    its loads."""
    if isinstance(op, RuleOp):
        yield op.tensor_name, op.indices.data
    for load in op.body.walk():
        if isinstance(load, LoadOp):
            yield load.tensor_name, load.indices.data


def _fresh(index: str, taken: set[str]) -> str:
    """A symbol name for `index`: an identifier (`jax.export` parses
    them), not yet taken."""
    base = re.sub(r"\W", "_", index.split("#")[0]) or "n"
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
