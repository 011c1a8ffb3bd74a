"""IR given to `fuse-opt` ends in a result or a located diagnostic (issue
11): block labels in single-block regions, and division by a literal zero
of either sign on the way to a backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fuse.config import ExecutionConfig
from fuse.lowering.numpy import NumpyBackend
from fuse.opt import main
from fuse.pipeline import DECLARATIVE_PASSES, dataflow_passes
from tests.ir_helpers import parse_module

INPUTS = Path(__file__).resolve().parent.parent / "lit_tests" / "tools" / "Inputs"

RULE = """\
  fuse.rule @B[i] sum {
    %0 = fuse.load @A[i] : !fuse.expr<i>
    fuse.yield %0 : !fuse.expr<i>
  }
"""


def _program(body: str) -> str:
    return (
        "fuse.program {\n"
        f"{body}"
        "  fuse.tensor @A[i] input : tensor<3xf32>\n"
        "  fuse.tensor @B[i] : tensor<?xf32>\n"
        f"{RULE}"
        "  fuse.export @B\n"
        "}\n"
    )


def _run(tmp_path: Path, text: str, *argv: str) -> int:
    path = tmp_path / "odd.mlir"
    path.write_text(text)
    return main([str(path), *argv])


def test_a_label_on_the_only_block_is_valid_mlir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`^bb0:` opening a region's only block changes nothing: the output is
    that of the same IR without it."""
    assert _run(tmp_path, _program("")) == 0
    unlabelled = capsys.readouterr().out
    assert _run(tmp_path, _program("^bb0:\n")) == 0
    assert capsys.readouterr().out == unlabelled


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        (
            "  fuse.export @A\n^bb1:\n",
            "odd.mlir:3:1:",
            "block ^bb1 is a second block in a 'fuse.program' region; "
            "regions in Fuse IR hold a single block",
        ),
        (
            "^bb0(%x: f32):\n",
            "odd.mlir:2:1:",
            "the body of 'fuse.program' takes no block arguments",
        ),
    ],
)
def test_a_second_block_or_block_arguments_are_located_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, where: str, message: str
) -> None:
    assert _run(tmp_path, _program(body), "-p", "fuse-canonicalize-projections") == 1
    assert capsys.readouterr().err.splitlines()[0].endswith(f"{where} error: {message}")


def test_a_second_block_in_a_rule_body_is_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _program("").replace("    fuse.yield", "  ^bb1:\n    fuse.yield")
    assert _run(tmp_path, text) == 1
    assert "odd.mlir:6:3: error: block ^bb1 is a second block in a 'fuse.rule' region" in (
        capsys.readouterr().err
    )


def _backend(name: str):
    if name == "torch":
        from fuse.lowering.torch import TorchBackend

        return TorchBackend()
    if name == "jax":
        from fuse.lowering.jax.backend import JaxBackend

        return JaxBackend()
    return NumpyBackend()


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_division_by_a_literal_zero_of_either_sign_is_ieee_division(
    capsys: pytest.CaptureFixture[str], backend: str
) -> None:
    """`A / -0.0`, `A / 0.0` and a projected `sum_j A / -0.0` (which the
    dataflow emitter turns into a product with the folded reciprocal) give
    what NumPy's float32 division gives: signed infinities, NaN for 0/0."""
    pipeline = [*DECLARATIVE_PASSES, *dataflow_passes(ExecutionConfig())]
    assert main([str(INPUTS / "odd_zero_divisor.mlir"), "-p", ",".join(pipeline)]) == 0
    module = parse_module(capsys.readouterr().out)
    a = np.array([[1.0, 2.0], [-1.0, 3.0], [0.0, 1.0]], dtype=np.float32)
    executable = _backend(backend).compile(module, ExecutionConfig(device="cpu"))
    neg, pos, total = (np.asarray(result) for result in executable([a]))
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_neg = a / np.float32(-0.0)
        expected_pos = a / np.float32(0.0)
        expected_total = expected_neg.sum(axis=1)
    np.testing.assert_array_equal(neg, expected_neg)
    np.testing.assert_array_equal(pos, expected_pos)
    np.testing.assert_array_equal(total, expected_total)
    assert np.signbit(neg[0]).all() and not np.signbit(pos[0]).any()
