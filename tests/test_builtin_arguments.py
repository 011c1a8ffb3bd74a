"""Builtin arguments are used, never dropped (DESIGN.md section 3,
"Temperature"): a tensor temperature of `sig`, given by keyword or
positionally, is read at run time; an integer `eps=`/`scale=`/`base=` counts
as much as a float; and an argument a builtin cannot use is a located error
naming it. Each value is checked on every backend against NumPy references
written from docs/dsl_reference.md."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import FuseError, Program

BACKENDS = ["numpy", "torch", "jax"]


def run(text: str, backend: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    result = Program(text, "p.fuse").compile(backend=backend).run(inputs)
    return {name: np.asarray(value) for name, value in result.items()}


# --- references, from the formulas of docs/dsl_reference.md -----------------


def sig_reference(x: np.ndarray, temperature: float | np.ndarray) -> np.ndarray:
    """`1 / (1 + exp(-x / T))`, and `step(x)` where `T == 0`."""
    temperature = np.broadcast_to(np.asarray(temperature, dtype=np.float64), x.shape)
    step = (x > 0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        smooth = 1.0 / (1.0 + np.exp(-x / temperature))
    return np.where(temperature == 0, step, smooth)


def lnorm_reference(x: np.ndarray, eps: float) -> np.ndarray:
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)


def attention_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float) -> np.ndarray:
    scores = scale * q @ k.T
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)) @ v


def rope_reference(x: np.ndarray, base: float) -> np.ndarray:
    positions, features = x.shape
    out = np.empty_like(x, dtype=np.float64)
    for p in range(positions):
        for m in range(0, features, 2):
            theta = p * base ** (-m / features)
            c, s = np.cos(theta), np.sin(theta)
            out[p, m] = x[p, m] * c - x[p, m + 1] * s
            out[p, m + 1] = x[p, m + 1] * c + x[p, m] * s
    return out


def topk_reference(x: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(x)
    for row, values in enumerate(x):
        keep = sorted(range(len(values)), key=lambda j: (-values[j], j))[:k]
        out[row, keep] = values[keep]
    return out


G = np.array([-3.0, -0.5, 0.0, 0.25, 2.0], dtype=np.float32)


# --- sig's temperature ---------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_temperature_defined_by_an_equation_is_used(backend: str) -> None:
    out = run("Temp = 0.5\nY[i] = sig(G[i], T=Temp)\nexport Y\n", backend, G=G)
    np.testing.assert_allclose(out["Y"], sig_reference(G, 0.5), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_temperature_computed_from_other_tensors_is_used(backend: str) -> None:
    """`Temp` is a projection of a runtime input: the dependency graph must
    order it before `Y`."""
    s = np.array([0.5, 1.0, 1.5], dtype=np.float32)
    text = "Y[i] = sig(G[i], T=Temp)\nTemp = S[j] S[j]\nexport Y\n"
    out = run(text, backend, G=G, S=s)
    np.testing.assert_allclose(out["Y"], sig_reference(G, float(s @ s)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("temperature", [3.0, -2.0, 0.0])
def test_positional_runtime_temperature_is_used(backend: str, temperature: float) -> None:
    """A negative temperature flips the curve; zero gives `step`."""
    out = run("Y[i] = sig(G[i], Temp)\nexport Y\n", backend, G=G, Temp=np.float32(temperature))
    np.testing.assert_allclose(out["Y"], sig_reference(G, temperature), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_positional_temperature_expression_is_used(backend: str) -> None:
    out = run("Y[i] = sig(G[i], 2 Temp + 1)\nexport Y\n", backend, G=G, Temp=np.float32(0.5))
    np.testing.assert_allclose(out["Y"], sig_reference(G, 2.0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_projections_stay_inside_the_argument_and_the_temperature(backend: str) -> None:
    """Each call argument is a projection boundary (DESIGN.md section 3), the
    temperature too: `j` is summed in the argument, `k` in `T`."""
    rng = np.random.default_rng(2)
    w, x = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    s = np.array([0.5, 1.0, 1.5], dtype=np.float32)
    text = "Y[i] = sig(W[i, j] X[j], T=S[k] S[k])\nexport Y\n"
    out = run(text, backend, W=w, X=x, S=s)
    np.testing.assert_allclose(out["Y"], sig_reference(w @ x, float(s @ s)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_indexed_temperature_applies_elementwise(backend: str) -> None:
    temperature = np.array([1.0, 0.0, 2.0, 0.0, -1.0], dtype=np.float32)
    out = run("Y[i] = sig(G[i], T=Temp[i])\nexport Y\n", backend, G=G, Temp=temperature)
    np.testing.assert_allclose(out["Y"], sig_reference(G, temperature), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spelling", ["T=0", "0", "T=0.0", "T=-0.5", "-0.5", "T=2", "2"])
def test_literal_temperature_positional_or_keyword(backend: str, spelling: str) -> None:
    value = float(spelling.removeprefix("T="))
    out = run(f"Y[i] = sig(G[i], {spelling})\nexport Y\n", backend, G=G)
    np.testing.assert_allclose(out["Y"], sig_reference(G, value), rtol=1e-5, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(
    # XLA on CPU flushes subnormal floats to zero, so a subnormal T is 0 there.
    temperature=st.sampled_from([0.0, -0.0]) | st.floats(-8, 8, width=32, allow_subnormal=False),
    backend=st.sampled_from(BACKENDS),
)
def test_any_runtime_temperature_matches_the_reference(temperature: float, backend: str) -> None:
    out = run("Y[i] = sig(G[i], T=Temp)\nexport Y\n", backend, G=G, Temp=np.float32(temperature))
    np.testing.assert_allclose(out["Y"], sig_reference(G, temperature), rtol=1e-4, atol=1e-6)


def test_a_missing_runtime_temperature_is_named() -> None:
    with pytest.raises(FuseError, match="Temp"):
        run("Y[i] = sig(G[i], T=Temp)\nexport Y\n", "numpy", G=G)


# --- numbers given as integers -----------------------------------------------

X = np.array([[1.0, 2.0, 4.0, -1.0], [0.5, 0.0, -2.0, 3.0]], dtype=np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("spelling", "eps"), [("eps=1", 1.0), ("eps=1.0", 1.0), ("", 1e-5)])
def test_lnorm_eps_integer_or_float(backend: str, spelling: str, eps: float) -> None:
    keyword = f", {spelling}" if spelling else ""
    out = run(f"Y[r, c.] = lnorm(X[r, c]{keyword})\nexport Y\n", backend, X=X)
    np.testing.assert_allclose(out["Y"], lnorm_reference(X, eps), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_layernorm_integer_eps(backend: str) -> None:
    out = run("Y[r, c.] = layernorm(X[r, c], eps=3)\nexport Y\n", backend, X=X)
    np.testing.assert_allclose(out["Y"], lnorm_reference(X, 3.0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_attention_integer_scale(backend: str) -> None:
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(3, 4)).astype(np.float32) for _ in range(3))
    text = "Y[p, e] = attention(Q[p, d], K[t, d], V[t, e], scale=2)\nexport Y\n"
    out = run(text, backend, Q=q, K=k, V=v)
    np.testing.assert_allclose(out["Y"], attention_reference(q, k, v, 2.0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rope_integer_base(backend: str) -> None:
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    out = run("Y[p, d] = rope(X[p, d], base=100)\nexport Y\n", backend, X=x)
    np.testing.assert_allclose(out["Y"], rope_reference(x, 100.0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_topk_integer_k(backend: str) -> None:
    out = run("Y[r, c] = topk(X[r, c], k=2, axis=c)\nexport Y\n", backend, X=X)
    np.testing.assert_allclose(out["Y"], topk_reference(X, 2))


# --- arguments a builtin cannot use ------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Y[i] = relu(X[i], 3)", "1:8: error: builtin 'relu' takes 1 positional argument, got 2"),
        (
            "Y[i] = sig(X[i], 1, 2)",
            "1:8: error: builtin 'sig' takes 1 to 2 positional arguments, got 3",
        ),
        (
            "Y[i] = softmax(X[i], T=2)",
            "1:22: error: builtin 'softmax' has no keyword 'T' (keywords: axis)",
        ),
        (
            "Y[i] = topk(X[i], k=K)",
            "1:21: error: keyword 'k' of 'topk' takes a number literal, not a tensor expression",
        ),
        ("Y[i] = topk(X[i], k=2.5)", "1:21: error: keyword 'k' of 'topk' takes a positive "),
        ("Y[i] = topk(X[i], k=-1)", "1:21: error: keyword 'k' of 'topk' takes a positive integer"),
        (
            "Y[i.] = lnorm(X[i], eps=E)",
            "1:25: error: keyword 'eps' of 'lnorm' takes a number literal, not a tensor",
        ),
        (
            "Y[p, e] = attention(Q[p, d], K[t, d], V[t, e], scale=S[d])",
            "1:54: error: keyword 'scale' of 'attention' takes a number literal",
        ),
        (
            "Y[p, d] = rope(X[p, d], base=B)",
            "1:30: error: keyword 'base' of 'rope' takes a number literal",
        ),
        (
            "Y[i] = sig(X[i], 2, T=Temp)",
            "1:21: error: 'T' of 'sig' given both positionally and as 'T='",
        ),
        # A negative eps would take the square root of a negative variance.
        (
            "Y[i.] = lnorm(X[i], eps=-1)",
            "1:25: error: keyword 'eps' of 'lnorm' takes a non-negative number, got -1",
        ),
        (
            "Y[i.] = layernorm(X[i], eps=-0.5)",
            "1:29: error: keyword 'eps' of 'layernorm' takes a non-negative number, got -0.5",
        ),
        (
            "Y[p, d] = rope(X[p, d], base=-2)",
            "1:30: error: keyword 'base' of 'rope' takes a positive number, got -2",
        ),
        (
            "Y[p, d] = rope(X[p, d], pos=d, axis=d)",
            "1:37: error: index 'd' is both 'pos=' and 'axis=' of 'rope'",
        ),
        # An internal keyword: `merge=(h, e)` was read as rank-0 tensors h and e.
        (
            "Y[b, d] = concat(A[b, h, e], merge=(h, e))",
            "1:30: error: builtin 'concat' has no keyword 'merge' (keywords: axis)",
        ),
        (
            "Y[p] = reduce_max(X[p, d, e], axis=(d, e, d))",
            "1:36: error: 'axis=' of 'reduce_max' names index 'd' twice",
        ),
    ],
)
def test_an_argument_a_builtin_cannot_use_is_a_located_error(text: str, message: str) -> None:
    with pytest.raises(FuseError) as info:
        Program(text + "\nexport Y\n", "p.fuse")
    (diagnostic,) = info.value.diagnostics
    first, source, caret = diagnostic.render().splitlines()[:3]
    assert first.startswith(f"p.fuse:{message}")
    assert source == text
    column = int(message.split(":")[1])
    assert caret.index("^") == column - 1


@pytest.mark.parametrize("keywords", ["pos=d", "axis=p"])
def test_rope_defaults_may_not_make_one_index_both_roles(keywords: str) -> None:
    # The defaults are the first index (position) and the last (feature).
    program = Program(f"Y[p, d] = rope(X[p, d], {keywords})\nexport Y\n", "p.fuse")
    with pytest.raises(FuseError) as info:
        program.compile("numpy").run({"X": np.ones((2, 4), dtype=np.float32)})
    assert info.value.render().startswith("p.fuse:1:1: error: rope's position and feature axis")


@pytest.mark.parametrize("backend", BACKENDS)
def test_lnorm_eps_zero_is_allowed(backend: str) -> None:
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    out = run("Y[p, d.] = lnorm(X[p, d], eps=0)\nexport Y\n", backend, X=x)
    np.testing.assert_allclose(out["Y"], lnorm_reference(x.astype(np.float64), 0.0), rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_temperature_written_as_a_huge_integer_is_a_number(backend: str) -> None:
    # Found by the program mutation fuzzer: T=99999999999999999999 (beyond
    # 64 bits) raised xDSL's VerifyException building an integer attribute.
    x = np.array([1e21, -1e21, 1.0, 0.0], np.float32)
    out = run("Y[i] = sig(X[i], T=99999999999999999999)\nexport Y\n", backend, X=x)
    np.testing.assert_allclose(out["Y"], sig_reference(x.astype(np.float64), 1e20), rtol=1e-5)
