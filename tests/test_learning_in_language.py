"""Learning written in the language (docs/learning.md): `grad(Loss, W[i])`
names a gradient tensor, and an optimizer is a virtual recurrence over a
step index bounded by a named constant. Checked on every backend against
gradient descent written by hand in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import FuseError, Program

BACKENDS = ["numpy", "torch", "jax"]

LINEAR_REGRESSION = """
S = {steps}
Eta = {eta}
W[i, 0] = W0[i]
W[i, *s+1] = W[i, *s] - Eta G[i, *s]
G[i, *s] = grad(Loss[*s], W[i, *s])
Loss[*s] = (Y[e] - W[i, *s] X[e, i])^2 / N
export W, Loss
"""


# The paper's spelling: the gradient and the loss without the step index
# are the current step's.
PAPER_SPELLING = """
S = {steps}
Eta = {eta}
W[i, 0] = W0[i]
W[i, *s+1] = W[i, *s] - Eta G[i]
G[i] = grad(Loss, W[i])
Loss = (Y[e] - W[i] X[e, i])^2 / N
export W, Loss
"""


def to_numpy(value: object) -> np.ndarray:
    return np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)


def gradient_descent(
    x: np.ndarray, y: np.ndarray, w0: np.ndarray, n: float, eta: float, steps: int
) -> tuple[np.ndarray, float]:
    """Squared loss sum_e (y_e - x_e . w)^2 / n, minimized by hand."""
    w = w0.astype(np.float64)
    for _ in range(steps):
        gradient = -2.0 * x.T @ (y - x @ w) / n
        w = w - eta * gradient
    return w, float(np.sum((y - x @ w) ** 2) / n)


@pytest.mark.parametrize("spelling", [LINEAR_REGRESSION, PAPER_SPELLING])
@pytest.mark.parametrize("backend", BACKENDS)
def test_linear_regression_by_gradient_descent(backend: str, spelling: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    y = (x @ np.array([1.5, -2.0, 0.5]) + 0.1 * rng.normal(size=20)).astype(np.float32)
    w0 = np.zeros(3, np.float32)
    text = spelling.format(steps=40, eta=0.1)
    runner = Program(text).compile(backend=backend)
    out = runner.run(inputs={"X": x, "Y": y, "W0": w0, "N": np.float32(20)})
    w, loss = gradient_descent(x, y, w0, 20.0, 0.1, 40)
    np.testing.assert_allclose(to_numpy(out["W"]), w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(out["Loss"]), loss, rtol=1e-4, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(
    steps=st.integers(1, 6),
    eta=st.sampled_from([0.01, 0.05, 0.2]),
    seed=st.integers(0, 2**16),
)
def test_step_count_is_the_named_constant(steps: int, eta: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(5, 2)).astype(np.float32)
    y = rng.normal(size=5).astype(np.float32)
    w0 = rng.normal(size=2).astype(np.float32)
    runner = Program(LINEAR_REGRESSION.format(steps=steps, eta=eta)).compile(backend="numpy")
    out = runner.run(inputs={"X": x, "Y": y, "W0": w0, "N": np.float32(5)})
    w, _ = gradient_descent(x, y, w0, 5.0, eta, steps)
    np.testing.assert_allclose(out["W"], w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_logistic_regression_matrix_parameter(backend: str) -> None:
    """A matrix parameter, a softmax cross-entropy loss, and the gradient
    exported as a program tensor after the run (at the trained W)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 4)).astype(np.float32)
    labels = rng.integers(0, 3, size=12)
    y = np.eye(3, dtype=np.float32)[labels]
    text = """
    S = 25
    W[i, c, 0] = 0 X[0, i] Y[0, c]
    W[i, c, *s+1] = W[i, c, *s] - 0.5 G[i, c, *s]
    G[i, c, *s] = grad(Loss[*s], W[i, c, *s])
    P[e, c., *s] = softmax(X[e, i] W[i, c, *s])
    Loss[*s] = -(Y[e, c] log(P[e, c, *s])) / 12
    export W, G, Loss
    """
    out = Program(text).compile(backend=backend).run(inputs={"X": x, "Y": y})
    w = np.zeros((4, 3))

    def gradient(w: np.ndarray) -> tuple[np.ndarray, float]:
        logits = x @ w
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        return x.T @ (p - y) / 12, float(-(y * np.log(p)).sum() / 12)

    for _ in range(25):
        w = w - 0.5 * gradient(w)[0]
    g, loss = gradient(w)
    np.testing.assert_allclose(to_numpy(out["W"]), w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(out["G"]), g, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(to_numpy(out["Loss"]), loss, rtol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_outside_a_loop(backend: str) -> None:
    """`G[i, j] = grad(Loss, W[i, j])` is a tensor later equations use."""
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 4)).astype(np.float32)
    w = rng.normal(size=(4, 2)).astype(np.float32)
    text = """
    H[k, j] = tanh(A[k, i] W[i, j])
    Loss = H[k, j] H[k, j]
    G[i, j] = grad(Loss, W[i, j])
    Norm = G[i, j]^2
    export G, Norm
    """
    out = Program(text).compile(backend=backend).run(inputs={"A": a, "W": w})
    h = np.tanh(a @ w)
    expected = a.T @ (2 * h * (1 - h**2))
    np.testing.assert_allclose(to_numpy(out["G"]), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(out["Norm"]), (expected**2).sum(), rtol=1e-4)


