"""Monte-Carlo projection (`projection="monte_carlo"`) on every backend:
reproducible for a seed, unbiased over seeds, exact where sampling would not
pay, lower variance than uniform sampling thanks to the importance proposal;
and `fuse.sample` itself draws from the distribution it is given."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from ir_helpers import parse_module

from fuse import ExecutionConfig, Program
from fuse.pipeline import dataflow_passes
from fuse.runtime.runner import get_backend

BACKENDS = ["numpy", "torch", "jax"]

# Two projected letters (j: 300, k: 400) in one einsum, and a mean over j.
CHAIN = Program("Z[i] = A[i, j] B[j, k] C[k]\nM[i] avg= A[i, j]\nexport Z\nexport M\n")
RNG = np.random.default_rng(11)
INPUTS = {
    "A": RNG.standard_normal((4, 300)).astype(np.float32),
    "B": RNG.standard_normal((300, 400)).astype(np.float32),
    "C": RNG.standard_normal(400).astype(np.float32),
}
EXACT = {
    "Z": INPUTS["A"].astype(np.float64) @ INPUTS["B"] @ INPUTS["C"],
    "M": INPUTS["A"].astype(np.float64).mean(axis=1),
}


def as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value, dtype=np.float64)


def estimate(
    backend: str, seed: int, samples: int = 50, program: Program = CHAIN, inputs=INPUTS
) -> dict[str, np.ndarray]:
    config = ExecutionConfig(projection="monte_carlo", samples=samples, seed=seed, device="cpu")
    outputs = program.compile(backend=backend, config=config).run(inputs=inputs)
    return {name: as_numpy(value) for name, value in outputs.items()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_seed_reproduces_its_estimate(backend: str) -> None:
    first, again, other = estimate(backend, 3), estimate(backend, 3), estimate(backend, 4)
    for name in EXACT:
        np.testing.assert_array_equal(first[name], again[name])
        assert not np.array_equal(first[name], other[name])


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_mean_over_seeds_converges_to_the_exact_value(backend: str) -> None:
    """The mean of K independent estimates is within 4 standard errors of
    the exact value (sample standard deviation over the seeds)."""
    runs = [estimate(backend, seed) for seed in range(30)]
    for name, exact in EXACT.items():
        values = np.stack([run[name] for run in runs])
        error = np.abs(values.mean(axis=0) - exact)
        standard_error = values.std(axis=0, ddof=1) / np.sqrt(len(runs))
        assert np.all(error <= 4 * standard_error), (name, error / standard_error)
        assert np.all(standard_error > 0)  # really sampled


@pytest.mark.parametrize("backend", BACKENDS)
def test_enough_samples_leave_the_sum_exact(backend: str) -> None:
    config = ExecutionConfig(device="cpu")
    exact = CHAIN.compile(backend=backend, config=config).run(inputs=INPUTS)
    sampled = estimate(backend, seed=1, samples=400)
    for name in EXACT:
        np.testing.assert_array_equal(sampled[name], as_numpy(exact[name]))


def test_the_importance_proposal_beats_uniform_sampling_on_skewed_data() -> None:
    """A matvec dominated by a few large columns: the proposal samples them
    often; uniform sampling rarely sees them. The uniform estimator's
    variance is known in closed form: (J sum_j f_j^2 - (sum_j f_j)^2) / S."""
    program = Program("Y[i] = A[i, j] X[j]\nexport Y\n")
    rng = np.random.default_rng(5)
    size, samples = 2000, 100
    x = rng.uniform(0.0, 0.1, size).astype(np.float32)
    x[rng.choice(size, 10, replace=False)] = 50.0
    inputs = {"A": rng.uniform(0.5, 1.5, (3, size)).astype(np.float32), "X": x}
    runs = np.stack([estimate("numpy", s, samples, program, inputs)["Y"] for s in range(40)])
    terms = inputs["A"].astype(np.float64) * x
    uniform_variance = (size * (terms**2).sum(axis=1) - terms.sum(axis=1) ** 2) / samples
    assert np.all(runs.var(axis=0, ddof=1) < uniform_variance / 10)


SAMPLE = """
func.func @main(%q: tensor<6xf32> {fuse.name = "q"}, %v: tensor<6xf32> {fuse.name = "v"})
    -> (tensor<4000xf32> {fuse.name = "drawn"}) {
  %idx = fuse.sample %q samples 4000 seed 9 : tensor<6xf32> -> tensor<4000xi32>
  %drawn = fuse.gather %v dim 0 (%idx) : (tensor<6xf32>, tensor<4000xi32>) -> tensor<4000xf32>
  func.return %drawn : tensor<4000xf32>
}
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_sample_draws_from_the_normalized_weights(backend: str) -> None:
    """Frequencies of 4000 draws against unnormalized weights with a zero:
    within 4 binomial standard deviations, and never the zero-weight one."""
    weights = np.array([1.0, 0.0, 2.0, 3.0, 0.5, 1.5], dtype=np.float32)
    run = get_backend(backend).compile(parse_module(SAMPLE), ExecutionConfig(device="cpu"))
    drawn = as_numpy(run([weights, np.arange(6, dtype=np.float32)])[0]).astype(int)
    p = weights / weights.sum()
    counts = np.bincount(drawn, minlength=6)
    assert counts[1] == 0
    assert np.all(np.abs(counts - 4000 * p) <= 4 * np.sqrt(4000 * p * (1 - p)) + 1e-9)


def test_the_pipeline_samples_before_choosing_contraction_paths() -> None:
    passes = dataflow_passes(ExecutionConfig(projection="monte_carlo", samples=8))
    assert "fuse-monte-carlo{samples=8 seed=0}" in passes  # no seed: 0
    assert passes.index("fuse-monte-carlo{samples=8 seed=0}") < passes.index(
        "fuse-einsum-path{strategy=auto}"
    )
    assert not any("monte-carlo" in p for p in dataflow_passes(ExecutionConfig()))
