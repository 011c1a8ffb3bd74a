"""The printer inverts the parser: `parse(print_program(p)) == p` for every
tree the parser can produce, checked on random trees, plus unit tests of
the canonical spelling and of the AST dump."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse.errors import FuseError
from fuse.frontend import dump_ast, parse, print_program
from fuse.frontend.ast import (
    BinaryOp,
    Call,
    Equation,
    Export,
    Expr,
    Fact,
    Facts,
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
    Statement,
    String,
    TensorRef,
    TupleLiteral,
)
from fuse.frontend.builtins import BUILTINS
from fuse.frontend.lexer import FP32_MAX
from fuse.frontend.parser import _is_fact_atom
from fuse.frontend.printer import print_expr

# --- strategies: exactly the trees the parser produces ----------------------

# Names the lexer could mistake for something else are drawn on purpose.
tricky_names = st.sampled_from(["export", "not", "max", "avg", "relu", "e", "E5", "_"])
names = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,4}'{0,2}", fullmatch=True), tricky_names)
non_builtin_names = names.filter(lambda n: n not in BUILTINS)

index_consts = st.builds(IndexConst, st.integers(0, 10**20))
rhs_indices = st.lists(st.one_of(st.builds(IndexVar, names), index_consts), max_size=3)
lhs_indices = st.lists(
    st.one_of(st.builds(IndexVar, names, st.booleans()), index_consts), max_size=3
)

numbers = st.builds(
    Number,
    st.one_of(
        st.integers(0, 10**30),
        # A literal beyond fp32's range is a lexical error (issue 11).
        st.floats(min_value=0.0, max_value=FP32_MAX, allow_nan=False, allow_infinity=False),
    ),
)
strings = st.builds(String, st.text(max_size=6))

atoms: st.SearchStrategy[Expr] = st.one_of(
    st.builds(TensorRef, names, rhs_indices.map(tuple)),
    st.builds(TensorRef, non_builtin_names, rhs_indices.map(tuple), st.just(True)),
    numbers,
)

# `deferred` ties the recursive knots without the huge strategy reprs that
# nested `recursive` strategies build.
values: st.SearchStrategy[Expr] = st.deferred(
    lambda: st.one_of(
        atoms,
        st.builds(BinaryOp, st.sampled_from(["+", "-", "*", "/", "^", "join"]), values, values),
        st.builds(Negate, values),
        st.builds(Not, values),
        calls,
    )
)
# What a call takes: values, strings, and nested lists and tuples.
arguments: st.SearchStrategy[Expr] = st.deferred(
    lambda: st.one_of(
        values,
        strings,
        st.builds(ListLiteral, st.lists(arguments, max_size=3).map(tuple)),
        st.builds(TupleLiteral, st.lists(arguments, min_size=1, max_size=3).map(tuple)),
    )
)
call_args = st.lists(arguments, max_size=3).map(tuple)
keywords = st.builds(Keyword, names, arguments)
calls = st.one_of(
    st.builds(
        Call,
        st.sampled_from(sorted(BUILTINS)),
        call_args,
        st.lists(keywords, max_size=2).map(tuple),
    ),
    # An unknown name with only index arguments would read back as a
    # Boolean access; with a keyword it stays a call (that sema rejects).
    st.builds(
        Call, non_builtin_names, call_args, st.lists(keywords, min_size=1, max_size=2).map(tuple)
    ),
)


_BULK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BULK_SYMBOL = re.compile(r"[A-Z][A-Za-z0-9_]*")


def _as_read_in_bulk(fact: Fact) -> Fact | Facts:
    """A fact of value 1 whose relation is a plain name and whose constants
    are symbols or integers of at most nine digits reads back as a
    one-row `Facts` (the lexer reads such lines in bulk)."""
    constants = [i.value if isinstance(i, IndexConst) else i.name for i in fact.indices]
    bulk = fact.value == 1 and _BULK_NAME.fullmatch(fact.relation) is not None
    bulk = bulk and all(
        c < 10**9 if isinstance(c, int) else _BULK_SYMBOL.fullmatch(c) is not None
        for c in constants
    )
    return Facts(fact.relation, len(constants), tuple(constants)) if bulk else fact


def lhs_of(boolean: bool) -> st.SearchStrategy[Lhs]:
    return st.builds(Lhs, names, lhs_indices.map(tuple), st.just(boolean))


lhss = st.one_of(lhs_of(False), lhs_of(True))
statements: st.SearchStrategy[Statement] = st.one_of(
    # `X(1) = 0.5` is a fact, and facts are drawn as such.
    st.builds(Equation, lhss, st.sampled_from(["=", "+=", "max=", "avg="]), values).filter(
        lambda e: not (e.op == "=" and isinstance(e.rhs, Number) and _is_fact_atom(e.lhs))
    ),
    st.builds(
        Fact,
        names,
        st.lists(
            st.one_of(
                index_consts,
                st.builds(IndexVar, st.from_regex(r"[A-Z][a-z0-9]{0,3}", fullmatch=True)),
            ),
            min_size=1,
            max_size=3,
        ).map(tuple),
        st.one_of(st.just(1), st.integers(0, 5)),
    ).map(_as_read_in_bulk),
    st.builds(Equation, lhss, st.sampled_from(["+=", "max=", "avg="]), strings),
    st.builds(Source, lhss, st.text(max_size=6)),
    st.builds(Sink, st.text(max_size=6), values),
    st.builds(Export, names),
    st.builds(Query, names, rhs_indices.map(tuple), st.booleans()),
)
programs = st.builds(Program, st.lists(statements, max_size=5).map(tuple))


@settings(max_examples=200, deadline=None)
@given(programs)
def test_parse_inverts_print(program: Program) -> None:
    text = print_program(program)
    reparsed = parse(text)
    assert reparsed == program
    assert print_program(reparsed) == text


# --- canonical spelling -----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Y[i, j] = A[i, k] B[k, j]",
        "Y[i] = relu(W[i, j] X[j] + B[i])",
        "K[i, i'] = exp(-(X[i, j] - X[i', j])^2 / V)",
        'Y[p, t.] = softmax(X[p, t], axis="t")',
        "Path(x, z) += Path(x, y) Edge(y, z)",
        "M[i] max= A[i, k] * -B[k]",
        "Y = a - (b - c)",
        "Y = a (b c)",
        "Y = a (-b)",
        "Y = a^b^c",
        "Y = (a^b)^c",
        "Y = (-a)^2",
        "Y = -a^2",
        "Y = 2^-x",
        "Y = a / (b * c)",
        "Y = (a + b) c",
        "Y = sig(x, T=0.5)",
        "Y = const([[1, 2], [3, 4]])",
        "Y = case((a,), (b, c))",
        "Obs[0, o] = 1e-05",
        'W[h, d] = "ckpt/w.npy"',
        '"out.npy" = Y[i, j]',
        "export Y",
        "Path(3, y)?",
        "Y[i, 0]?",
    ],
)
def test_canonical_text_is_a_fixed_point(text: str) -> None:
    assert print_program(parse(text)) == text + "\n"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Y[i,j]=A[i,k]B[k,j]", "Y[i, j] = A[i, k] B[k, j]"),
        ("Y = ((a)) + ((b c))", "Y = a + b c"),
        ("Y = (a * b) * c", "Y = a * b * c"),
        ("Y = -(x^2)", "Y = -x^2"),
        ("Y = 1.50", "Y = 1.5"),
        ("Y = 3.", "Y = 3.0"),
        ("export A,B", "export A\nexport B"),
        ("Y = f(\n  x=1,\n)", "Y = f(x=1)"),
        ('"a\\"b\\\\c\\td" = X', '"a\\"b\\\\c\\td" = X'),
    ],
)
def test_canonical_spelling(text: str, canonical: str) -> None:
    assert print_program(parse(text)) == canonical + "\n"


def test_print_expr() -> None:
    expr = BinaryOp("join", TensorRef("A", (IndexVar("i"),)), Negate(Number(2)))
    assert print_expr(expr) == "A[i] (-2)"
    assert print_expr(String('say "hi"\n')) == '"say \\"hi\\"\\n"'


# --- AST dump ---------------------------------------------------------------


def test_dump_ast() -> None:
    program = parse('Y[p, t.] = softmax(X[p, 0], axis="t")\nexport Y\n', "a.fuse")
    assert dump_ast(program) == (
        "Program file='a.fuse'\n"
        "  Equation op='=' @1:1\n"
        "    lhs: Lhs name='Y' @1:1\n"
        "      indices[0]: IndexVar name='p' @1:3\n"
        "      indices[1]: IndexVar name='t' dotted=True @1:6\n"
        "    rhs: Call func='softmax' @1:12\n"
        "      args[0]: TensorRef name='X' @1:20\n"
        "        indices[0]: IndexVar name='p' @1:22\n"
        "        indices[1]: IndexConst value=0 @1:25\n"
        "      kwargs[0]: Keyword name='axis' @1:29\n"
        "        value: String value='t' @1:34\n"
        "  Export name='Y' @2:8\n"
    )


def test_dump_ast_of_a_built_tree_has_no_positions() -> None:
    index: Index = IndexVar("i")
    program = Program((Equation(Lhs("P", (index,), boolean=True), "=", Number(1)),))
    assert dump_ast(program) == (
        "Program file='<string>'\n"
        "  Equation op='='\n"
        "    lhs: Lhs name='P' boolean=True\n"
        "      indices[0]: IndexVar name='i'\n"
        "    rhs: Number value=1\n"
    )


@pytest.mark.parametrize("terms", [199, 1000])
def test_a_generated_long_sum_prints_and_dumps(terms: int) -> None:
    # Left-nested chains are walked in loops: parse() reads and prints sums
    # beyond the nesting bound (200), which only load()'s checks enforce.
    text = "Y[i] = " + " + ".join(f"A{k}[i] B[i]" for k in range(terms)) + "\n"
    program = parse(text)
    assert print_program(program) == text
    assert dump_ast(program).count("TensorRef name='B'") == terms


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, -0.0, -2, 1e300, 10**400])
def test_a_number_no_literal_spells_is_refused(value: float) -> None:
    # `1e999` (infinity) and `nan` would not read back as the same tree: the
    # lexer rejects the first and reads the second as a tensor name.
    with pytest.raises(ValueError, match="no Fuse literal spells"):
        print_expr(Number(value))


@pytest.mark.parametrize("text", ["Y = 1e999\n", "Y = 3.5e38\n"])
def test_the_parser_refuses_what_the_printer_refuses(text: str) -> None:
    with pytest.raises(FuseError, match="out of range"):
        parse(text)
