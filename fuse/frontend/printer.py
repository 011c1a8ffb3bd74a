"""Canonical DSL text and a readable tree dump of an `ast.Program`.

`print_program` is the inverse of `parse` up to spans: for every tree the
parser produces, `parse(print_program(p)) == p`. Parentheses appear only
where precedence needs them, so the text is also what a person would write.
`dump_ast` backs `fuse compile --emit ast`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from fuse.frontend import lexer
from fuse.frontend.ast import (
    UNKNOWN_SPAN,
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
    IndexSlice,
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
    Statement,
    String,
    TensorRef,
)

# Binding strength, loosest first.
_SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(5)

# The loosest operand each side of an operator takes without parentheses.
# `+ - * /` and juxtaposition are left associative, `^` right associative;
# after a juxtaposition the operand cannot start with `-` (that would
# subtract), and the base of `^` is an atom (`-x^2` is `-(x^2)`).
_LEFT_MIN = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "join": _PRODUCT, "^": _ATOM}
_RIGHT_MIN = {"+": _PRODUCT, "-": _PRODUCT, "*": _UNARY, "/": _UNARY, "join": _POWER, "^": _UNARY}
_LEVEL = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "join": _PRODUCT, "^": _POWER}

_INFIX = {"join": " {}", "^": "^{}", "+": " + {}", "-": " - {}", "*": " * {}", "/": " / {}"}

_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"})


def _level(expr: Expr) -> int:
    if isinstance(expr, BinaryOp):
        return _LEVEL[expr.op]
    if isinstance(expr, Negate | Not):
        return _UNARY
    return _ATOM


def _operand(expr: Expr, loosest: int) -> str:
    text = print_expr(expr)
    return text if _level(expr) >= loosest else f"({text})"


def _number(value: int | float) -> str:
    """Digits that read back as the same value. A number no literal spells
    (negative, infinite, NaN or beyond fp32's range, possible only in a
    hand-built tree) is refused: `1e999` would read back as an error and
    `nan` as a tensor named `nan`. Such values are written `1 / 0`, `0 / 0`."""
    # `value <= FP32_MAX` first: it is False for NaN and holds for ints too
    # large for copysign's float conversion.
    if not (value <= lexer.FP32_MAX and math.copysign(1.0, value) > 0):
        shown = (
            f"the number {value!r}"
            if isinstance(value, float) or value <= lexer.FP32_MAX
            else "an integer beyond fp32's range"
        )
        raise ValueError(
            f"no Fuse literal spells {shown}: literals are non-negative and "
            "finite fp32 values (write infinity as 1 / 0, NaN as 0 / 0)"
        )
    return repr(value)


def _string(value: str) -> str:
    return f'"{value.translate(_ESCAPES)}"'


_INDEX_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def _index(index: Index) -> str:
    if isinstance(index, IndexVar):
        star = "*" if index.virtual else ""
        return f"{star}{index.name}{'.' if index.dotted else ''}"
    if isinstance(index, IndexArith):
        precedence = _INDEX_PRECEDENCE[index.op]
        lhs, rhs = _index(index.lhs), _index(index.rhs)
        if isinstance(index.lhs, IndexArith) and _INDEX_PRECEDENCE[index.lhs.op] < precedence:
            lhs = f"({lhs})"
        if isinstance(index.rhs, IndexArith) and _INDEX_PRECEDENCE[index.rhs.op] <= precedence:
            rhs = f"({rhs})"  # the parser groups to the left
        return f"{lhs}{index.op}{rhs}"
    if isinstance(index, IndexSlice):
        start = "" if index.start is None else _index(index.start)
        stop = "" if index.stop is None else _index(index.stop)
        return f"{start}:{stop}"
    return str(index.value)


def _access(name: str, indices: tuple[Index, ...], boolean: bool) -> str:
    if boolean:
        return f"{name}({', '.join(map(_index, indices))})"
    if not indices:
        return name
    return f"{name}[{', '.join(map(_index, indices))}]"


def _binary(expr: BinaryOp) -> str:
    # The left spine is walked in a loop while its operators need no
    # parentheses, so that a generated thousand-term sum prints without
    # deep recursion.
    pieces: list[str] = []
    node = expr
    while True:
        rhs = _operand(node.rhs, _RIGHT_MIN[node.op])
        pieces.append(_INFIX[node.op].format(rhs))
        lhs = node.lhs
        if not (isinstance(lhs, BinaryOp) and _LEVEL[lhs.op] >= _LEFT_MIN[node.op]):
            pieces.append(_operand(lhs, _LEFT_MIN[node.op]))
            return "".join(reversed(pieces))
        node = lhs


def _keyword(keyword: Keyword) -> str:
    return f"{keyword.name}={print_expr(keyword.value)}"


def print_expr(expr: Expr) -> str:
    """The DSL text of one expression, with minimal parentheses."""
    if isinstance(expr, TensorRef):
        if expr.name == "not" and not expr.indices and not expr.boolean:
            return "(not)"  # a tensor called `not`: bare, it would negate what follows
        return _access(expr.name, expr.indices, expr.boolean)
    if isinstance(expr, BinaryOp):
        return _binary(expr)
    if isinstance(expr, Negate):
        return f"-{_operand(expr.operand, _UNARY)}"
    if isinstance(expr, Not):
        return f"!{_operand(expr.operand, _UNARY)}"  # `not` needs a name after it
    if isinstance(expr, Number):
        return _number(expr.value)
    if isinstance(expr, String):
        return _string(expr.value)
    if isinstance(expr, Call):
        args = [*map(print_expr, expr.args), *map(_keyword, expr.kwargs)]
        return f"{expr.func}({', '.join(args)})"
    if isinstance(expr, ListLiteral):
        return f"[{', '.join(map(print_expr, expr.items))}]"
    items = ", ".join(map(print_expr, expr.items))  # what is left: a TupleLiteral
    return f"({items},)" if len(expr.items) == 1 else f"({items})"


def _lhs(lhs: Lhs) -> str:
    return _access(lhs.name, lhs.indices, lhs.boolean)


def print_statement(statement: Statement) -> str:
    """One statement as one line of DSL text."""
    if isinstance(statement, Equation):
        return f"{_lhs(statement.lhs)} {statement.op} {print_expr(statement.rhs)}"
    if isinstance(statement, Source):
        return f"{_lhs(statement.lhs)} = {_string(statement.path)}"
    if isinstance(statement, Sink):
        return f"{_string(statement.path)} = {print_expr(statement.rhs)}"
    if isinstance(statement, Fact):
        atom = _access(statement.relation, statement.indices, True)
        return atom if statement.value == 1 else f"{atom} = {_number(statement.value)}"
    if isinstance(statement, FactTable):
        # After desugaring (a query runner's program text, a cache key): the
        # facts by their coordinates in the relation's domains.
        relation = statement.lhs.name
        return "".join(
            f"{relation}({', '.join(map(str, row))}) = {_number(float(value))}\n"
            for row, value in zip(statement.coordinates.tolist(), statement.values, strict=True)
        )
    if isinstance(statement, Facts):
        # A blank line after the run keeps the next run of the same
        # relation a statement of its own when the text is read back.
        relation = statement.relation
        return "".join(f"{relation}({', '.join(map(str, row))})\n" for row in statement.rows)
    if isinstance(statement, FunctionDef):
        return f"{statement.name}({', '.join(statement.params)}) := {print_expr(statement.body)}"
    if isinstance(statement, Query):
        return f"{_access(statement.tensor, statement.indices, statement.boolean)}?"
    return f"export {statement.name}"


def print_program(program: Program) -> str:
    """Canonical DSL text: one statement per line."""
    return "".join(print_statement(s) + "\n" for s in program.statements)


# --- tree dump --------------------------------------------------------------

Node = Statement | Expr | Lhs | Index | Keyword


def _is_node(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _holds_nodes(value: object) -> bool:
    """A tuple of child nodes (a tuple of names, like a function's
    parameters, is a plain field)."""
    return isinstance(value, tuple) and any(map(_is_node, value))


def _header(node: Node) -> str:
    """`Kind field=value ... @line:col`, leaving out fields at their default."""
    parts = [type(node).__name__]
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if f.name == "span" or _is_node(value) or _holds_nodes(value):
            continue
        if isinstance(value, np.ndarray):  # a FactTable's columns: one line, short
            shown = value.tolist() if value.size <= 16 else f"<{value.size} elements>"
            parts.append(f"{f.name}={shown}")
        elif f.default is dataclasses.MISSING or value != f.default:
            parts.append(f"{f.name}={value!r}")
    if node.span != UNKNOWN_SPAN:
        parts.append(f"@{node.span.line}:{node.span.col}")
    return " ".join(parts)


def _dump(root: Node, lines: list[str]) -> None:
    """Appends the lines of `root`'s subtree, children after their parent
    in field order (a loop with a stack: trees can be deep)."""
    stack: list[tuple[Node, str, int]] = [(root, "", 1)]
    while stack:
        node, label, depth = stack.pop()
        lines.append(f"{'  ' * depth}{label}{_header(node)}")
        children: list[tuple[Node, str, int]] = []
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if _holds_nodes(value):
                children += ((item, f"{f.name}[{k}]: ", depth + 1) for k, item in enumerate(value))
            elif _is_node(value) and f.name != "span":
                children.append((value, f"{f.name}: ", depth + 1))
        stack += reversed(children)


def dump_ast(program: Program) -> str:
    """An indented tree, one node per line: kind, scalar fields, position."""
    lines = [f"Program file={program.file!r}"]
    for statement in program.statements:
        _dump(statement, lines)
    return "\n".join(lines) + "\n"
