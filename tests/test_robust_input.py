"""Issue 11: every program text ends in a result or a located diagnostic,
never a Python traceback (minimal reproducers of what a fuzzer found)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fuse import Program
from fuse.errors import FuseError

HUGE = "9" * 400
BACKENDS = ["numpy", "torch", "jax"]


def _error(text: str) -> str:
    with pytest.raises(FuseError) as caught:
        program = Program(text)
        inputs = {"A": np.ones((2, 2), np.float32)} if '"a.npy"' in text else {}
        program.compile("numpy").run(inputs=inputs)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ('A[i] = "a.npy"\nT[i] = A[i] * ' + "1" * 4400 + "\nexport T", "2:15", "out of range"),
        ('A[i] = "a.npy"\nT[i] = A[i]^' + HUGE + "\nexport T", "2:13", "out of range"),
        ("A[i] = const([1, " + HUGE + "])\nexport A", "1:18", "out of range"),
        ('A[i] = "a.npy"\nT[i] = A[i] * 1e39\nexport T', "2:15", "largest fp32"),
        (
            'A[i] = "a.npy"\nT[i] = topk(A[i], k=99999999999999999999)\nexport T',
            "2:21",
            "64 bits",
        ),
        ("A[i, j] = const([[1], [1, 2]])\nexport A", "1:11", "not a rectangular array"),
        ("A = const(" + "[" * 100 + "1" + "]" * 100 + ")\nexport A", "1:5", "at most 64 levels"),
        ('A[i] = "a.npy"\nT[i] = topk(A[i], k=0)\nexport T', "2:21", "positive integer"),
        ('A[i] = "a.npy"\nT[i] = topk(A[i], k=1.5)\nexport T', "2:21", "positive integer"),
        (
            'A[i, j] = "a.npy"\nT[i, j] = rope(A[i, j], pos=i, axis=j, base=0)\nexport T',
            "2:45",
            "positive number",
        ),
        (
            'A[i, j] = "a.npy"\nB[i, j] = "b.npy"\nT[i, j] = concat(A[i, j], B[i, j], axis=q)\n'
            "export T",
            "3:41",
            "names index 'q'",
        ),
        (
            'A[i, j] = "a.npy"\nT[i] = A[p, i] causal_mask(p, p)\nexport T',
            "2:31",
            "given twice",
        ),
        ('A[i] = "a.npy"\nY[i] = ' + " + ".join(["A[i]"] * 1000) + "\nexport Y", "2:1", "deeply"),
        ('A[i] = "a.npy"\nY[i] = ' + "- " * 250 + "A[i]\nexport Y", "2:1", "deeply"),
        ('A[i] = "a\ud800.npy"\nexport A', "1:8", "surrogate"),
    ],
    ids=[
        "4400-digit-int",
        "huge-exponent",
        "huge-const",
        "fp32-overflow",
        "huge-k",
        "ragged-const",
        "const-too-deep",
        "topk-k-zero",
        "topk-k-fraction",
        "rope-base-zero",
        "unknown-concat-axis",
        "repeated-index-arg",
        "1000-term-sum",
        "250-deep-minus",
        "lone-surrogate",
    ],
)
def test_bad_text_is_a_located_error(text: str, where: str, words: str) -> None:
    message = _error(text)
    assert f"<string>:{where}: error:" in message and words in message
    message.encode("utf-8")  # printable: no lone surrogate in the source line shown


@pytest.mark.parametrize("backend", BACKENDS)
def test_deepest_allowed_sum_runs(backend: str) -> None:
    text = 'A[i] = "a.npy"\nY[i] = ' + " + ".join(["A[i]"] * 200) + "\nexport Y"
    out = Program(text).compile(backend).run(inputs={"A": np.array([1, 2], np.float32)})
    np.testing.assert_allclose(np.asarray(out["Y"]), [200, 400])


@pytest.mark.parametrize("backend", BACKENDS)
def test_division_by_literal_zero_is_ieee(backend: str) -> None:
    """`C / 0 D` folds 1/0 into a constant; it must agree with the runtime
    division `C / 0`: inf, nan or -inf by the sign of the numerator."""
    text = 'C[i] = "c.npy"\nD[i] = "d.npy"\nE[j] = C[j] / 0 D[j]\nF[j] = C[j] / 0\nexport E, F'
    c = np.array([1, 0, -1], np.float32)
    out = Program(text).compile(backend).run(inputs={"C": c, "D": np.ones(3, np.float32)})
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = c / np.float32(0)
    np.testing.assert_array_equal(np.asarray(out["E"]), expected)
    np.testing.assert_array_equal(np.asarray(out["F"]), expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("divisor", [0.0, -0.0, 2.0, np.inf])
def test_projected_division_by_a_runtime_scalar_divides_each_element(
    backend: str, divisor: float
) -> None:
    """`Y[i] = A[i, j] / s` is `sum_j (A[i, j] / s)`: with `s = 0` at run time
    a row of mixed signs is NaN, a row of one sign a signed infinity (it was
    `(sum_j A[i, j]) * (1 / s)`, an infinity for every row)."""
    text = "Y[i] = A[i, j] / s\nZ[i] = A[i, j] B[j] / s\nexport Y, Z"
    a = np.array([[1, -2, 3], [1, 2, 3], [0, 1, 1], [-1, -1, -4]], np.float32)
    b = np.array([2, 0.5, -1], np.float32)
    s = np.float32(divisor)
    out = Program(text).compile(backend).run(inputs={"A": a, "B": b, "s": s})
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        expected_y = (a / s).sum(axis=1)
        expected_z = (a * b / s).sum(axis=1)
    np.testing.assert_allclose(np.asarray(out["Y"]), expected_y, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out["Z"]), expected_z, rtol=1e-6)


def _fuse(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuse", *args], cwd=cwd, capture_output=True, text=True
    )


@pytest.mark.parametrize("command", ["run", "compile"])
def test_cli_names_the_file_of_invalid_utf8(tmp_path: Path, command: str) -> None:
    (tmp_path / "bad.fuse").write_bytes(b'A[i] = "a.npy"\nB[i] = A[i] \xff\nexport B\n')
    result = _fuse(command, "bad.fuse", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "bad.fuse:2:13: error: invalid UTF-8 at byte offset 27" in result.stderr


@pytest.mark.parametrize("command", ["run", "compile"])
def test_cli_locates_an_overlong_integer(tmp_path: Path, command: str) -> None:
    (tmp_path / "big.fuse").write_text("A[i] = const([1, " + "1" * 5000 + "])\nexport A\n")
    result = _fuse(command, "big.fuse", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "big.fuse:1:18: error: number literal out of range" in result.stderr


def test_cli_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "bom.fuse").write_bytes(b"\xef\xbb\xbfA[i] = const([1, 2])\nexport A\n")
    result = _fuse("run", "bom.fuse", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
