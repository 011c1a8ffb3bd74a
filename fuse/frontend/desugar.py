"""Rewrites of the parsed program that leave only the core language.

* **User functions** (`softsign(x) := x / (1 + abs(x))`) are inlined at
  every call: the call becomes the function's body with each parameter
  replaced by its argument. A wrong argument count, a function that calls
  itself (directly or through others), or a function named like a builtin
  or a tensor is a located error.
* **Named integer constants in index positions**: after `L = 2`,
  `Emb[n, L, d]` reads position 2 (an index *variable* begins with a
  lowercase letter or `_`; DESIGN.md section 3b). An uppercase name in an
  index position that names no constant is an error, never a silent
  variable; a symbol of the position's domain (`Ancestor(Alice, x)`) is its
  number there (`fuse/frontend/domains.py`).
* **Index values as numbers**: an index variable of an equation used as a
  value outside brackets (`sin(p / L^(d / D))` in `PosEnc[p, d] = ...`) is
  its coordinate, `iota(p)`.
* **The paper's spellings of builtins**, `H(...)` (the Heaviside step),
  `Even(d)` and `Odd(d)`, become `step`, `even` and `odd` calls, unless the
  program defines a tensor of that name (then `Even(x, y)` reads it).

* **A loop's current step**: in a training loop, `W[i, *s+1] = W[i, *s] -
  Eta G[i]` with `G[i] = grad(Loss, W[i])` and `Loss = ... W[i] ...`, the
  tensors that read `W` without its virtual index and that its step reads
  back (its strongly connected component) are computed at each step: they
  get `*s` on their left-hand side and wherever the loop reads them, and
  `W[i]` becomes `W[i, *s]` (docs/learning.md). Several tensors stepped
  along one index that read each other's current step (two weight
  matrices, momentum's velocity beside the weights) are one loop, with one
  component. Reading a loop's per-step tensors from outside it is a
  located error (only their last step exists), and so are tensors stepped
  along different indices that read each other.

These run on the syntax tree before the semantic checks, so the rest of the
compiler never sees them. Trees are rebuilt by `map_expr`, a loop rather
than a recursion, so a generated thousand-term sum is no problem.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np

from fuse.errors import Diagnostic, SourceText
from fuse.frontend.ast import (
    BinaryOp,
    Call,
    Equation,
    Expr,
    Fact,
    Facts,
    FactTable,
    FunctionDef,
    Index,
    IndexArith,
    IndexConst,
    IndexSlice,
    IndexVar,
    Lhs,
    ListLiteral,
    Negate,
    Not,
    Number,
    Program,
    Query,
    Sink,
    Source,
    Span,
    Statement,
    TensorRef,
    TupleLiteral,
    index_variables,
    is_constant_name,
    map_index_leaves,
    symbol_of,
)
from fuse.frontend.builtins import BUILTINS
from fuse.frontend.domains import DomainTable, FactGroup, SymbolReader, fact_groups
from fuse.frontend.index_arith import index_problem
from fuse.frontend.parser import sort_diagnostics
from fuse.graphs import reachable, reversed_graph

# The paper's capitalized spellings and the builtins they name.
PAPER_SPELLINGS = {"H": "step", "Even": "even", "Odd": "odd"}


def _children(node: Expr) -> list[Expr]:
    if isinstance(node, BinaryOp):
        return [node.lhs, node.rhs]
    if isinstance(node, Negate | Not):
        return [node.operand]
    if isinstance(node, Call):
        return [*node.args, *(k.value for k in node.kwargs)]
    if isinstance(node, ListLiteral | TupleLiteral):
        return list(node.items)
    return []


def _with_children(node: Expr, children: list[Expr]) -> Expr:
    if isinstance(node, BinaryOp):
        return dataclasses.replace(node, lhs=children[0], rhs=children[1])
    if isinstance(node, Negate | Not):
        return dataclasses.replace(node, operand=children[0])
    if isinstance(node, Call):
        count = len(node.args)
        kwargs = tuple(
            dataclasses.replace(k, value=v)
            for k, v in zip(node.kwargs, children[count:], strict=True)
        )
        return dataclasses.replace(node, args=tuple(children[:count]), kwargs=kwargs)
    if isinstance(node, ListLiteral | TupleLiteral):
        return dataclasses.replace(node, items=tuple(children))
    return node


def map_expr(expr: Expr, rewrite: Callable[[Expr], Expr]) -> Expr:
    """`expr` rebuilt bottom-up, each node passed through `rewrite` after
    its children were."""
    done: list[Expr] = []
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        children = _children(node)
        if expanded or not children:
            rebuilt = node
            if children:
                rebuilt = _with_children(node, done[len(done) - len(children) :])
                del done[len(done) - len(children) :]
            done.append(rewrite(rebuilt))
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children))
    return done[0]


def _as_call(ref: TensorRef) -> Call:
    """`f(x, y)` parsed as a Boolean access (all arguments index names) as
    the call it is when `f` is a function."""
    args = tuple(_index_as_expr(i) for i in ref.indices)
    return Call(ref.name, args, (), ref.span)


def _index_as_expr(index: IndexVar | IndexConst) -> Expr:
    if isinstance(index, IndexVar):
        return TensorRef(index.name, (), False, index.span)
    return Number(index.value, index.span)


_LITERAL_INDICES = "ijklmnopqrstuvwxyz"

# The largest relation facts may spell out: it becomes a dense tensor when
# the program runs.
MAX_FACT_ELEMENTS = 1 << 24


def _index_values(rhs: Expr, equation: Equation, tensors: set[str]) -> Expr:
    """`rhs` with bare names of the equation's index variables read as
    their coordinates (`iota(p)`), except where a builtin takes an index
    name (`even(i)`, `axis=i`)."""
    variables = {v.name for i in equation.lhs.indices for v in index_variables(i)}
    for node in walk_expr(rhs):
        if isinstance(node, TensorRef):
            variables.update(v.name for i in node.indices for v in index_variables(i))
    variables -= tensors
    if not variables:
        return rhs

    def as_name(expr: Expr) -> Expr:
        """Undoes the rewrite where a name is an index name, not a value
        (`even(i)`, `axis=i`, `axis=(j, k)`)."""
        if isinstance(expr, Call) and expr.func == "iota" and expr.span == expr.args[0].span:
            return expr.args[0]
        if isinstance(expr, TupleLiteral | ListLiteral):
            return dataclasses.replace(expr, items=tuple(map(as_name, expr.items)))
        return expr

    def rewrite(node: Expr) -> Expr:
        if isinstance(node, TensorRef) and not node.indices and not node.boolean:
            if node.name in variables:
                return Call("iota", (node,), (), node.span)
            return node
        if not isinstance(node, Call):
            return node
        builtin = BUILTINS.get(node.func)
        args = node.args
        if builtin is not None and builtin.index_args:
            args = tuple(map(as_name, args))
        kwargs = tuple(dataclasses.replace(k, value=as_name(k.value)) for k in node.kwargs)
        return dataclasses.replace(node, args=args, kwargs=kwargs)

    return map_expr(rhs, rewrite)


def _fact_tables(
    statements: tuple[Statement, ...], domains: DomainTable, source: SourceText
) -> tuple[tuple[Statement, ...], list[Diagnostic]]:
    """Each relation's facts as one `FactTable` over its positions'
    domains, standing where its first fact stood. A relation whose facts
    are all integers (`X(1)`, `X(3) = 0.5`) becomes slice equations
    instead: its size then comes from where it is used (the paper's `X(1),
    X(2)` beside a 4-vector `W`), else from its largest position."""
    groups = fact_groups(statements)
    defined = {s.lhs.name for s in statements if isinstance(s, Equation)}
    names = defined | set(groups)
    diagnostics: list[Diagnostic] = []
    kept: list[Statement] = []
    for statement in statements:
        if not isinstance(statement, Fact | Facts):
            kept.append(statement)
            continue
        group = groups[statement.relation]
        if group.statements[0] is not statement:
            continue
        facts = _Facts(statement.relation, group, source)
        problem = facts.rank_problem() or facts.size_problem(domains)
        if problem is not None:
            diagnostics.append(source.diagnostic(*problem))
        elif facts.integers_only():
            kept += facts.slice_equations()
        elif statement.relation in defined:
            kept += facts.table_beside_rules(domains, names)
        else:
            kept.append(facts.table(domains))
    return tuple(kept), diagnostics


@dataclass
class _Facts:
    """What the front end makes of one relation's facts. Spans are made
    only for a diagnostic (a hundred thousand of them would cost more than
    the rest of the front end)."""

    relation: str
    group: FactGroup
    source: SourceText

    def span(self, n: int) -> Span:
        """The span of the group's fact `n`: a `Fact`'s own, or the line a
        fact of `Facts` stands on, without its indentation."""
        for statement in self.group.statements:
            count = (
                len(statement.constants) // statement.rank if isinstance(statement, Facts) else 1
            )
            if n >= count:
                n -= count
                continue
            if isinstance(statement, Fact):
                return statement.span
            line = statement.first_line + n
            text = self.source.line(line) or ""
            col = len(text) - len(text.lstrip()) + 1
            return Span(statement.span.file, line, col, line, len(text.rstrip()) + 1)
        raise IndexError(n)

    def integers_only(self) -> bool:
        return all(type(c) is int for c in dict.fromkeys(self.group.constants))

    def rank_problem(self) -> tuple[str, Span] | None:
        mismatch = self.group.mismatch
        if mismatch is None:
            return None
        first = self.span(0)
        rank = mismatch.rank if isinstance(mismatch, Facts) else len(mismatch.indices)
        span = mismatch.span
        if isinstance(mismatch, Facts):
            span = self.span(self._first_row(mismatch))
        return (
            f"a fact with {rank} constants, but the first fact of '{self.relation}' (at "
            f"{first.line}:{first.col}) has {self.group.rank}",
            span,
        )

    def _first_row(self, statement: Facts) -> int:
        """The index of `statement`'s first fact in the group."""
        n = 0
        for other in self.group.statements:
            if other is statement:
                return n
            n += len(other.constants) // other.rank if isinstance(other, Facts) else 1
        raise ValueError(statement)

    def shape(self, domains: DomainTable) -> tuple[int, ...]:
        rank = cast(int, self.group.rank)
        return tuple(domains.domain(self.relation, k).size for k in range(rank))

    def size_problem(self, domains: DomainTable) -> tuple[str, Span] | None:
        """A relation given by facts becomes a dense tensor when the program
        runs: one beyond `MAX_FACT_ELEMENTS` elements is refused (a fact
        `Parent(1000000, Bob)` would otherwise allocate a 10^12 table)."""
        if self.integers_only():
            return None  # slice equations, sized where they are used
        shape = self.shape(domains)
        if math.prod(shape) <= MAX_FACT_ELEMENTS:
            return None
        dims = " x ".join(map(str, shape))
        return (
            f"the facts of '{self.relation}' span a {dims} relation, more than "
            f"{MAX_FACT_ELEMENTS} elements (an integer position is as large as the largest "
            "integer in it)",
            self.span(0),
        )

    def slice_equations(self) -> list[Statement]:
        rank = cast(int, self.group.rank)
        constants, equations = self.group.constants, []
        for n, value in enumerate(self.group.values):
            span = self.span(n)
            indices = tuple(
                IndexConst(cast(int, c), span) for c in constants[n * rank : (n + 1) * rank]
            )
            lhs = Lhs(self.relation, indices, True, span)
            equations.append(Equation(lhs, "=", Number(value, span), span))
        return equations

    def table_beside_rules(self, domains: DomainTable, names: set[str]) -> list[Statement]:
        """The facts of a relation that equations define too
        (`Ancestor(Alice, Bob)` beside `Ancestor(x, z) <- ...`): a table of
        a fresh relation over the same domains, and the equation that starts
        the relation from it, as a fact equation would; the rules then add
        to it. (A relation given by facts alone is a runtime input, which
        rules could not add to.)"""
        table = self.table(domains, stepped=False)
        name = f"{self.relation}_facts"
        while name in names:
            name += "_"
        names.add(name)
        domains.share(name, self.relation, len(table.lhs.indices))
        lhs = table.lhs
        read = TensorRef(name, lhs.indices, True, table.span)
        return [
            dataclasses.replace(table, lhs=dataclasses.replace(lhs, name=name)),
            Equation(lhs, "=", read, table.span),
        ]

    def table(self, domains: DomainTable, stepped: bool = True) -> FactTable:
        """The facts as one table, each element once: facts naming the same
        element add, as equations with one left-hand side do (DESIGN.md
        section 3). A relation given by facts alone is Boolean, so its
        elements are `step`ped here (`Parent(Carol, Bob) = 0.5` is true);
        beside rules (`stepped=False`) the step comes after the rules add."""
        rank = cast(int, self.group.rank)
        constants = self.group.constants
        columns = []
        for k in range(rank):
            position = dict(domains.domain(self.relation, k).symbols)
            column = constants[k::rank]
            position.update((c, c) for c in dict.fromkeys(column) if type(c) is int)
            columns.append(list(map(position.__getitem__, column)))
        coordinates = np.array(columns, dtype=np.int64).T.reshape(-1, rank)
        shape = self.shape(domains)
        flat = np.ravel_multi_index(tuple(coordinates.T), shape)
        elements, first, element_of = np.unique(flat, return_index=True, return_inverse=True)
        values = np.zeros(len(elements), np.float64)
        np.add.at(values, element_of, self.group.values)
        if stepped:
            values = (values > 0).astype(np.float64)
        in_order = np.argsort(first)  # each element where its first fact stands
        coordinates, values = coordinates[first[in_order]], values[in_order]
        span = self.span(0)
        indices = tuple(IndexVar(n, False, span) for n in _LITERAL_INDICES[:rank])
        lhs = Lhs(self.relation, indices, True, span)
        return FactTable(lhs, shape, coordinates, values.astype(np.float32), span)


def _is_bare(expr: Expr) -> bool:
    return isinstance(expr, TensorRef) and not expr.indices and not expr.boolean


def _ranks(program: Program) -> dict[str, int]:
    """The rank each tensor is written with where it has indices (a query
    too: `M = "text.txt"` then `M[0, j]?`)."""
    ranks: dict[str, int] = {}
    for statement in program.statements:
        if isinstance(statement, Equation | Source) and statement.lhs.indices:
            ranks[statement.lhs.name] = len(statement.lhs.indices)
        if isinstance(statement, Query) and statement.indices:
            ranks.setdefault(statement.tensor, len(statement.indices))
        if isinstance(statement, Equation | Sink):
            for node in walk_expr(statement.rhs):
                if isinstance(node, TensorRef) and node.indices:
                    ranks.setdefault(node.name, len(node.indices))
    return ranks


def walk_expr(expr: Expr) -> list[Expr]:
    nodes, stack = [], [expr]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack += _children(node)
    return nodes


def _is_integer(expr: Expr) -> bool:
    return isinstance(expr, Number) and type(expr.value) is int


def _index_literal_lhs(equation: Equation) -> Equation:
    """`W = [0.2, 1.9, -0.7, 3]`: a list literal assigned to a bare name
    gives the tensor one index per nesting level, as `W[i] = ...` would."""
    rhs = equation.rhs
    if not (isinstance(rhs, Call) and rhs.func == "const" and len(rhs.args) == 1):
        return equation
    depth, item = 0, rhs.args[0]
    while isinstance(item, ListLiteral) and depth < len(_LITERAL_INDICES):
        depth += 1
        item = item.items[0] if item.items else Number(0)
    span = equation.lhs.span
    indices = tuple(IndexVar(name, False, span) for name in _LITERAL_INDICES[:depth])
    return dataclasses.replace(equation, lhs=dataclasses.replace(equation.lhs, indices=indices))


class _Desugarer:
    def __init__(
        self, program: Program, source: SourceText, read_symbols: SymbolReader | None = None
    ):
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.functions: dict[str, FunctionDef] = {}
        self.tensors = {s.lhs.name for s in program.statements if isinstance(s, Equation | Source)}
        self.ranks = _ranks(program)
        self.tensors |= {s.relation for s in program.statements if isinstance(s, Fact | Facts)}
        for statement in program.statements:
            if isinstance(statement, FunctionDef):
                self.define(statement)
        self.constants = {
            s.lhs.name: s.rhs.value
            for s in program.statements
            if isinstance(s, Equation) and not s.lhs.indices and _is_integer(s.rhs)
        }
        self.domains = DomainTable.of(program, walk_expr, self.constants, read_symbols)
        self.expanding: list[str] = []

    def error(self, message: str, span: Span) -> None:
        self.diagnostics.append(self.source.diagnostic(message, span))

    def define(self, function: FunctionDef) -> None:
        span = function.span
        head = Span(span.file, span.line, span.col, span.line, span.col + len(function.name))
        if function.name in BUILTINS or function.name in PAPER_SPELLINGS:
            self.error(f"function '{function.name}' redefines a builtin", head)
        elif function.name in self.tensors:
            self.error(f"'{function.name}' is both a function and a tensor", head)
        elif function.name in self.functions:
            first = self.functions[function.name].span
            self.error(
                f"function '{function.name}' is defined twice (first at {first.line}:{first.col})",
                head,
            )
        elif len(set(function.params)) != len(function.params):
            self.error(f"function '{function.name}' repeats a parameter name", head)
        else:
            self.functions[function.name] = function

    def expr(self, expr: Expr) -> Expr:
        return map_expr(expr, self.rewrite)

    def rewrite(self, node: Expr) -> Expr:
        if isinstance(node, TensorRef) and node.indices:
            node = dataclasses.replace(node, indices=self.indices(node.indices, node.name))
        if isinstance(node, TensorRef) and self.is_call_spelled_as_access(node):
            node = _as_call(node)
        if not isinstance(node, Call):
            return node
        if node.func in PAPER_SPELLINGS and node.func not in self.tensors:
            return dataclasses.replace(node, func=PAPER_SPELLINGS[node.func])
        function = self.functions.get(node.func)
        return node if function is None else self.inline(function, node)

    def is_call_spelled_as_access(self, ref: TensorRef) -> bool:
        """`f(x)` or `Even(d)`: parsed as a Boolean access, since every
        argument is an index name, but naming a function, not a tensor."""
        name = ref.name
        callable_name = name in self.functions or name in PAPER_SPELLINGS
        return ref.boolean and callable_name and name not in self.tensors

    def inline(self, function: FunctionDef, call: Call) -> Expr:
        if call.kwargs or len(call.args) != len(function.params):
            self.error(
                f"function '{function.name}' takes {len(function.params)} argument"
                f"{'' if len(function.params) == 1 else 's'}, got "
                f"{len(call.args) + len(call.kwargs)}",
                call.span,
            )
            return call
        if function.name in self.expanding:
            start = self.expanding.index(function.name)
            cycle = " -> ".join([*self.expanding[start:], function.name])
            self.error(f"recursion among functions is not allowed ({cycle})", call.span)
            return call
        bound = dict(zip(function.params, call.args, strict=True))

        def substitute(node: Expr) -> Expr:
            if isinstance(node, TensorRef) and not node.indices and not node.boolean:
                return bound.get(node.name, node)
            return node

        self.expanding.append(function.name)
        try:
            # The body's own calls are inlined first (where recursion shows),
            # then the arguments, already inlined, are put in.
            return map_expr(self.expr(function.body), substitute)
        finally:
            self.expanding.pop()

    def statement(self, statement: Statement) -> Statement:
        if isinstance(statement, Equation) and not statement.lhs.indices:
            statement = _index_literal_lhs(statement)
        if isinstance(statement, Source) and not statement.lhs.indices:
            indices = self.whole_tensor(statement.lhs.name, statement.lhs.span)
            statement = dataclasses.replace(
                statement, lhs=dataclasses.replace(statement.lhs, indices=indices)
            )
        if isinstance(statement, Sink) and _is_bare(statement.rhs):
            ref = statement.rhs
            indices = self.whole_tensor(ref.name, ref.span)
            statement = dataclasses.replace(
                statement, rhs=dataclasses.replace(ref, indices=indices)
            )
        if isinstance(statement, Equation | Source):
            lhs = statement.lhs
            statement = dataclasses.replace(
                statement, lhs=dataclasses.replace(lhs, indices=self.indices(lhs.indices, lhs.name))
            )
        if isinstance(statement, Equation):
            rhs = _index_values(self.expr(statement.rhs), statement, self.tensors)
            return dataclasses.replace(statement, rhs=rhs, steps=self.step_counts(statement.lhs))
        if isinstance(statement, Sink):
            return dataclasses.replace(statement, rhs=self.expr(statement.rhs))
        if isinstance(statement, Query):
            indices = self.indices(statement.indices, statement.tensor)
            return dataclasses.replace(statement, indices=indices)
        return statement

    def step_counts(self, lhs: Lhs) -> tuple[tuple[str, int], ...]:
        """The step count of each virtual left-hand-side index that a named
        constant of its name in upper case gives (`S = 100` for `*s`): how
        a loop that no tensor bounds, such as an optimizer's, says how long
        it runs (docs/learning.md)."""
        counts: dict[str, int] = {}
        for index in lhs.indices:
            for variable in index_variables(index):
                count = self.constants.get(variable.name.upper())
                if not variable.virtual or count is None:
                    continue
                if count < 1:
                    self.error(
                        f"virtual index '*{variable.name}' runs {count} steps "
                        f"('{variable.name.upper()} = {count}'): a loop takes at least one",
                        variable.span,
                    )
                counts[variable.name] = count
        return tuple(counts.items())

    def whole_tensor(self, name: str, span: Span) -> tuple[Index, ...]:
        """Indices that cover all of a tensor written without any: `W =
        "w.npy"` and `"y.npy" = Y` read and write whole tensors, of the rank
        the program uses them with elsewhere."""
        rank = min(self.ranks.get(name, 0), len(_LITERAL_INDICES))
        return tuple(IndexVar(letter, False, span) for letter in _LITERAL_INDICES[:rank])

    def indices(self, indices: tuple[Index, ...], tensor: str, first: int = 0) -> tuple[Index, ...]:
        """Named integer constants and symbols (`Alice`, `"loves"`) in index
        positions as the integers they name; an unknown one is an error."""
        resolved: list[Index] = []
        for k, index in enumerate(indices, first):
            if isinstance(index, IndexArith | IndexSlice):
                index = self.index_arithmetic(index, k, tensor)
            elif isinstance(index, IndexVar) and is_constant_name(index.name):
                domain = self.domains.domain(tensor, k)
                value = self.constants.get(index.name, domain.symbols.get(symbol_of(index.name)))
                if value is None and domain.symbols:
                    nearest = domain.nearest(index.name) or list(domain.symbols)[:3]
                    self.error(
                        f"unknown symbol '{index.name}' in position {k + 1} of '{tensor}' "
                        f"(nearest symbols of that domain: {', '.join(nearest)})",
                        index.span,
                    )
                elif value is None:
                    known = ", ".join(sorted(self.constants)) or "none"
                    self.error(
                        f"unknown constant '{index.name}' in an index position of "
                        f"'{tensor}': an index variable begins with a lowercase letter or "
                        f"'_', and a constant names an integer scalar (`{index.name} = 2`; "
                        f"integer constants here: {known})",
                        index.span,
                    )
                else:
                    index = IndexConst(value, index.span)
            elif (
                isinstance(index, IndexVar) and index.name in self.domains.domain(tensor, k).symbols
            ):
                self.warnings.append(
                    dataclasses.replace(
                        self.source.diagnostic(
                            f"index variable '{index.name}' is also a symbol of position "
                            f"{k + 1} of '{tensor}'; it ranges over the whole domain here "
                            f'(write "{index.name}" for the symbol)',
                            index.span,
                        ),
                        severity="warning",
                    )
                )
            resolved.append(index)
        return tuple(resolved)

    def index_arithmetic(self, index: Index, k: int, tensor: str) -> Index:
        """Index arithmetic (`T-1-t`, `x/S`, `4:N`) with its named constants
        as integers, checked to be affine."""
        resolved = map_index_leaves(index, lambda leaf: self.indices((leaf,), tensor, k)[0])
        problem = index_problem(resolved)
        if problem is not None:
            self.error(problem.message, problem.span)
        return resolved

    def check_definitions(self) -> None:
        """Recursion shows when a function is inlined; a function no
        equation calls is checked here too."""
        for function in self.functions.values():
            self.expanding = [function.name]
            self.expr(function.body)
            if self.diagnostics:  # one report of a cycle, not one per function on it
                break
        self.expanding = []


@dataclass(frozen=True)
class _Stepped:
    """A tensor stepped along a virtual index: `W[i, *s+1] = ... W[i, *s]`."""

    tensor: str
    index: str  # s
    position: int  # where *s stands among W's indices
    rank: int  # W's rank, *s included
    span: Span  # its stepping equation's left-hand side


@dataclass(frozen=True)
class _Loop:
    """The tensors of one training loop: those stepped along its virtual
    index (two weight matrices, momentum's velocity beside the weights),
    which read each other's current step, and so run as one scan."""

    stepped: tuple[_Stepped, ...]

    @property
    def index(self) -> str:
        return self.stepped[0].index

    def member(self, tensor: str) -> _Stepped | None:
        return next((m for m in self.stepped if m.tensor == tensor), None)

    def spelled(self) -> str:
        """`'W'`, `'W1' and 'W2'`, `'W1', 'V1' and 'W2'`: the loop's name in errors."""
        names = [f"'{m.tensor}'" for m in self.stepped]
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


class _LoopSteps:
    """The current-step rewrite of the module docstring."""

    def __init__(self, statements: tuple[Statement, ...], desugarer: _Desugarer):
        self.statements = statements
        self.desugarer = desugarer
        equations = [s for s in statements if isinstance(s, Equation)]
        self.reads: dict[str, set[str]] = {}
        for equation in equations:
            names = {n.name for n in walk_expr(equation.rhs) if isinstance(n, TensorRef)}
            self.reads.setdefault(equation.lhs.name, set()).update(names)
        stepped: dict[str, _Stepped] = {}
        for equation in equations:
            name = equation.lhs.name
            for k, index in enumerate(equation.lhs.indices):
                virtual = [v for v in index_variables(index) if v.virtual]
                if virtual and name in self.reads[name]:
                    stepped[name] = _Stepped(
                        name, virtual[0].name, k, len(equation.lhs.indices), equation.lhs.span
                    )
        # Stepped tensors that read each other's current step (through the
        # loss and its gradients) are one loop; the other tensors of their
        # component are computed at each of its steps: tensor -> loop.
        self.loops: dict[str, _Loop] = {}
        self.per_step: dict[str, _Loop] = {}
        self.refused: set[_Loop] = set()  # loops already reported
        for tensor in stepped:
            if tensor in self.loops:
                continue
            component = self._component(tensor)
            loop = _Loop(tuple(s for name, s in stepped.items() if name in component))
            self.loops.update(dict.fromkeys((m.tensor for m in loop.stepped), loop))
            if len({m.index for m in loop.stepped}) > 1:
                self.refuse_mixed_indices(loop)
                continue
            for name in component - set(self.loops):
                lhs_indices = [e.lhs.indices for e in equations if e.lhs.name == name]
                if not any(_mentions(i, loop.index) for i in lhs_indices):
                    self.per_step[name] = loop

    def refuse_mixed_indices(self, loop: _Loop) -> None:
        """Tensors stepped along different virtual indices that read each
        other's current step: one scan steps one index, and two scans that
        each need the other's steps cannot run one after the other."""
        indices = ", ".join(f"'{m.tensor}' along '*{m.index}'" for m in loop.stepped)
        for member in loop.stepped:
            self.desugarer.error(
                f"{loop.spelled()} read each other's current step but are stepped along "
                f"different virtual indices ({indices}); the tensors of one loop step one "
                "index together",
                member.span,
            )
        self.refused.add(loop)

    def _component(self, tensor: str) -> set[str]:
        """The tensors that `tensor` reads and that read it (transitively)."""
        readers = reversed_graph(self.reads)
        return reachable([tensor], self.reads) & reachable([tensor], readers)

    def loop_of(self, tensor: str) -> _Loop | None:
        return self.loops.get(tensor) or self.per_step.get(tensor)

    def rewrite(self) -> tuple[Statement, ...]:
        if not self.loops:
            return self.statements
        return tuple(self.statement(s) for s in self.statements)

    def statement(self, statement: Statement) -> Statement:
        if isinstance(statement, Sink):
            return dataclasses.replace(statement, rhs=self.outside(statement.rhs))
        if not isinstance(statement, Equation):
            return statement
        loop = self.loop_of(statement.lhs.name)
        if loop is None:
            return dataclasses.replace(statement, rhs=self.outside(statement.rhs))
        lhs = statement.lhs
        if self.per_step.get(lhs.name) is loop:
            # As if written `G[i, *s] = ...`: its step count, and `s` written
            # as a value is the step number.
            lhs = dataclasses.replace(lhs, indices=(*lhs.indices, self.step(loop.index, lhs.span)))
            statement = dataclasses.replace(
                statement, lhs=lhs, steps=self.desugarer.step_counts(lhs)
            )
            statement = dataclasses.replace(
                statement, rhs=_index_values(statement.rhs, statement, self.desugarer.tensors)
            )
        rhs = map_expr(statement.rhs, lambda node: self.inside(node, loop))
        return dataclasses.replace(statement, rhs=rhs)

    @staticmethod
    def step(index: str, span: Span) -> IndexVar:
        return IndexVar(index, False, span, virtual=True)

    def inside(self, node: Expr, loop: _Loop) -> Expr:
        """Within the loop: a stepped `W[i]` is `W[i, *s]`, a per-step `G[i]`
        is `G[i, *s]`."""
        if not isinstance(node, TensorRef):
            return node
        member = loop.member(node.name)
        if member is not None and len(node.indices) == member.rank - 1:
            indices = list(node.indices)
            indices.insert(member.position, self.step(member.index, node.span))
            return dataclasses.replace(node, indices=tuple(indices))
        if self.per_step.get(node.name) is loop:
            return dataclasses.replace(
                node, indices=(*node.indices, self.step(loop.index, node.span))
            )
        return self.read_outside(node, loop)

    def outside(self, expr: Expr) -> Expr:
        """Outside its loop, a current step does not exist: a located error
        (the access then reads as the loop's, so no rank error repeats it)."""
        return map_expr(expr, self.read_outside)

    def read_outside(self, node: Expr, reader: _Loop | None = None) -> Expr:
        """`node` read by an equation outside its loop: by one of no loop,
        or of `reader`, another loop."""
        if not isinstance(node, TensorRef):
            return node
        loop = self.per_step.get(node.name)
        member = self.loops[node.name].member(node.name) if node.name in self.loops else None
        if loop is not None:
            what = (
                f"'{node.name}' is computed at each step of '*{loop.index}' in the loop of "
                f"{loop.spelled()}"
            )
        elif member is not None and len(node.indices) == member.rank - 1:
            loop = self.loops[node.name]
            what = f"'{node.name}' without its index '*{member.index}' is its loop's current step"
        else:
            return node
        if loop in self.refused:
            return self.inside(node, loop)
        hint = ""
        if reader is not None:  # stepped beside the loop, but the loop never reads it
            one = len(reader.stepped) == 1
            hint = (
                f"; {reader.spelled()} step{'s' if one else ''} in a loop of "
                f"{'its' if one else 'their'} own, as the loop of {loop.spelled()} does not "
                f"read {'it' if one else 'them'}"
            )
        self.desugarer.error(
            f"{what}, which only the equations of that loop read: after the run only "
            f"its last step exists, which is what exporting '{node.name}' gives{hint}",
            node.span,
        )
        return self.inside(node, loop)


def _mentions(indices: tuple[Index, ...], variable: str) -> bool:
    return any(v.name == variable for i in indices for v in index_variables(i))


def desugar(
    program: Program, source: SourceText, read_symbols: SymbolReader | None = None
) -> tuple[Program, list[Diagnostic]]:
    """`program` with user functions inlined, the paper's builtin spellings
    resolved and symbols numbered (`read_symbols` reads the symbols of the
    program's symbol files), and the problems found on the way."""
    desugarer = _Desugarer(program, source, read_symbols)
    desugarer.check_definitions()
    if desugarer.diagnostics:
        return program, desugarer.diagnostics
    rewritten = tuple(desugarer.statement(s) for s in program.statements)
    statements, problems = _fact_tables(rewritten, desugarer.domains, source)
    if desugarer.diagnostics or problems:
        # The rewritten statements, so that the semantic checks that follow
        # see whole-tensor sources at their rank (`M = "text.txt"` beside
        # `M[0, Alise]?` is one error, not two).
        partial = dataclasses.replace(program, statements=rewritten)
        return partial, sort_diagnostics(desugarer.diagnostics + problems)
    statements = _LoopSteps(statements, desugarer).rewrite()
    desugared = dataclasses.replace(
        program,
        statements=statements,
        domains=desugarer.domains,
        warnings=tuple(sort_diagnostics(desugarer.warnings)),
    )
    return desugared, sort_diagnostics(desugarer.diagnostics)