def test_gradient_of_a_loss_that_does_not_depend_on_w_is_zero() -> None:
    out = (
        Program("Loss = A[i] A[i]\nG[j] = grad(Loss, W[j])\nexport G")
        .compile()
        .run(inputs={"A": np.ones(2, np.float32), "W": np.ones(3, np.float32)})
    )
    np.testing.assert_array_equal(out["G"], np.zeros(3))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "W[i, 0] = W0[i]\nW[i, *s+1] = W[i, *s] - G[i, *s]\nG[i, *s] = grad(Loss[*s], W[i, *s])\n"
            "Loss[*s] = W[i, *s] W[i, *s]\nexport W",
            "the range of index 's' is unknown",
        ),
        (
            "S = 0\nW[i, 0] = W0[i]\nW[i, *s+1] = W[i, *s] - G[i, *s]\n"
            "G[i, *s] = grad(Loss[*s], W[i, *s])\nLoss[*s] = W[i, *s] W[i, *s]\nexport W",
            "virtual index '*s' runs 0 steps",
        ),
        (
            "S = 3\nW[i, 0] = W0[i]\nW[i, *s+1] = W[i, *s] - G[i, *s]\n"
            "G[i, *s] = grad(Loss[*s], W[i, *s])\nLoss[*s] = W[i, *s] W[i, *s]\n"
            "Report[*s] = Loss[*s] + 1\nexport W, Report",
            "this reads 'Loss', whose index 's' is virtual",
        ),
        (
            "S = 3\nW[i, 0] = W0[i]\nW[i, *s+1] = W[i, *s] - G[i]\nG[i] = grad(Loss, W[i])\n"
            "Loss = W[i] W[i]\nReport = Loss + 1\nexport W, Report",
            "<string>:6:10: error: 'Loss' is computed at each step of '*s' in the loop of 'W'",
        ),
        (
            "S = 3\nW[i, 0] = W0[i]\nW[i, *s+1] = W[i, *s] - G[i]\nG[i] = grad(Loss, W[i])\n"
            "Loss = W[i] W[i]\nNorm = W[i] W[i]\nexport W, Norm",
            "<string>:6:8: error: 'W' without its index '*s' is its loop's current step",
        ),
        (
            "S = 3\nT = 3\nW[i, 0] = W0[i]\nV[i, 0] = W0[i]\nW[i, *s+1] = W[i, *s] - G[i]\n"
            "V[i, *t+1] = V[i, *t] - H[i]\nG[i] = grad(Loss, W[i])\nH[i] = grad(Loss, V[i])\n"
            "Loss = W[i] V[i]\nexport W, V",
            "<string>:6:1: error: 'W' and 'V' read each other's current step but are stepped "
            "along different virtual indices ('W' along '*s', 'V' along '*t')",
        ),
        (
            "S = 3\nW[i, 0] = W0[i]\nV[i, 0] = W0[i]\nW[i, *s+1] = W[i, *s] - G[i]\n"
            "V[i, *s+1] = V[i, *s] - G[i]\nG[i] = grad(Loss, W[i])\nLoss = W[i] W[i]\n"
            "export W, V",
            "<string>:5:25: error: 'G' is computed at each step of '*s' in the loop of 'W', "
            "which only the equations of that loop read: after the run only its last step "
            "exists, which is what exporting 'G' gives; 'V' steps in a loop of its own, as the "
            "loop of 'W' does not read it",
        ),
    ],
)
def test_loop_errors_are_located(text: str, message: str) -> None:
    with pytest.raises(FuseError) as error:
        Program(text).compile(backend="numpy").run(inputs={"W0": np.ones(2, np.float32)})
    assert message in str(error.value)
    assert "<string>:" in str(error.value)


def test_explain_says_the_loss_and_gradient_run_at_each_step() -> None:
    runner = Program(PAPER_SPELLING.format(steps=3, eta=0.1)).compile(
        input_shapes={"X": (4, 2), "Y": (4,), "W0": (2,), "N": ()}
    )
    text = str(runner.explain())
    assert "runs as a scan: 3 steps, virtual" in text
    assert "runs as a scan: 3 steps, virtual, within each step of the scan of W" in text


def test_a_step_count_that_the_inputs_contradict_is_located() -> None:
    text = "T = 5\nX[i, 0] = X0[i]\nX[i, *t+1] = tanh(X[i, *t] + U[i, t])\nexport X"
    inputs = {"X0": np.ones(2, np.float32), "U": np.ones((2, 2), np.float32)}
    with pytest.raises(FuseError, match=r"<string>:3:1: .*'T = 5' gives '\*t' 5 steps, but"):
        Program(text).compile(backend="numpy").run(inputs=inputs)
