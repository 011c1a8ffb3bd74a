"""Gradients from `fuse-autodiff` against central finite differences.

Each case is a small program with a scalar loss `L` and a NumPy float64
reference of the same loss written from the language's semantics
(docs/dsl_reference.md), not from compiler code. The reference's central
differences (step 1e-6, so accurate to about 1e-9) are compared with the
gradient program's fp32 results on numpy, torch and jax, with a tolerance
suited to fp32. Hypothesis draws index sizes and the random seed of the
values; every case draws its values away from the points where the loss is
not differentiable (relu and abs at 0, ties of max, topk's cut).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.special
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xdsl.utils.exceptions import DiagnosticException

from fuse import ExecutionConfig, Program
from fuse.dialects.fuse import UnaryOp
from fuse.errors import FuseError

BACKENDS = ("numpy", "torch", "jax")
Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Case:
    """`program` with inputs of `shapes` (letters are drawn sizes) made by
    `values(rng, shapes)`; `reference` is its loss in float64."""

    program: str
    shapes: dict[str, str]
    reference: Callable[[Arrays], float]
    wrt: tuple[str, ...]
    values: Callable[[np.random.Generator, dict[str, tuple[int, ...]]], Arrays] | None = None
    # Inputs read only through step/Boolean values: their gradient is zero
    # by definition (finite differences would straddle the step).
    zero: tuple[str, ...] = ()
    # Sizes that are not drawn, from the drawn ones.
    fixed: dict[str, Callable[[dict[str, int]], int]] = field(default_factory=dict)
    # 0 keeps convolutions and pools as windows, places and einsums.
    opt_level: int = 2


def normal(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> Arrays:
    return {name: rng.normal(size=shape) for name, shape in shapes.items()}


def away_from_zero(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> Arrays:
    """Magnitudes in [0.3, 1.5] with random signs."""
    return {
        name: rng.uniform(0.3, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
        for name, shape in shapes.items()
    }


def positive(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> Arrays:
    return {name: rng.uniform(0.5, 2.0, shape) for name, shape in shapes.items()}


def distinct(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> Arrays:
    """Values whose sums, products and differences are far from ties: a
    shuffled ladder with steps of 0.25 plus a little noise."""
    arrays = {}
    for name, shape in shapes.items():
        count = int(np.prod(shape))
        ladder = (rng.permutation(count) - count / 2) * 0.25 + rng.uniform(-0.02, 0.02, count)
        arrays[name] = ladder.reshape(shape) + 0.1
    return arrays


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def with_weights(values: Callable, weighted: str = "W") -> Callable:
    """`values`, but the weight input `weighted` is standard normal."""

    def make(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> Arrays:
        arrays = values(rng, {n: s for n, s in shapes.items() if n != weighted})
        arrays[weighted] = rng.normal(size=shapes[weighted])
        return arrays

    return make


def _unary(name: str, fn: Callable[[np.ndarray], np.ndarray], values=normal) -> Case:
    return Case(
        f"L = {name}(A[i, j]) W[i, j]",
        {"A": "ij", "W": "ij"},
        lambda v: float((fn(v["A"]) * v["W"]).sum()),
        ("A", "W"),
        with_weights(values),
    )


def _lnorm(x: np.ndarray) -> np.ndarray:
    centered = x - x.mean(axis=1, keepdims=True)
    return centered / np.sqrt((centered**2).mean(axis=1, keepdims=True) + 1e-5)


def _masked_softmax(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    e = np.where(mask > 0, np.exp(x - x.max(axis=1, keepdims=True)), 0.0)
    total = e.sum(axis=1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def _masked_values(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> Arrays:
    arrays = normal(rng, shapes)
    arrays["M"] = (rng.uniform(size=shapes["M"]) > 0.4).astype(float)
    return arrays


def _case_values(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> Arrays:
    arrays = normal(rng, shapes)
    arrays["C"] = rng.choice([-1.0, 1.0], shapes["C"])
    return arrays


def _attention(v: Arrays) -> float:
    scores = softmax(v["Q"] @ v["K"].T / np.sqrt(v["Q"].shape[1]), axis=1)
    return float(((scores @ v["V"]) * v["W"]).sum())


def _rope(x: np.ndarray) -> np.ndarray:
    positions, features = x.shape
    out = np.empty_like(x)
    for p in range(positions):
        for m in range(0, features, 2):
            theta = p * 10000.0 ** (-m / features)
            out[p, m] = x[p, m] * np.cos(theta) - x[p, m + 1] * np.sin(theta)
            out[p, m + 1] = x[p, m + 1] * np.cos(theta) + x[p, m] * np.sin(theta)
    return out


def _topk(x: np.ndarray, k: int) -> np.ndarray:
    kept = np.zeros_like(x)
    order = np.argsort(-x, axis=1, kind="stable")[:, :k]
    np.put_along_axis(kept, order, np.take_along_axis(x, order, axis=1), axis=1)
    return kept


def _linear_fixpoint(v: Arrays) -> float:
    size = len(v["B"])
    x = np.linalg.solve(np.eye(size) - 0.5 * v["A"], v["B"])
    return float(x @ v["W"])


def _tanh_fixpoint(v: Arrays) -> float:
    x = np.zeros_like(v["B"])
    for _ in range(200):
        x = np.tanh(v["B"] + v["A"] @ x)
    return float(x @ v["W"])


def _contraction(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> Arrays:
    arrays = normal(rng, shapes)
    size = shapes["A"][0]
    arrays["A"] = rng.uniform(-0.6, 0.6, shapes["A"]) / size
    return arrays


def _edges(rng: np.random.Generator, shapes: dict[str, tuple[int, ...]]) -> Arrays:
    return {
        "E": (rng.uniform(size=shapes["E"]) > 0.5).astype(float),
        "W": rng.normal(size=shapes["W"]),
    }


def _path(v: Arrays) -> float:
    """The least fixpoint of Path = step(E + Path E), from zeros."""
    reach = np.zeros_like(v["E"])
    for _ in range(len(reach) + 1):
        reach = ((v["E"] + reach @ v["E"]) > 0).astype(float)
    return float((reach * v["W"]).sum())


CASES: dict[str, Case] = {
    "einsum": Case(
        "Y[i, k] = A[i, j] B[j, k]\nL = Y[i, k] Y[i, k] W[i]",
        {"A": "ij", "B": "jk", "W": "i"},
        lambda v: float((((v["A"] @ v["B"]) ** 2) * v["W"][:, None]).sum()),
        ("A", "B", "W"),
    ),
    "einsum_projected_from_one_operand": Case(
        "L = A[i, j] B[j]",
        {"A": "ij", "B": "j"},
        lambda v: float(v["A"].sum(axis=0) @ v["B"]),
        ("A", "B"),
    ),
    "einsum_max": Case(
        "M[i] max= A[i, j] B[j]\nL = M[i] W[i]",
        {"A": "ij", "B": "j", "W": "i"},
        lambda v: float((v["A"] * v["B"]).max(axis=1) @ v["W"]),
        ("A", "B", "W"),
        with_weights(distinct),
    ),
    "einsum_mean": Case(
        "M[i] avg= A[i, j]\nL = M[i] M[i]",
        {"A": "ij"},
        lambda v: float((v["A"].mean(axis=1) ** 2).sum()),
        ("A",),
    ),
    "arithmetic": Case(
        "Y[i] = (A[i] - B[i]) * A[i] / D[i] + B[i]\nL = Y[i] Y[i]",
        {"A": "i", "B": "i", "D": "i"},
        lambda v: float(((((v["A"] - v["B"]) * v["A"]) / v["D"] + v["B"]) ** 2).sum()),
        ("A", "B", "D"),
        away_from_zero,
    ),
    "power": Case(
        "L = P[i]^Q[i] + P[i]^2",
        {"P": "i", "Q": "i"},
        lambda v: float((v["P"] ** v["Q"]).sum() + (v["P"] ** 2).sum()),
        ("P", "Q"),
        positive,
    ),
    "binary_max": Case(
        "M[i] max= A[i]\nM[i] max= B[i]\nL = M[i] W[i]",
        {"A": "i", "B": "i", "W": "i"},
        lambda v: float(np.maximum(v["A"], v["B"]) @ v["W"]),
        ("A", "B", "W"),
        with_weights(distinct),
    ),
    "broadcast": Case(
        "Y[i, j] = A[i, j] * B[j] - C[i]\nL = Y[i, j] Y[i, j]",
        {"A": "ij", "B": "j", "C": "i"},
        lambda v: float(((v["A"] * v["B"] - v["C"][:, None]) ** 2).sum()),
        ("A", "B", "C"),
    ),
    "relu": _unary("relu", lambda x: np.maximum(x, 0.0), away_from_zero),
    "sig": _unary("sig", scipy.special.expit),
    "sig_temperature": Case(
        "L = sig(A[i, j], T=0.5) W[i, j]",
        {"A": "ij", "W": "ij"},
        lambda v: float((scipy.special.expit(v["A"] / 0.5) * v["W"]).sum()),
        ("A", "W"),
    ),
    "sig_tensor_temperature": Case(
        "L = sig(A[i], T) W[i]",
        {"A": "i", "T": "", "W": "i"},
        lambda v: float((scipy.special.expit(v["A"] / v["T"]) * v["W"]).sum()),
        ("A", "T", "W"),
        with_weights(positive),
    ),
    "gelu": _unary("gelu", lambda x: 0.5 * x * (1 + scipy.special.erf(x / np.sqrt(2)))),
    "step": _unary("step", lambda x: (x > 0).astype(float), away_from_zero),
    "exp": _unary("exp", np.exp),
    "log": _unary("log", np.log, positive),
    "sqrt": _unary("sqrt", np.sqrt, positive),
    "abs": _unary("abs", np.abs, away_from_zero),
    "tanh": _unary("tanh", np.tanh),
    "sin": _unary("sin", np.sin),
    "cos": _unary("cos", np.cos),
    "softmax": Case(
        "Y[i, j.] = softmax(A[i, j])\nL = Y[i, j] W[i, j]",
        {"A": "ij", "W": "ij"},
        lambda v: float((softmax(v["A"], 1) * v["W"]).sum()),
        ("A", "W"),
    ),
    "lnorm": Case(
        "Y[i, j.] = lnorm(A[i, j])\nL = Y[i, j] W[i, j]",
        {"A": "ij", "W": "ij"},
        lambda v: float((_lnorm(v["A"]) * v["W"]).sum()),
        ("A", "W"),
    ),
    "masked_softmax": Case(
        "Y[i, j.] = masked_softmax(A[i, j], M[i, j])\nL = Y[i, j] W[i, j]",
        {"A": "ij", "M": "ij", "W": "ij"},
        lambda v: float((_masked_softmax(v["A"], v["M"]) * v["W"]).sum()),
        ("A", "W"),
        _masked_values,
        zero=("M",),
    ),
    "reduce_max": Case(
        "Y[i] = reduce_max(A[i, j], axis=j)\nL = Y[i] W[i]",
        {"A": "ij", "W": "i"},
        lambda v: float(v["A"].max(axis=1) @ v["W"]),
        ("A", "W"),
        with_weights(distinct),
    ),
    "reduce_mean": Case(
        "Y[i] = reduce_mean(A[i, j], axis=j)\nL = Y[i] Y[i]",
        {"A": "ij"},
        lambda v: float((v["A"].mean(axis=1) ** 2).sum()),
        ("A",),
    ),
    "index_functions": Case(
        "L = A[i, j] causal_mask(i, j) + B[i] even(i) + B[i] odd(i) iota(i)",
        {"A": "ij", "B": "i"},
        lambda v: float(
            np.tril(v["A"][:, : v["A"].shape[0]]).sum()
            + v["B"][::2].sum()
            + (v["B"] * np.arange(len(v["B"])))[1::2].sum()
        ),
        ("A", "B"),
        fixed={"j": lambda s: s["i"]},
    ),
    "attention": Case(
        "Y[p, e] = attention(Q[p, d], K[k, d], V[k, e])\nL = Y[p, e] W[p, e]",
        {"Q": "pd", "K": "kd", "V": "ke", "W": "pe"},
        _attention,
        ("Q", "K", "V", "W"),
    ),
    "rope": Case(
        "Y[p, d] = rope(X[p, d])\nL = Y[p, d] W[p, d]",
        {"X": "pd", "W": "pd"},
        lambda v: float((_rope(v["X"]) * v["W"]).sum()),
        ("X", "W"),
        fixed={"d": lambda s: 4},
    ),
    "concat": Case(
        "Y[i, j] = concat(A[i, j], B[i, j], axis=j)\nL = Y[i, j] W[i, j]",
        {"A": "ij", "B": "ik", "W": "im"},
        lambda v: float((np.concatenate([v["A"], v["B"]], axis=1) * v["W"]).sum()),
        ("A", "B", "W"),
        fixed={"m": lambda s: s["j"] + s["k"]},
    ),
    "head_merge": Case(
        "M[p, m] = concat(A[h, p, d])\nL = M[p, m] W[p, m]",
        {"A": "hpd", "W": "pm"},
        lambda v: float((np.transpose(v["A"], (1, 0, 2)).reshape(v["W"].shape) * v["W"]).sum()),
        ("A", "W"),
        fixed={"m": lambda s: s["h"] * s["d"]},
    ),
    "topk": Case(
        "Y[i, j] = topk(A[i, j], k=2, axis=j)\nL = Y[i, j] W[i, j]",
        {"A": "ij", "W": "ij"},
        lambda v: float((_topk(v["A"], 2) * v["W"]).sum()),
        ("A", "W"),
        with_weights(distinct),
    ),
    "const": Case(
        "C[i] = const([1.5, -2.0, 0.5])\nL = A[i] C[i] A[i]",
        {"A": "i"},
        lambda v: float((v["A"] ** 2 * np.array([1.5, -2.0, 0.5])).sum()),
        ("A",),
        fixed={"i": lambda s: 3},
    ),
    "case": Case(
        "Y[i] = case(C[i], A[i], B[i])\nL = Y[i] Y[i]",
        {"A": "i", "B": "i", "C": "i"},
        lambda v: float((np.where(v["C"] > 0, v["A"], v["B"]) ** 2).sum()),
        ("A", "B", "C"),
        _case_values,
    ),
    "tucker_dense": Case(
        "T[i, j] = tucker_dense(G[a, b], U[i, a], V[j, b])\nL = T[i, j] W[i, j]",
        {"G": "ab", "U": "ia", "V": "jb", "W": "ij"},
        lambda v: float(((v["U"] @ v["G"] @ v["V"].T) * v["W"]).sum()),
        ("G", "U", "V", "W"),
    ),
    "take": Case(
        "L = A[1, j] W[j]",
        {"A": "ij", "W": "j"},
        lambda v: float(v["A"][1] @ v["W"]),
        ("A", "W"),
    ),
    "linear_fixpoint": Case(
        "X[i] = B[i] + 0.5 A[i, j] X[j]\nL = X[i] W[i]",
        {"A": "ij", "B": "i", "W": "i"},
        _linear_fixpoint,
        ("A", "B", "W"),
        _contraction,
        fixed={"j": lambda s: s["i"]},
    ),
    "tanh_fixpoint": Case(
        "X[i] = tanh(B[i] + A[i, j] X[j])\nL = X[i] W[i]",
        {"A": "ij", "B": "i", "W": "i"},
        _tanh_fixpoint,
        ("A", "B", "W"),
        _contraction,
        fixed={"j": lambda s: s["i"]},
    ),
    "boolean_fixpoint": Case(
        "Path(x, y) = E(x, y)\nPath(x, z) = Path(x, y) E(y, z)\nL = Path[x, y] W[x, y]",
        {"E": "xy", "W": "xy"},
        _path,
        ("W",),
        _edges,
        zero=("E",),
        fixed={"y": lambda s: s["x"]},
    ),
}


def _conv2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Y[n, x, y, k] = K[u, v, c, k] Image[n, x+u, y+v, c], x and y valid."""
    rows, cols = image.shape[1] - kernel.shape[0] + 1, image.shape[2] - kernel.shape[1] + 1
    out = np.zeros((image.shape[0], rows, cols, kernel.shape[3]))
    for u, v in np.ndindex(kernel.shape[:2]):
        out += image[:, u : u + rows, v : v + cols, :] @ kernel[u, v]
    return out


