"""`masked_softmax` at its edges, the same on every backend.

Masked positions weigh exactly 0; a row with no unmasked position, or whose
unmasked scores are all -inf, is all zeros (there is nothing to normalize),
never NaN. The reference is written from that rule, row by row.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuse import Program

PROGRAM = """
A[p, q.] = masked_softmax(S[p, q], M[p, q])
export A
"""


def reference(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.zeros(scores.shape, np.float64)
    for r, (row, valid) in enumerate(zip(scores.astype(np.float64), mask > 0, strict=True)):
        if not valid.any() or np.isneginf(row[valid]).all():
            continue
        weights = np.where(valid, np.exp(row - row[valid].max()), 0.0)
        out[r] = weights / weights.sum()
    return out


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@settings(max_examples=10, deadline=None)
@given(
    scores=arrays(
        np.float32,
        (4, 5),
        elements=st.one_of(st.floats(-30, 30, width=32), st.just(-np.inf)),
    ),
    mask=arrays(np.float32, (4, 5), elements=st.sampled_from([0.0, 1.0])),
)
def test_masked_softmax_rows(backend: str, scores: np.ndarray, mask: np.ndarray) -> None:
    mask[0] = 0  # a fully masked row
    scores[1] = -np.inf  # a row whose unmasked scores are all -inf
    out = Program(PROGRAM).compile(backend).run({"S": scores, "M": mask})["A"]
    np.testing.assert_allclose(np.asarray(out), reference(scores, mask), rtol=1e-5, atol=1e-6)
