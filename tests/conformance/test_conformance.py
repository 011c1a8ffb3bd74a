"""Every conformance case on every backend, against the case's NumPy
reference. A backend that cannot be imported fails its cases: the suite
exists to show that all backends implement the whole language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .programs import CASES, Case

BACKENDS = ["numpy", "torch", "jax"]


def as_numpy(value: Any) -> np.ndarray:
    """A result of any backend (NumPy array, torch tensor, JAX array)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@pytest.mark.parametrize("backend", BACKENDS)
def test_case(backend: str, case: Case, tmp_path: Path) -> None:
    runner = case.program(tmp_path).compile(backend=backend, config=case.config)
    outputs = runner.run(case.inputs or None)
    expected = case.expected()
    assert sorted(outputs) == sorted(expected)
    for name, value in expected.items():
        actual = as_numpy(outputs[name])
        assert actual.dtype == np.float32, name
        assert actual.shape == np.shape(value), name
        if name in case.exact:
            np.testing.assert_array_equal(actual, value, err_msg=name)
        else:
            np.testing.assert_allclose(actual, value, rtol=case.rtol, atol=case.atol, err_msg=name)
