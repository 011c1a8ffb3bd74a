"""The recursive-descent parser of the Fuse DSL: tokens to `ast.Program`.

Grammar (a statement ends at a newline outside brackets, or at the end):

    statement  := 'export' NAME (',' NAME)*
                | STRING '=' expr                         sink
                | lhs ('=' | '+=' | 'max=' | 'avg=') expr equation; a source
                                                          when expr is a STRING
                | lhs '?'                                 query; no dotted index
                | NAME '(' (NAME (',' NAME)*)? ')' ':=' expr   user function
                | NAME '(' constant (',' constant)* ')'      fact
                | lhs ('<-' | '←' | ':-') conjunct (',' conjunct)*
                                                          Datalog rule: Boolean head,
                                                          comma is a join
    lhs        := NAME ('[' indices ']' | '(' indices ')')?
    indices    := (index (',' index)* ','?)?
    index      := isum (':' isum?)? | ':' isum?           slice: constant bounds
    isum       := iterm (('+' | '-') iterm)*              index arithmetic
    iterm      := iatom (('*' | '/') iatom)*              '/' is floor division
    iatom      := NAME '.'? | '*' NAME | INT | '(' isum ')'   '.' on a lhs only;
                                                          '*' marks a virtual index
    expr       := term (('+' | '-') term)*
    term       := unary (('*' | '/') unary | power | negation)*  juxtaposition: join
    unary      := '-' unary | ('not' | '!') unary | power   negation: 1 - x
    power      := primary ('^' unary)?                    right associative
    primary    := NAME '[' indices ']' | NAME '(' args ')' | NAME
                | NUMBER | STRING | '(' expr ')'
                | '(' expr ',' ')' | '(' expr (',' expr)+ ','? ')'  tuple
                | '[' (expr (',' expr)* ','?)? ']'                  list
    args       := (arg (',' arg)* ','?)?
    arg        := NAME '=' expr | expr                    keywords last

`NAME '('` needs the parenthesis right after the name: it is a builtin call
when NAME is a builtin, a Boolean access when every argument is an index
name or an integer, and otherwise a call of an unknown function that
`sema` reports. Strings, tuples and lists are values only where a call
takes them (and strings as file paths); using one in arithmetic is a
syntax error, which also keeps the printer's output unambiguous.

Any statement may end with a `.`, as Datalog facts and rules do.

On a syntax error the parser records a diagnostic, skips to the next
statement boundary and goes on, so one run reports every broken statement.
"""

from __future__ import annotations

from typing import NoReturn, Protocol, cast

from fuse.errors import Diagnostic, FuseError, SourceText
from fuse.frontend.ast import (
    BinaryOp,
    BinaryOperator,
    Call,
    Equation,
    Export,
    Expr,
    Fact,
    Facts,
    FunctionDef,
    Index,
    IndexArith,
    IndexConst,
    IndexOperator,
    IndexSlice,
    IndexVar,
    Keyword,
    Lhs,
    ListLiteral,
    Negate,
    Not,
    Number,
    Program,
    ProjectionOperator,
    Query,
    Sink,
    Source,
    Span,
    Statement,
    String,
    TensorRef,
    TupleLiteral,
    index_leaves,
    index_variables,
    is_constant_name,
)
from fuse.frontend.builtins import BUILTINS
from fuse.frontend.lexer import FactRun, Token, TokenKind, tokenize

_NAME = TokenKind.NAME
_NUMBER = TokenKind.NUMBER
_STRING = TokenKind.STRING
_OP = TokenKind.OP
_NEWLINE = TokenKind.NEWLINE
_EOF = TokenKind.EOF
_ERROR = TokenKind.ERROR
_FACTS = TokenKind.FACTS

_ASSIGN_OPS = frozenset({"=", "+=", "max=", "avg="})
_RULE_ARROWS = frozenset({"<-", "←", ":-"})
_KEYWORD_OPS = frozenset({"max=", "avg="})  # `f(max=1)` lexes `max=` as one token
_CLOSING = {"(": ")", "[": "]"}
_PRIMARY_OPS = frozenset({"(", "["})
_STATEMENT_END = (_NEWLINE, _EOF)


class _Located(Protocol):
    """A token or a span: anything with a start position."""

    @property
    def line(self) -> int: ...
    @property
    def col(self) -> int: ...


