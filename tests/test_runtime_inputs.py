"""Values given in `run(inputs=...)`: real arrays in any form are taken,
anything that is not a real number, or would change on conversion to fp32,
is a `FuseError` naming the input, on every backend."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from fuse import Program
from fuse.errors import FuseError

BACKENDS = ["numpy", "jax", "torch"]
PROGRAM = "Y[i] = X[i] + 1\nexport Y\n"


def _run(backend: str, value: Any) -> np.ndarray:
    result = Program(PROGRAM).compile(backend=backend).run({"X": value})["Y"]
    return np.asarray(result.detach() if hasattr(result, "detach") else result)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "value",
    [
        np.array([True, False]),
        np.array([3, -2], dtype=np.int64),
        np.array([7, 200], dtype=np.uint8),
        np.array([0.5, 2.0], dtype=np.float64),
        np.array([0.5, 2.0], dtype=np.float16),
        [1, 2.5],
        torch.tensor([1.0, 2.0], dtype=torch.float64),
        torch.tensor([1, 2]),
    ],
    ids=["bool", "int64", "uint8", "float64", "float16", "list", "torch64", "torch-int"],
)
def test_real_inputs_are_taken(backend: str, value: Any) -> None:
    expected = np.asarray(value.numpy() if hasattr(value, "numpy") else value, np.float64) + 1
    np.testing.assert_allclose(_run(backend, value), expected, rtol=1e-3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_non_finite_values_pass_unchanged(backend: str) -> None:
    value = np.array([-np.inf, np.inf, np.nan, 1e30], dtype=np.float64)
    expected = np.array([-np.inf, np.inf, np.nan, 1e30], np.float32)
    np.testing.assert_array_equal(_run(backend, value), expected)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.array([1 + 2j, 3]), r"input 'X' has complex values \(dtype complex128\)"),
        (torch.tensor([1 + 2j, 3]), r"input 'X' has complex values \(dtype torch.complex64\)"),
        (np.array([1, None], dtype=object), r"input 'X' has Python object values"),
        (["a", "b"], r"input 'X' has string values"),
        ("ab", r"input 'X' has string values"),
        ([1, "b"], r"input 'X' has string values"),
        ([[1], [1, 2]], r"input 'X' is not a rectangular array of numbers"),
        (np.array([1e300, 1.0]), r"input 'X' holds the finite value 1e\+300, beyond the float32"),
        ([-1e39, np.inf], r"input 'X' holds the finite value 1e\+39, beyond the float32"),
        (torch.tensor([1e300], dtype=torch.float64), r"input 'X' holds the finite value 1e\+300"),
    ],
    ids=[
        "complex",
        "torch-complex",
        "object",
        "strings",
        "string",
        "mixed",
        "ragged",
        "overflow",
        "overflow-list",
        "torch-overflow",
    ],
)
def test_other_inputs_are_errors_naming_the_input(backend: str, value: Any, message: str) -> None:
    with pytest.raises(FuseError, match=message):
        _run(backend, value)
