"""Symbol domains of index positions (DESIGN.md section 3b).

Every index position of every tensor, `(tensor, k)`, has a *domain*.
Positions that share an index variable in any statement share a domain
(a union-find over positions), and so do positions that hold the same
symbol constant in one statement (`D[A] = S[d] Emb[A, d]`: `A` is one
object). A domain's symbols are the names that facts, symbol files
(`.tsv`/`.csv` relations, `.txt` vocabularies, read when the program is
checked) and left-hand-side constants put in its positions, numbered in
order of first appearance; integer positions (`X(1)`, a text's token
positions) make a domain of integers, sized by the largest one.

```
Parent(Alice, Bob)                       Parent#0: {Alice: 0, Bob: 1, Carol: 2}
Parent(Bob, Carol)                       Parent#1 is the same domain, since
Ancestor(x, y) <- Parent(x, y)           the rule joins them through x and y
```
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import cast

from fuse.frontend.ast import (
    Equation,
    Expr,
    Fact,
    Facts,
    IndexConst,
    IndexVar,
    Program,
    Query,
    Sink,
    Source,
    Statement,
    TensorRef,
    is_constant_name,
    symbol_of,
)

Position = tuple[str, int]
Constant = str | int

SymbolFile = tuple[int, list[Constant]]
"""What a symbol source holds for the domain table: its rank and its
constants row by row (symbols as strings, integer positions as ints), the
way `FactGroup.constants` holds facts'."""

SymbolReader = Callable[[str], SymbolFile | None]
"""Reads the symbols of a source file named by a program (a path relative
to the program's directory), or None where the file is no symbol source or
cannot be read when the program is checked (the run reports the latter)."""


