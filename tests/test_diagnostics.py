"""Each kind of front-end diagnostic: its message, its position, and that one
run reports every problem of a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuse.errors import FuseError, SourceText
from fuse.frontend import check, load, load_file, parse


def errors(text: str) -> list[str]:
    """The first line (`file:line:col: error: message`) of each diagnostic."""
    with pytest.raises(FuseError) as info:
        load(text, "p.fuse")
    return [d.render().splitlines()[0] for d in info.value.diagnostics]


def error(text: str) -> str:
    (only,) = errors(text)
    return only


# --- semantic diagnostics, one kind at a time ------------------------------


def test_rank_mismatch_names_both_places() -> None:
    assert error("Y[i] = A[i, j]\nZ[i] = A[i]\n") == (
        "p.fuse:2:8: error: tensor 'A' is used with rank 1 here but with rank 2 at 1:8"
    )


def test_rank_mismatch_between_lhs_and_access() -> None:
    assert error("Y[i] = A[i]\nZ = Y[i, j]\n") == (
        "p.fuse:2:5: error: tensor 'Y' is used with rank 2 here but with rank 1 at 1:1"
    )


def test_rank_mismatch_in_a_sink() -> None:
    assert error('Y[i] = A[i]\n"o.npy" = Y[i, j]\n') == (
        "p.fuse:2:11: error: tensor 'Y' is used with rank 2 here but with rank 1 at 1:1"
    )


def test_max_mixed_with_sum() -> None:
    assert error("M[i] max= A[i, k]\nM[j] += B[j]\n") == (
        "p.fuse:2:1: error: tensor 'M' mixes '+=' here with 'max=' at 1:1: 'max=' equations "
        "combine by max, '=', '+=' and 'avg=' equations by sum"
    )


def test_max_with_max_and_sum_with_avg_combine() -> None:
    load("M[i] max= A[i, k]\nM[i] max= B[i]\nS[i] = A[i, k]\nS[i] avg= B[i]\n")


def test_boolean_and_numeric_lhs_of_one_tensor() -> None:
    assert error("P(x, y) = E(x, y)\nP[x, y] += F[x, y]\n") == (
        "p.fuse:2:1: error: tensor 'P' is defined as numeric ('P[...]') here but as "
        "Boolean ('P(...)') at 1:1"
    )


@pytest.mark.parametrize(
    ("text", "where"), [("R(x, x) <- N(x)\n", "1:6"), ("Y[i, j, i] = A[i, j]\n", "1:9")]
)
def test_a_repeated_left_hand_side_index_is_refused(text: str, where: str) -> None:
    # Lowered as a broadcast, `R(x, x) <- N(x)` was true off the diagonal too.
    assert error(text).startswith(f"p.fuse:{where}: error: index '")
    assert "appears twice on the left-hand side" in error(text)


def test_source_must_use_equals() -> None:
    assert error('W[i] += "w.npy"\n') == "p.fuse:1:1: error: source 'W' must use '=', not '+='"


def test_dotted_axis_without_normalization() -> None:
    assert error("Y[p, t.] = relu(X[p, t])\n") == (
        "p.fuse:1:6: error: dotted axis 't.' of 'Y' has no normalization builtin (layernorm, "
        "lnorm, masked_softmax, softmax) on the right-hand side to apply to"
    )


def test_dotted_axis_on_a_source() -> None:
    assert error('W[i.] = "w.npy"\n') == (
        "p.fuse:1:3: error: dotted axis 'i.' on source 'W': a source has no normalization "
        "to apply it to"
    )


def test_two_dotted_axes() -> None:
    assert error("Y[p., t.] = softmax(X[p, t])\n") == (
        "p.fuse:1:7: error: 'Y' has more than one dotted axis; a normalization has one axis "
        "(first 'p.')"
    )


def test_normalization_axis_not_on_the_lhs() -> None:
    assert error('Y[p] = softmax(X[p, q], axis="q")\n') == (
        "p.fuse:1:30: error: normalization axis 'q' of 'softmax' is not an index of the "
        "left-hand side 'Y'"
    )


def test_axis_may_be_a_bare_index_name() -> None:
    load("Y[p, q] = softmax(X[p, q], axis=q)\n")


def test_axis_must_name_an_index() -> None:
    assert error("Y[p, q] = softmax(X[p, q], axis=1)\n") == (
        "p.fuse:1:33: error: 'axis=' of 'softmax' must name an index: axis=\"t\" or axis=t"
    )


def test_reductions_take_several_axes() -> None:
    load("Y[i] = reduce_max(X[i, j, k], axis=(j, k))\nZ[i] = reduce_mean(X[i, j, k], axis=j)\n")
    assert error("Y[i] = reduce_max(X[i, j, k], axis=(j, 2))\n") == (
        "p.fuse:1:36: error: 'axis=' of 'reduce_max' must name an index: axis=\"t\" or axis=t "
        "or axis=(j, k)"
    )


def test_pos_must_name_an_index() -> None:
    load("Y[p, d] = rope(X[p, d], pos=p)\n")
    assert error("Y[p, d] = rope(X[p, d], pos=0.5)\n") == (
        "p.fuse:1:29: error: 'pos=' of 'rope' must name an index: pos=\"t\" or pos=t"
    )


def test_keyword_values_are_literals() -> None:
    load("Y[i] = sig(X[i], T=-0.5) + topk(X[i], k=3) + attention(Q[i], K[i], V[i], scale=2)\n")
    load("Y[i] = sig(X[i], T=Temp[i])\n")  # a temperature may be a tensor expression
    assert error("Y[i] = softmax(X[i], axis=Z[i] + 1)\n") == (
        "p.fuse:1:27: error: keyword 'axis' of 'softmax' takes a literal: a number, a string, an "
        "index name, or a tuple or list of them"
    )


def test_unknown_builtin_suggests_a_spelling() -> None:
    assert error("Y[i] = sofmax(X[i] + 1)\n") == (
        "p.fuse:1:8: error: unknown builtin 'sofmax' (did you mean 'softmax'?)"
    )


def test_boolean_access_with_non_index_arguments_is_an_unknown_builtin() -> None:
    assert error("Y[i] = Fact(i, X[i])\n") == "p.fuse:1:8: error: unknown builtin 'Fact'"


def test_wrong_argument_count() -> None:
    assert error("Y[i] = relu(A[i], B[i])\n") == (
        "p.fuse:1:8: error: builtin 'relu' takes 1 positional argument, got 2"
    )
    assert error("Y[i] = attention(Q[i])\n") == (
        "p.fuse:1:8: error: builtin 'attention' takes 3 to 4 positional arguments, got 1"
    )
    assert error("Y[i] = concat()\n") == (
        "p.fuse:1:8: error: builtin 'concat' takes at least 1 positional argument, got 0"
    )


def test_unknown_keyword() -> None:
    assert error("Y[i] = sig(X[i], temp=0.5)\n") == (
        "p.fuse:1:18: error: builtin 'sig' has no keyword 'temp' (keywords: T)"
    )
    assert error("Y[i] = relu(X[i], axis=i)\n") == (
        "p.fuse:1:19: error: builtin 'relu' has no keyword 'axis' (keywords: none)"
    )


def test_repeated_keyword() -> None:
    assert error("Y[i] = sig(X[i], T=1, T=2)\n") == (
        "p.fuse:1:23: error: keyword 'T' given twice to 'sig'"
    )


def test_index_function_argument_must_be_an_index_name() -> None:
    assert error("Y[i] = even(X[i])\n") == (
        "p.fuse:1:13: error: argument of index function 'even' must be an index name"
    )


def test_index_function_argument_needs_an_extent() -> None:
    assert error("Y[i] = even(k) X[i]\n") == (
        "p.fuse:1:13: error: index 'k' of 'even' is neither on the left-hand side nor in a "
        "tensor access of the equation, so it has no extent"
    )


def test_index_function_argument_from_a_tensor_access_is_fine() -> None:
    load('Y[i] = even(k) X[i, k]\nM[i, j] = causal_mask(i, j)\nE[i] = odd(axis="i")\n')


def test_even_needs_exactly_one_axis() -> None:
    assert error("Y[i] = even() X[i]\n") == (
        "p.fuse:1:8: error: 'even' got no axis: write even(i) or even(axis=i)"
    )
    assert error("Y[i] = odd(i, axis=i)\n") == (
        "p.fuse:1:8: error: 'odd' got its axis both positionally and as axis=: write odd(i) "
        "or odd(axis=i)"
    )


def test_undefined_export() -> None:
    assert error("Y[i] = X[i]\nexport Z\n") == (
        "p.fuse:2:8: error: undefined tensor 'Z': it is exported but no equation or source "
        "mentions it"
    )


def test_undefined_sink_tensor() -> None:
    assert error('Y[i] = X[i]\n"out.npy" = Y[i] W[i]\n') == (
        "p.fuse:2:18: error: undefined tensor 'W': it is written to a sink but no equation or "
        "source mentions it"
    )


def test_runtime_inputs_are_not_undefined() -> None:
    # X and W appear only on right-hand sides: run(inputs=...) supplies them.
    load('Y[i] = W[i, j] X[j]\n"out.npy" = X[i]\nexport Y, X\n')


def test_export_before_its_definition_is_fine() -> None:
    load("export Y\nY[i] = X[i]\n")


def test_too_deep_nesting_is_a_diagnostic() -> None:
    text = "A = 1\nY = " + "(" * 1000 + "x" + ")" * 1000 + "\nB = 2\n"
    assert errors(text) == [
        "p.fuse:2:1: error: statement nested too deeply (parentheses, calls, '-' or '^')"
    ]


# --- several problems in one run -------------------------------------------


def test_three_independent_errors_on_different_lines() -> None:
    text = "\n".join(
        [
            "A[i] = B[i, j] C[j]",
            "D[i] = B[i]",  # rank
            "E[i] = relu(A[i], A[i])",  # arity
            "F[p, t.] = exp(A[t])",  # dotted axis without normalization
            "export A",
        ]
    )
    assert [e.split(": error: ")[0] for e in errors(text)] == [
        "p.fuse:2:8",
        "p.fuse:3:8",
        "p.fuse:4:6",
    ]


def test_syntax_and_semantic_errors_are_reported_together() -> None:
    text = "A[i] = B[i]\nC[i] = B[i] +\nD[i] = B[i, j]\n"
    assert errors(text) == [
        "p.fuse:2:14: error: expected an expression, found end of line",
        "p.fuse:3:8: error: tensor 'B' is used with rank 2 here but with rank 1 at 1:8",
    ]


def test_an_unclosed_bracket_runs_to_the_end_of_the_file() -> None:
    # A newline inside brackets continues the statement, so the lines after
    # an unclosed bracket belong to its statement; the message says which
    # bracket is open.
    text = "C[i] = (B[i]\nD[i] = B[i, j]\nE = relu()\n"
    assert errors(text) == ["p.fuse:2:6: error: expected ')' to close the '(' at 1:8, found '='"]


def test_undefined_tensors_are_not_reported_after_a_syntax_error() -> None:
    # The broken statement may be the one that defines Y.
    assert errors("Y[i] = X[i] +\nexport Y, Z\n") == [
        "p.fuse:1:14: error: expected an expression, found end of line"
    ]


def test_diagnostics_carry_the_source_line_and_a_caret() -> None:
    with pytest.raises(FuseError) as info:
        load("Y[i] = A[i]\nZ[i] = sofmax(A[i] + 1)\n", "p.fuse")
    assert info.value.render().splitlines()[1:] == [
        "Z[i] = sofmax(A[i] + 1)",
        "       ^~~~~~",
    ]


def test_check_reports_every_problem_of_a_parsed_program() -> None:
    text = "Y[i] = relu()\nexport Q\n"
    program = parse(text, "p.fuse")
    with pytest.raises(FuseError) as info:
        check(program, SourceText(text, "p.fuse"))
    assert len(info.value.diagnostics) == 2
    check(parse("Y[i] = relu(X[i])\n"), SourceText("Y[i] = relu(X[i])\n", "<string>"))


def test_load_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.fuse"
    path.write_text("Y[i] = relu(X[i])\nexport Y\n")
    assert len(load_file(path).statements) == 2
    assert load_file(path).file == str(path)


def test_load_file_reports_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "bad.fuse"
    path.write_text("Y[i] = A[i]\nexport Z\n")
    with pytest.raises(FuseError) as info:
        load_file(path)
    assert info.value.render().startswith(f"{path}:2:8: error: undefined tensor 'Z'")


def test_missing_file_is_a_fuse_error(tmp_path: Path) -> None:
    with pytest.raises(FuseError, match="cannot read"):
        load_file(tmp_path / "missing.fuse")
