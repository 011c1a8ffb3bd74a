"""Adding a fact without recompiling: fact relations as runtime inputs.

The front end turns a relation's facts into one dense literal over its
domains (`Parent(i, j) = const([[...]])`), so every fact typed would mean
checking, lowering and compiling the whole program again, literal included.
`FactInputs` keeps, for the last fully checked program, the same program
with each *fact relation* (a relation given only by facts) left as a
runtime input, and that relation's values as an array. A new fact over
symbols the relation's domains already know sets one element of the array;
a query is compiled once against the program without the literals and
rerun with the current arrays. The rules, equations and domains are
unchanged by such a fact, so the answers are those of a full recompile
(tests/test_repl.py checks that against the slow path).

Anything else (a rule, a fact with a new symbol, a fact of a relation that
rules define) goes the slow way: the whole program is checked and the
`FactInputs` rebuilt from it. docs/repl.md says the same for users.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence

import numpy as np

from fuse.errors import FuseError
from fuse.frontend import ast, check, print_program
from fuse.frontend.domains import DomainTable
from fuse.runtime.answers import format_answer, query_outputs
from fuse.runtime.runner import Runner, to_host


class FactInputs:
    """A checked program with its fact relations as runtime inputs."""

    def __init__(self, program, config) -> None:  # program: fuse.program.Program
        self.domains: DomainTable = program.ast.domains
        defined = {s.lhs.name for s in program.ast.statements if isinstance(s, ast.Equation)}
        # A relation given only by true facts becomes an input: the front end
        # hands its facts on as a `FactTable` (a relation that rules define
        # too has its facts in a `<R>_facts` table of its own).
        self.arrays = {
            table.lhs.name: table.dense()
            for table in program.ast.statements
            if isinstance(table, ast.FactTable)
            and table.lhs.name not in defined
            and bool(np.all(table.values == 1))
        }
        # The desugared program less those tables and less its queries (each
        # query gets a runner of its own).
        statements = tuple(
            s
            for s in program.ast.statements
            if not isinstance(s, ast.Query)
            and not (isinstance(s, ast.FactTable) and s.lhs.name in self.arrays)
        )
        self.program = copy.copy(program)
        self.program.ast = dataclasses.replace(program.ast, statements=statements)
        self.config = config
        self._runners: dict[str, tuple[Runner, ast.Query]] = {}
        self.last_runner: Runner | None = None

    def add_facts(self, statements: Sequence[ast.Statement]) -> bool:
        """Sets the facts' elements and says True, or changes nothing and says
        False where one is not a fact this shortcut can take."""
        positions = []
        for statement in statements:
            for relation, constants, value in _rows(statement):
                position = self._position(relation, constants) if value == 1 else None
                if position is None:
                    return False
                positions.append((relation, position))
        for relation, position in positions:
            self.arrays[relation][position] = 1
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

    def _number(self, tensor: str, k: int, index: ast.Index) -> int | None:
        """The position a constant index names, if this program's domains know it."""
        if isinstance(index, ast.IndexConst):
            return index.value
        return self.domains.domain(tensor, k).symbols.get(index.name)

    def answer(self, query: ast.Query, backend: str) -> str | None:
        """The printed answer of `query` on `backend`, or None where it is
        not a query of known symbols and tensors (the slow way then reports
        the error)."""
        key = repr((backend, query.tensor, query.indices))
        if key not in self._runners:
            resolved = self._resolved(query)
            if resolved is None:
                return None
            try:
                self._runners[key] = (self._runner(resolved, backend), resolved)
            except FuseError:
                return None
        runner, resolved = self._runners[key]
        inputs = {d.name: self.arrays[d.name] for d in runner.declarations if d.name in self.arrays}
        exports = runner.run(inputs)
        self.last_runner = runner
        ((_, name),) = query_outputs(runner.program.ast, exports)
        return format_answer(resolved, to_host(exports[name]), self.domains)

    def _resolved(self, query: ast.Query) -> ast.Query | None:
        indices: list[ast.Index] = []
        for k, index in enumerate(query.indices):
            if isinstance(index, ast.IndexVar) and index.name[0].islower() and not index.dotted:
                indices.append(index)
                continue
            number = self._number(query.tensor, k, index)
            if number is None:
                return None
            indices.append(ast.IndexConst(number, index.span))
        return dataclasses.replace(query, indices=tuple(indices))

    def _runner(self, query: ast.Query, backend: str) -> Runner:
        querying = copy.copy(self.program)
        statements = (*self.program.ast.statements, query)
        querying.ast = dataclasses.replace(self.program.ast, statements=statements)
        check(querying.ast, self.program.source)
        querying.text = print_program(querying.ast)  # what the program is, for caches
        return Runner(querying, backend, self.config)


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


def try_build(program, config) -> FactInputs | None:
    """`FactInputs` for `program`, or None where it has no fact relation."""
    try:
        inputs = FactInputs(program, config)
    except FuseError:
        return None
    return inputs if inputs.arrays else None