class FactGroup:
    """The facts of one relation, flat: every fact's constants in reading
    order (symbols as strings, integers as ints) and each fact's value.
    A statement whose facts have another rank than the first's is kept
    aside as `mismatch` (its constants are left out) for a diagnostic."""

    def __init__(self) -> None:
        self.statements: list[Fact | Facts] = []
        self.rank: int | None = None
        self.constants: list[Constant] = []
        self.values: list[int | float] = []
        self.mismatch: Fact | Facts | None = None

    def add(self, statement: Fact | Facts) -> None:
        self.statements.append(statement)
        rank = statement.rank if isinstance(statement, Facts) else len(statement.indices)
        if self.rank is None:
            self.rank = rank
        if rank != self.rank:
            self.mismatch = self.mismatch or statement
        elif isinstance(statement, Facts):
            self.constants += statement.constants
            self.values += [1] * (len(statement.constants) // rank)
        else:
            self.constants += fact_constants(statement)
            self.values.append(statement.value)


def fact_groups(statements: tuple[Statement, ...]) -> dict[str, FactGroup]:
    """Each relation's facts, in order of appearance."""
    groups: dict[str, FactGroup] = {}
    for statement in statements:
        if isinstance(statement, Fact | Facts):
            groups.setdefault(statement.relation, FactGroup()).add(statement)
    return groups


def fact_constants(fact: Fact) -> tuple[Constant, ...]:
    """A fact's constants: integers, and symbols without their quotes."""
    return tuple(i.value if isinstance(i, IndexConst) else symbol_of(i.name) for i in fact.indices)


@dataclass
class Domain:
    """The symbols of one domain, in order of first appearance, and the
    largest integer a fact puts in it."""

    symbols: dict[str, int] = field(default_factory=dict)
    largest_integer: int = -1
    # Each position's spelling, for printing answers: rebuilt when symbols
    # were added (they are only ever added, each with the next number).
    _spelled: list[str] = field(default_factory=list, repr=False, compare=False)
    _spelled_at: int = field(default=-1, repr=False, compare=False)

    @property
    def size(self) -> int:
        return max(len(self.symbols), self.largest_integer + 1)

    def name(self, position: int) -> str:
        """The symbol at `position` as a program spells it (quoted unless it
        begins with an uppercase letter), or the position itself where the
        domain has no symbol for it."""
        return self.names([position])[0]

    def names(self, positions: Sequence[int]) -> list[str]:
        """`name` of each of `positions`, for many answers at once."""
        if self._spelled_at != len(self.symbols):
            spelled = [str(p) for p in range(max(self.symbols.values(), default=-1) + 1)]
            for symbol, number in self.symbols.items():
                spelled[number] = symbol if symbol[:1].isupper() else f'"{symbol}"'
            self._spelled, self._spelled_at = spelled, len(self.symbols)
        spelled = self._spelled
        return [spelled[p] if 0 <= p < len(spelled) else str(p) for p in positions]

    def nearest(self, name: str) -> list[str]:
        return difflib.get_close_matches(name, self.symbols, n=3, cutoff=0.5)


class DomainTable:
    """The domains of a program's index positions."""

    def __init__(self) -> None:
        self._parent: dict[Position, Position] = {}
        self._domains: dict[Position, Domain] = {}
        # Sources whose symbols the table holds, by tensor: the run numbers
        # their symbols with the table's, not with a loader table of its own.
        self.symbol_sources: dict[str, str] = {}
        # Positions a left-hand side writes at a symbol (`D[A] = ...`): sized
        # by their domain, not by the largest position written.
        self.symbol_written: set[Position] = set()

    def _root(self, position: Position) -> Position:
        self._parent.setdefault(position, position)
        root = position
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[position] != root:  # path compression
            self._parent[position], position = root, self._parent[position]
        return root

    def _union(self, a: Position, b: Position) -> None:
        root_a, root_b = self._root(a), self._root(b)
        if root_a != root_b:
            self._parent[root_b] = root_a

    def domain(self, tensor: str, k: int) -> Domain:
        return self._domains.setdefault(self._root((tensor, k)), Domain())

    def share(self, tensor: str, relation: str, rank: int) -> None:
        """Gives the positions of `tensor`, a name the table has not seen,
        the domains of `relation`'s."""
        for k in range(rank):
            self._union((relation, k), (tensor, k))

    def fingerprint(self) -> str:
        """A digest of every domain's symbols in order: the numbers the
        program's constants were folded to, which its symbol files (not
        only its text) decide, for caches keyed by the program."""
        digest = hashlib.sha256()
        for root, domain in sorted(self._domains.items()):
            digest.update(repr((root, list(domain.symbols), domain.largest_integer)).encode())
        return digest.hexdigest()

    def key(self, tensor: str, k: int) -> str:
        """A name of the domain of position k of `tensor`, the same for every
        position that shares it (`Parent#0`)."""
        root_tensor, root_k = self._root((tensor, k))
        return f"{root_tensor}#{root_k}"

    @classmethod
    def of(
        cls,
        program: Program,
        walk: Callable[[Expr], list[Expr]],
        constants: Collection[str] = (),
        read_symbols: SymbolReader | None = None,
    ) -> DomainTable:
        """The domains of `program`; `walk(expr)` lists an expression's
        nodes, `constants` are the names of integer constants (`L = 2`),
        `read_symbols` reads a source file's symbols (none are read
        without it). Symbols come from facts and symbol sources in the
        order the program names them, then from the constant positions of
        equations' left-hand sides (`D[Alice, Bob] = ...` defines an
        element the way a fact does)."""
        table = cls()
        for statement in program.statements:
            table._join(_accesses(statement, walk), constants)
        groups = fact_groups(program.statements)
        for statement in program.statements:
            if (
                isinstance(statement, Fact | Facts)
                and groups[statement.relation].statements[0] is statement
            ):
                group = groups[statement.relation]
                table.add_constants(statement.relation, cast(int, group.rank), group.constants)
            elif isinstance(statement, Source) and read_symbols is not None:
                read = read_symbols(statement.path)
                if read is not None:
                    table.add_constants(statement.lhs.name, *read)
                    table.symbol_sources[statement.lhs.name] = statement.path
        for statement in program.statements:
            if isinstance(statement, Equation):
                for k, index in enumerate(statement.lhs.indices):
                    if _is_symbol(index, constants):
                        table.symbol_written.add((statement.lhs.name, k))
                        symbols = table.domain(statement.lhs.name, k).symbols
                        symbols.setdefault(symbol_of(cast(IndexVar, index).name), len(symbols))
        return table

    def _join(self, accesses: list[tuple[str, tuple]], constants: Collection[str]) -> None:
        """Joins the domains of the positions of one statement's `accesses`
        that hold one index variable, or one symbol constant."""
        first: dict[str, Position] = {}
        for tensor, indices in accesses:
            for k, index in enumerate(indices):
                self._root((tensor, k))
                if not isinstance(index, IndexVar) or index.name in constants:
                    continue
                name = symbol_of(index.name) if is_constant_name(index.name) else index.name
                key = f'"{name}"' if is_constant_name(index.name) else name
                if key in first:
                    self._union(first[key], (tensor, k))
                else:
                    first[key] = (tensor, k)

    def add_constants(self, tensor: str, rank: int, constants: list[Constant]) -> None:
        """Puts constants (a fact's, a symbol file's rows: `rank` per row)
        into the domains of `tensor`'s positions."""
        domains = [self.domain(tensor, k) for k in range(rank)]
        # Distinct (position, constant) pairs in reading order, row by row:
        # positions that share a domain number their symbols as a reader
        # meets them (and as a relation file of the same rows would).
        positions = itertools.cycle(range(rank))
        for k, constant in dict.fromkeys(zip(positions, constants, strict=False)):
            domain = domains[k]
            if type(constant) is int:
                domain.largest_integer = max(domain.largest_integer, constant)
            elif constant not in domain.symbols:
                domain.symbols[constant] = len(domain.symbols)


def _is_symbol(index: object, constants: Collection[str]) -> bool:
    """Whether an index position holds a symbol constant (`Alice`,
    `"loves"`), not a variable nor a named integer."""
    return (
        isinstance(index, IndexVar) and is_constant_name(index.name) and index.name not in constants
    )


def _accesses(statement: Statement, walk: Callable[[Expr], list[Expr]]) -> list[tuple[str, tuple]]:
    """(tensor, indices) of every access of `statement` with indices."""
    accesses: list[tuple[str, tuple]] = []
    if isinstance(statement, Equation | Source):
        accesses.append((statement.lhs.name, statement.lhs.indices))
    if isinstance(statement, Query):
        accesses.append((statement.tensor, statement.indices))
    if isinstance(statement, Equation | Sink):
        accesses += [
            (node.name, node.indices)
            for node in walk(statement.rhs)
            if isinstance(node, TensorRef) and node.indices
        ]
    return accesses
