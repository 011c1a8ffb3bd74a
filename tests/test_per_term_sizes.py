"""Per-term index ranges (DESIGN.md §3, projection rule case 4): an index
projected inside one term of a sum is local to that term, so it may have a
different size in each term. `Y[i] = A[i, j] B[j] + C[i, j] D[j]` with `j`
of size 4 in the first term and 2 in the second is `A @ B + C @ D`. The
references below are NumPy written from that reading."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import FuseError, Program

BACKENDS = ["numpy", "torch", "jax"]
Arrays = dict[str, np.ndarray]


def run(text: str, backend: str, inputs: Arrays) -> np.ndarray:
    out = Program(text, "terms.fuse").compile(backend).run(inputs=inputs)
    return np.asarray(out["Y"])


def operands(rows: int, first: int, second: int, seed: int) -> Arrays:
    rng = np.random.default_rng(seed)

    def draw(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    return {"A": draw(rows, first), "B": draw(first), "C": draw(rows, second), "D": draw(second)}


# Each program with its reference: how the two terms' own sums combine.
PROGRAMS: dict[str, Callable[[Arrays], np.ndarray]] = {
    "Y[i] = A[i, j] B[j] + C[i, j] D[j]": lambda x: x["A"] @ x["B"] + x["C"] @ x["D"],
    "Y[i] = A[i, j] B[j] - C[i, j] D[j]": lambda x: x["A"] @ x["B"] - x["C"] @ x["D"],
    # One equation per term: `L = t1 + t2` is `L = t1` plus `L += t2`.
    "Y[i] = A[i, j] B[j]\nY[i] += C[i, j] D[j]": lambda x: x["A"] @ x["B"] + x["C"] @ x["D"],
    # avg= takes each term's mean over its own j.
    "Y[i] avg= A[i, j] B[j] + C[i, j] D[j]": lambda x: (
        (x["A"] * x["B"]).mean(axis=1) + (x["C"] * x["D"]).mean(axis=1)
    ),
    # Inside a call argument, and with the sum parenthesized.
    "Y[i] = relu(A[i, j] B[j] + (C[i, j] D[j]))": lambda x: np.maximum(
        x["A"] @ x["B"] + x["C"] @ x["D"], 0
    ),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("text", list(PROGRAMS))
def test_the_papers_two_term_example(backend: str, text: str) -> None:
    """j of size 4 in the first term and 2 in the second."""
    inputs = operands(3, 4, 2, seed=0)
    expected = PROGRAMS[text](inputs)
    np.testing.assert_allclose(run(text, backend, inputs), expected, rtol=1e-5, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(
    rows=st.integers(1, 4),
    first=st.integers(1, 6),
    second=st.integers(1, 6),
    text=st.sampled_from(list(PROGRAMS)),
    seed=st.integers(0, 2**16),
)
def test_any_two_sizes(rows: int, first: int, second: int, text: str, seed: int) -> None:
    inputs = operands(rows, first, second, seed)
    expected = PROGRAMS[text](inputs)
    np.testing.assert_allclose(run(text, "numpy", inputs), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "Y[i, j] = A[i, j] + C[i, j]",
            "('j' is on the left-hand side of 'Y', so every term shares its size)",
        ),
        (
            "Y[i] max= A[i, j] + C[i, j]",
            "(max= projects 'j' over the sum as a whole, so its terms share its size)",
        ),
    ],
)
def test_an_index_every_term_shares_keeps_one_size(text: str, reason: str) -> None:
    """Where j is not local to a term, its two sizes are a located error
    that says why they must agree."""
    inputs = {name: operands(3, 4, 2, seed=0)[name] for name in "AC"}
    with pytest.raises(FuseError) as raised:
        run(text, "numpy", inputs)
    message = str(raised.value)
    assert "terms.fuse:1:21: error: index 'j' has size 4 in 'A' but size 2 in 'C'" in message
    assert reason in message


def test_a_conflict_inside_one_term_gives_no_per_term_reason() -> None:
    inputs = {name: operands(3, 4, 2, seed=0)[name] for name in "AC"}
    with pytest.raises(FuseError) as raised:
        run("Y[i, j] = A[i, j] C[i, j]", "numpy", inputs)
    assert "index 'j' has size 4 in 'A' but size 2 in 'C'" in str(raised.value)
    assert "every term" not in str(raised.value)
