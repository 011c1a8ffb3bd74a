"""A relation given as data is Boolean like one given by rules.

`M(i, j) = "m.tsv"` (a source written with parentheses), and a runtime
input overriding that file, go through `step` before anything reads them (DESIGN.md section 3: a
Boolean tensor's value is 1 where its combined value is > 0), so a count
or weight in the file does not leak into a join: `M(i, j) W[j]` sums the
`W[j]` of the true elements. Checked on every backend against NumPy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuse import Program

BACKENDS = ["numpy", "torch", "jax"]

JOIN = """
Y[i] = M(i, j) W[j]
export M, Y
"""


def run(text: str, path: Path, backend: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    out = Program(text, str(path)).compile(backend).run(inputs=inputs)
    return {name: np.asarray(value) for name, value in out.items()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_relation_read_from_a_file_is_stepped(backend: str, tmp_path: Path) -> None:
    (tmp_path / "m.tsv").write_text("0\t2\n3\t0.5\n")
    w = np.array([1.0, 10.0])
    out = run('M(i, j) = "m.tsv"\n' + JOIN, tmp_path / "p.fuse", backend, W=w)
    expected = np.array([[0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(out["M"], expected)
    np.testing.assert_allclose(out["Y"], expected @ w)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=10, deadline=None)
@given(
    # XLA on CPU flushes fp32 subnormals to zero, so a subnormal is false there.
    m=arrays(np.float32, (3, 4), elements=st.floats(-5, 5, width=32, allow_subnormal=False)),
    w=arrays(np.float64, 4, elements=st.floats(-5, 5, allow_nan=False)),
)
def test_a_relation_given_at_run_time_is_stepped(
    backend: str, m: np.ndarray, w: np.ndarray
) -> None:
    """A runtime input overrides the source's file (never read here)."""
    out = run('M(i, j) = "absent.tsv"\n' + JOIN, Path("p.fuse"), backend, M=m, W=w)
    relation = (m > 0).astype(np.float64)
    np.testing.assert_array_equal(out["M"], relation)
    np.testing.assert_allclose(out["Y"], relation @ w, rtol=1e-5, atol=1e-4)
