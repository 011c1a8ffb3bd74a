"""`runner.query("Path", x=3)`: one query, answered on demand.

A position may be given by symbol too, `runner.query("Ancestor",
x="Alice")`: a symbol of that position's domain (DESIGN.md §3b).

The query becomes a query statement, `Path(3, y)?`, added to a copy of the
program's syntax tree, so it takes exactly the way of a query written in
the program: the semantic checks, the IR builder, and `fuse-demand`, which
computes only what the query reaches. Each distinct query gets its own
runner, with the asking runner's backend, configuration and policies,
compiled on first use (then once per input shapes, like any runner) and
kept while the asking runner lives.
"""

from __future__ import annotations

import copy
import dataclasses
import operator
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from fuse.dialects.fuse import TensorOp
from fuse.errors import FuseError
from fuse.frontend import ast, check, print_program

if TYPE_CHECKING:
    from fuse.program import Program
    from fuse.runtime.runner import Runner

Binding = int | str  # a position, or a symbol of the position's domain
_QueryKey = tuple[str, tuple[tuple[str, int], ...]]

# id(asking runner) -> its query runners; an entry goes with its runner.
_compiled: dict[int, dict[_QueryKey, Runner]] = {}


def query(
    runner: Runner, tensor: str, inputs: Mapping[str, Any] | None = None, **bindings: Binding
) -> np.ndarray:
    """The values of `tensor` with the indices named in `bindings` fixed to
    those positions (or symbols): an array over its other indices, in declaration order
    (the names of its first left-hand side, as `fuse compile --emit fuse`
    shows them). `inputs` are the program's runtime inputs, as for `run`."""
    (answer,) = query_runner(runner, tensor, **bindings).run(inputs).values()
    return answer


def answers(
    runner: Runner, tensor: str, inputs: Mapping[str, Any] | None = None, **bindings: Binding
) -> dict[tuple[str, ...], float]:
    """`query`'s nonzero answers by name: each tuple of the free indices'
    symbols (their positions as text where a domain has no symbols) with
    its value, `{("Bob",): 1.0, ("Carol",): 1.0}`."""
    answer = np.asarray(query(runner, tensor, inputs, **bindings))
    free = [
        k
        for k, name in enumerate(_declared_indices(runner.program, tensor))
        if name not in bindings
    ]
    domains = runner.program.ast.domains
    result: dict[tuple[str, ...], float] = {}
    for position in zip(*np.nonzero(answer), strict=True):
        names = tuple(
            domains.domain(tensor, k).name(int(p)) if domains else str(p)
            for k, p in zip(free, position, strict=True)
        )
        result[names] = float(answer[position])
    return result


def query_runner(runner: Runner, tensor: str, **bindings: Binding) -> Runner:
    """The runner whose program is `runner`'s with this query as its only
    output (its single export is the answer; the program's own exports,
    sinks and queries are dropped), compiled on first use."""
    program = runner.program
    names = _declared_indices(program, tensor)
    unknown = sorted(set(bindings) - set(names))
    if unknown:
        raise FuseError(
            f"query of '{tensor}': it has no index '{unknown[0]}' "
            f"(its indices: {', '.join(names) or 'none'})"
        )
    positions = {
        name: _symbol_position(program, tensor, names.index(name), name, value)
        if isinstance(value, str)
        else _position(tensor, name, value)
        for name, value in bindings.items()
    }
    compiled = _compiled.get(id(runner))
    if compiled is None:
        compiled = _compiled[id(runner)] = {}
        weakref.finalize(runner, _compiled.pop, id(runner), None)
    key = (tensor, tuple(sorted(positions.items())))
    if key not in compiled:
        compiled[key] = _query_runner(runner, tensor, positions)
    return compiled[key]


def _position(tensor: str, name: str, value: object) -> int:
    try:
        position = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        position = -1
    if isinstance(value, bool) or position < 0:
        raise FuseError(
            f"query of '{tensor}': index {name}={value!r} must be a non-negative integer or "
            "a symbol"
        )
    return position


def _symbol_position(program: Program, tensor: str, k: int, name: str, symbol: str) -> int:
    """The position of `symbol` in the domain of `tensor`'s position `k`
    (the front end's domain table, as `fuse run` prints answers with)."""
    domains = program.ast.domains
    domain = domains.domain(tensor, k) if domains is not None else None
    if domain is not None and symbol in domain.symbols:
        return domain.symbols[symbol]
    nearest = (domain.nearest(symbol) or list(domain.symbols)[:3]) if domain else []
    hint = f"nearest symbols: {', '.join(nearest)}" if nearest else "its domain has no symbols"
    raise FuseError(
        f"query of '{tensor}': index {name}={symbol!r} is not a symbol of its domain ({hint})"
    )


def _declared_indices(program: Program, tensor: str) -> list[str]:
    """`tensor`'s index names, as its declaration has them."""
    declaration = next(
        (
            op
            for op in program.declarative_module().walk()
            if isinstance(op, TensorOp) and op.tensor_name == tensor
        ),
        None,
    )
    if declaration is None:
        raise FuseError(f"query of undefined tensor '{tensor}': the program does not mention it")
    return [str(n) for n in declaration.indices.data]


def index_symbols(program: Program, tensor: str, index: str) -> list[str]:
    """The symbols of the domain of `tensor`'s index `index`, in position
    order (empty where the domain has none): what a query's answer along
    that index is about."""
    names = _declared_indices(program, tensor)
    if index not in names:
        raise FuseError(
            f"'{tensor}' has no index '{index}' (its indices: {', '.join(names) or 'none'})"
        )
    domains = program.ast.domains
    if domains is None:
        return []
    symbols = domains.domain(tensor, names.index(index)).symbols
    return sorted(symbols, key=symbols.__getitem__)


def _query_runner(runner: Runner, tensor: str, positions: Mapping[str, int]) -> Runner:
    """A runner for the program with this query as its only one."""
    from fuse.runtime.runner import Runner

    program = runner.program
    names = _declared_indices(program, tensor)
    indices = tuple(
        ast.IndexConst(positions[n]) if n in positions else ast.IndexVar(n) for n in names
    )
    # The program's own queries, exports and sinks are left out: they would
    # be answered, returned and written too.
    outputs = (ast.Query, ast.Export, ast.Sink)
    kept = [s for s in program.ast.statements if not isinstance(s, outputs)]
    statements = (*kept, ast.Query(tensor, indices))
    querying = copy.copy(program)
    querying.ast = dataclasses.replace(program.ast, statements=statements)
    check(querying.ast, program.source)
    # What the program is, for the artifact cache; diagnostics keep `source`.
    querying.text = print_program(querying.ast)
    return Runner(
        querying,
        runner.backend_name,
        runner.config,
        runner.cache_dir,
        runner.policies,
        runner.allow_paths,
    )
