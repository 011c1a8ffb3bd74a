"""Semantic checks of a parsed program (DESIGN.md section 3).

The checks need nothing but the tree: no shapes, no data. Each problem is a
diagnostic naming the tensor or builtin at fault and pointing at it, and
`check` reports all of them at once.

* A tensor has one rank everywhere (its LHS, sources and every access).
* A tensor's left-hand sides are all Boolean (`P(x, y)`) or all numeric.
* `max=` does not mix with `=`, `+=`, `avg=` on one tensor.
* A source uses `=`.
* A dotted LHS index (`Y[p, t.]`) needs a normalization builtin on the
  right-hand side to apply to, and one LHS has at most one; a
  normalization's `axis=` names an index of the LHS.
* A call names a builtin, with a valid number of positional arguments and
  known, distinct keywords. A keyword's value is a literal: a number, a
  string, a bare name, or a tuple or list of them (it is an attribute of
  the call, never a tensor). `axis=` and `pos=` name an index, spelled
  `axis="t"` or `axis=t`; `reduce_max`/`reduce_mean` also take several,
  `axis=(j, k)`.
* Index-function arguments (`even(i)`, `causal_mask(i, j)`) are bare index
  names that occur on the LHS or in a tensor access of the same equation:
  nothing else would give them an extent. `even`/`odd` take their axis
  positionally or as `axis=`, exactly once.
* A tensor only on right-hand sides is a runtime input, not an error; an
  `export` or a sink naming a tensor that no equation or source mentions is
  "undefined tensor".
* Negation (`not R(x, y)`, `!R(x, y)`) does not go through recursion: a
  tensor never depends on its own negation, directly or through other
  tensors (the program must stratify); the error names the cycle.
* A query (`Path(3, y)?`) names a tensor that an equation or a source
  defines (a runtime input has nothing to compute), with its rank.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fuse.errors import Diagnostic, FuseError, SourceText
from fuse.frontend.ast import (
    BinaryOp,
    Call,
    Equation,
    Export,
    Expr,
    FactTable,
    FunctionDef,
    Index,
    IndexConst,
    IndexVar,
    Keyword,
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
    String,
    TensorRef,
    TupleLiteral,
    index_variables,
)
from fuse.frontend.builtins import (
    BUILTINS,
    INTEGER_KEYWORDS,
    NUMBER_KEYWORDS,
    Builtin,
    BuiltinKind,
)
from fuse.frontend.parser import MAX_EXPRESSION_DEPTH, expression_depth, sort_diagnostics

# Keywords whose value names indices of the call, not a number or a mode.
_INDEX_KEYWORDS = ("axis", "pos")

_NORMALIZERS = ", ".join(
    sorted(b.name for b in BUILTINS.values() if b.kind is BuiltinKind.NORMALIZE)
)


def _head(span: Span, name: str) -> Span:
    """The span of the name that starts `span` (a call's function name, a
    keyword's name): the token a diagnostic points at."""
    return Span(span.file, span.line, span.col, span.line, span.col + len(name))


def _where(span: Span) -> str:
    return f"{span.line}:{span.col}"


def _bare_name(expr: Expr) -> str | None:
    """The name of a bare `t` (a rank-0 access, or an index name where a
    builtin expects one)."""
    if isinstance(expr, TensorRef) and not expr.indices and not expr.boolean:
        return expr.name
    return None


def _index_name(expr: Expr) -> str | None:
    """The index an `axis=` value names (`axis="t"` or `axis=t`), if any."""
    return expr.value if isinstance(expr, String) else _bare_name(expr)


def _index_names(expr: Expr, several: bool) -> list[str] | None:
    """The indices an index keyword names, if it names indices only: one,
    or with `several` also a tuple or list of them."""
    if several and isinstance(expr, TupleLiteral | ListLiteral):
        names = [name for name in map(_index_name, expr.items) if name is not None]
        return names if len(names) == len(expr.items) else None
    name = _index_name(expr)
    return None if name is None else [name]


def _fits_int64(value: int | float) -> bool:
    """Whether an integer argument fits the 64-bit attribute the IR keeps it in."""
    return not isinstance(value, int) or -(2**63) <= value < 2**63


def _signed_number(expr: Expr) -> int | float | None:
    """The value of a number literal, negated ones (`-1`) included."""
    if isinstance(expr, Negate):
        value = _signed_number(expr.operand)
        return None if value is None else -value
    return expr.value if isinstance(expr, Number) else None


def _is_count(value: int | float) -> bool:
    return isinstance(value, int) and value >= 1


# Keywords whose literal has a narrower domain than "a number": `topk(x, k=0)`
# crashed the torch and jax backends, `rope(..., base=0)` gave NaNs, and a
# negative `eps=` takes the square root of a negative variance.
_KEYWORD_DOMAINS: dict[tuple[str, str], tuple[Callable[[int | float], bool], str]] = {
    ("topk", "k"): (_is_count, "a positive integer"),
    ("rope", "base"): (lambda value: value > 0, "a positive number"),
    ("lnorm", "eps"): (lambda value: value >= 0, "a non-negative number"),
    ("layernorm", "eps"): (lambda value: value >= 0, "a non-negative number"),
}


def _out_of_domain(func: str, keyword: Keyword) -> str | None:
    """What keyword's value should be, if it is a number outside its domain."""
    domain = _KEYWORD_DOMAINS.get((func, keyword.name))
    value = _signed_number(keyword.value)
    if domain is None or value is None or domain[0](value):
        return None
    return domain[1]


def _index_vars_of(exprs: list[Expr]) -> set[str]:
    """The index names the tensor accesses in `exprs` use."""
    return {
        index.name
        for expr in exprs
        for ref in _refs_and_calls(expr)[0]
        for index in ref.indices
        if isinstance(index, IndexVar)
    }


def _is_literal(expr: Expr) -> bool:
    """Whether `expr` can be a keyword value: the IR keeps it as an attribute."""
    if isinstance(expr, Number | String) or _bare_name(expr) is not None:
        return True
    if isinstance(expr, Negate):
        return isinstance(expr.operand, Number)
    if isinstance(expr, TupleLiteral | ListLiteral):
        return all(_is_literal(item) for item in expr.items)
    return False


def _builtin_kind(call: Call) -> BuiltinKind | None:
    builtin = BUILTINS.get(call.func)
    return builtin.kind if builtin is not None else None


def _subexpressions(expr: Expr) -> Iterator[Expr]:
    """The nodes of `expr`, outermost first and left to right, leaving out
    index-function arguments and keyword values: those are index names and
    literals, not tensors or calls. A loop, not a recursion, so that a
    generated thousand-term sum is no problem."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, BinaryOp):
            stack += (node.rhs, node.lhs)
        elif isinstance(node, Negate | Not):
            stack.append(node.operand)
        elif isinstance(node, ListLiteral | TupleLiteral):
            stack += reversed(node.items)
        elif isinstance(node, Call):
            builtin = BUILTINS.get(node.func)
            if builtin is None or not builtin.index_args:
                stack += reversed(node.args)
            if builtin is not None:
                tensors = [k.value for k in node.kwargs if k.name in builtin.tensor_keywords]
                stack += reversed(tensors)


def _negated_refs(expr: Expr) -> list[TensorRef]:
    """The tensor accesses of `expr` that lie under a negation."""
    return [
        ref
        for node in _subexpressions(expr)
        if isinstance(node, Not)
        for ref in _refs_and_calls(node.operand)[0]
    ]


def _refs_and_calls(expr: Expr) -> tuple[list[TensorRef], list[Call]]:
    """The tensor accesses and the builtin calls of `expr`."""
    refs: list[TensorRef] = []
    calls: list[Call] = []
    for node in _subexpressions(expr):
        if isinstance(node, TensorRef):
            refs.append(node)
        elif isinstance(node, Call):
            calls.append(node)
    return refs, calls


def tensor_accesses(expr: Expr) -> list[TensorRef]:
    """The tensor accesses of `expr`, left to right."""
    return _refs_and_calls(expr)[0]


@dataclass(frozen=True)
class _First:
    """What the first occurrence of a tensor said, to compare later ones with."""

    value: object
    span: Span


class _Checker:
    def __init__(self, source: SourceText):
        self._source = source
        self.diagnostics: list[Diagnostic] = []
        self._ranks: dict[str, _First] = {}
        self._booleans: dict[str, _First] = {}
        self._projections: dict[str, _First] = {}
        self._mentioned: set[str] = set()
        self._defined: set[str] = set()
        self._functions: set[str] = set()  # user functions: inlined, or reported by desugar
        self._reads: dict[str, set[str]] = {}
        self._negations: list[tuple[str, TensorRef]] = []

    def _error(self, message: str, span: Span) -> None:
        self.diagnostics.append(self._source.diagnostic(message, span))

    def run(self, program: Program, complete: bool) -> None:
        self._functions = {s.name for s in program.statements if isinstance(s, FunctionDef)}
        for statement in program.statements:
            if isinstance(statement, Equation):
                self._equation(statement)
            elif isinstance(statement, Source):
                self._source_statement(statement)
            elif isinstance(statement, FactTable):
                self._define(statement.lhs)
            elif isinstance(statement, Sink):
                self._sink(statement)
            elif isinstance(statement, Query):
                self._rank(statement.tensor, len(statement.indices), statement.span)
        if complete:  # else a statement lost to a syntax error may define what is missing
            self._undefined(program)
        self._negation_through_recursion()

    # --- tensors ------------------------------------------------------------

    def _rank(self, name: str, rank: int, span: Span) -> None:
        first = self._ranks.setdefault(name, _First(rank, span))
        if first.value != rank:
            self._error(
                f"tensor '{name}' is used with rank {rank} here but with rank "
                f"{first.value} at {_where(first.span)}",
                span,
            )

    def _define(self, lhs: Lhs) -> None:
        self._mentioned.add(lhs.name)
        self._defined.add(lhs.name)
        self._rank(lhs.name, len(lhs.indices), lhs.span)
        self._integer_positions(lhs.indices)
        first = self._booleans.setdefault(lhs.name, _First(lhs.boolean, lhs.span))
        if first.value != lhs.boolean:
            spelling = {True: f"Boolean ('{lhs.name}(...)')", False: f"numeric ('{lhs.name}[...]')"}
            self._error(
                f"tensor '{lhs.name}' is defined as {spelling[lhs.boolean]} here but as "
                f"{spelling[not lhs.boolean]} at {_where(first.span)}",
                lhs.span,
            )

    def _integer_positions(self, indices: tuple[Index, ...]) -> None:
        """An integer position (`A[i, 0]`) is kept in a 64-bit attribute; a
        larger one raised xDSL's VerifyException with no location."""
        for index in indices:
            if isinstance(index, IndexConst) and not _fits_int64(index.value):
                self._error(
                    f"integer position {index.value} is out of range: a position fits in 64 bits",
                    index.span,
                )

    def _distinct_lhs_indices(self, lhs: Lhs) -> None:
        """`R(x, x) <- N(x)` would mean the diagonal, which the lowering does
        not place: it broadcast `N` over a second index instead, a silently
        wrong relation. Refused until diagonals are supported."""
        seen: set[str] = set()
        for index in lhs.indices:
            if isinstance(index, IndexVar) and index.name in seen:
                self._error(
                    f"index '{index.name}' appears twice on the left-hand side of "
                    f"'{lhs.name}': writing onto a diagonal is not supported (use two "
                    "indices and a relation that equates them)",
                    index.span,
                )
            elif isinstance(index, IndexVar):
                seen.add(index.name)

    def _undefined(self, program: Program) -> None:
        """Exports and sinks of tensors that nothing defines or reads, and
        queries of tensors that nothing defines."""
        for statement in program.statements:
            if isinstance(statement, Export):
                self._require_defined(statement.name, statement.span, "exported")
            elif isinstance(statement, Sink):
                for ref in _refs_and_calls(statement.rhs)[0]:
                    self._require_defined(ref.name, ref.span, "written to a sink")
            elif isinstance(statement, Query) and statement.tensor not in self._defined:
                kind = (
                    "runtime input" if statement.tensor in self._mentioned else "undefined tensor"
                )
                self._error(
                    f"query of {kind} '{statement.tensor}': no equation or source defines it",
                    statement.span,
                )

    def _require_defined(self, name: str, span: Span, role: str) -> None:
        if name not in self._mentioned:
            self._error(
                f"undefined tensor '{name}': it is {role} but no equation or source mentions it",
                span,
            )

    # --- statements ---------------------------------------------------------

    def _source_statement(self, source: Source) -> None:
        self._define(source.lhs)
        for index in source.lhs.indices:
            if isinstance(index, IndexVar) and index.dotted:
                self._error(
                    f"dotted axis '{index.name}.' on source '{source.lhs.name}': "
                    "a source has no normalization to apply it to",
                    index.span,
                )

    def _depth(self, rhs: Expr, span: Span) -> bool:
        """Bounds how deeply an expression nests: a chain `A + A + ... + A`
        nests one level per term, and the IR builder and passes walk
        expressions recursively, so a deeper tree is refused here, with a
        location, instead of exhausting Python's stack later."""
        if expression_depth(rhs) <= MAX_EXPRESSION_DEPTH:
            return True
        self._error(
            f"expression nested too deeply: at most {MAX_EXPRESSION_DEPTH} levels of "
            "operators, parentheses and calls (split it into several equations)",
            span,
        )
        return False

    def _sink(self, sink: Sink) -> None:
        if not self._depth(sink.rhs, sink.span):
            return
        refs, calls = _refs_and_calls(sink.rhs)
        for ref in refs:
            self._rank(ref.name, len(ref.indices), ref.span)
            self._integer_positions(ref.indices)
        known = {v.name for ref in refs for i in ref.indices for v in index_variables(i)}
        for call in calls:
            self._call(call, None, known)

    def _equation(self, equation: Equation) -> None:
        lhs = equation.lhs
        self._define(lhs)
        self._distinct_lhs_indices(lhs)
        self._projection(equation)
        if isinstance(equation.rhs, String):
            self._error(f"source '{lhs.name}' must use '=', not '{equation.op}'", equation.span)
            return
        if not self._depth(equation.rhs, equation.lhs.span):
            return
        refs, calls = _refs_and_calls(equation.rhs)
        self._reads.setdefault(lhs.name, set()).update(ref.name for ref in refs)
        self._negations += [(lhs.name, ref) for ref in _negated_refs(equation.rhs)]
        for ref in refs:
            self._mentioned.add(ref.name)
            self._rank(ref.name, len(ref.indices), ref.span)
            self._integer_positions(ref.indices)
        known = {v.name for i in lhs.indices for v in index_variables(i)}
        known.update(v.name for ref in refs for i in ref.indices for v in index_variables(i))
        for call in calls:
            self._call(call, lhs, known)
        self._dotted_axes(lhs, calls)

    def _negation_through_recursion(self) -> None:
        """`P <- not Q` where Q depends on P: no stratum can compute Q
        before P nor P before Q."""
        for head, negated in self._negations:
            path = self._dependency_path(negated.name, head)
            if path is None:
                continue
            cycle = " -> ".join([head, *path])
            self._error(
                f"negation through recursion: '{head}' depends on 'not {negated.name}', "
                f"and '{negated.name}' depends on '{head}' (cycle {cycle}); the program "
                "must stratify",
                negated.span,
            )

    def _dependency_path(self, start: str, goal: str) -> list[str] | None:
        """The tensors from `start` to `goal` along equations' reads, if
        `start` depends on `goal` (a breadth-first search)."""
        parents: dict[str, str | None] = {start: None}
        frontier = [start]
        while frontier:
            following: list[str] = []
            for name in frontier:
                if name == goal:
                    path = [name]
                    while (parent := parents[path[-1]]) is not None:
                        path.append(parent)
                    return path[::-1]
                for read in sorted(self._reads.get(name, ())):
                    if read not in parents:
                        parents[read] = name
                        following.append(read)
            frontier = following
        return None

    def _projection(self, equation: Equation) -> None:
        name = equation.lhs.name
        first = self._projections.setdefault(name, _First(equation.op, equation.lhs.span))
        if (first.value == "max=") != (equation.op == "max="):
            self._error(
                f"tensor '{name}' mixes '{equation.op}' here with '{first.value}' at "
                f"{_where(first.span)}: 'max=' equations combine by max, '=', '+=' and "
                "'avg=' equations by sum",
                equation.lhs.span,
            )

    def _dotted_axes(self, lhs: Lhs, calls: list[Call]) -> None:
        dotted = [i for i in lhs.indices if isinstance(i, IndexVar) and i.dotted]
        if not dotted:
            return
        for extra in dotted[1:]:
            self._error(
                f"'{lhs.name}' has more than one dotted axis; a normalization "
                f"has one axis (first '{dotted[0].name}.')",
                extra.span,
            )
        if not any(_builtin_kind(call) is BuiltinKind.NORMALIZE for call in calls):
            self._error(
                f"dotted axis '{dotted[0].name}.' of '{lhs.name}' has no normalization "
                f"builtin ({_NORMALIZERS}) on the right-hand side to apply to",
                dotted[0].span,
            )

    # --- calls --------------------------------------------------------------

    def _call(self, call: Call, lhs: Lhs | None, known: set[str]) -> None:
        builtin = BUILTINS.get(call.func)
        if builtin is None and call.func in self._functions:
            return  # a call that could not be inlined: desugar said why
        if builtin is None:
            guesses = difflib.get_close_matches(call.func, BUILTINS, n=1)
            hint = f" (did you mean '{guesses[0]}'?)" if guesses else ""
            self._error(f"unknown builtin '{call.func}'{hint}", _head(call.span, call.func))
            return
        self._arity(call, builtin)
        keywords = self._keywords(call, builtin)
        if call.func == "grad":
            self._grad(call, lhs)
            return
        if builtin.index_args:
            self._index_args(call, builtin, keywords.get("axis"), known)
            return
        for name in _INDEX_KEYWORDS:
            if name in keywords:
                self._index_keyword(call, builtin, keywords[name], lhs, known)
        self._distinct_index_roles(call, keywords)

    def _grad(self, call: Call, lhs: Lhs | None) -> None:
        """`grad(Loss, W[i, j])`: the loss is a scalar tensor written by name
        (a per-step `Loss[*s]` inside a training loop), and W an access by
        distinct index variables that the left-hand side has, so the
        gradient varies over exactly W's indices."""
        if len(call.args) != 2:
            return  # _arity said so
        loss, wrt = call.args
        if not isinstance(loss, TensorRef) or any(
            not (isinstance(i, IndexVar) and i.virtual) for i in loss.indices
        ):
            self._error(
                "the first argument of 'grad' is the loss: a scalar tensor written by its "
                "name, as in grad(Loss, W[i, j])",
                loss.span,
            )
        if not isinstance(wrt, TensorRef):
            self._error(
                "the second argument of 'grad' is the tensor to differentiate by, written "
                "as an access by index variables, as in grad(Loss, W[i, j])",
                wrt.span,
            )
            return
        lhs_names = {v.name for i in lhs.indices for v in index_variables(i)} if lhs else set()
        seen: set[str] = set()
        for index in wrt.indices:
            if not isinstance(index, IndexVar) or index.name in seen:
                self._error(
                    f"'grad' differentiates by the whole of '{wrt.name}': each position of "
                    "its access is a distinct index variable",
                    index.span,
                )
            elif not index.virtual and index.name not in lhs_names:
                self._error(
                    f"index '{index.name}' of '{wrt.name}' is not on the left-hand side: "
                    f"the gradient varies over every index of '{wrt.name}', so the "
                    "left-hand side names them all",
                    index.span,
                )
            if isinstance(index, IndexVar):
                seen.add(index.name)

    def _distinct_index_roles(self, call: Call, keywords: dict[str, Keyword]) -> None:
        """`rope(x, pos=j, axis=j)`: one index cannot be both the position
        and the feature axis (the rotation would pair positions as features)."""
        if "pos" not in keywords or "axis" not in keywords:
            return
        position, axis = (_index_name(keywords[n].value) for n in ("pos", "axis"))
        if position is not None and position == axis:
            self._error(
                f"index '{axis}' is both 'pos=' and 'axis=' of '{call.func}': the position "
                "and the feature axis are different indices",
                keywords["axis"].value.span,
            )

    def _arity(self, call: Call, builtin: Builtin) -> None:
        count = len(call.args)
        if count >= builtin.min_args and (builtin.most_args is None or count <= builtin.most_args):
            return
        arity = builtin.arity_text()
        plural = "" if arity in ("1", "at least 1") else "s"
        self._error(
            f"builtin '{call.func}' takes {arity} positional argument{plural}, got {count}",
            _head(call.span, call.func),
        )

    def _keywords(self, call: Call, builtin: Builtin) -> dict[str, Keyword]:
        """Reports unknown and repeated keywords and values that are not
        literals; returns the valid keywords by name."""
        valid: dict[str, Keyword] = {}
        seen: set[str] = set()
        for keyword in call.kwargs:
            span = _head(keyword.span, keyword.name)
            if keyword.name not in builtin.keywords:
                known = ", ".join(sorted(builtin.keywords)) or "none"
                self._error(
                    f"builtin '{call.func}' has no keyword '{keyword.name}' (keywords: {known})",
                    span,
                )
            elif keyword.name in seen:
                self._error(f"keyword '{keyword.name}' given twice to '{call.func}'", span)
            elif keyword.name in builtin.tensor_keywords:
                valid[keyword.name] = keyword  # any expression: an operand of the call
            elif keyword.name in NUMBER_KEYWORDS and not self._number_keyword(call, keyword):
                pass  # reported: not a number literal, or not a positive integer
            elif not _is_literal(keyword.value):
                self._error(
                    f"keyword '{keyword.name}' of '{call.func}' takes a literal: a number, a "
                    "string, an index name, or a tuple or list of them",
                    keyword.value.span,
                )
            elif isinstance(keyword.value, Number) and not _fits_int64(keyword.value.value):
                self._error(
                    f"keyword '{keyword.name}' of '{call.func}' is out of range: an integer "
                    "argument fits in 64 bits",
                    keyword.value.span,
                )
            elif (domain := _out_of_domain(call.func, keyword)) is not None:
                self._error(
                    f"keyword '{keyword.name}' of '{call.func}' takes {domain}, "
                    f"got {_signed_number(keyword.value)}",
                    keyword.value.span,
                )
            else:
                valid[keyword.name] = keyword
            seen.add(keyword.name)
        given = builtin.positional_keywords[: max(0, len(call.args) - (builtin.max_args or 0))]
        for name in given:
            if name in seen:
                self._error(
                    f"'{name}' of '{call.func}' given both positionally and as '{name}='",
                    _head(next(k.span for k in call.kwargs if k.name == name), name),
                )
        return valid

    def _number_keyword(self, call: Call, keyword: Keyword) -> bool:
        """Whether a keyword that sets a number of the computation (`eps=`,
        `scale=`, `base=`, `k=`) is a number literal, reporting it if not:
        these are compile-time constants, never a tensor that would be
        silently read as a default."""
        value = keyword.value
        negative = isinstance(value, Negate) and isinstance(value.operand, Number)
        number = value.operand.value if negative else getattr(value, "value", None)
        if not (isinstance(value, Number) or negative):
            self._error(
                f"keyword '{keyword.name}' of '{call.func}' takes a number literal, "
                "not a tensor expression",
                value.span,
            )
            return False
        if keyword.name in INTEGER_KEYWORDS and (
            negative or not isinstance(number, int) or number < 1
        ):
            self._error(
                f"keyword '{keyword.name}' of '{call.func}' takes a positive integer, "
                f"got {'-' if negative else ''}{number}",
                value.span,
            )
            return False
        return True

    def _index_keyword(
        self, call: Call, builtin: Builtin, keyword: Keyword, lhs: Lhs | None, known: set[str]
    ) -> None:
        """`axis=`/`pos=` name indices; a normalization axis is on the LHS, a
        structural builtin's (`concat`, `topk`, `rope`) one of the equation."""
        several = builtin.kind is BuiltinKind.REDUCE and keyword.name == "axis"
        names = _index_names(keyword.value, several)
        if names is None:
            spelling = f'{keyword.name}="t" or {keyword.name}=t'
            if several:
                spelling += f" or {keyword.name}=(j, k)"
            self._error(
                f"'{keyword.name}=' of '{call.func}' must name an index: {spelling}",
                keyword.value.span,
            )
            return
        repeated = next((name for n, name in enumerate(names) if name in names[:n]), None)
        if repeated is not None:
            self._error(
                f"'{keyword.name}=' of '{call.func}' names index '{repeated}' twice",
                keyword.value.span,
            )
            return
        if call.func == "concat" and names[0] not in _index_vars_of(call.args):
            self._error(
                f"'axis=' of 'concat' names index '{names[0]}', which none of its arguments "
                "varies over: there is nothing to join along it",
                keyword.value.span,
            )
            return
        if builtin.kind is BuiltinKind.STRUCTURAL and names[0] not in known:
            self._error(
                f"'{keyword.name}=' of '{call.func}' names index '{names[0]}', which is neither "
                "on the left-hand side nor in a tensor access of the equation",
                keyword.value.span,
            )
            return
        if builtin.kind is not BuiltinKind.NORMALIZE or keyword.name != "axis" or lhs is None:
            return
        if names[0] not in {i.name for i in lhs.indices if isinstance(i, IndexVar)}:
            self._error(
                f"normalization axis '{names[0]}' of '{call.func}' is not an index of the "
                f"left-hand side '{lhs.name}'",
                keyword.value.span,
            )

    def _index_args(
        self, call: Call, builtin: Builtin, axis: Keyword | None, known: set[str]
    ) -> None:
        seen: set[str] = set()
        for arg in call.args:
            name = _bare_name(arg)
            if name is not None and name in seen:
                self._error(
                    f"index '{name}' is given twice to '{call.func}': its arguments are "
                    "different indices",
                    arg.span,
                )
                continue
            seen.add(name or "")
            self._index_arg(call, arg, name, known)
        if axis is not None:
            self._index_arg(call, axis.value, _index_name(axis.value), known)
        given = len(call.args) + (axis is not None)
        if "axis" in builtin.keywords and builtin.min_args == 0 and given != 1:
            problem = "no axis" if given == 0 else "its axis both positionally and as axis="
            self._error(
                f"'{call.func}' got {problem}: write {call.func}(i) or {call.func}(axis=i)",
                _head(call.span, call.func),
            )

    def _index_arg(self, call: Call, arg: Expr, name: str | None, known: set[str]) -> None:
        if name is None:
            self._error(f"argument of index function '{call.func}' must be an index name", arg.span)
        elif name not in known:
            self._error(
                f"index '{name}' of '{call.func}' is neither on the left-hand side nor "
                "in a tensor access of the equation, so it has no extent",
                arg.span,
            )


def diagnose(program: Program, source: SourceText, complete: bool = True) -> list[Diagnostic]:
    """Every semantic problem of `program`, in source order. With
    `complete=False` (statements were lost to syntax errors) the checks that
    need the whole program, undefined exports and sinks, are skipped."""
    checker = _Checker(source)
    checker.run(program, complete)
    return sort_diagnostics(checker.diagnostics)


def check(program: Program, source: SourceText) -> None:
    """Raises one `FuseError` with every semantic problem of `program`."""
    diagnostics = diagnose(program, source)
    if diagnostics:
        raise FuseError(diagnostics)
