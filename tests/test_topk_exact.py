"""`topk` keeps exactly the k largest entries along its axis (ties: the lower
position) on every backend, whatever the operand's expression.

The jax backend once kept the entries equal to the k-th largest value by
comparing the operand with the value its sort returned; XLA recomputed the
operand in two fusions, one with an FMA, so the comparison failed and whole
rows came out zero (more often or less depending on what else the program
exported). The reference below is written from the semantics alone.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from conformance.test_conformance import BACKENDS, as_numpy
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import Program
from fuse.runtime.runner import Runner

SIZES = {"n": 5, "j": 3, "i": 4}
EXAMPLE = "T[j,i,n] = topk(A[n,j] + B[n] C[i,n], axis={axis}, k={k})\n"


def reference_topk(x: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Each fiber along `axis` keeps its k largest entries, equal values
    ranked by lower position first; every other entry is 0."""
    fibers = np.moveaxis(x, axis, -1)
    kept = np.zeros_like(fibers)
    for index in np.ndindex(fibers.shape[:-1]):
        fiber = fibers[index]
        order = sorted(range(len(fiber)), key=lambda p: (-fiber[p], p))
        for p in order[:k]:
            kept[index][p] = fiber[p]
    return np.moveaxis(kept, -1, axis)


def expected(inputs: dict[str, np.ndarray], k: int, axis: str) -> np.ndarray:
    """`EXAMPLE` computed in float32 NumPy, laid out as T[j, i, n]."""
    a, b, c = inputs["A"], inputs["B"], inputs["C"]
    x = a.T[:, None, :] + (b[None, :] * c)[None, :, :]  # [j, i, n]
    return reference_topk(x, k, "jin".index(axis))


@functools.cache
def runner(backend: str, text: str) -> Runner:
    return Program(text, "topk.fuse").compile(backend=backend)


def run_all(text: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {b: as_numpy(runner(b, text).run(inputs)["T"]) for b in BACKENDS}


# Factors with few significant bits: B[n] C[i,n] is exact in float32, so an
# FMA and a separate multiply-add round A + B C alike and every backend must
# agree with the NumPy reference bit for bit. Small integers give ties; the
# scales give large and small magnitudes.
scaled_integers = st.builds(
    lambda m, e: np.float32(m * 2.0**e),
    st.integers(-8, 8),
    st.sampled_from([-20, -3, 0, 3, 20]),
)
any_float32 = st.floats(
    min_value=-(2.0**100), max_value=2.0**100, width=32, allow_nan=False, allow_subnormal=False
)


def arrays(shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> st.SearchStrategy:
    count = int(np.prod(shape))
    return st.lists(elements, min_size=count, max_size=count).map(
        lambda values: np.array(values, dtype=np.float32).reshape(shape)
    )


@settings(max_examples=30, deadline=None)
@given(
    k=st.integers(1, 4),
    axis=st.sampled_from(["n", "j", "i"]),
    a=arrays((SIZES["n"], SIZES["j"]), st.one_of(scaled_integers, any_float32)),
    b=arrays((SIZES["n"],), scaled_integers),
    c=arrays((SIZES["i"], SIZES["n"]), scaled_integers),
)
def test_topk_of_an_expression_is_exact_on_every_backend(
    k: int, axis: str, a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> None:
    inputs = {"A": a, "B": b, "C": c}
    text = EXAMPLE.format(axis=axis, k=k) + "export T\n"
    want = expected(inputs, k, axis)
    for backend, got in run_all(text, inputs).items():
        np.testing.assert_array_equal(got, want, err_msg=backend)


def random_inputs(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {"A": (5, 3), "B": (5,), "C": (4, 5)}
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}


@pytest.mark.parametrize("extra", ["export T\n", "U = S\nexport T, U\n"])
def test_issue_example_keeps_one_entry_per_row(extra: str) -> None:
    """The reported program, with and without an unrelated export, on random
    normal inputs: the kept positions match the reference exactly (the kept
    values may differ by an FMA's rounding, hence the tolerance)."""
    text = EXAMPLE.format(axis="n", k=1) + extra
    for seed in range(10):
        inputs = random_inputs(seed)
        if "U" in extra:
            inputs["S"] = np.float32(seed)
        want = expected(inputs, 1, "n")
        for backend, got in run_all(text, inputs).items():
            message = f"{backend}, seed {seed}"
            np.testing.assert_array_equal(got != 0, want != 0, err_msg=message)
            np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=message)