class _Abandon(Exception):
    """Stops parsing the current statement; its diagnostic is already recorded."""


class _Parser:
    def __init__(self, tokens: list[Token], source: SourceText):
        self._tokens = tokens
        self._pos = 0
        self._tok = tokens[0]
        self._prev = tokens[0]
        self._source = source
        self._file = source.file
        self.diagnostics: list[Diagnostic] = []

    # --- token plumbing -----------------------------------------------------

    def _advance(self) -> Token:
        tok = self._tok
        self._prev = tok
        if tok.kind is not _EOF:
            self._pos += 1
            self._tok = self._tokens[self._pos]
        return tok

    def _peek(self) -> Token:
        return self._tokens[min(self._pos + 1, len(self._tokens) - 1)]

    def _at(self, op: str) -> bool:
        return self._tok.kind is _OP and self._tok.text == op

    def _accept(self, op: str) -> bool:
        if self._at(op):
            self._advance()
            return True
        return False

    def _span_from(self, start: _Located) -> Span:
        """The span from `start` to the end of the last consumed token."""
        return Span(self._file, start.line, start.col, self._prev.line, self._prev.end_col)

    def _fail(self, message: str, span: Span) -> NoReturn:
        self.diagnostics.append(self._source.diagnostic(message, span))
        raise _Abandon

    def _unexpected(self, expected: str) -> NoReturn:
        """Reports the current token; an ERROR token was already reported."""
        if self._tok.kind is _ERROR:
            raise _Abandon
        self._fail(f"expected {expected}, found {self._tok.describe()}", self._tok.span)

    def _close(self, opener: Token) -> Token:
        closer = _CLOSING[opener.text]
        if not self._at(closer):
            self._unexpected(
                f"'{closer}' to close the '{opener.text}' at {opener.line}:{opener.col}"
            )
        return self._advance()

    # --- statements ---------------------------------------------------------

    def program(self) -> list[Statement]:
        statements: list[Statement] = []
        while self._tok.kind is not _EOF:
            if self._tok.kind is _NEWLINE:
                self._advance()
                continue
            start = self._tok
            try:
                parsed = self._statement()
                if self._at(".") and self._peek().kind in _STATEMENT_END:
                    self._advance()  # Datalog's full stop
                if self._tok.kind not in _STATEMENT_END:
                    self._unexpected("the end of the statement")
                statements.extend(parsed)
            except _Abandon:
                self._skip_statement()
            except RecursionError:
                message = "statement nested too deeply (parentheses, calls, '-' or '^')"
                self.diagnostics.append(self._source.diagnostic(message, start.span))
                self._skip_statement()
        return statements

    def _skip_statement(self) -> None:
        while self._tok.kind not in _STATEMENT_END:
            self._advance()

    def _statement(self) -> list[Statement]:
        tok = self._tok
        if tok.kind is _NAME:
            if tok.text == "export" and self._peek().kind is _NAME:
                return self._exports()
            return [self._equation_or_source()]
        if tok.kind is _STRING:
            return [self._sink()]
        if tok.kind is _FACTS:
            run = cast(FactRun, self._advance().value)
            constants = tuple(run.constants)
            return [Facts(run.relation, run.rank, constants, run.first_line, tok.span)]
        self._unexpected("a statement (an equation, a source, a sink or 'export')")

    def _exports(self) -> list[Statement]:
        self._advance()  # 'export'
        exports: list[Statement] = [self._export_name()]
        while self._accept(","):
            exports.append(self._export_name())
        return exports

    def _export_name(self) -> Export:
        if self._tok.kind is not _NAME:
            self._unexpected("a tensor name")
        name = self._advance()
        return Export(name.text, name.span)

    def _sink(self) -> Sink:
        path = self._advance()
        if not self._at("="):
            self._unexpected("'=' after the file name of a sink")
        self._advance()
        rhs = self._value(self._expr())
        return Sink(str(path.value), rhs, self._span_from(path))

    def _equation_or_source(self) -> Equation | Source | Query | FunctionDef | Fact:
        lhs = self._lhs()
        if self._at("?"):
            return self._query(lhs)
        tok = self._tok
        if tok.kind is _OP and tok.text in _RULE_ARROWS:
            return self._datalog_rule(lhs)
        if tok.kind is _OP and tok.text == ":=":
            return self._function(lhs)
        at_end = tok.kind in _STATEMENT_END or (
            self._at(".") and self._peek().kind in _STATEMENT_END
        )
        if at_end and lhs.boolean and lhs.indices:
            return self._fact(lhs)
        if tok.kind is not _OP or tok.text not in _ASSIGN_OPS:
            hint = ""
            if tok.kind is _OP and tok.text == "(":
                hint = " (a Boolean left-hand side has no space before '(': Name(i, j))"
            self._unexpected(f"'=', '+=', 'max=' or 'avg=' after the left-hand side{hint}")
        op = cast(ProjectionOperator, self._advance().text)
        rhs = self._expr()
        if isinstance(rhs, String):
            if op == "=":
                return Source(lhs, rhs.value, self._span_from(lhs.span))
            # `T[i] += "f"` stays an equation: sema says a source must use `=`.
        elif isinstance(rhs, ListLiteral):  # `W = [0.2, 1.9]`: the paper's tensor literal
            rhs = Call("const", (rhs,), (), rhs.span)
        elif op == "=" and isinstance(rhs, Number) and _is_fact_atom(lhs):
            return Fact(lhs.name, lhs.indices, rhs.value, self._span_from(lhs.span))  # X(1) = 1
        else:
            self._value(rhs)
        return Equation(lhs, op, rhs, self._span_from(lhs.span))

    def _datalog_rule(self, head: Lhs) -> Equation:
        """`Aunt(x, z) <- Sister(x, y), Parent(y, z)`: the head is Boolean
        (whichever brackets it is written with) and the comma-separated
        conjuncts are joined, so this is `Aunt(x, z) = Sister(x, y) Parent(y, z)`."""
        self._advance()  # the arrow
        body = self._value(self._expr())
        while self._accept(","):
            conjunct = self._value(self._expr())
            body = BinaryOp("join", body, conjunct, self._span_from(body.span))
        lhs = Lhs(head.name, head.indices, True, head.span)
        return Equation(lhs, "=", body, self._span_from(head.span))

    def _fact(self, atom: Lhs) -> Fact:
        """`Parent(Alice, Bob)`: every position is a constant (a symbol,
        which begins with an uppercase letter, or an integer)."""
        for index in atom.indices:
            if isinstance(index, IndexVar) and not _is_constant_position(index):
                self._fail(
                    f"a fact names constants, but '{index.name}' is a variable (symbols "
                    "begin with an uppercase letter)",
                    index.span,
                )
            if not isinstance(index, IndexVar | IndexConst):
                self._fail(
                    "a fact names constants (symbols or integers), not index arithmetic or a slice",
                    index.span,
                )
        return Fact(atom.name, atom.indices, 1, atom.span)

    def _function(self, head: Lhs) -> FunctionDef:
        """`softsign(x) := x / (1 + abs(x))`: the head was parsed as a
        left-hand side; its parameters must be plain names."""
        self._advance()  # ':='
        params: list[str] = []
        for index in head.indices:
            if not isinstance(index, IndexVar) or index.dotted:
                self._fail("a function's parameters are plain names", index.span)
            params.append(index.name)
        if not head.boolean and head.indices:
            self._fail(f"write the function as {head.name}(x, ...) := ...", head.span)
        body = self._value(self._expr())
        return FunctionDef(head.name, tuple(params), body, self._span_from(head.span))

    def _query(self, access: Lhs) -> Query:
        """`Path(3, y)?`: the access was parsed as a left-hand side, which
        allows a dotted index; a query has no normalization to apply it to."""
        self._advance()  # '?'
        for index in access.indices:
            if isinstance(index, IndexVar) and index.dotted:
                self._fail(
                    f"dotted index '{index.name}.' in a query: a dot marks the "
                    "normalization axis of the tensor being defined",
                    index.span,
                )
        return Query(access.name, access.indices, access.boolean, self._span_from(access.span))

    def _lhs(self) -> Lhs:
        name = self._advance()
        if self._at("["):
            indices = self._indices(on_lhs=True)
            return Lhs(name.text, indices, False, self._span_from(name))
        if self._at("(") and not self._tok.spaced:
            indices = self._indices(on_lhs=True)
            return Lhs(name.text, indices, True, self._span_from(name))
        return Lhs(name.text, (), False, name.span)

    def _indices(self, on_lhs: bool) -> tuple[Index, ...]:
        opener = self._advance()
        closer = _CLOSING[opener.text]
        indices: list[Index] = []
        while not self._at(closer):
            indices.append(self._index(on_lhs))
            if not self._accept(","):
                break
        self._close(opener)
        return tuple(indices)

    def _index(self, on_lhs: bool) -> Index:
        """An index position: a name, an integer, index arithmetic (`t+1`,
        `x/S`) or a slice (`4:8`, `2:`, `:8`)."""
        first = self._tok
        if self._at(":"):
            return self._slice(None, first)
        index = self._index_sum(on_lhs)
        if self._at(":"):
            return self._slice(index, first)
        if isinstance(index, IndexArith):
            for leaf in index_leaves(index):
                if isinstance(leaf, IndexVar) and leaf.dotted:
                    self._fail(
                        f"dotted index '{leaf.name}.' inside index arithmetic: a dotted "
                        "index stands alone",
                        leaf.span,
                    )
        return index

    def _slice(self, start: Index | None, first: Token) -> IndexSlice:
        self._advance()  # ':'
        stop = None
        if not (self._at(",") or self._at("]") or self._at(")")):
            stop = self._index_sum(on_lhs=False)
        for bound in (start, stop):
            if bound is None:
                continue
            leaves = [leaf for leaf in index_leaves(bound) if isinstance(leaf, IndexVar)]
            odd = index_variables(bound) or [v for v in leaves if v.dotted or v.virtual]
            if odd:
                self._fail(
                    f"slice bound uses index '{odd[0].name}': the bounds of a slice are "
                    "integers or named integer constants",
                    odd[0].span,
                )
        return IndexSlice(start, stop, self._span_from(first))

    def _index_sum(self, on_lhs: bool) -> Index:
        first = self._tok
        index = self._index_term(on_lhs)
        while self._at("+") or self._at("-"):
            op = cast(IndexOperator, self._advance().text)
            index = IndexArith(op, index, self._index_term(on_lhs), self._span_from(first))
        return index

    def _index_term(self, on_lhs: bool) -> Index:
        first = self._tok
        index = self._index_atom(on_lhs)
        while self._at("*") or self._at("/"):
            op = self._advance()
            rhs = self._index_atom(on_lhs)
            index = IndexArith(cast(IndexOperator, op.text), index, rhs, self._span_from(first))
            self._check_affine_factor(index, op)
        return index

    def _check_affine_factor(self, index: IndexArith, op: Token) -> None:
        """Refuses what no value of the named constants makes affine: a
        product of two index variables, a division by a variable or by 0."""
        if index.op == "*" and index_variables(index.lhs) and index_variables(index.rhs):
            self._fail(
                "product of index variables is not affine: in an index position, '*' "
                "needs a constant factor (`2*i`, `S*x`)",
                index.span,
            )
        if index.op == "/":
            divisor = index_variables(index.rhs)
            if divisor:
                self._fail(
                    f"division by index variable '{divisor[0].name}': in an index position, "
                    "'/' divides by a constant (`x/2`, `x/S`)",
                    index.rhs.span,
                )
            if isinstance(index.rhs, IndexConst) and index.rhs.value == 0:
                self._fail(
                    "division by 0 in an index position: the divisor must be a positive integer",
                    index.rhs.span,
                )

    def _index_atom(self, on_lhs: bool) -> Index:
        tok = self._tok
        if tok.kind is _NUMBER and isinstance(tok.value, int):
            self._advance()
            return IndexConst(tok.value, tok.span)
        if self._at("("):
            opener = self._advance()
            inner = self._index_sum(on_lhs)
            self._close(opener)
            return inner
        if self._at("*"):
            return self._virtual_index()
        if tok.kind is _STRING:  # a quoted symbol, `M[1, "loves"]`
            self._advance()
            return IndexVar(tok.text, False, tok.span)
        if tok.kind is not _NAME:
            self._unexpected("an index (a name, an integer or a quoted symbol)")
        self._advance()
        if not self._at("."):
            return IndexVar(tok.text, False, tok.span)
        if not on_lhs:
            self._fail(
                f"dotted index '{tok.text}.' outside a left-hand side: a dot marks "
                "the normalization axis of the tensor being defined",
                self._tok.span,
            )
        self._advance()
        return IndexVar(tok.text, True, self._span_from(tok))

    def _virtual_index(self) -> IndexVar:
        """`*t`: a virtual index variable."""
        star = self._advance()
        name = self._tok
        if name.kind is not _NAME or name.text[:1].isupper():
            self._unexpected("an index variable after '*' (a virtual index, `*t`)")
        self._advance()
        return IndexVar(name.text, False, self._span_from(star), virtual=True)

    # --- expressions --------------------------------------------------------

    def _value(self, expr: Expr) -> Expr:
        """`expr`, if it can take part in arithmetic."""
        if isinstance(expr, String):
            self._fail("a string can only be a file path or a call argument", expr.span)
        if isinstance(expr, ListLiteral):
            self._fail("a list literal can only be a call argument", expr.span)
        if isinstance(expr, TupleLiteral):
            self._fail("a tuple can only be a call argument", expr.span)
        return expr

    def _binary(self, op: BinaryOperator, lhs: Expr, rhs: Expr) -> BinaryOp:
        return BinaryOp(op, self._value(lhs), self._value(rhs), self._span_from(lhs.span))

    def _expr(self) -> Expr:
        expr = self._term()
        while self._tok.kind is _OP and self._tok.text in ("+", "-"):
            op = cast(BinaryOperator, self._advance().text)
            expr = self._binary(op, expr, self._term())
        return expr

    def _term(self) -> Expr:
        expr = self._unary()
        while True:
            tok = self._tok
            if tok.kind is _OP and tok.text in ("*", "/"):
                self._advance()
                expr = self._binary(cast(BinaryOperator, tok.text), expr, self._unary())
            elif self._at_negation():  # `S(x, y) not P(y, z)` joins a negation
                expr = self._binary("join", expr, self._unary())
            elif self._starts_primary(tok):
                expr = self._binary("join", expr, self._power())
            else:
                return expr

    @staticmethod
    def _starts_primary(tok: Token) -> bool:
        if tok.kind is _OP:
            return tok.text in _PRIMARY_OPS
        return tok.kind is _NAME or tok.kind is _NUMBER or tok.kind is _STRING

    def _unary(self) -> Expr:
        if self._at_negation():
            negation = self._advance()
            operand = self._value(self._unary())
            return Not(operand, self._span_from(negation))
        if not self._at("-"):
            return self._power()
        minus = self._advance()
        operand = self._value(self._unary())
        return Negate(operand, self._span_from(minus))

    def _at_negation(self) -> bool:
        """`!x`, or `not x`: `not` is a keyword only before a name, so a
        tensor may still be called `not`."""
        if self._at("!"):
            return True
        tok = self._tok
        return tok.kind is _NAME and tok.text == "not" and self._peek().kind is _NAME

    def _power(self) -> Expr:
        base = self._primary()
        if not self._accept("^"):
            return base
        return self._binary("^", base, self._unary())

    def _primary(self) -> Expr:
        tok = self._tok
        if tok.kind is _NAME:
            return self._name()
        if tok.kind is _NUMBER:
            self._advance()
            return Number(cast(int | float, tok.value), tok.span)
        if tok.kind is _STRING:
            self._advance()
            return String(str(tok.value), tok.span)
        if self._at("("):
            return self._parenthesized()
        if self._at("["):
            return self._list()
        self._unexpected("an expression")

    def _name(self) -> Expr:
        name = self._advance()
        if self._at("(") and not self._tok.spaced:
            return self._call(name)
        if self._at("["):
            indices = self._indices(on_lhs=False)
            return TensorRef(name.text, indices, False, self._span_from(name))
        return TensorRef(name.text, (), False, name.span)

    def _parenthesized(self) -> Expr:
        opener = self._advance()
        first = self._expr()
        if not self._at(","):
            self._close(opener)
            return first
        items = [first]
        while self._accept(",") and not self._at(")"):
            items.append(self._expr())
        self._close(opener)
        return TupleLiteral(tuple(items), self._span_from(opener))

    def _list(self) -> ListLiteral:
        opener = self._advance()
        items: list[Expr] = []
        while not self._at("]"):
            items.append(self._expr())
            if not self._accept(","):
                break
        self._close(opener)
        return ListLiteral(tuple(items), self._span_from(opener))

    def _call(self, name: Token) -> Expr:
        opener = self._advance()
        args: list[Expr] = []
        kwargs: list[Keyword] = []
        while not self._at(")"):
            keyword = self._keyword()
            if keyword is not None:
                kwargs.append(keyword)
            elif kwargs:
                self._fail("positional argument after a keyword argument", self._tok.span)
            else:
                args.append(self._expr())
            if not self._accept(","):
                break
        self._close(opener)
        span = self._span_from(name)
        if name.text not in BUILTINS and not kwargs:
            indices = _as_indices(args)
            if indices is not None:
                return TensorRef(name.text, indices, True, span)
        return Call(name.text, tuple(args), tuple(kwargs), span)

    def _keyword(self) -> Keyword | None:
        """A `name=value` argument, or None (consuming nothing) if the next
        argument is positional."""
        tok = self._tok
        if tok.kind is _NAME and self._peek().kind is _OP and self._peek().text == "=":
            self._advance()
            name = tok.text
        elif tok.kind is _OP and tok.text in _KEYWORD_OPS:
            name = tok.text[:-1]
        else:
            return None
        self._advance()
        value = self._expr()
        return Keyword(name, value, self._span_from(tok))


