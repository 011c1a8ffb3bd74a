"""Optimizers written as equations that step several tensors together
(docs/learning.md, "Several tensors in one loop"): momentum on a two-layer
perceptron (two weight matrices and their velocities) and Adam (the moments
beside the weights, bias correction through the step number). Each is
checked on every backend against the optimizer written by hand in NumPy
from its textbook definition."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import FuseError, Program

BACKENDS = ["numpy", "torch", "jax"]

MOMENTUM_MLP = """
S = {steps}
Eta = {eta}
Mu = {mu}
W1[i, h, 0] = Init1[i, h]
W2[h, c, 0] = Init2[h, c]
V1[i, h, 0] = 0
V2[h, c, 0] = 0
V1[i, h, *s+1] = Mu V1[i, h, *s] + G1[i, h]
W1[i, h, *s+1] = W1[i, h, *s] - Eta V1[i, h, *s+1]
V2[h, c, *s+1] = Mu V2[h, c, *s] + G2[h, c]
W2[h, c, *s+1] = W2[h, c, *s] - Eta V2[h, c, *s+1]
H[e, h] = tanh(X[e, i] W1[i, h])
P[e, c.] = softmax(H[e, h] W2[h, c])
Loss = -(Y[e, c] log(P[e, c])) / N
G1[i, h] = grad(Loss, W1[i, h])
G2[h, c] = grad(Loss, W2[h, c])
export W1, W2, V1, Loss
"""

# Adam (Kingma and Ba, Algorithm 1) with its bias correction: s + 1 is the
# step number t, the index s written as a value.
ADAM = """
S = {steps}
Lr = {lr}
B1 = 0.9
B2 = 0.999
W[i, 0] = W0[i]
M[i, 0] = 0
V[i, 0] = 0
M[i, *s+1] = B1 M[i, *s] + (1 - B1) G[i]
V[i, *s+1] = B2 V[i, *s] + (1 - B2) G[i]^2
W[i, *s+1] = W[i, *s] - Lr (M[i, *s+1] / (1 - B1^(s+1))) / (sqrt(V[i, *s+1] / (1 - B2^(s+1))) + 0.00000001)
Loss = (Y[e] - X[e, i] W[i])^2 / N
G[i] = grad(Loss, W[i])
export W, M, V, Loss
"""


def to_numpy(value: object) -> np.ndarray:
    return np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)


@dataclass(frozen=True)
class Classification:
    """A small softmax classification problem and a perceptron's initial weights."""

    x: np.ndarray
    y: np.ndarray
    init1: np.ndarray
    init2: np.ndarray

    @staticmethod
    def draw(examples: int, features: int, hidden: int, classes: int, seed: int) -> Classification:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(examples, features)).astype(np.float32)
        y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, size=examples)]
        init1 = (0.5 * rng.normal(size=(features, hidden))).astype(np.float32)
        init2 = (0.5 * rng.normal(size=(hidden, classes))).astype(np.float32)
        return Classification(x, y, init1, init2)

    def inputs(self) -> dict[str, np.ndarray]:
        return {
            "X": self.x,
            "Y": self.y,
            "Init1": self.init1,
            "Init2": self.init2,
            "N": np.float32(len(self.x)),
        }


