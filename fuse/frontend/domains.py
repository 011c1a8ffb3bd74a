"""Symbol domains of index positions (DESIGN.md section 3b).

Every index position of every tensor, `(tensor, k)`, has a *domain*.
Positions that share an index variable in any statement share a domain
(a union-find over positions). A domain's symbols are the uppercase names
that facts put in its positions, numbered in order of first appearance;
integer positions of facts (`X(1)`) make a domain of integers, sized by the
largest one.

```
Parent(Alice, Bob)                       Parent#0: {Alice: 0, Bob: 1, Carol: 2}
Parent(Bob, Carol)                       Parent#1 is the same domain, since
Ancestor(x, y) <- Parent(x, y)           the rule joins them through x and y
```
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Collection
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
    # `symbols` inverted, for printing answers: rebuilt when symbols were
    # added (they are only ever added, each with the next number).
    _by_position: dict[int, str] = field(default_factory=dict, repr=False, compare=False)
    _inverted_at: int = field(default=-1, repr=False, compare=False)

    @property
    def size(self) -> int:
        return max(len(self.symbols), self.largest_integer + 1)

    def name(self, position: int) -> str:
        """The symbol at `position` as a program spells it (quoted unless it
        begins with an uppercase letter), or the position itself where the
        domain has no symbol for it."""
        if self._inverted_at != len(self.symbols):
            self._by_position = {number: symbol for symbol, number in self.symbols.items()}
            self._inverted_at = len(self.symbols)
        symbol = self._by_position.get(position)
        if symbol is None:
            return str(position)
        return symbol if symbol[:1].isupper() else f'"{symbol}"'

    def nearest(self, name: str) -> list[str]:
        return difflib.get_close_matches(name, self.symbols, n=3, cutoff=0.5)


class DomainTable:
    """The domains of a program's index positions."""

    def __init__(self) -> None:
        self._parent: dict[Position, Position] = {}
        self._domains: dict[Position, Domain] = {}

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

    def key(self, tensor: str, k: int) -> str:
        """A name of the domain of position k of `tensor`, the same for every
        position that shares it (`Parent#0`)."""
        root_tensor, root_k = self._root((tensor, k))
        return f"{root_tensor}#{root_k}"

    @classmethod
    def of(
        cls, program: Program, walk: Callable[[Expr], list[Expr]], constants: Collection[str] = ()
    ) -> DomainTable:
        """The domains of `program`; `walk(expr)` lists an expression's
        nodes, `constants` are the names of integer constants (`L = 2`).
        Symbols come from facts and from the constant positions of
        equations' left-hand sides (`D[Alice, Bob] = ...` defines an element
        the way a fact does), facts first."""
        table = cls()
        for statement in program.statements:
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
            first: dict[str, Position] = {}
            for tensor, indices in accesses:
                for k, index in enumerate(indices):
                    table._root((tensor, k))
                    if isinstance(index, IndexVar) and not is_constant_name(index.name):
                        if index.name in first:
                            table._union(first[index.name], (tensor, k))
                        else:
                            first[index.name] = (tensor, k)
        for relation, group in fact_groups(program.statements).items():
            table.add_facts(relation, group)
        for statement in program.statements:
            if isinstance(statement, Equation):
                for k, index in enumerate(statement.lhs.indices):
                    if (
                        isinstance(index, IndexVar)
                        and is_constant_name(index.name)
                        and index.name not in constants
                    ):
                        symbols = table.domain(statement.lhs.name, k).symbols
                        symbols.setdefault(symbol_of(index.name), len(symbols))
        return table

    def add_facts(self, relation: str, group: FactGroup) -> None:
        """Puts the constants of `relation`'s facts into their positions'
        domains."""
        rank = cast(int, group.rank)
        domains = [self.domain(relation, k) for k in range(rank)]
        # Distinct (position, constant) pairs in reading order, fact by
        # fact: positions that share a domain number their symbols as a
        # reader meets them (and as a relation file of the same rows would).
        positions = itertools.cycle(range(rank))
        for k, constant in dict.fromkeys(zip(positions, group.constants, strict=False)):
            domain = domains[k]
            if type(constant) is int:
                domain.largest_integer = max(domain.largest_integer, constant)
            elif constant not in domain.symbols:
                domain.symbols[constant] = len(domain.symbols)