def _is_fact_atom(lhs: Lhs) -> bool:
    """`X(1)`, `Parent(Alice, Bob)`: a Boolean atom at constant positions."""
    return lhs.boolean and bool(lhs.indices) and all(map(_is_constant_position, lhs.indices))


def _is_constant_position(index: Index) -> bool:
    """An integer or a symbol (a plain name that is a constant's: uppercase
    first, or quoted)."""
    return isinstance(index, IndexConst) or (
        isinstance(index, IndexVar)
        and not index.dotted
        and not index.virtual
        and is_constant_name(index.name)
    )


MAX_EXPRESSION_DEPTH = 200


def expression_depth(expr: Expr) -> int:
    """How many levels `expr` nests (a leaf is 1); iterative, so that it
    measures trees too deep to recurse over."""
    deepest = 0
    stack: list[tuple[Expr, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        match node:
            case BinaryOp(lhs=lhs, rhs=rhs):
                stack += [(lhs, depth + 1), (rhs, depth + 1)]
            case Negate(operand=operand) | Not(operand=operand):
                stack.append((operand, depth + 1))
            case Call(args=args, kwargs=kwargs):
                stack += [(arg, depth + 1) for arg in args]
                stack += [(keyword.value, depth + 1) for keyword in kwargs]
            case ListLiteral(items=items) | TupleLiteral(items=items):
                stack += [(item, depth + 1) for item in items]
    return deepest


def _as_indices(args: list[Expr]) -> tuple[Index, ...] | None:
    """The arguments of `Fact(i, 0)` (or `M(x, "loves")`) as indices, or
    None if one of them is not an index name, an integer or a quoted
    symbol."""
    indices: list[Index] = []
    for arg in args:
        if isinstance(arg, TensorRef) and not arg.indices and not arg.boolean:
            indices.append(IndexVar(arg.name, False, arg.span))
        elif isinstance(arg, Number) and type(arg.value) is int:
            indices.append(IndexConst(arg.value, arg.span))
        elif isinstance(arg, String):  # a quoted symbol, `M(x, "loves")`
            indices.append(IndexVar(f'"{arg.value}"', False, arg.span))
        else:
            return None
    return tuple(indices)


def _by_location(diagnostic: Diagnostic) -> tuple[int, int]:
    span = diagnostic.span
    return (span.line, span.col) if span is not None else (0, 0)


def sort_diagnostics(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in source order, as a reader goes through the file."""
    return sorted(diagnostics, key=_by_location)


def parse_partial(source: SourceText) -> tuple[Program, list[Diagnostic]]:
    """Every statement that parses, and the lexical and syntax errors of the
    others. `load` uses this to run semantic checks on a broken program."""
    tokens, diagnostics = tokenize(source)
    parser = _Parser(tokens, source)
    statements = parser.program()
    program = Program(tuple(statements), source.file)
    return program, sort_diagnostics(diagnostics + parser.diagnostics)


def parse(text: str, file: str = "<string>") -> Program:
    """The syntax tree of `text`; raises one `FuseError` listing every
    lexical and syntax error."""
    program, diagnostics = parse_partial(SourceText(text, file))
    if diagnostics:
        raise FuseError(diagnostics)
    return program