def _pool(x: np.ndarray, size: int, combine: Callable, axes: tuple[int, ...]) -> np.ndarray:
    """`combine` over blocks of `size` along `axes` (the last block may be short)."""
    for axis in axes:
        blocks = range(0, x.shape[axis], size)
        x = np.stack(
            [
                combine(np.take(x, range(b, min(b + size, x.shape[axis])), axis), axis)
                for b in blocks
            ],
            axis,
        )
    return x


def _strided_dilated(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Y[x] = Image[2x + 2u] K[u] over the x that stay inside Image."""
    count = (len(image) - 2 * (len(kernel) - 1) - 1) // 2 + 1
    return np.array(
        [sum(image[2 * x + 2 * u] * kernel[u] for u in range(len(kernel))) for x in range(count)]
    )


def _batched_strided(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Y[n, x, o] = Image[n, 2x + u, c] K[u, c, o]."""
    count = (image.shape[1] - kernel.shape[0]) // 2 + 1
    return np.stack(
        [
            np.einsum("nuc,uco->no", image[:, 2 * x : 2 * x + kernel.shape[0]], kernel)
            for x in range(count)
        ],
        axis=1,
    )


def _lenet_block(v: Arrays) -> float:
    features = np.maximum(_conv2d(v["Image"], v["K"]) + v["B"], 0.0)
    return float((_pool(features, 2, np.max, (1, 2)) * v["W"]).sum())


def _rnn(v: Arrays) -> float:
    x, states = v["X0"], [v["X0"]]
    for t in range(v["U"].shape[1]):
        x = np.tanh(v["W"] @ x + v["U"][:, t])
        states.append(x)
    return float((np.stack(states, axis=1) * v["C"]).sum())


def _mlp_by_layer(v: Arrays) -> float:
    layers = [v["In"]]
    for i in range(1, v["W"].shape[0]):  # layer i reads W[i]
        layers.append(scipy.special.expit(v["W"][i] @ layers[-1]))
    return float((np.stack(layers) * v["C"]).sum())


CONV2D = "Y[n, x, y, k] = K[u, v, c, k] Image[n, x+u, y+v, c]\nL = Y[n, x, y, k] Y[n, x, y, k] W[n, x, y, k]"
CONV2D_SHAPES = {"Image": "bpqh", "K": "dehk", "W": "bxyk"}
CONV2D_SIZES = {"p": lambda s: s["x"] + s["d"] - 1, "q": lambda s: s["y"] + s["e"] - 1}
MAX_POOL = "P[n, x/2, y/2] max= F[n, x, y]\nL = P[n, x, y] W[n, x, y]"
AVG_POOL = "P[x/2] avg= F[x]\nL = P[x] P[x]"
SUM_POOL = "P[x/2] = F[x]\nL = P[x] P[x] W[x]"

WINDOW_CASES: dict[str, Case] = {
    "conv2d": Case(
        CONV2D,
        CONV2D_SHAPES,
        lambda v: float((_conv2d(v["Image"], v["K"]) ** 2 * v["W"]).sum()),
        ("Image", "K", "W"),
        fixed=CONV2D_SIZES,
    ),
    "conv1d_strided_dilated": Case(
        "Y[x] = Image[2*x+2*u] K[u]\nL = Y[x] Y[x] W[x]",
        {"Image": "p", "K": "d", "W": "x"},
        lambda v: float((_strided_dilated(v["Image"], v["K"]) ** 2 * v["W"]).sum()),
        ("Image", "K", "W"),
        # one element past the last the windows read: the filter gradient crops it
        fixed={"p": lambda s: 2 * s["x"] + 2 * s["d"] - 2},
    ),
    "conv_batch_features_strided": Case(
        "Y[n, x, o] = Image[n, 2*x+u, c] K[u, c, o]\nL = Y[n, x, o] Y[n, x, o]",
        {"Image": "bph", "K": "dhk"},
        lambda v: float((_batched_strided(v["Image"], v["K"]) ** 2).sum()),
        ("Image", "K"),
        fixed={"p": lambda s: 2 * s["x"] + s["d"] - 1},
    ),
    "conv_relu_max_pool": Case(
        "F[n, x, y, k] = relu(K[u, v, c, k] Image[n, x+u, y+v, c] + B[k])\n"
        "P[n, x/2, y/2, k] max= F[n, x, y, k]\nL = P[n, x, y, k] W[n, x, y, k]",
        {"Image": "bpqh", "K": "dehk", "B": "k", "W": "brsk"},
        _lenet_block,
        ("Image", "K", "B", "W"),
        fixed=CONV2D_SIZES | {"r": lambda s: (s["x"] + 1) // 2, "s": lambda s: (s["y"] + 1) // 2},
    ),
    "max_pool": Case(
        MAX_POOL,
        {"F": "bpy", "W": "bxm"},
        lambda v: float((_pool(v["F"], 2, np.max, (1, 2)) * v["W"]).sum()),
        ("F", "W"),
        with_weights(distinct),
        # an odd length: the last window is cut off by the end
        fixed={"p": lambda s: 2 * s["x"] - 1, "m": lambda s: (s["y"] + 1) // 2},
    ),
    "avg_pool": Case(
        AVG_POOL,
        {"F": "p"},
        lambda v: float((_pool(v["F"], 2, np.mean, (0,)) ** 2).sum()),
        ("F",),
        fixed={"p": lambda s: 2 * s["x"] - 1},
    ),
    "sum_pool": Case(
        SUM_POOL,
        {"F": "p", "W": "x"},
        lambda v: float((_pool(v["F"], 2, np.sum, (0,)) ** 2 * v["W"]).sum()),
        ("F", "W"),
        fixed={"p": lambda s: 2 * s["x"]},
    ),
    "shifted_reads_and_write": Case(
        "Y[i] = X[i-1] + X[i+1]\nL = Y[i] Y[i] W[i]",
        {"X": "q", "W": "m"},
        lambda v: float(((v["X"][:-2] + v["X"][2:]) ** 2 * v["W"][1:]).sum()),
        ("X", "W"),
        fixed={"q": lambda s: s["p"] + 2, "m": lambda s: s["p"] + 1},
    ),
    "rnn": Case(
        "X[i, 0] = X0[i]\nX[i, t+1] = tanh(W[i, j] X[j, t] + U[i, t])\nL = X[i, t] C[i, t]",
        {"X0": "i", "W": "ij", "U": "im", "C": "ip"},
        _rnn,
        ("X0", "W", "U", "C"),
        fixed={"j": lambda s: s["i"], "p": lambda s: s["m"] + 1},
    ),
    "mlp_by_layer": Case(
        "X[0, j] = In[j]\nX[i, j] = sig(W[i, j, k] X[i-1, k])\nL = X[i, j] C[i, j]",
        {"In": "j", "W": "ijk", "C": "ij"},
        _mlp_by_layer,
        ("In", "W", "C"),
        fixed={"k": lambda s: s["j"]},
    ),
}
# The same programs with their convolutions and pools left as windows,
# places and einsums (opt_level 0): the rules of those ops.
WINDOW_CASES |= {
    f"{name}_generic": Case(**{**WINDOW_CASES[name].__dict__, "opt_level": 0})
    for name in ("conv2d", "conv_relu_max_pool", "max_pool", "avg_pool", "sum_pool")
}
CASES |= WINDOW_CASES


def draw_shapes(case: Case, sizes: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """Each input's shape: drawn letter sizes, or those `case.fixed` sets."""
    resolved = dict(sizes)
    for letter, size in case.fixed.items():
        resolved[letter] = size(sizes)
    return {name: tuple(resolved[c] for c in letters) for name, letters in case.shapes.items()}


def finite_differences(
    reference: Callable[[Arrays], float], values: Arrays, name: str, step: float = 1e-6
) -> np.ndarray:
    gradient = np.zeros_like(values[name])
    for position in np.ndindex(values[name].shape):
        shifted = {k: v.copy() for k, v in values.items()}
        shifted[name][position] += step
        up = reference(shifted)
        shifted[name][position] -= 2 * step
        down = reference(shifted)
        gradient[position] = (up - down) / (2 * step)
    return gradient


RUNNERS: dict[tuple[str, str], object] = {}


def runner_for(case_name: str, backend: str):
    """One runner per case and backend: its plans are cached per shape."""
    key = (case_name, backend)
    if key not in RUNNERS:
        config = ExecutionConfig(opt_level=CASES[case_name].opt_level)
        RUNNERS[key] = Program(CASES[case_name].program).compile(backend=backend, config=config)
    return RUNNERS[key]


def host(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=2e-3, atol=2e-3 * scale, err_msg=what)


@pytest.mark.parametrize("case_name", sorted(CASES))
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.fixed_dictionaries({c: st.integers(2, 3) for c in "abdehijkmpxy"}),
    seed=st.integers(0, 2**16),
)
def test_gradient_matches_finite_differences(
    case_name: str, sizes: dict[str, int], seed: int
) -> None:
    case = CASES[case_name]
    shapes = draw_shapes(case, sizes)
    values = (case.values or normal)(np.random.default_rng(seed), shapes)
    values = {k: v.astype(np.float32).astype(np.float64) for k, v in values.items()}  # fp32-exact
    expected_loss = case.reference(values)
    expected = {name: finite_differences(case.reference, values, name) for name in case.wrt}
    expected |= {name: np.zeros_like(values[name]) for name in case.zero}
    inputs = {k: v.astype(np.float32) for k, v in values.items()}
    results = {}
    for backend in BACKENDS:
        loss, gradients = runner_for(case_name, backend).value_and_grad(
            "L", case.wrt + case.zero, inputs
        )
        assert_close(host(loss), np.float64(expected_loss), f"{backend} loss")
        for name in expected:
            assert_close(host(gradients[name]), expected[name], f"{backend} grad {name}")
        results[backend] = {name: host(g) for name, g in gradients.items()}
    for backend in BACKENDS[1:]:  # the backends agree more closely than with the reference
        for name in expected:
            np.testing.assert_allclose(
                results[backend][name], results["numpy"][name], rtol=1e-4, atol=1e-4
            )


# --- ops the front end emits only under Monte-Carlo projection -------------------------

GATHER = """
func.func @main(%v: tensor<5x3xf32> {fuse.name = "v"}, %w: tensor<4x3xf32> {fuse.name = "w"},
                %q: tensor<5xf32> {fuse.name = "q"}, %at: tensor<5xf32> {fuse.name = "at"})
    -> (tensor<f32> {fuse.name = "L"}, tensor<4xf32> {fuse.name = "read"}) {
  %idx = fuse.sample %q samples 4 seed 7 : tensor<5xf32> -> tensor<4xi32>
  %g = fuse.gather %v dim 0 (%idx) : (tensor<5x3xf32>, tensor<4xi32>) -> tensor<4x3xf32>
  %L = fuse.einsum "ij,ij->" sum (%g, %w) : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<f32>
  %read = fuse.gather %at dim 0 (%idx) : (tensor<5xf32>, tensor<4xi32>) -> tensor<4xf32>
  func.return %L, %read : tensor<f32>, tensor<4xf32>
}
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_gather_sends_each_read_back_to_its_row(backend: str) -> None:
    """Row r of v receives the rows of w at the positions that read r
    (the drawn positions come back as `read`, gathered from 0, 1, ...)."""
    from fuse.pipeline import run_passes
    from fuse.runtime.runner import get_backend
    from tests.ir_helpers import parse_module

    module = parse_module(GATHER)
    run_passes(module, ['fuse-autodiff{loss="L" wrt="v"}'])
    module.verify()
    rng = np.random.default_rng(1)
    v, w = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    q, at = np.ones(5, np.float32), np.arange(5, dtype=np.float32)
    run = get_backend(backend).compile(module, ExecutionConfig(device="cpu"))
    _, read, gradient = (host(r) for r in run([v, w, q, at]))
    expected = np.zeros((5, 3))
    for position, row in enumerate(read.astype(int)):
        expected[row] += w[position]
    np.testing.assert_allclose(gradient, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_monte_carlo_estimate_is_differentiated_with_its_draws_fixed(backend: str) -> None:
    """The proposal over j comes from X and Y alone, so the gradient in W is
    the gradient of the estimate itself, which is linear in W: a difference
    of two runs gives it exactly (up to fp32 rounding)."""
    config = ExecutionConfig(projection="monte_carlo", samples=64, seed=3)
    runner = Program("L = W[i] X[i, j] Y[j]").compile(backend=backend, config=config)
    rng = np.random.default_rng(0)
    inputs = {
        "X": rng.uniform(0.1, 1.0, (3, 500)).astype(np.float32),
        "Y": rng.uniform(0.1, 1.0, 500).astype(np.float32),
        "W": rng.normal(size=3).astype(np.float32),
    }
    gradient = host(runner.grad("L", ["W"], inputs)["W"])
    base = float(host(runner.run(inputs)["L"]))
    for i in range(3):
        shifted = dict(inputs, W=inputs["W"] + np.eye(3, dtype=np.float32)[i])
        assert (
            abs(float(host(runner.run(shifted)["L"])) - base - gradient[i])
            < 1e-3 * abs(base) + 1e-3
        )


def test_a_proposal_that_depends_on_the_parameters_is_an_error() -> None:
    config = ExecutionConfig(projection="monte_carlo", samples=64, seed=3)
    runner = Program("L = W[i] X[i, j] Y[j]").compile(backend="numpy", config=config)
    inputs = {n: np.ones(s, np.float32) for n, s in (("X", (3, 500)), ("Y", 500), ("W", 3))}
    with pytest.raises(
        FuseError, match=r"1:1: error: a Monte-Carlo projection.*projection='exact'"
    ):
        runner.grad("L", ["X"], inputs)


# --- errors ---------------------------------------------------------------------------------

ERRORS = {
    "loss must be a scalar": ("Y[i] = A[i] A[i]", "Y", ["A"], r"loss 'Y' must be a scalar"),
    "unknown loss": ("L = A[i] A[i]", "Q", ["A"], r"loss 'Q' is not a tensor of the program"),
    "wrt computed": (
        "Y[i] = A[i] A[i]\nL = Y[i]",
        "L",
        ["Y"],
        r"wrt tensor 'Y' is computed by the program",
    ),
    "wrt unknown": ("L = A[i] A[i]", "L", ["B"], r"wrt tensor 'B' is not an input .*inputs: A"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_requests_are_clear_errors(name: str) -> None:
    program, loss, wrt, message = ERRORS[name]
    runner = Program(program).compile(backend="numpy")
    with pytest.raises(FuseError, match=message):
        runner.grad(loss, wrt, {"A": np.ones(3, np.float32)})


def test_a_loss_that_is_not_exported_is_exported_for_the_gradient() -> None:
    runner = Program("Y[i] = A[i] A[i]\nL = Y[i]\nexport Y").compile(backend="numpy")
    loss, gradients = runner.value_and_grad("L", "A", {"A": np.arange(3, dtype=np.float32)})
    assert float(loss) == 5.0
    np.testing.assert_array_equal(gradients["A"], [0.0, 2.0, 4.0])
    assert set(runner.run({"A": np.ones(3, np.float32)})) == {"Y"}


def test_semi_naive_fixpoints_are_refused_with_the_remedy() -> None:
    from fuse.pipeline import run_passes

    runner = Program("X[i] = B[i] + 0.5 A[i, j] X[j]\nL = X[i]").compile(backend="numpy")
    module, _, _ = runner.specialized_module({"A": (2, 2), "B": (2,)})
    run_passes(module, ["fuse-semi-naive{strategy=semi_naive}"])
    with pytest.raises(DiagnosticException, match=r"1:1: .*before fuse-semi-naive"):
        run_passes(module, ['fuse-autodiff{loss="L" wrt="A"}'])


def test_a_missing_rule_names_the_op() -> None:
    from xdsl.dialects import func

    from fuse.passes.autodiff import GRADIENT_RULES, differentiate

    runner = Program("L = sin(A[i])").compile(backend="numpy")
    module, _, _ = runner.specialized_module({"A": (2,)})
    main = next(op for op in module.walk() if isinstance(op, func.FuncOp))
    rule = GRADIENT_RULES.pop(UnaryOp)
    try:
        with pytest.raises(DiagnosticException, match=r"1:1: no gradient rule for fuse.unary sin"):
            differentiate(main, "L", ["A"], cotangents=False)
    finally:
        GRADIENT_RULES[UnaryOp] = rule


# --- JAX and torch through the gradient program --------------------------------------------

MLP = """
H[b, h] = tanh(X[b, i] W1[i, h] + B1[h])
Out[b, c.] = softmax(H[b, h] W2[h, c])
Loss = -(Y[b, c] log(Out[b, c])) / 4
export Out, Loss
"""


def mlp_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    shapes = {"X": (4, 3), "W1": (3, 5), "B1": (5,), "W2": (5, 2)}
    inputs = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
    inputs["Y"] = np.eye(2, dtype=np.float32)[[0, 1, 1, 0]]
    return inputs


def test_jax_grad_jit_and_value_and_grad_of_xla_callable_run_the_gradient_program() -> None:
    import jax
    import jax.numpy as jnp

    runner = Program(MLP).compile(backend="jax")
    inputs = mlp_inputs()
    expected = runner.grad("Loss", ["W1", "B1", "W2"], inputs)
    call = runner.xla_callable
    fixed = {k: jnp.asarray(v) for k, v in inputs.items() if k in ("X", "Y")}

    def loss(params):
        return call({**fixed, **params})["Loss"]

    params = {k: jnp.asarray(inputs[k]) for k in ("W1", "B1", "W2")}
    for gradients in (
        jax.grad(loss)(params),
        jax.jit(jax.grad(loss))(params),
        jax.value_and_grad(loss)(params)[1],
    ):
        assert isinstance(gradients["W1"], jax.Array)
        for name in params:
            np.testing.assert_allclose(gradients[name], expected[name], rtol=1e-5, atol=1e-6)


def test_jax_vjp_of_a_tensor_export_matches_the_numpy_gradient_program() -> None:
    """A loss JAX builds from a non-scalar export goes through the
    cotangent form of the gradient program."""
    import jax
    import jax.numpy as jnp

    inputs = mlp_inputs()
    weights = np.random.default_rng(2).normal(size=(4, 2)).astype(np.float32)
    call = Program(MLP).compile(backend="jax").xla_callable
    fixed = {k: jnp.asarray(v) for k, v in inputs.items() if k != "W1"}
    gradient = jax.grad(lambda w1: jnp.sum(call({**fixed, "W1": w1})["Out"] * weights))(
        jnp.asarray(inputs["W1"])
    )
    weighted = MLP.replace("export Out, Loss", "L = Out[b, c] C[b, c]")
    reference = Program(weighted).compile(backend="numpy").grad("L", "W1", {**inputs, "C": weights})
    np.testing.assert_allclose(gradient, reference["W1"], rtol=1e-5, atol=1e-6)


def test_torch_autograd_through_run_agrees_with_the_gradient_program() -> None:
    import torch

    runner = Program(MLP).compile(backend="torch")
    inputs = mlp_inputs()
    expected = runner.grad("Loss", ["W1", "B1", "W2"], inputs)
    assert isinstance(expected["W1"], torch.Tensor)
    leaves = {k: torch.tensor(v, requires_grad=k in expected) for k, v in inputs.items()}
    runner.run(leaves)["Loss"].backward()
    for name, gradient in expected.items():
        torch.testing.assert_close(leaves[name].grad, gradient, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_straight_through_step_passes_gradients_through(backend: str) -> None:
    """L = sum_i W[i] step(A[i]): zero gradient in A, unless step is
    straight-through, where d step(x)/dx is taken as 1 (so dL/dA = W)."""
    runner = Program("L = W[i] step(A[i])").compile(backend=backend)
    inputs = {"A": np.array([-1.0, 2.0], np.float32), "W": np.array([3.0, 5.0], np.float32)}
    np.testing.assert_array_equal(host(runner.grad("L", "A", inputs)["A"]), [0.0, 0.0])
    through = runner.grad("L", "A", inputs, straight_through=True)["A"]
    np.testing.assert_array_equal(host(through), [3.0, 5.0])


# --- the pipeline and the CLI ---------------------------------------------------------------


def test_autodiff_runs_early_so_the_gradient_program_is_optimized_with_the_rest() -> None:
    """After convolutions and pools are recognized (so they differentiate
    into convolutions), before everything that optimizes."""
    from fuse.pipeline import GradientRequest, dataflow_passes

    request = GradientRequest("L", ("W", "V'"))
    passes = dataflow_passes(ExecutionConfig(), request)
    assert passes[:2] == ["fuse-recognize-convolutions", 'fuse-autodiff{loss="L" wrt="W","V\'"}']
    assert dataflow_passes(ExecutionConfig(opt_level=0), request) == [request.pass_spec()]
    assert "fuse-einsum-path{strategy=auto}" in passes and "cse" in passes
    sampled = dataflow_passes(ExecutionConfig(projection="monte_carlo"), request)
    assert (
        sampled.index(request.pass_spec())
        == sampled.index("fuse-monte-carlo{samples=1024 seed=0}") + 1
    )


def test_fuse_compile_grad_prints_the_gradient_program(tmp_path, capsys) -> None:
    from fuse.cli import main

    program = tmp_path / "p.fuse"
    program.write_text("Y[b] = X[b, i] W[i, j] V[j]\nL = Y[b] Y[b]\n")
    inputs = []
    for name, shape in (("X", (4, 3)), ("W", (3, 5)), ("V", (5,))):
        np.save(tmp_path / f"{name}.npy", np.ones(shape, np.float32))
        inputs += ["--input", f"{name}={tmp_path / name}.npy"]
    assert main(["compile", str(program), "--emit", "dataflow", *inputs, "--grad", "L:W,V"]) == 0
    printed = capsys.readouterr().out
    assert '{fuse.name = "grad.W"}' in printed and '{fuse.name = "grad.V"}' in printed
    # fuse-einsum-path split the gradients' three-operand einsums too
    assert printed.count("fuse.contraction_path") > 1
    with pytest.raises(SystemExit):
        main(["compile", str(program), "--emit", "dataflow", "--grad", "L"])
    assert "expected LOSS:W1,W2" in capsys.readouterr().err


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_plans_are_cached_apart_from_the_program(backend: str, tmp_path) -> None:
    """The artifact cache keys a gradient plan by its request: a fresh
    runner on the same cache gets gradients from the gradient plan and
    exports from the plain one."""
    inputs = {"A": np.array([1.0, 2.0, 3.0], np.float32), "B": np.ones(3, np.float32)}
    for _ in range(2):
        runner = Program("L = exp(A[i]) B[i]").compile(backend=backend, cache_dir=tmp_path)
        gradient = host(runner.grad("L", "A", inputs)["A"])
        np.testing.assert_allclose(gradient, np.exp([1.0, 2.0, 3.0]), rtol=1e-6)
        assert set(runner.run(inputs)) == {"L"}


def test_sources_are_differentiable_inputs_and_jax_constants(tmp_path) -> None:
    """A weight read from a file is a `wrt` like a runtime input; inside
    `xla_callable` a source not passed in is a constant for `jax.grad`."""
    import jax
    import jax.numpy as jnp

    np.save(tmp_path / "w.npy", np.array([1.0, -2.0, 0.5], np.float32))
    program = tmp_path / "p.fuse"
    program.write_text('W[i] = "w.npy"\nL = W[i] X[i] X[i]\n')
    x = np.array([3.0, 1.0, 2.0], np.float32)
    gradients = Program.from_file(program).compile(backend="numpy").grad("L", ["W", "X"], {"X": x})
    np.testing.assert_allclose(gradients["W"], x**2)
    np.testing.assert_allclose(gradients["X"], 2 * x * [1.0, -2.0, 0.5])
    call = Program.from_file(program).compile(backend="jax").xla_callable
    gradient = jax.grad(lambda v: call({"X": v})["L"])(jnp.asarray(x))
    np.testing.assert_allclose(gradient, 2 * x * [1.0, -2.0, 0.5])


# --- scans and pools only hand-written IR has --------------------------------------------
# The language reads no virtual tensor (only its last step exists) and
# writes no reversed recurrence with a loss over it, and the front end's
# pools tile their operand; these run fuse-autodiff on IR directly.


def ir_gradients(text: str, wrt: str, inputs: list[np.ndarray], backend: str) -> list[np.ndarray]:
    """The gradients `fuse-autodiff{loss=L wrt=...}` adds to `text`'s @main, run on `backend`."""
    from fuse.pipeline import run_passes
    from fuse.runtime.runner import get_backend
    from tests.ir_helpers import parse_module

    module = parse_module(text)
    run_passes(module, [f'fuse-autodiff{{loss="L" wrt={wrt}}}'])
    module.verify()
    run = get_backend(backend).compile(module, ExecutionConfig(device="cpu"))
    return [host(r) for r in run([v.astype(np.float32) for v in inputs])[1:]]


SCAN = """
func.func @main(%W: tensor<3x3xf32> {{fuse.name = "W"}}, %U: tensor<3x4xf32> {{fuse.name = "U"}},
                %x0: tensor<3xf32> {{fuse.name = "x0"}}, %C: {result} {{fuse.name = "C"}})
    -> (tensor<f32> {{fuse.name = "L"}}) {{
  %h = fuse.scan {flags} steps 4 {axis} in_axes [1] tensors ["X"] (%x0 : tensor<3xf32>)
      over (%U : tensor<3x4xf32>) -> {result} {{
  ^bb0(%x: tensor<3xf32>, %u: tensor<3xf32>):
    %0 = fuse.einsum "ab,b->a" sum (%W, %x) : (tensor<3x3xf32>, tensor<3xf32>) -> tensor<3xf32>
    %1 = fuse.binary add "a,a->a" (%0, %u) : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
    %2 = fuse.unary tanh %1 : tensor<3xf32>
    fuse.yield %2 : tensor<3xf32>
  }}
  %L = fuse.einsum "{letters},{letters}->" sum (%h, %C) : ({result}, {result}) -> tensor<f32>
  func.return %L : tensor<f32>
}}
"""


def scan_loss(virtual: bool, reverse: bool) -> Callable[[Arrays], float]:
    """The loss of SCAN: the states (all, stacked in index order, or the
    last) weighted by C."""

    def loss(v: Arrays) -> float:
        x = v["x0"]
        states = {4 if reverse else 0: x}
        for k in range(3, -1, -1) if reverse else range(4):
            x = np.tanh(v["W"] @ x + v["U"][:, k])
            states[k if reverse else k + 1] = x
        result = x if virtual else np.stack([states[p] for p in range(5)], axis=1)
        return float((result * v["C"]).sum())

    return loss


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("virtual", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_scan_gradient_in_every_direction(backend: str, virtual: bool, reverse: bool) -> None:
    flags = " ".join(f for f, on in (("virtual", virtual), ("reverse", reverse)) if on)
    result = "tensor<3xf32>" if virtual else "tensor<3x5xf32>"
    text = SCAN.format(
        flags=flags,
        axis="" if virtual else "axis 1",
        result=result,
        letters="a" if virtual else "ab",
    )
    rng = np.random.default_rng(7)
    values = {
        "W": rng.normal(size=(3, 3)) / 2,
        "U": rng.normal(size=(3, 4)),
        "x0": rng.normal(size=3),
        "C": rng.normal(size=(3,) if virtual else (3, 5)),
    }
    values = {k: v.astype(np.float32).astype(np.float64) for k, v in values.items()}
    gradients = ir_gradients(text, '"W","U","x0"', list(values.values()), backend)
    for name, gradient in zip(("W", "U", "x0"), gradients, strict=True):
        expected = finite_differences(scan_loss(virtual, reverse), values, name)
        assert_close(gradient, expected, f"{backend} grad {name}")


POOL = """
func.func @main(%F: tensor<2x7xf32> {{fuse.name = "F"}}, %W: tensor<2x3xf32> {{fuse.name = "W"}})
    -> (tensor<f32> {{fuse.name = "L"}}) {{
  %P = fuse.pool {kind} %F window [1, 3] strides [1, 2] : tensor<2x7xf32> -> tensor<2x3xf32>
  %L = fuse.einsum "ab,ab->" sum (%P, %W) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}}
"""


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["max", "mean", "sum"])
def test_overlapping_pool_windows_gather_the_gradient_of_each(backend: str, kind: str) -> None:
    """Windows of 3 every 2 over 7 elements: elements 2 and 4 are in two windows."""
    combine = {"max": np.max, "mean": np.mean, "sum": np.sum}[kind]

    def loss(v: Arrays) -> float:
        pooled = np.stack([combine(v["F"][:, 2 * y : 2 * y + 3], axis=1) for y in range(3)], 1)
        return float((pooled * v["W"]).sum())

    rng = np.random.default_rng(3)
    values = distinct(rng, {"F": (2, 7)}) | {"W": rng.normal(size=(2, 3))}
    values = {k: v.astype(np.float32).astype(np.float64) for k, v in values.items()}
    [gradient] = ir_gradients(POOL.format(kind=kind), '"F"', list(values.values()), backend)
    assert_close(gradient, finite_differences(loss, values, "F"), f"{backend} {kind} pool")


def test_a_pool_whose_last_overlapping_window_is_cut_off_has_no_rule() -> None:
    from fuse.pipeline import run_passes
    from tests.ir_helpers import parse_module

    text = POOL.format(kind="max").replace("tensor<2x7xf32>", "tensor<2x6xf32>")
    with pytest.raises(DiagnosticException, match=r"no gradient rule for fuse.pool .*cut off"):
        run_passes(parse_module(text), ['fuse-autodiff{loss="L" wrt="F"}'])


# --- convolutions and scans through jax.grad and torch autograd --------------------------

CNN_RNN = """
F[n, x, y, k] = relu(K[u, v, c, k] Image[n, x+u, y+v, c])
P[n, x/2, y/2, k] max= F[n, x, y, k]
H[i, 0] = H0[i]
H[i, t+1] = tanh(W[i, j] H[j, t] + P[n, 0, t, i])
Loss = H[i, t] H[i, t] + P[n, x, y, k] P[n, x, y, k]
export P, H, Loss
"""


def cnn_rnn_inputs() -> dict[str, np.ndarray]:
    """One image batch (n = 1) whose pooled rows feed an RNN over 3 steps."""
    rng = np.random.default_rng(11)
    shapes = {"Image": (1, 7, 7, 2), "K": (2, 2, 2, 3), "H0": (3,), "W": (3, 3)}
    return {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}


def test_jax_grad_of_xla_callable_goes_through_convolution_and_scan_gradients() -> None:
    """jax.grad of a loss built from the exports (the cotangent form of the
    gradient program: stacked scan results and pools get cotangents)."""
    import jax
    import jax.numpy as jnp

    inputs = cnn_rnn_inputs()
    runner = Program(CNN_RNN).compile(backend="jax")
    expected = Program(CNN_RNN).compile(backend="numpy").grad("Loss", ["K", "W", "H0"], inputs)
    call = runner.xla_callable
    image = jnp.asarray(inputs["Image"])

    def loss(params):
        out = call({"Image": image, **params})
        return jnp.sum(out["H"] ** 2) + jnp.sum(out["P"] ** 2)

    params = {k: jnp.asarray(inputs[k]) for k in ("K", "W", "H0")}
    for gradients in (jax.grad(loss)(params), jax.jit(jax.grad(loss))(params)):
        for name in params:
            np.testing.assert_allclose(gradients[name], expected[name], rtol=1e-4, atol=1e-5)


def test_torch_autograd_agrees_with_the_gradient_program_through_convolution_and_scan() -> None:
    import torch

    inputs = cnn_rnn_inputs()
    runner = Program(CNN_RNN).compile(backend="torch")
    expected = runner.grad("Loss", ["K", "W", "H0", "Image"], inputs)
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    runner.run(leaves)["Loss"].backward()
    for name, gradient in expected.items():
        torch.testing.assert_close(leaves[name].grad, gradient, rtol=1e-4, atol=1e-5)


# --- convolutions over layouts, strides and dilations ------------------------------------

CONV = """
func.func @main(%x: {x} {{fuse.name = "x"}}, %w: {w} {{fuse.name = "w"}}, %c: {y} {{fuse.name = "c"}})
    -> (tensor<f32> {{fuse.name = "L"}}) {{
  %y = fuse.conv %x, %w "{layout}" strides {strides} dilations {dilations} : ({x}, {w}) -> {y}
  %L = fuse.einsum "{letters},{letters}->" sum (%y, %c) : ({y}, {y}) -> tensor<f32>
  func.return %L : tensor<f32>
}}
"""


def _tensor_type(shape: tuple[int, ...]) -> str:
    return f"tensor<{'x'.join(map(str, shape))}xf32>"


def _conv_reference(x, w, layout: str, strides, dilations) -> np.ndarray:
    """The convolution from its definition: every operand brought to
    b 0 1 f / 0 1 i o order (size 1 where the layout lacks a dimension)."""
    inputs, output = layout.split("->")
    x_dims, w_dims = inputs.split(",")

    def canonical(array, dims: str, order: str) -> np.ndarray:
        present = [c for c in order if c in dims]
        moved = np.transpose(array, [dims.index(c) for c in present])
        return moved.reshape([moved.shape[present.index(c)] if c in dims else 1 for c in order])

    image, kernel = canonical(x, x_dims, "b01f"), canonical(w, w_dims, "01io")
    (s0, s1), (d0, d1) = strides, dilations
    k0, k1 = kernel.shape[:2]
    rows = (image.shape[1] - d0 * (k0 - 1) - 1) // s0 + 1
    cols = (image.shape[2] - d1 * (k1 - 1) - 1) // s1 + 1
    y = np.zeros((image.shape[0], rows, cols, kernel.shape[3]))
    for r, c, a, b in np.ndindex(rows, cols, k0, k1):
        y[:, r, c, :] += image[:, s0 * r + d0 * a, s1 * c + d1 * b, :] @ kernel[a, b]
    full = dict(zip("b01f", y.shape, strict=True))
    present = [c for c in "b01f" if (c if c != "f" else "o") in w_dims or c in output]
    y = y.reshape([full[c] for c in present])
    return np.transpose(y, [present.index(c) for c in output])


@pytest.mark.parametrize(
    "layout", ["b01f,01io->b01f", "bf01,oi01->bf01", "01,01->01", "f01,01io->01f"]
)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    strides=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    dilations=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    window=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    out=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    tail=st.tuples(st.integers(0, 1), st.integers(0, 1)),
    seed=st.integers(0, 2**16),
)
def test_conv_gradients_over_layouts_strides_and_dilations(
    layout: str, strides, dilations, window, out, tail, seed: int
) -> None:
    """Input (transposed convolution) and filter gradients against finite
    differences of the definition, `tail` elements past what the windows
    read included (the filter gradient crops them)."""
    inputs, output = layout.split("->")
    x_dims, w_dims = inputs.split(",")
    spatial = [  # a tail shorter than the stride: no window reads it
        s * (o - 1) + d * (k - 1) + 1 + min(t, s - 1)
        for s, o, d, k, t in zip(strides, out, dilations, window, tail, strict=True)
    ]
    sizes = {"b": 2, "f": 2, "i": 2, "o": 3}
    x_shape = tuple(spatial[int(c)] if c.isdigit() else sizes[c] for c in x_dims)
    w_shape = tuple(window[int(c)] if c.isdigit() else sizes[c] for c in w_dims)
    y_shape = tuple(out[int(c)] if c.isdigit() else sizes["o" if c == "f" else c] for c in output)
    text = CONV.format(
        x=_tensor_type(x_shape),
        w=_tensor_type(w_shape),
        y=_tensor_type(y_shape),
        layout=layout,
        strides=list(strides),
        dilations=list(dilations),
        letters="abcd"[: len(y_shape)],
    )
    rng = np.random.default_rng(seed)
    values = {
        "x": rng.normal(size=x_shape),
        "w": rng.normal(size=w_shape),
        "c": rng.normal(size=y_shape),
    }
    values = {k: v.astype(np.float32).astype(np.float64) for k, v in values.items()}

    def loss(v: Arrays) -> float:
        return float((_conv_reference(v["x"], v["w"], layout, strides, dilations) * v["c"]).sum())

    expected = [finite_differences(loss, values, name) for name in ("x", "w")]
    for backend in BACKENDS:
        gradients = ir_gradients(text, '"x","w"', list(values.values()), backend)
        for name, gradient, reference in zip("xw", gradients, expected, strict=True):
            assert_close(gradient, reference, f"{backend} grad {name} ({layout})")
