"""Unit tests of the parser: every statement form, precedence and
associativity, index forms, Boolean terms, calls, multi-line statements,
comments and spans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse.errors import FuseError
from fuse.frontend import load, parse
from fuse.frontend.ast import (
    BinaryOp,
    Call,
    Equation,
    Export,
    Expr,
    IndexConst,
    IndexVar,
    Keyword,
    Lhs,
    ListLiteral,
    Negate,
    Number,
    ProjectionOperator,
    Sink,
    Source,
    Statement,
    String,
    TensorRef,
    TupleLiteral,
)


def one(text: str) -> Statement:
    (statement,) = parse(text).statements
    return statement


def rhs(text: str) -> Expr:
    """The right-hand side of `Y = text`."""
    statement = one(f"Y = {text}")
    assert isinstance(statement, Equation)
    return statement.rhs


def T(name: str, *indices: str | int) -> TensorRef:
    return TensorRef(name, tuple(ix(i) for i in indices))


def ix(index: str | int) -> IndexVar | IndexConst:
    if isinstance(index, int):
        return IndexConst(index)
    if index.endswith("."):
        return IndexVar(index[:-1], dotted=True)
    return IndexVar(index)


def join(a: Expr, b: Expr) -> BinaryOp:
    return BinaryOp("join", a, b)


def syntax_errors(text: str) -> list[str]:
    with pytest.raises(FuseError) as info:
        parse(text, "t.fuse")
    return [d.render().splitlines()[0] for d in info.value.diagnostics]


# --- statements -------------------------------------------------------------


@pytest.mark.parametrize("op", ["=", "+=", "max=", "avg="])
def test_equation_operators(op: ProjectionOperator) -> None:
    assert one(f"T[i] {op} S[i, k]") == Equation(Lhs("T", (ix("i"),)), op, T("S", "i", "k"))


def test_join_equation() -> None:
    assert one("Y[i, j] = A[i, k] B[k, j]") == Equation(
        Lhs("Y", (ix("i"), ix("j"))), "=", join(T("A", "i", "k"), T("B", "k", "j"))
    )


def test_source() -> None:
    assert one('W[h, d] = "ckpt/weights.npy"') == Source(
        Lhs("W", (ix("h"), ix("d"))), "ckpt/weights.npy"
    )


def test_source_with_other_operator_stays_an_equation_for_sema() -> None:
    assert one('W[h] += "w.npy"') == Equation(Lhs("W", (ix("h"),)), "+=", String("w.npy"))


def test_parenthesized_string_is_still_a_source() -> None:
    assert one('W[h] = ("w.npy")') == Source(Lhs("W", (ix("h"),)), "w.npy")


def test_sink() -> None:
    assert one('"runs/out.npz" = Act[i, j]') == Sink("runs/out.npz", T("Act", "i", "j"))


def test_sink_of_an_expression() -> None:
    assert one('"o.npy" = A[i] + 1') == Sink("o.npy", BinaryOp("+", T("A", "i"), Number(1)))


def test_export() -> None:
    assert parse("export Y").statements == (Export("Y"),)


def test_export_several() -> None:
    assert parse("export A, B'").statements == (Export("A"), Export("B'"))


def test_export_is_not_reserved() -> None:
    assert one("export = A") == Equation(Lhs("export"), "=", T("A"))
    assert one("export[i] = A[i]") == Equation(Lhs("export", (ix("i"),)), "=", T("A", "i"))


@pytest.mark.parametrize(
    ("text", "lhs"),
    [
        ("V = 1", Lhs("V")),
        ("Y[p, t.] = softmax(X[p, t])", Lhs("Y", (ix("p"), ix("t.")))),
        ("Path(x, y) = Edge(x, y)", Lhs("Path", (ix("x"), ix("y")), boolean=True)),
        ("Obs[0, o] = 1", Lhs("Obs", (IndexConst(0), ix("o")))),
        ("K[i, i', d''] = 1", Lhs("K", (ix("i"), ix("i'"), ix("d''")))),
        ("Rain() = 1", Lhs("Rain", (), boolean=True)),
    ],
)
def test_lhs_forms(text: str, lhs: Lhs) -> None:
    statement = one(text)
    assert isinstance(statement, Equation)
    assert statement.lhs == lhs


def test_trailing_commas() -> None:
    assert one("Y[i, j,] = A[i, j,]") == one("Y[i, j] = A[i, j]")
    assert rhs("concat(A, B,)") == Call("concat", (T("A"), T("B")))
    assert rhs("const([1, 2,])") == Call("const", (ListLiteral((Number(1), Number(2))),))


def test_empty_lines_and_comments() -> None:
    program = parse("# a program\n\nA = 1  # one\n\n# two\nB = 2\n")
    assert program == parse("A = 1\nB = 2")


def test_statement_spans_lines_while_brackets_are_open() -> None:
    text = (
        'Y[i,\n  j] = concat(A[i, j],\n    # the second part\n    B[i, j],\n    axis="j")\nZ = 1\n'
    )
    program = parse(text)
    assert len(program.statements) == 2
    assert program.statements[0] == one('Y[i, j] = concat(A[i, j], B[i, j], axis="j")')


def test_program_records_its_file() -> None:
    assert parse("A = 1", "x.fuse").file == "x.fuse"


# --- precedence and associativity ------------------------------------------


def test_sum_is_left_associative() -> None:
    assert rhs("a - b + c") == BinaryOp("+", BinaryOp("-", T("a"), T("b")), T("c"))


def test_product_binds_tighter_than_sum() -> None:
    assert rhs("a + b * c") == BinaryOp("+", T("a"), BinaryOp("*", T("b"), T("c")))
    assert rhs("a b + c") == BinaryOp("+", join(T("a"), T("b")), T("c"))


def test_juxtaposition_shares_the_product_level() -> None:
    assert rhs("a / b c") == join(BinaryOp("/", T("a"), T("b")), T("c"))
    assert rhs("a b * c") == BinaryOp("*", join(T("a"), T("b")), T("c"))
    assert rhs("a b c") == join(join(T("a"), T("b")), T("c"))


def test_unary_minus_binds_tighter_than_products() -> None:
    assert rhs("-a b") == join(Negate(T("a")), T("b"))
    assert rhs("a * -b") == BinaryOp("*", T("a"), Negate(T("b")))
    assert rhs("--a") == Negate(Negate(T("a")))


def test_minus_after_a_factor_subtracts() -> None:
    assert rhs("a -b") == BinaryOp("-", T("a"), T("b"))


def test_power_binds_tighter_than_unary_minus() -> None:
    assert rhs("-x^2") == Negate(BinaryOp("^", T("x"), Number(2)))
    assert rhs("(-x)^2") == BinaryOp("^", Negate(T("x")), Number(2))


def test_power_is_right_associative_and_takes_a_signed_exponent() -> None:
    assert rhs("a^b^c") == BinaryOp("^", T("a"), BinaryOp("^", T("b"), T("c")))
    assert rhs("2^-x") == BinaryOp("^", Number(2), Negate(T("x")))
    assert rhs("a b^2") == join(T("a"), BinaryOp("^", T("b"), Number(2)))


def test_parentheses_override_precedence() -> None:
    assert rhs("a (b + c)") == join(T("a"), BinaryOp("+", T("b"), T("c")))
    assert rhs("(a + b) / c") == BinaryOp("/", BinaryOp("+", T("a"), T("b")), T("c"))


def test_design_doc_kernel_example() -> None:
    expected = Call(
        "exp",
        (
            BinaryOp(
                "/",
                Negate(
                    BinaryOp("^", BinaryOp("-", T("X", "i", "j"), T("X", "i'", "j")), Number(2))
                ),
                T("V"),
            ),
        ),
    )
    assert rhs("exp(-(X[i, j] - X[i', j])^2 / V)") == expected


def test_literals() -> None:
    assert rhs("2 A[i]") == join(Number(2), T("A", "i"))
    assert rhs("0.5") == Number(0.5)
    assert rhs("1e-3 A") == join(Number(0.001), T("A"))


# --- Boolean terms and calls -----------------------------------------------


def test_boolean_access() -> None:
    assert rhs("Fact(i, j)") == TensorRef("Fact", (ix("i"), ix("j")), boolean=True)
    assert rhs("Obs(0, o')") == TensorRef("Obs", (IndexConst(0), ix("o'")), boolean=True)
    assert rhs("Rain()") == TensorRef("Rain", (), boolean=True)


def test_boolean_join() -> None:
    assert rhs("Path(x, y) Edge(y, z)") == join(
        TensorRef("Path", (ix("x"), ix("y")), True), TensorRef("Edge", (ix("y"), ix("z")), True)
    )


def test_space_before_parenthesis_is_juxtaposition() -> None:
    assert rhs("A (B[i])") == join(T("A"), T("B", "i"))
    assert rhs("relu (x)") == join(T("relu"), T("x"))


def test_builtin_call() -> None:
    assert rhs("relu(W[i, j] X[j] + B[i])") == Call(
        "relu", (BinaryOp("+", join(T("W", "i", "j"), T("X", "j")), T("B", "i")),)
    )


def test_builtin_with_index_arguments() -> None:
    assert rhs("causal_mask(i, j')") == Call("causal_mask", (T("i"), T("j'")))
    assert rhs("even(i)") == Call("even", (T("i"),))
    assert rhs("even(axis=i)") == Call("even", (), (Keyword("axis", T("i")),))


def test_keyword_arguments() -> None:
    assert rhs('softmax(X[p, t], axis="t")') == Call(
        "softmax", (T("X", "p", "t"),), (Keyword("axis", String("t")),)
    )
    assert rhs("sig(x, T=0.5)") == Call("sig", (T("x"),), (Keyword("T", Number(0.5)),))
    assert rhs("sig(x, T = -1)") == Call("sig", (T("x"),), (Keyword("T", Negate(Number(1))),))


def test_keywords_named_max_and_avg() -> None:
    assert rhs("topk(x, max=1, avg=2)") == Call(
        "topk", (T("x"),), (Keyword("max", Number(1)), Keyword("avg", Number(2)))
    )


def test_tuple_and_list_arguments() -> None:
    assert rhs("case((a, b), (c,))") == Call(
        "case", (TupleLiteral((T("a"), T("b"))), TupleLiteral((T("c"),)))
    )
    assert rhs("const([[1, 2], [3, 4]])") == Call(
        "const",
        (ListLiteral((ListLiteral((Number(1), Number(2))), ListLiteral((Number(3), Number(4))))),),
    )
    assert rhs("const([])") == Call("const", (ListLiteral(()),))


def test_unknown_function_with_expression_arguments_is_a_call() -> None:
    # sema reports it as an unknown builtin
    assert rhs("foo(x + 1)") == Call("foo", (BinaryOp("+", T("x"), Number(1)),))
    assert rhs('foo(i, axis="i")') == Call("foo", (T("i"),), (Keyword("axis", String("i")),))


def test_nested_calls() -> None:
    assert rhs("sig(relu(x))") == Call("sig", (Call("relu", (T("x"),)),))


# --- spans ------------------------------------------------------------------


def test_spans() -> None:
    statement = one('Y[p, t.] = softmax(X[p, t],\n    axis="t")')
    assert isinstance(statement, Equation)
    span = statement.span
    assert (span.line, span.col, span.end_line, span.end_col) == (1, 1, 2, 14)
    assert statement.lhs.span.location() == "<string>:1:1"
    assert (statement.lhs.span.end_col) == 9
    dotted = statement.lhs.indices[1]
    assert (dotted.span.col, dotted.span.end_col) == (6, 8)
    call = statement.rhs
    assert isinstance(call, Call)
    assert (call.span.line, call.span.col) == (1, 12)
    assert (call.args[0].span.col, call.args[0].span.end_col) == (20, 27)
    keyword = call.kwargs[0]
    assert (keyword.span.line, keyword.span.col, keyword.span.end_col) == (2, 5, 13)


def test_binary_span_covers_both_operands() -> None:
    expr = rhs("a + b c")
    assert (expr.span.col, expr.span.end_col) == (5, 12)


def test_export_span_is_the_name() -> None:
    program = parse("export A, Bc")
    assert [(e.span.col, e.span.end_col) for e in program.statements] == [(8, 9), (11, 13)]


# --- syntax errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A[i] B[i]", "t.fuse:1:6: error: expected '=', '+=', 'max=' or 'avg=' after the "
         "left-hand side, found name 'B'"),
        ("Y[i] = ", "t.fuse:1:7: error: expected an expression, found end of file"),
        ("Y[i] = A[i", "t.fuse:1:11: error: expected ']' to close the '[' at 1:9, found end of "
         "file"),
        ("Y[i] = A[1.5]", "t.fuse:1:10: error: expected an index (a name, an integer or a quoted symbol), found "
         "number 1.5"),
        ("Y[i] = A[i.]", "t.fuse:1:11: error: dotted index 'i.' outside a left-hand side: a dot "
         "marks the normalization axis of the tensor being defined"),
        ("Y = f(axis=1, x)", "t.fuse:1:15: error: positional argument after a keyword argument"),
        ('Y = "a" + B', "t.fuse:1:5: error: a string can only be a file path or a call argument"),
        ("Y = (a, b)", "t.fuse:1:5: error: a tuple can only be a call argument"),
        ("Y = (A) [1, 2]", "t.fuse:1:9: error: a list literal can only be a call argument"),
        ('"f" += A', "t.fuse:1:5: error: expected '=' after the file name of a sink, found '+='"),
        ('"f" = "g"', "t.fuse:1:7: error: a string can only be a file path or a call argument"),
        ("= A", "t.fuse:1:1: error: expected a statement (an equation, a source, a sink or "
         "'export'), found '='"),
        ("export 3", "t.fuse:1:8: error: expected '=', '+=', 'max=' or 'avg=' after the "
         "left-hand side, found number 3"),
        ("export A, 3", "t.fuse:1:11: error: expected a tensor name, found number 3"),
        ("Y = A B )", "t.fuse:1:9: error: expected the end of the statement, found ')'"),
        ("Y = A ? B", "t.fuse:1:7: error: expected the end of the statement, found '?'"),
        ("P (x) = 1", "t.fuse:1:3: error: expected '=', '+=', 'max=' or 'avg=' after the "
         "left-hand side (a Boolean left-hand side has no space before '(': Name(i, j)), "
         "found '('"),
    ],
)  # fmt: skip
def test_syntax_errors(text: str, message: str) -> None:
    assert syntax_errors(text) == [message]


def test_recovery_reports_every_broken_statement() -> None:
    text = "A[i] = B[i]\nY = (\n  1 +\n)\nC[i] = = 2\nD = 1\nE[i] = F[i,]]\n"
    assert syntax_errors(text) == [
        "t.fuse:4:1: error: expected an expression, found ')'",
        "t.fuse:5:8: error: expected an expression, found '='",
        "t.fuse:7:13: error: expected the end of the statement, found ']'",
    ]


def test_lexical_error_is_reported_once() -> None:
    assert syntax_errors("A = B @ C\nD = $\n") == [
        "t.fuse:1:7: error: unexpected character '@'",
        "t.fuse:2:5: error: unexpected character '$'",
    ]


def test_error_render_has_source_line_and_caret() -> None:
    with pytest.raises(FuseError) as info:
        parse("A = 1\nY[i] = A[i\n", "t.fuse")
    assert info.value.render() == (
        "t.fuse:2:11: error: expected ']' to close the '[' at 2:9, found end of file\n"
        "Y[i] = A[i\n"
        "          ^"
    )


# Token soup: any text made of DSL pieces loads (parse and check) or fails
# with a FuseError whose diagnostics all have a position.
_PIECES = ["A", "i", "p'", "[", "]", "(", ")", ",", ".", "=", "+=", "max=", "-", "+", "*",
           "/", "^", " ", "\n", "1", "2.5", '"f"', "relu", "export", "#c\n", "@", '"', "{"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
def test_any_text_loads_or_raises_a_fuse_error(text: str) -> None:
    try:
        load(text)
    except FuseError as error:
        assert error.diagnostics
        assert all(d.span is not None and d.span.line >= 1 for d in error.diagnostics)
