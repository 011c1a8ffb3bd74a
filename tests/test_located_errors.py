"""Errors found after the front end (shape inference, the passes, loading
sources, binding inputs, running) are located like the front end's
(docs/diagnostics.md): `file:line:col: error: ...`, the source line, and a
caret under the offending token, with names as the program writes them."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from xdsl.xdsl_opt_main import xDSLOptMain

from fuse import ExecutionConfig, FuseError, Program
from fuse.opt import main as fuse_opt

BACKENDS = ["numpy", "torch", "jax"]


def run_error(
    text: str,
    inputs: dict[str, np.ndarray],
    backend: str = "numpy",
    base_dir: Path | None = None,
    config: ExecutionConfig | None = None,
) -> tuple[str, str, str]:
    """(first line, source line, caret line) of the one diagnostic a run gives."""
    program = Program(text, "p.fuse", base_dir=base_dir)
    with pytest.raises(FuseError) as info:
        program.compile(backend=backend, config=config).run(inputs)
    (diagnostic,) = info.value.diagnostics
    first, source, caret = diagnostic.render().splitlines()
    return first, source, caret


def test_a_shape_conflict_points_at_the_access_that_disagrees() -> None:
    first, source, caret = run_error(
        "Y[i] = A[i, j] B[j]\nexport Y\n", {"A": np.ones((2, 3)), "B": np.ones(4)}
    )
    assert first == "p.fuse:1:16: error: index 'j' has size 3 in 'A' but size 4 in 'B'"
    assert source == "Y[i] = A[i, j] B[j]"
    assert caret == " " * 15 + "^"


def test_a_shape_conflict_names_the_programs_own_index() -> None:
    # Canonicalization renames the summed `y` (to `y_1`): the message does not.
    first, _, _ = run_error(
        "P(x, y) <- E(x, y)\nP(x, z) <- P(x, y) E(y, z)\nexport P\n", {"E": np.ones((2, 4))}
    )
    assert first == "p.fuse:2:20: error: index 'y' has size 4 in 'P' but size 2 in 'E'"


def test_a_shape_conflict_in_a_later_equation_of_a_tensor_is_shown_there() -> None:
    # A tensor's equations are merged into its first one: the conflict is
    # still reported at the second equation, which causes it.
    first, source, _ = run_error(
        "Y[i] = X[i, j]\nY[i] += X[j, i]\nexport Y\n", {"X": np.ones((2, 4))}
    )
    assert first == "p.fuse:2:9: error: index 'i' has size 2 in 'Y' but size 4 in 'X'"
    assert source == "Y[i] += X[j, i]"


def test_a_const_literal_conflict_points_at_the_access() -> None:
    first, _, _ = run_error(
        "C[i] = const([1, 2, 3])\nY[i] = C[i] + A[i]\nexport Y\n", {"A": np.ones(4)}
    )
    assert first == (
        "p.fuse:2:15: error: index 'i' has size 3 in 'C' but size 4 in 'A' "
        "('i' is on the left-hand side of 'Y', so every term shares its size)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Y[i, j] = A[i]", "dimension 2 of 'Y' has no known size: the equation repeats its value"),
    ],
)
def test_an_unknown_dimension_size_names_the_dimension_not_an_internal_index(
    text: str, message: str
) -> None:
    first, _, _ = run_error(text + "\nexport Y\n", {"A": np.ones(2)} if "A" in text else {})
    assert first.startswith(f"p.fuse:1:1: error: {message}")
    assert "'d0'" not in first and "'d1'" not in first


def test_concat_along_an_index_no_argument_has_is_a_located_error() -> None:
    with pytest.raises(FuseError) as info:
        Program("Y[i, k] = concat(X[i, j], X[i, j], axis=k)\nexport Y\n", "p.fuse")
    assert info.value.render().startswith(
        "p.fuse:1:41: error: 'axis=' of 'concat' names index 'k', which none of its arguments"
    )


def test_an_input_of_the_wrong_rank_points_at_its_first_access() -> None:
    first, _, caret = run_error(
        "Y[i] = X[i] + A[i, j]\nexport Y\n", {"A": np.ones(3), "X": np.ones(3)}
    )
    assert first == (
        "p.fuse:1:15: error: input 'A' has rank 1 (shape (3,)), but the program uses it with rank 2"
    )
    assert caret == " " * 14 + "^~~~~~~"


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.ones((2, 2, 2)), "w.npy: holds an array of shape [2, 2, 2], but tensor W has 2"),
        (np.array([[1e39, 2.0]]), "w.npy: holds the finite value 1e+39, beyond the float32"),
        (None, "w.npy: no such file"),
    ],
)
def test_a_problem_with_a_source_file_points_at_its_statement(
    tmp_path: Path, array: np.ndarray | None, message: str
) -> None:
    if array is not None:
        np.save(tmp_path / "w.npy", array)
    text = 'Y[i] = W[i, j]\nW[i, j] = "w.npy"\nexport Y\n'
    first, source, _ = run_error(text, {}, base_dir=tmp_path)
    assert first.startswith(f"p.fuse:2:1: error: {tmp_path / message}")
    assert source == 'W[i, j] = "w.npy"'


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_diverging_recursion_points_at_the_recursive_equation(backend: str) -> None:
    first, source, _ = run_error(
        "R[i, j] = X[i, j]\nR[i, j] += R[i, k] X[k, j] * 2\nexport R\n",
        {"X": np.ones((2, 2), np.float32)},
        backend,
        config=ExecutionConfig(max_iters=5),
    )
    assert first.startswith("p.fuse:2:1: error: fixpoint over R did not converge in 5 iterations")
    assert source == "R[i, j] += R[i, k] X[k, j] * 2"


def test_a_pass_error_is_located_at_its_equation() -> None:
    first, source, _ = run_error(
        "Y[i] = A[i]\nX[i] = relu(A[i] + X[j] M[j, i])\nexport X, Y\n",
        {"A": np.ones(4, np.float32), "M": np.full((4, 4), 0.1, np.float32)},
        config=ExecutionConfig(fixpoint_strategy="semi_naive"),
    )
    assert first.startswith("p.fuse:2:1: error: fuse-semi-naive: the fixpoint of X cannot be")
    assert source == "X[i] = relu(A[i] + X[j] M[j, i])"


# --- fuse-opt: IR with locations ------------------------------------------------

MIXED_MAX = """fuse.program {
  fuse.tensor @A[i, j] input : tensor<?x?xf32>
  fuse.tensor @M[i] : tensor<?xf32>
  fuse.rule @M[i] max {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    fuse.yield %0 : !fuse.expr<i, j>
  } loc("m.fuse":1:1)
  fuse.rule @M[i] sum {
    %0 = fuse.load @A[i, j] : !fuse.expr<i, j>
    fuse.yield %0 : !fuse.expr<i, j>
  } loc("m.fuse":2:1)
}
"""


def fuse_opt_stderr(tmp_path: Path, text: str, *arguments: str) -> str:
    path = tmp_path / "in.mlir"
    path.write_text(text)
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        assert fuse_opt([str(path), *arguments]) == 1
    return stderr.getvalue()


@pytest.mark.parametrize(
    ("text", "pipeline", "expected"),
    [
        (MIXED_MAX, "fuse-canonicalize-projections", "m.fuse:2:1: error: tensor @M mixes max="),
    ],
)
def test_fuse_opt_locates_a_pass_error_where_the_ir_has_a_location(
    tmp_path: Path, text: str, pipeline: str, expected: str
) -> None:
    assert fuse_opt_stderr(tmp_path, text, "-p", pipeline).startswith(expected)


def test_fuse_opt_parse_errors_use_the_one_format(tmp_path: Path) -> None:
    text = "fuse.program {\n  fuse.tensor @A[i, j] input : tensor<?x?xf32\n}\n"
    assert fuse_opt_stderr(tmp_path, text).splitlines() == [
        f"{tmp_path / 'in.mlir'}:3:1: error: Expected '>' after builtin parameter list",
        "}",
        "^",
    ]


def test_a_missing_input_points_at_its_first_access() -> None:
    first, _, caret = run_error("Y[i] = log log(X[i])\nexport Y\n", {"X": np.ones(2)})
    # Found by the program mutation fuzzer: `log log(x)` reads a tensor `log`.
    assert first == "p.fuse:1:8: error: missing runtime input 'log': pass it in run(inputs=...)"
    assert caret == " " * 7 + "^~~"


def test_a_size_only_a_recursion_could_give_is_a_located_error() -> None:
    # Found by the program mutation fuzzer: the backend said "needs static
    # shapes; argument #0 of fuse.fixpoint has type tensor<?x3xf32>".
    first, _, _ = run_error("A[x, z] = A[x, y] P[y, z]\nexport A\n", {"P": np.ones((3, 3))})
    assert first.startswith("p.fuse:1:1: error: dimension 1 of 'A' has no known size")


def test_fuse_opt_names_an_unclosed_block_at_the_end_of_the_file(tmp_path: Path) -> None:
    # Found by the IR mutation fuzzer: xDSL's message was " in block definition".
    text = "func.func @a() -> tensor<2xf32> {\n  func.return\n"
    first = fuse_opt_stderr(tmp_path, text).splitlines()[0]
    assert first.endswith(": error: unexpected end of file in block definition")


@pytest.mark.parametrize(
    "text",
    ["Ancestor(x, 99999999999999999999) = Parent(x, y)", "Y[i] = A[i, 99999999999999999999]"],
)
def test_an_integer_position_beyond_64_bits_is_a_located_error(text: str) -> None:
    # Found by the program mutation fuzzer (campaign): xDSL's VerifyException
    # "Integer value ... is out of range for type i64", with no location.
    with pytest.raises(FuseError) as info:
        Program(text + "\n", "p.fuse")
    assert info.value.render().startswith(
        "p.fuse:1:13: error: integer position 99999999999999999999 is out of range"
    )


def test_a_write_beyond_a_dimension_is_an_error_not_a_lost_value() -> None:
    # `Y[i, 7]` with |j| = 3 from B: the one-hot placement was all zeros.
    first, _, _ = run_error(
        "Y[i, 7] = A[i, 0]\nZ[i, j] = Y[i, j] + B[i, j]\nexport Z\n",
        {"A": np.ones((2, 3)), "B": np.ones((2, 3))},
    )
    assert first == "p.fuse:1:1: error: index 7 is out of range for dimension 2 of 'Y', of size 3"


def test_a_read_beyond_a_dimension_counts_dimensions_from_one() -> None:
    first, _, _ = run_error("Y[i] = A[i, 5]\nexport Y\n", {"A": np.ones((2, 3))})
    assert first == "p.fuse:1:1: error: index 5 is out of range for dimension 2 of 'A', of size 3"


def test_fuse_opt_refuses_a_numeric_block_label_with_a_location(tmp_path: Path) -> None:
    # Found by the IR mutation fuzzer (campaign): `^5(...)` made xDSL raise a
    # bare ValueError ("Invalid Block name format"), a traceback.
    text = (
        "func.func @a(%E: tensor<5xf32>) -> tensor<5xf32> {\n"
        '  %p = fuse.fixpoint naive {tensors = ["P"]} : tensor<5xf32> {\n'
        "  ^5(%x: tensor<5xf32>):\n"
        "    fuse.yield %x : tensor<5xf32>\n"
        "  }\n"
        "  func.return %p : tensor<5xf32>\n"
        "}\n"
    )
    lines = fuse_opt_stderr(tmp_path, text).splitlines()
    assert lines[0].endswith(
        "in.mlir:3:3: error: block label '^5' starts with a digit, which "
        "fuse-opt's parser (xDSL) does not accept: name it like '^bb5'"
    )
    assert lines[1:] == ["  ^5(%x: tensor<5xf32>):", "  ^~"]


def test_fuse_opt_reports_any_other_xdsl_value_error_while_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The net under the label check: xDSL checks names with bare ValueErrors."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise ValueError("Invalid Block name format `5`.", "Make sure names ...")

    monkeypatch.setattr(xDSLOptMain, "parse_chunk", refuse)
    stderr = fuse_opt_stderr(tmp_path, "builtin.module {\n}\n")
    assert stderr == (
        f"fuse-opt: error: {tmp_path / 'in.mlir'}: the IR cannot be parsed: "
        "Invalid Block name format `5`.\n"
    )