def mlp_loss_and_gradients(
    problem: Classification, w1: np.ndarray, w2: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean cross-entropy of softmax(tanh(x w1) w2), and its gradients by
    the chain rule (float64)."""
    x, y = problem.x.astype(np.float64), problem.y.astype(np.float64)
    h = np.tanh(x @ w1)
    logits = h @ w2
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = float(-(y * np.log(p)).sum() / len(x))
    d_logits = (p - y) / len(x)
    g2 = h.T @ d_logits
    g1 = x.T @ ((d_logits @ w2.T) * (1 - h**2))
    return loss, g1, g2


def momentum_by_hand(
    problem: Classification, steps: int, eta: float, mu: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Heavy-ball momentum: v <- mu v + g(w); w <- w - eta v, for both
    layers at once, each step's gradients taken at the same weights."""
    w1, w2 = problem.init1.astype(np.float64), problem.init2.astype(np.float64)
    v1, v2 = np.zeros_like(w1), np.zeros_like(w2)
    for _ in range(steps):
        _, g1, g2 = mlp_loss_and_gradients(problem, w1, w2)
        v1, v2 = mu * v1 + g1, mu * v2 + g2
        w1, w2 = w1 - eta * v1, w2 - eta * v2
    return w1, w2, v1, mlp_loss_and_gradients(problem, w1, w2)[0]


def check_momentum(backend: str, problem: Classification, steps: int, eta: float) -> None:
    text = MOMENTUM_MLP.format(steps=steps, eta=eta, mu=0.9)
    out = Program(text).compile(backend=backend).run(inputs=problem.inputs())
    w1, w2, v1, loss = momentum_by_hand(problem, steps, eta, 0.9)
    np.testing.assert_allclose(to_numpy(out["W1"]), w1, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(to_numpy(out["W2"]), w2, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(to_numpy(out["V1"]), v1, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(to_numpy(out["Loss"]), loss, rtol=1e-4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_momentum_on_a_two_layer_perceptron(backend: str) -> None:
    check_momentum(backend, Classification.draw(12, 4, 5, 3, seed=0), steps=30, eta=0.5)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=4, deadline=None)
@given(
    examples=st.integers(2, 9),
    features=st.integers(1, 4),
    hidden=st.integers(1, 5),
    classes=st.integers(2, 4),
    steps=st.integers(1, 8),
    seed=st.integers(0, 2**16),
)
def test_momentum_over_sizes_and_seeds(
    backend: str, examples: int, features: int, hidden: int, classes: int, steps: int, seed: int
) -> None:
    problem = Classification.draw(examples, features, hidden, classes, seed)
    check_momentum(backend, problem, steps, eta=0.3)


def adam_by_hand(
    x: np.ndarray, y: np.ndarray, w0: np.ndarray, steps: int, lr: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Adam with bias correction on the mean squared error of x w."""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    w = w0.astype(np.float64)
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t in range(1, steps + 1):
        g = -2.0 * x64.T @ (y64 - x64 @ w) / len(x)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        w = w - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w, m, v, float(((y64 - x64 @ w) ** 2).sum() / len(x))


def check_adam(backend: str, examples: int, features: int, steps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(examples, features)).astype(np.float32)
    y = (x @ rng.normal(size=features) + 0.1 * rng.normal(size=examples)).astype(np.float32)
    w0 = rng.normal(size=features).astype(np.float32)
    out = (
        Program(ADAM.format(steps=steps, lr=0.05))
        .compile(backend=backend)
        .run(inputs={"X": x, "Y": y, "W0": w0, "N": np.float32(examples)})
    )
    w, m, v, loss = adam_by_hand(x, y, w0, steps, 0.05)
    np.testing.assert_allclose(to_numpy(out["W"]), w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(out["M"]), m, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(to_numpy(out["V"]), v, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(to_numpy(out["Loss"]), loss, rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_adam_with_bias_correction(backend: str) -> None:
    check_adam(backend, examples=20, features=3, steps=40, seed=0)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=4, deadline=None)
@given(
    examples=st.integers(2, 10),
    features=st.integers(1, 4),
    steps=st.integers(1, 10),
    seed=st.integers(0, 2**16),
)
def test_adam_over_sizes_and_seeds(
    backend: str, examples: int, features: int, steps: int, seed: int
) -> None:
    check_adam(backend, examples, features, steps, seed)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_step_number_in_a_scan(backend: str) -> None:
    """The index written as a value is the step number in any scan:
    virtual (only the last state), stored, and reversed. A tensor named `V`
    beside the step number (an unnamed argument of the scan's step) once
    collided with it in torch's generated code."""
    a = np.array([1.0, -2.0], np.float32)
    zeros = np.zeros(3, np.float32)  # U: gives the stored scan its 3 steps
    programs = {
        "T = 4\nV[i, 0] = A[i]\nV[i, *t+1] = 0.5 V[i, *t] + t\nexport V": [
            0.0625 * a + 0.25 * 1 + 0.5 * 2 + 3
        ],
        "X[i, 0] = A[i]\nX[i, t+1] = 2 X[i, t] + t + U[t]\nexport X": [
            np.stack([a, 2 * a, 4 * a + 1, 8 * a + 4], axis=1)
        ],
        "X[i, 3] = A[i]\nX[i, t] = 2 X[i, t+1] + t\nexport X": [
            np.stack([8 * a + 10, 4 * a + 5, 2 * a + 2, a], axis=1)
        ],
    }
    for text, (expected,) in programs.items():
        inputs = {"A": a, "U": zeros} if "U[t]" in text else {"A": a}
        out = Program(text).compile(backend=backend).run(inputs=inputs)
        (value,) = out.values()
        np.testing.assert_allclose(to_numpy(value), expected, rtol=1e-6)


def test_gradient_through_a_scan_that_reads_its_step_number() -> None:
    """fuse-autodiff differentiates a scan whose step reads the step number
    (a scanned constant, with no gradient of its own): against central
    differences of the recurrence computed by hand."""
    program = (
        "X[i, 3] = A[i]\nX[i, t] = tanh(W X[i, t+1] + 0.5 t)\nLoss = X[i, 0] X[i, 0]\nexport Loss"
    )
    a = np.array([0.3, -0.7], np.float32)

    def loss(w: float) -> float:
        x = a.astype(np.float64)
        for t in (2, 1, 0):
            x = np.tanh(w * x + 0.5 * t)
        return float((x**2).sum())

    for backend in BACKENDS:
        runner = Program(program).compile(backend=backend)
        value, grads = runner.value_and_grad(
            loss="Loss", wrt=["W"], inputs={"A": a, "W": np.float32(0.8)}
        )
        numeric = (loss(0.8 + 1e-6) - loss(0.8 - 1e-6)) / 2e-6
        np.testing.assert_allclose(to_numpy(value), loss(0.8), rtol=1e-5)
        np.testing.assert_allclose(to_numpy(grads["W"]), numeric, rtol=1e-3)


def test_jax_gradient_through_a_virtual_scan_that_reads_its_step_number() -> None:
    """A virtual scan's gradient (fuse-autodiff with cotangents, behind
    `jax.grad` of `xla_callable`) reruns the recurrence as a stored scan,
    with the step numbers scanned in as in the forward one."""
    import jax
    import jax.numpy as jnp

    text = "T = 3\nX[i, 0] = A[i]\nX[i, *t+1] = tanh(W X[i, *t] + 0.5 t)\nexport X"
    a = np.array([0.3, -0.7], np.float32)

    def loss(w: float) -> float:
        x = a.astype(np.float64)
        for t in range(3):
            x = np.tanh(w * x + 0.5 * t)
        return float((x**2).sum())

    call = Program(text).compile(backend="jax").xla_callable
    gradient = jax.grad(lambda w: jnp.sum(call({"A": a, "W": w})["X"] ** 2))(jnp.float32(0.8))
    numeric = (loss(0.8 + 1e-6) - loss(0.8 - 1e-6)) / 2e-6
    np.testing.assert_allclose(float(gradient), numeric, rtol=1e-3)


PER_STEP_STEP_NUMBER = [
    "S = 3\nW[i, 0] = A[i]\nW[i, *s+1] = W[i, *s] - G[i, *s]\n"
    "G[i, *s] = grad(Loss[*s], W[i, *s])\nLoss[*s] = W[i, *s] W[i, *s] s\nexport W, Loss",
    # The paper's spelling: the front end gives Loss its *s, and s is its step number.
    "S = 3\nW[i, 0] = A[i]\nW[i, *s+1] = W[i, *s] - G[i]\n"
    "G[i] = grad(Loss, W[i])\nLoss = W[i] W[i] s\nexport W, Loss",
]


@pytest.mark.parametrize("text", PER_STEP_STEP_NUMBER)
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_per_step_tensor_that_reads_the_step_number_holds_its_last_step(
    backend: str, text: str
) -> None:
    """Like one that reads an input's slice at the step, a per-step tensor
    that reads the step number exists for the steps taken only: exported,
    it is its value at the last step (s = 2, before the last update), not
    at the trained weights. Loss[s] = s |W|^2, so G = 2 s W: W goes 1, 1,
    -1, 3 and the last step's loss is 2 |(-1, -1)|^2 = 4."""
    out = Program(text).compile(backend=backend).run(inputs={"A": np.ones(2, np.float32)})
    np.testing.assert_allclose(to_numpy(out["W"]), [3.0, 3.0])
    np.testing.assert_allclose(to_numpy(out["Loss"]), 4.0)


def test_the_step_index_as_a_dimension_in_a_scan_is_located() -> None:
    text = "S = 3\nV[i, 0] = A[i]\nV[i, *s+1] = V[i, *s] + even(s)\nexport V"
    with pytest.raises(FuseError) as error:
        Program(text).compile(backend="numpy").run(inputs={"A": np.ones(2, np.float32)})
    assert (
        "<string>:3:1: error: a virtual index steps a recurrence that runs as a scan, but 'V' "
        "stays a fixpoint: even(s) uses the step index 's' as a dimension; a scan reads it "
        "only as a number (the index written as a value)"
    ) in str(error.value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_further_steps_read_the_step_number_of_their_position(backend: str) -> None:
    """A group member whose previous step nothing reads steps past the scan
    (Agg at l = 3, from the finished Emb); those values read l as the number
    of their position, not from 0."""
    text = (
        "Emb[n, 0] = X[n]\nAgg[n, l] = Emb[n, l] + l\nEmb[n, l+1] = 0.5 Agg[n, l] + U[l]\n"
        "export Agg, Emb"
    )
    x = np.array([1.0, 2.0], np.float32)
    emb, agg = [x.astype(np.float64)], []
    for layer in range(4):
        agg.append(emb[-1] + layer)
        emb.append(0.5 * agg[-1])
    out = Program(text).compile(backend=backend).run(inputs={"X": x, "U": np.zeros(3, np.float32)})
    np.testing.assert_allclose(to_numpy(out["Agg"]), np.stack(agg, axis=1), rtol=1e-6)
    np.testing.assert_allclose(to_numpy(out["Emb"]), np.stack(emb[:4], axis=1), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_index_values_under_index_arithmetic_are_the_position(backend: str) -> None:
    """`Y[i] = X[i - 1] + i` ranges i over 1..3; i as a value is that
    position (the same mechanism as a scan's further steps above)."""
    x = np.array([10.0, 20.0, 30.0], np.float32)
    expected = {
        "Y[i] = X[i - 1] + i": [0.0, 11.0, 22.0, 33.0],
        "Y[i] = X[i - 1] + even(i)": [0.0, 10.0, 21.0, 30.0],
        "Y[i] = X[i - 1] + odd(i)": [0.0, 11.0, 20.0, 31.0],
    }
    for equation, values in expected.items():
        out = Program(f"{equation}\nexport Y").compile(backend=backend).run(inputs={"X": x})
        np.testing.assert_allclose(to_numpy(out["Y"]), values)


def test_a_causal_mask_over_shifted_indices_is_located() -> None:
    text = "Y[i, j] = X[i - 1] X[j] causal_mask(i, j)\nexport Y"
    with pytest.raises(FuseError) as error:
        Program(text).compile().run(inputs={"X": np.ones(3, np.float32)})
    assert (
        "<string>:1:1: error: causal_mask(i, j) over indices that index arithmetic starts at "
        "different values (i from 1, j from 0) is not supported"
    ) in str(error.value)


def test_stepped_tensors_that_read_each_others_next_step_are_located() -> None:
    """Within a step each tensor comes after those whose next value it reads;
    W and V each reading the other's next value have no such order."""
    text = (
        "S = 3\nW[i, 0] = A[i]\nV[i, 0] = A[i]\nW[i, *s+1] = W[i, *s] - G[i] + V[i, *s+1]\n"
        "V[i, *s+1] = V[i, *s] - H[i] + W[i, *s+1]\nG[i] = grad(Loss, W[i])\n"
        "H[i] = grad(Loss, V[i])\nLoss = W[i] V[i]\nexport W, V"
    )
    with pytest.raises(FuseError) as error:
        Program(text).compile().run(inputs={"A": np.ones(2, np.float32)})
    assert (
        "<string>:4:1: error: a virtual index steps a recurrence that runs as a scan, but 'W' "
        "stays a fixpoint: W, V read each other at the same step of their index"
    ) in str(error.value)
