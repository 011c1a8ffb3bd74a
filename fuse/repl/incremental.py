"""Answering a session's queries without redoing what did not change.

For its last fully checked program the session keeps an
`IncrementalProgram`:

* *Fact relations* (relations given only by facts) are runtime inputs,
  held as arrays: a new fact over symbols the relation's domains already
  know sets one element; nothing is checked or compiled again.
* *Kept values*: each tensor a query computed in full keeps its value
  while nothing it reads (directly or through other tensors) changes. A new
  fact drops the values downstream of its relation; a new or changed rule
  or equation drops those downstream of the tensors it defines (the
  session builds the next `IncrementalProgram` from the re-checked program
  and carries over the values whose definitions, and everything upstream
  of them, are unchanged). A new symbol drops the values over its domain
  and those downstream of them.

A query is compiled against a *reduced* program: the definitions of the
tensors it needs whose values are not kept, with every tensor it reads
that is kept, or a fact relation, as a runtime input. So after a new rule
only the strata that the rule touches, and that the query reaches, run
again. Each stale tensor the query reaches is computed in full and kept,
except the queried tensor itself when the query binds a position
(`Ancestor(Alice, x)?`): that one is left to `fuse-demand`, which computes
only what the bound positions reach. The reduced program's runner is
reused while its text recurs (asking again after more facts reruns it
with the current arrays). Tensors that read a source file are never kept:
each run reads the file.

Anything else (a fact with a new symbol, a fact of a relation that rules
define, `:load`) goes the slow way: the whole program is checked and a new
`IncrementalProgram` built from it (keeping what it can). docs/repl.md
says the same for users; tests/test_repl.py checks the answers against a
full recompile and a NumPy closure.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from fuse.errors import FuseError
from fuse.frontend import ast, check, print_program
from fuse.frontend.desugar import walk_expr
from fuse.frontend.domains import DomainTable
from fuse.graphs import reachable, reversed_graph
from fuse.lowering.numpy.relations import prefers_sparse
from fuse.runtime.answers import format_answer, query_outputs
from fuse.runtime.runner import Runner, to_host

Definition = ast.Equation | ast.FactTable | ast.Source


class IncrementalProgram:
    """A checked program with its fact relations as runtime inputs and the
    values of tensors computed so far (module docstring)."""

    def __init__(self, program, config, previous: IncrementalProgram | None = None) -> None:
        # program: fuse.program.Program
        statements = [s for s in program.ast.statements if not isinstance(s, ast.Query)]
        self.domains: DomainTable = program.ast.domains
        defined = {s.lhs.name for s in statements if isinstance(s, ast.Equation)}
        # A relation given only by true facts becomes an input: the front end
        # hands its facts on as a `FactTable` (a relation that rules define
        # too has its facts in a `<R>_facts` table of its own).
        self.arrays: dict[str, np.ndarray] = {
            table.lhs.name: table.dense()
            for table in statements
            if isinstance(table, ast.FactTable)
            and table.lhs.name not in defined
            and bool(np.all(table.values == 1))
        }
        self.statements = [
            s
            for s in statements
            if not (isinstance(s, ast.FactTable) and s.lhs.name in self.arrays)
            and not isinstance(s, ast.Export)
        ]
        self.definitions: dict[str, list[Definition]] = {}
        self.reads: dict[str, set[str]] = {}
        for statement in self.statements:
            if isinstance(statement, Definition):
                name = statement.lhs.name
                self.definitions.setdefault(name, []).append(statement)
                self.reads.setdefault(name, set())
                if isinstance(statement, ast.Equation):
                    self.reads[name] |= _tensors_read(statement.rhs)
        self.readers = reversed_graph(self.reads)
        self.sink_reads = set().union(
            *(_tensors_read(s.rhs) for s in self.statements if isinstance(s, ast.Sink))
        )
        self.program = program
        self.config = config
        self.keepable = self._keepable()
        # The fact relations as CSR, for backends that take sparse relations
        # (no dense pass over a relation on each run); kept in step with
        # `arrays` by `add_facts`.
        self._sparse: dict[str, sp.csr_array] = {}
        self.kept: dict[str, np.ndarray | sp.csr_array] = (
            previous.carried_to(self) if previous else {}
        )
        self._runners: dict[str, Runner] = {}
        self.last_runner: Runner | None = None
        self.last_computed: tuple[str, ...] = ()

    # --- what depends on what ---------------------------------------------------

    def downstream(self, changed: Iterable[str]) -> set[str]:
        """`changed` and every tensor that reads one of them, transitively."""
        return reachable(changed, self.readers)

    def upstream(self, tensors: Iterable[str]) -> set[str]:
        """`tensors` and every tensor they read, transitively."""
        return reachable(tensors, self.reads)

    def _keepable(self) -> set[str]:
        """The computed tensors whose values depend on nothing but the
        program: not on a source file nor on a runtime input."""
        external = {
            t
            for t, definitions in self.definitions.items()
            if any(isinstance(d, ast.Source) for d in definitions)
        }
        external |= {
            read
            for reads in self.reads.values()
            for read in reads
            if read not in self.definitions and read not in self.arrays
        }
        return set(self.definitions) - self.downstream(external)

    def carried_to(self, successor: IncrementalProgram) -> dict[str, np.ndarray | sp.csr_array]:
        """The values `successor` (the program re-checked after a change)
        may keep: those whose definitions, domains and everything upstream
        of them are unchanged."""
        names = set(self.definitions) | set(successor.definitions)
        changed = {
            t
            for t in names
            if _definition_key(self.definitions.get(t))
            != _definition_key(successor.definitions.get(t))
        }
        domains_before, domains_after = _domain_symbols(self), _domain_symbols(successor)
        changed |= {t for (t, k), d in domains_before.items() if domains_after.get((t, k)) != d}
        for relation in set(self.arrays) | set(successor.arrays):
            before, after = self.arrays.get(relation), successor.arrays.get(relation)
            if before is None or after is None or not np.array_equal(before, after):
                changed.add(relation)
            elif relation in self._sparse:  # the same relation: no second conversion
                successor._sparse[relation] = self._sparse[relation]
        stale = successor.downstream(changed)
        return {t: v for t, v in self.kept.items() if t not in stale and t in successor.keepable}

    # --- facts ------------------------------------------------------------------

    def add_facts(self, statements: Sequence[ast.Statement]) -> bool:
        """Sets the facts' elements and says True, or changes nothing and says
        False where one is not a fact this shortcut can take. The values
        kept downstream of a changed relation are dropped."""
        positions = []
        for statement in statements:
            for relation, constants, value in _rows(statement):
                position = self._position(relation, constants) if value == 1 else None
                if position is None:
                    return False
                positions.append((relation, position))
        for relation, position in positions:
            self.arrays[relation][position] = 1
            if relation in self._sparse:
                with warnings.catch_warnings():  # one element: cheap at this size
                    warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
                    self._sparse[relation][position] = 1
        for tensor in self.downstream(relation for relation, _ in positions):
            self.kept.pop(tensor, None)
        return True

    def _position(self, relation: str, constants: Sequence[object]) -> tuple[int, ...] | None:
        array = self.arrays.get(relation)
        if array is None or len(constants) != array.ndim:
            return None
        if all(type(c) is int for c in constants):
            return None  # integer-only facts are slice equations of their own
        position = []
        for k, constant in enumerate(constants):
            number = self._constant(relation, k, constant)
            if number is None or number >= array.shape[k]:
                return None  # a new symbol grows a domain: the slow way
            position.append(number)
        return tuple(position)

    def _constant(self, tensor: str, k: int, constant: object) -> int | None:
        if type(constant) is int:
            return constant
        return self.domains.domain(tensor, k).symbols.get(str(constant))

    # --- queries ----------------------------------------------------------------

    def answer(self, query: ast.Query, backend: str) -> str | None:
        """The printed answer of `query` on `backend`, or None where it is
        not a query of known symbols and tensors (the slow way then reports
        the error)."""
        resolved = self._resolved(query)
        if resolved is None or not (
            query.tensor in self.definitions or query.tensor in self.arrays
        ):
            return None
        bound = any(isinstance(i, ast.IndexConst) for i in resolved.indices)
        needed = self.upstream({query.tensor} | self.sink_reads)
        computed = [t for t in self.definitions if t in needed and t not in self.kept]
        kept_now = [t for t in computed if t in self.keepable and not (bound and t == query.tensor)]
        key = repr((backend, resolved, computed, kept_now))
        runner = self._runners.get(key)
        if runner is None:
            try:
                runner = self._runner(resolved, set(computed), kept_now, backend)
            except FuseError:
                return None
            self._runners[key] = runner
        sparse = runner.backend.takes_sparse_relations
        given = {**self._relations(sparse), **self.kept}
        inputs = {d.name: given[d.name] for d in runner.declarations if d.name in given}
        exports = runner.run(inputs)
        for tensor in kept_now:
            self.kept[tensor] = self._as_kept(np.asarray(to_host(exports[tensor])), sparse)
        self.last_runner, self.last_computed = runner, tuple(computed)
        ((_, name),) = query_outputs(runner.program.ast, exports)
        return format_answer(resolved, to_host(exports[name]), self.domains)

    def _as_kept(self, value: np.ndarray, sparse: bool) -> np.ndarray | sp.csr_array:
        """A computed value as the session keeps it: CSR for a backend that
        takes sparse relations where the NumPy backend's representation
        rule prefers it (a 2-D value with few nonzeros), since every later
        query passes it in and a dense one would be scanned for its density
        on each run; anything else as it is. Backends that do not take
        sparse inputs densify it."""
        if not sparse or value.ndim != 2:
            return value
        density = np.count_nonzero(value) / max(value.size, 1)
        return sp.csr_array(value) if prefers_sparse(self.config, value.shape, density) else value

    def _relations(self, sparse: bool) -> Mapping[str, np.ndarray | sp.csr_array]:
        """The fact relations, as CSR matrices where `sparse` (rank 2)."""
        if not sparse:
            return self.arrays
        for name, array in self.arrays.items():
            if array.ndim == 2 and name not in self._sparse:
                self._sparse[name] = sp.csr_array(array)
        return {**self.arrays, **self._sparse}

    def _resolved(self, query: ast.Query) -> ast.Query | None:
        indices: list[ast.Index] = []
        for k, index in enumerate(query.indices):
            if isinstance(index, ast.IndexVar) and index.name[0].islower() and not index.dotted:
                indices.append(index)
                continue
            if isinstance(index, ast.IndexConst):
                number = index.value
            else:
                number = self.domains.domain(query.tensor, k).symbols.get(index.name)
            if number is None:
                return None
            indices.append(ast.IndexConst(number, index.span))
        return dataclasses.replace(query, indices=tuple(indices))

    def _runner(
        self, query: ast.Query, computed: set[str], exported: list[str], backend: str
    ) -> Runner:
        """The reduced program (module docstring) compiled for `backend`."""
        statements = [
            s for s in self.statements if not isinstance(s, Definition) or s.lhs.name in computed
        ]
        statements += [ast.Export(t, query.span) for t in exported]
        querying = copy.copy(self.program)
        querying.ast = dataclasses.replace(self.program.ast, statements=(*statements, query))
        check(querying.ast, self.program.source)
        querying.text = print_program(querying.ast)  # what the program is, for caches
        return Runner(querying, backend, self.config)


def _tensors_read(expr: ast.Expr) -> set[str]:
    return {node.name for node in walk_expr(expr) if isinstance(node, ast.TensorRef)}


def _definition_key(definitions: list[Definition] | None) -> object:
    """What makes two definitions of a tensor the same: the statements
    (spans aside) and, for fact tables, their rows."""
    if definitions is None:
        return None
    return tuple(
        (d.lhs, d.shape, d.coordinates.tobytes(), d.values.tobytes())
        if isinstance(d, ast.FactTable)
        else d
        for d in definitions
    )


def _domain_symbols(program: IncrementalProgram) -> dict[tuple[str, int], object]:
    """Every position's domain, by its symbols and size."""
    ranks = {name: array.ndim for name, array in program.arrays.items()}
    ranks |= {name: len(d[0].lhs.indices) for name, d in program.definitions.items()}
    signature = {}
    for name, rank in ranks.items():
        for k in range(rank):
            domain = program.domains.domain(name, k)
            signature[name, k] = (tuple(domain.symbols), domain.size)
    return signature


def _rows(statement: ast.Statement) -> list[tuple[str, tuple[object, ...], float]]:
    """A typed statement's facts as (relation, constants, value); a
    statement that is not a fact has none the shortcut takes, so it gives
    one row it cannot place."""
    if isinstance(statement, ast.Facts):
        return [(statement.relation, row, 1) for row in statement.rows]
    if isinstance(statement, ast.Fact):
        constants = tuple(
            i.value if isinstance(i, ast.IndexConst) else getattr(i, "name", None)
            for i in statement.indices
        )
        return [(statement.relation, constants, statement.value)]
    return [("", (), 0)]


def try_build(
    program, config, previous: IncrementalProgram | None = None
) -> IncrementalProgram | None:
    """`IncrementalProgram` for `program`, or None where it cannot be set up
    (every line then goes the slow way)."""
    try:
        return IncrementalProgram(program, config, previous)
    except FuseError:
        return None
