"""NaN in a Boolean context (docs/dsl_reference.md, "Boolean tensors"): a
Boolean tensor's value goes through `step`, 1 where the value is > 0, and
NaN > 0 is false under IEEE 754, so a NaN is false; `not R` is `1 - R`, NaN
again, so `not` of a NaN is false too. Every backend agrees with NumPy's
comparison, also through a negation and through a join (where IEEE makes
`0 * inf` NaN, which the NumPy backend's sparse relations used to drop)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuse import ExecutionConfig, Program

BACKENDS = ["numpy", "torch", "jax"]
# Sums of these are exact in fp32 whatever the order, so the sign decides alone.
VALUES = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, 2.0])
RELATIONS = arrays(np.float32, (3, 3), elements=VALUES)

PROGRAM = """
Any(x) <- E(x, y)
Both(x, y) <- E(x, y), F(x, y)
Only(x, y) <- E(x, y), not F(x, y)
Path(x, z) <- E(x, y), F(y, z)
export Any, Both, Only, Path
"""


def step(value: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (value > 0).astype(np.float32)


def expected(e: np.ndarray, f: np.ndarray) -> dict[str, np.ndarray]:
    """DESIGN.md section 3 written with NumPy: a Boolean tensor is `step` of
    its summed equations, a recursion the least fixpoint from zeros."""
    with np.errstate(invalid="ignore"):
        return {
            "Any": step(e.sum(axis=1)),
            "Both": step(e * f),
            "Only": step(e * (1 - f)),
            "Path": step(e @ f),
        }


@pytest.mark.parametrize(
    ("backend", "relations"),
    [("numpy", "dense"), ("numpy", "sparse"), ("torch", "auto"), ("jax", "auto")],
)
@settings(max_examples=15, deadline=None)
@given(e=RELATIONS, f=RELATIONS)
def test_nan_is_false_in_a_boolean_rule(
    backend: str, relations: str, e: np.ndarray, f: np.ndarray
) -> None:
    config = ExecutionConfig(relations=relations)
    out = Program(PROGRAM).compile(backend, config=config).run({"E": e, "F": f})
    for name, value in expected(e, f).items():
        np.testing.assert_array_equal(np.asarray(out[name]), value, err_msg=name)
