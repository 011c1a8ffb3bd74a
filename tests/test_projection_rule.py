"""The projection rule of DESIGN.md §3 (an index is projected where it is
joined), end to end on every backend against NumPy references written from
the rule, not from the compiler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fuse import Program

BACKENDS = ["numpy", "torch", "jax"]
Arrays = dict[str, np.ndarray]


def as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value)


def run(backend: str, text: str, inputs: Arrays) -> Arrays:
    outputs = Program(text, "projection.fuse").compile(backend=backend).run(inputs)
    return {name: as_numpy(value) for name, value in outputs.items()}


def normal(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def f64(inputs: Arrays) -> Arrays:
    return {name: value.astype(np.float64) for name, value in inputs.items()}


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


# (name, program, inputs, reference over float64 inputs)
EXAMPLES: list[tuple[str, str, Arrays, Callable[[Arrays], Arrays]]] = [
    (
        "polynomial_kernel_sums_before_the_power",
        "K[i, i'] = (X[i, j] X[i', j])^3\nexport K",
        {"X": normal(1, 4, 3)},
        lambda a: {"K": (a["X"] @ a["X"].T) ** 3},
    ),
    (
        "gaussian_kernel_sums_the_squared_difference",
        "K[i, i'] = exp(-(X[i, j] - X[i', j])^2 / V)\nexport K",
        {"X": normal(2, 5, 3), "V": np.float32(2.0)},
        lambda a: {"K": np.exp(-((a["X"][:, None, :] - a["X"][None, :, :]) ** 2).sum(-1) / a["V"])},
    ),
    (
        "euclidean_norm",
        "N = (Z[i]^2)^0.5\nexport N",
        {"Z": normal(3, 6)},
        lambda a: {"N": np.linalg.norm(a["Z"])},
    ),
    (
        "parentheses_only_group",
        "P[i] = (A[i, j] + B[i])\nQ[i] = 1 (A[i, j] + B[i])\nS[i] = A[i, j] + B[i]\nexport P, Q, S",
        {"A": normal(4, 3, 5), "B": normal(5, 3)},
        lambda a: dict.fromkeys("PQS", a["A"].sum(1) + a["B"]),
    ),
    (
        "max_projects_a_sum_as_a_whole",
        "M[i] max= B[i] - A[i, j]\nexport M",
        {"A": normal(6, 3, 5), "B": normal(7, 3)},
        lambda a: {"M": a["B"] - a["A"].min(1)},
    ),
    (
        "max_projects_a_whole_product",
        "M[i] max= -A[i, j] C[i]\nexport M",
        {"A": normal(8, 4, 5), "C": normal(9, 4)},
        lambda a: {"M": (-a["A"] * a["C"][:, None]).max(1)},
    ),
    (
        "relu_sums_over_the_first_term_inside",
        "Y[i] = relu(W[i, j] X[j] + B[i])\nexport Y",
        {"W": normal(10, 4, 3), "X": normal(11, 3), "B": normal(12, 4)},
        lambda a: {"Y": relu(a["W"] @ a["X"] + a["B"])},
    ),
    (
        "a_sum_of_terms_is_two_equations",
        "L[i] = 2 (A[i, j] + B[i]) + C[i, j] D[j]\n"
        "M[i] = 2 (A[i, j] + B[i])\nM[i] += C[i, j] D[j]\nexport L, M",
        {"A": normal(13, 3, 4), "B": normal(14, 3), "C": normal(15, 3, 4), "D": normal(16, 4)},
        lambda a: dict.fromkeys("LM", 2 * (a["A"].sum(1) + a["B"]) + a["C"] @ a["D"]),
    ),
    (
        "each_product_term_sums_its_own_index",
        "Y[i] = A[i, j] B[j] + C[i, j] D[j]\nexport Y",
        {"A": normal(17, 3, 4), "B": normal(18, 4), "C": normal(19, 3, 4), "D": normal(20, 4)},
        lambda a: {"Y": a["A"] @ a["B"] + a["C"] @ a["D"]},
    ),
    (
        "avg_of_a_squared_difference",
        "V[i] avg= (A[i, j] - B[i])^2\nW[i] avg= A[i, j] + B[i]\nexport V, W",
        {"A": normal(21, 3, 6), "B": normal(22, 3)},
        lambda a: {
            "V": ((a["A"] - a["B"][:, None]) ** 2).mean(1),
            "W": a["A"].mean(1) + a["B"],
        },
    ),
    (
        "division_by_a_tensor_is_a_factor",
        "Y[i] = A[i, j] / C[j]\nexport Y",
        {"A": normal(23, 3, 4), "C": normal(24, 4) + np.float32(3)},
        lambda a: {"Y": (a["A"] / a["C"]).sum(1)},
    ),
]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example[0])
@pytest.mark.parametrize("backend", BACKENDS)
def test_projection_rule_example(
    backend: str, example: tuple[str, str, Arrays, Callable[[Arrays], Arrays]]
) -> None:
    _, text, inputs, reference = example
    outputs = run(backend, text, inputs)
    expected = reference(f64(inputs))
    assert sorted(outputs) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(outputs[name], value, rtol=1e-4, atol=1e-5, err_msg=name)
