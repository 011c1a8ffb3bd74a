"""Symbol tables: the names behind the positions of symbolic dimensions.

A relation file (`alice<TAB>bob`) or a text (`the cat sat`) holds symbols, but
a tensor holds positions. A `SymbolTable` numbers the symbols of one *domain*
densely, in order of first appearance. A `SymbolRegistry` holds every table
of one program run, so that all relation files share one domain (`Sister(x,y)`
and `Parent(x,y)` from two files join on the same people) and all texts share
one vocabulary.

A table is *frozen* once a tensor over it has been built: its size is then a
tensor dimension, and a symbol added later would silently mis-shape earlier
tensors. Scan every source before building any tensor (`IOContext.load_all`
does).

The registry also remembers which index names label which domain (filled
when a source is bound to its tensor's index names), so a sink given the
index names of its dimensions can write symbols back instead of positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from fuse.errors import FuseError

ENTITY = "entity"
"""The domain of symbols in relation files (.csv/.tsv) and symbol records (.jsonl)."""

TOKEN = "token"
"""The domain of text tokens (.txt sources): the vocabulary."""


class SymbolTable:
    """The symbols of one domain, numbered 0, 1, ... in order of first appearance."""

    def __init__(self, domain: str, symbols: Iterable[str] = ()):
        self.domain = domain
        self._symbols: list[str] = []
        self._index: dict[str, int] = {}
        self.frozen = False
        # Whether the symbols are a text's tokens: a position x token
        # matrix over them is written as text or top-k records.
        self.vocabulary = domain == TOKEN
        # Why a symbol can no longer be added, once frozen (for the error).
        self.frozen_because = (
            "tensors over it were built; scan every source before loading any "
            "(IOContext.load_all does)"
        )
        for symbol in symbols:
            self.intern(symbol)

    def intern(self, symbol: str) -> int:
        """The position of `symbol`, adding it if new (an error once frozen)."""
        position = self._index.get(symbol)
        if position is not None:
            return position
        if self.frozen:
            raise FuseError(
                f"symbol {symbol!r} is new to the {self.domain!r} table after {self.frozen_because}"
            )
        self._index[symbol] = len(self._symbols)
        self._symbols.append(symbol)
        return len(self._symbols) - 1

    def index(self, symbol: str) -> int:
        """The position of a known symbol."""
        try:
            return self._index[symbol]
        except KeyError:
            raise FuseError(f"unknown symbol {symbol!r} in the {self.domain!r} table") from None

    def symbol(self, position: int) -> str:
        return self._symbols[position]

    @property
    def symbols(self) -> list[str]:
        """All symbols in position order (a copy)."""
        return list(self._symbols)

    def freeze(self, because: str | None = None) -> None:
        self.frozen = True
        if because is not None:
            self.frozen_because = because

    def __len__(self) -> int:
        return len(self._symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._symbols)

    def __repr__(self) -> str:
        return f"SymbolTable({self.domain!r}, {len(self)} symbols)"


class SymbolRegistry:
    """Every symbol table of one program run, and the index names they label."""

    def __init__(self) -> None:
        self._tables: dict[str, SymbolTable] = {}
        self._bindings: dict[str, str | None] = {}

    def table(self, domain: str) -> SymbolTable:
        """The table of `domain`, created empty on first use."""
        table = self._tables.get(domain)
        if table is None:
            table = self._tables[domain] = SymbolTable(domain)
        return table

    @property
    def tables(self) -> dict[str, SymbolTable]:
        return dict(self._tables)

    def bind(self, index_name: str, domain: str) -> None:
        """Records that `index_name` ranges over `domain`. An index name bound
        to two different domains labels neither: it is ambiguous, and sinks
        write its positions as integers."""
        if index_name in self._bindings and self._bindings[index_name] != domain:
            self._bindings[index_name] = None
        else:
            self._bindings[index_name] = domain

    def table_for(self, index_name: str, size: int | None = None) -> SymbolTable | None:
        """The table that `index_name` ranges over, if exactly one does and
        (when `size` is given) its length equals `size`."""
        domain = self._bindings.get(index_name)
        if domain is None:
            return None
        table = self._tables.get(domain)
        if table is None or (size is not None and len(table) != size):
            return None
        return table

    def tables_for(self, dims: Sequence[str], shape: Sequence[int]) -> list[SymbolTable | None]:
        """Per dimension, the table its index name labels (None where none
        does or where the sizes disagree)."""
        return [self.table_for(dim, size) for dim, size in zip(dims, shape, strict=False)]
