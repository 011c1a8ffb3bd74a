"""Random programs (tests/generated_programs.py) on every backend, against
the generator's own NumPy reference evaluator, which reads the semantics of
DESIGN.md section 3 without using the compiler.

`FUSE_FUZZ_EXAMPLES` sets how many programs to draw (default 150, small
enough for CI); scripts/fuzz_programs.sh N runs a long campaign."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from generated_programs import (
    Access,
    Call,
    Equation,
    Expr,
    GeneratedProgram,
    Literal,
    Negate,
    Power,
    Product,
    Sum,
    evaluate,
    programs,
    render,
    render_expr,
)
from hypothesis import HealthCheck, assume, given, settings

from fuse import Program

# `FUSE_FUZZ_BACKENDS=jax` (comma-separated) runs a campaign on fewer backends;
# the programs drawn for a seed stay the same.
BACKENDS = tuple(os.environ.get("FUSE_FUZZ_BACKENDS", "numpy,torch,jax").split(","))
EXAMPLES = int(os.environ.get("FUSE_FUZZ_EXAMPLES", "150"))
# A file that holds the program being run (scripts/fuzz_programs.sh sets it):
# a backend that aborts the process leaves its program there.
LAST_CASE = os.environ.get("FUSE_FUZZ_LAST_CASE")
RTOL = 1e-4  # fp32 runs against a float64 reference
ATOL_PER_BOUND = 1e-5  # absolute tolerance per unit of the value's magnitude bound


def as_numpy(value: Any) -> np.ndarray:
    """A result of any backend (NumPy array, torch tensor, JAX array)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value)


def check_on_every_backend(program: GeneratedProgram) -> None:
    """Compile `program` once per backend, run it and compare every tensor
    it defines with the reference."""
    reference = evaluate(program)
    assume(not reference.ambiguous)  # a Boolean step too close to 0 for fp32
    text = render(program)
    for backend in BACKENDS:
        if LAST_CASE is not None:  # survives a process abort, which Hypothesis cannot report
            Path(LAST_CASE).write_text(f"// backend: {backend}\n{text}")
        outputs = (
            Program(text, "generated.fuse").compile(backend=backend).run(program.runtime_inputs())
        )
        assert sorted(outputs) == sorted(reference.values), (backend, text)
        for name, expected in reference.values.items():
            actual = as_numpy(outputs[name])
            assert actual.shape == expected.shape, (backend, name, text)
            np.testing.assert_allclose(
                actual,
                expected,
                rtol=RTOL,
                atol=ATOL_PER_BOUND * max(1.0, reference.bounds[name]),
                err_msg=f"{backend}: {name} of\n{text}",
            )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(programs())
def test_generated_programs_agree_with_the_reference(program: GeneratedProgram) -> None:
    check_on_every_backend(program)


# --- the reference evaluator on DESIGN.md's own examples ---------------------------
# (so that agreement with it means something: it is checked here against
# NumPy written out by hand, without the compiler)

X = np.random.default_rng(0).uniform(-1.0, 1.0, (3, 4))
V = np.random.default_rng(1).uniform(-1.0, 1.0, 4)
W = np.random.default_rng(2).uniform(-1.0, 1.0, 3)


def reference(lhs: tuple[str, ...], operator: str, rhs: Expr) -> np.ndarray:
    program = GeneratedProgram({"i": 3, "i'": 3, "j": 4}, {"X": X, "V": V, "W": W})
    program.equations.append(Equation("Y", lhs, operator, rhs))
    return evaluate(program).values["Y"]


def test_reference_projects_each_term_of_a_sum_alone() -> None:
    # Y[i] = X[i,j] V[j] + X[i,j] + W[i]
    rhs = Sum(
        (
            Product((Access("X", ("i", "j")), Access("V", ("j",))), ("",)),
            Access("X", ("i", "j")),
            Access("W", ("i",)),
        ),
        (1, 1, 1),
    )
    np.testing.assert_allclose(reference(("i",), "=", rhs), X @ V + X.sum(1) + W)


def test_reference_takes_max_over_a_sum_as_a_whole() -> None:
    # Y[i] max= W[i] - X[i,j]  is  W[i] - min_j X[i,j]
    rhs = Sum((Access("W", ("i",)), Access("X", ("i", "j"))), (1, -1))
    np.testing.assert_allclose(reference(("i",), "max=", rhs), W - X.min(1))


def test_reference_projects_inside_a_call_argument() -> None:
    # Y[i] = relu(X[i,j] V[j] + W[i])
    rhs = Call(
        "relu",
        Sum(
            (Product((Access("X", ("i", "j")), Access("V", ("j",))), ("",)), Access("W", ("i",))),
            (1, 1),
        ),
    )
    np.testing.assert_allclose(reference(("i",), "=", rhs), np.maximum(X @ V + W, 0))


def test_reference_projects_a_joining_product_under_a_power() -> None:
    # Y[i,i'] = (X[i,j] X[i',j])^2  is  (sum_j x x')^2 (polynomial kernel)
    rhs = Power(Product((Access("X", ("i", "j")), Access("X", ("i'", "j"))), ("",)), 2)
    np.testing.assert_allclose(reference(("i", "i'"), "=", rhs), (X @ X.T) ** 2)


def test_reference_projects_a_sum_under_a_power_over_the_power() -> None:
    # Y[i,i'] = (X[i,j] - X[i',j])^2  is  sum_j (x - x')^2 (Gaussian kernel's distance)
    rhs = Power(Sum((Access("X", ("i", "j")), Access("X", ("i'", "j"))), (1, -1)), 2)
    expected = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(reference(("i", "i'"), "=", rhs), expected)


def test_reference_projects_a_parenthesized_sum_term_by_term() -> None:
    # Y[i] = 2 (X[i,j] + W[i])  is  2 (sum_j X[i,j] + W[i])
    rhs = Product(
        (Literal(2.0), Sum((Access("X", ("i", "j")), Access("W", ("i",))), (1, 1))), ("",)
    )
    np.testing.assert_allclose(reference(("i",), "=", rhs), 2 * (X.sum(1) + W))


def test_reference_renders_what_it_evaluates() -> None:
    rhs = Product(
        (
            Negate(Access("W", ("i",))),
            Power(Sum((Access("X", ("i", "j")), Literal(1.0)), (1, -1)), 2),
        ),
        ("*",),
    )
    assert render_expr(rhs) == "-W[i] * (X[i, j] - 1)^2"
