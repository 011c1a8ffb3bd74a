"""`fuse-resolve-symbols`: the program's domain table, checked against its rules.

Symbols live with the program (DESIGN.md section 3b). The front end builds
the domain table (`fuse/frontend/domains.py`: positions that share an index
variable share a domain, symbols from facts, symbol files and constants,
numbered in order of first appearance), since it reports an unknown symbol
with a caret, and folds every symbol to its number, so rules, queries and
`fuse.facts` hold integers and backends never see a name. The table travels
on the program as the `fuse.domains` attribute: per domain (named by one of
its positions) the positions `@tensor#k` it covers, its size and its
symbols in order, position n naming element n.

```mlir
fuse.program attributes {fuse.domains = {"Parent#0" = {positions = ["Parent#0",
    "Parent#1", "Ancestor#0", "Ancestor#1"], size = 3 : i64,
    symbols = ["Alice", "Bob", "Carol"]}}} {
  fuse.tensor @Parent[a, b] boolean : tensor<3x3xf32>
  fuse.facts @Parent dense<[[0, 1], [1, 2]]> : tensor<2x2xi64> values ...
  ...
}
```

This pass checks that the table and the program agree, so that IR edited
or written by hand (and run with `fuse-opt`) cannot pair unrelated symbols:

* every position names a declared tensor's dimension, and lies in one
  domain; a domain's symbols are distinct and no more than its size;
* positions that share an index variable in a rule, sink or query are in
  the same domain (or both in none);
* a relation given by `fuse.facts` is declared its domains' sizes (the
  dialect's verifier keeps the facts inside the declared shape).

It changes nothing; a disagreement is an error naming the op's location,
the positions and the domains.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    i64,
)
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import FactsOp, LoadOp, ProgramOp, QueryOp, RuleOp, SinkOp, TensorOp
from fuse.dialects.fuse.declarative import programs
from fuse.frontend.domains import DomainTable
from fuse.passes.expr_tree import body_ops
from fuse.passes.infer_shapes import location_prefix

DOMAINS_ATTRIBUTE = "fuse.domains"


def position_name(tensor: str, k: int) -> str:
    return f"{tensor}#{k}"


def domains_attribute(table: DomainTable, ranks: Iterable[tuple[str, int]]) -> DictionaryAttr:
    """The `fuse.domains` attribute of the domains of the tensors `(name,
    rank)` that hold symbols (integer-only domains need no table)."""
    members: dict[str, list[str]] = {}
    for tensor, rank in ranks:
        for k in range(rank):
            if table.domain(tensor, k).symbols:
                members.setdefault(table.key(tensor, k), []).append(position_name(tensor, k))
    entries = {}
    for key, positions in members.items():
        tensor, k = key.rsplit("#", 1)
        domain = table.domain(tensor, int(k))
        entries[key] = DictionaryAttr(
            {
                "positions": ArrayAttr([StringAttr(p) for p in positions]),
                "size": IntegerAttr(domain.size, i64),
                "symbols": ArrayAttr([StringAttr(s) for s in domain.symbols]),
            }
        )
    return DictionaryAttr(entries)


@dataclass(frozen=True)
class Domain:
    """One entry of `fuse.domains`, read back."""

    name: str
    size: int
    symbols: tuple[str, ...]


def read_domains(program: ProgramOp) -> dict[str, Domain]:
    """The domain of each listed position (`Parent#0`), from the program's
    `fuse.domains` attribute; an empty table without one. A malformed entry
    is an error."""
    attribute = program.attributes.get(DOMAINS_ATTRIBUTE)
    if attribute is None:
        return {}
    where = location_prefix(program)
    if not isinstance(attribute, DictionaryAttr):
        raise DiagnosticException(f"{where}{DOMAINS_ATTRIBUTE} must be a dictionary of domains")
    of_position: dict[str, Domain] = {}
    for name, entry in attribute.data.items():
        fields = entry.data if isinstance(entry, DictionaryAttr) else {}
        positions, size, symbols = (fields.get(f) for f in ("positions", "size", "symbols"))
        if not (
            isinstance(positions, ArrayAttr)
            and isinstance(size, IntegerAttr)
            and isinstance(symbols, ArrayAttr)
            and all(isinstance(p, StringAttr) for p in positions.data)
            and all(isinstance(s, StringAttr) for s in symbols.data)
        ):
            raise DiagnosticException(
                f"{where}domain '{name}' needs positions = [strings], size = integer and "
                "symbols = [strings]"
            )
        names = tuple(s.data for s in symbols.data)  # type: ignore[union-attr]
        if len(set(names)) != len(names) or len(names) > size.value.data:
            raise DiagnosticException(
                f"{where}domain '{name}' has {len(names)} symbols for size {size.value.data}, "
                "or a symbol twice"
            )
        domain = Domain(name, size.value.data, names)
        for position in positions.data:
            text = position.data  # type: ignore[union-attr]
            if text in of_position:
                raise DiagnosticException(
                    f"{where}position {text} is in two domains, '{of_position[text].name}' "
                    f"and '{name}'"
                )
            of_position[text] = domain
    return of_position


def check_domains(program: ProgramOp) -> None:
    """See the module docstring."""
    domains = read_domains(program)
    if not domains:
        return
    ops = list(program.body.block.ops)
    ranks = {op.tensor_name: len(op.indices.data) for op in ops if isinstance(op, TensorOp)}
    for position in domains:
        tensor, _, k = position.rpartition("#")
        if tensor not in ranks or not k.isdigit() or int(k) >= ranks[tensor]:
            raise DiagnosticException(
                f"{location_prefix(program)}domain position {position} names no dimension of a "
                "declared tensor"
            )
    for op in ops:
        if isinstance(op, RuleOp | SinkOp | QueryOp):
            _check_shared_indices(op, domains)
        elif isinstance(op, FactsOp):
            _check_facts(op, program, domains)


def _accesses(op: RuleOp | SinkOp | QueryOp) -> list[tuple[str, tuple]]:
    if isinstance(op, QueryOp):
        return [(op.tensor_name, op.indices.data)]
    accesses = [(op.tensor_name, op.indices.data)] if isinstance(op, RuleOp) else []
    return accesses + [
        (load.tensor_name, load.indices.data)
        for load in body_ops(op.body)
        if isinstance(load, LoadOp)
    ]


def _check_shared_indices(op: RuleOp | SinkOp | QueryOp, domains: dict[str, Domain]) -> None:
    """Positions that share an index variable in `op` share a domain."""
    first: dict[str, str] = {}
    for tensor, indices in _accesses(op):
        for k, index in enumerate(indices):
            if not isinstance(index, str):
                continue  # a constant or index arithmetic joins nothing
            position = position_name(tensor, k)
            other = first.setdefault(index, position)
            if domains.get(other) != domains.get(position):
                raise DiagnosticException(
                    f"{location_prefix(op)}index '{index}' joins {other} ({_shown(domains, other)}) "
                    f"and {position} ({_shown(domains, position)}): positions that share an "
                    "index variable share a domain"
                )


def _shown(domains: dict[str, Domain], position: str) -> str:
    domain = domains.get(position)
    return "in no domain" if domain is None else f"domain '{domain.name}'"


def _check_facts(op: FactsOp, program: ProgramOp, domains: dict[str, Domain]) -> None:
    """A relation given by facts is declared its domains' sizes."""
    tensor = op.tensor.root_reference.data
    declaration = program.lookup_tensor(tensor)
    if declaration is None:
        return  # the dialect's verifier reports a facts op of an undeclared tensor
    for k, size in enumerate(declaration.tensor_type.get_shape()):
        domain = domains.get(position_name(tensor, k))
        if domain is not None and size != domain.size:
            raise DiagnosticException(
                f"{location_prefix(op)}@{tensor} has size {size} in dimension {k}, "
                f"but its domain '{domain.name}' has {domain.size} elements"
            )


@dataclass(frozen=True)
class ResolveSymbolsPass(ModulePass):
    """See the module docstring."""

    name = "fuse-resolve-symbols"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in programs(op):
            check_domains(program)
