"""The shared conformance cases: one list, run on every backend.

A `Case` is a program (text, or an example file), its runtime inputs
(built deterministically with NumPy) and a NumPy reference computing the
expected exports independently of any backend. Examples are the exception:
their reference is the NumPy backend's own result, itself checked against
hand-written NumPy in tests/test_examples.py.

Exports named in `exact` (Boolean results) must match exactly; the others
within `rtol` (fp32 runs) and `atol` (for values near zero).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.special

from fuse import ExecutionConfig, Program

Arrays = dict[str, np.ndarray]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Case:
    name: str
    text: str | None  # program text; None for an example
    inputs: Arrays
    reference: Callable[[Arrays], Mapping[str, np.ndarray]]
    exact: frozenset[str] = frozenset()
    example: str | None = None  # a directory under examples/
    config: ExecutionConfig = field(default_factory=ExecutionConfig)
    rtol: float = 1e-5
    atol: float = 1e-6

    def program(self, directory: Path) -> Program:
        """The program, rooted in `directory`: an example is copied there
        first, so its sinks are written into the copy."""
        if self.example is None:
            return Program(self.text, f"{self.name}.fuse", base_dir=directory)
        copy = directory / self.example
        shutil.copytree(EXAMPLES / self.example, copy, dirs_exist_ok=True)
        return Program.from_file(copy / f"{self.example}.fuse")

    def expected(self) -> Mapping[str, np.ndarray]:
        return self.reference(self.inputs)


# --- helpers ---------------------------------------------------------------------


def normal(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def uniform(seed: int, *shape: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def random_dag(n: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.triu(rng.random((n, n)) < density, k=1).astype(np.float32)


def random_graph(n: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n, n)) < density).astype(np.float32)


def warshall(adjacency: np.ndarray) -> np.ndarray:
    closure = adjacency.astype(bool)
    for k in range(len(closure)):
        closure = closure | (closure[:, [k]] & closure[[k], :])
    return closure.astype(np.float32)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def f64(inputs: Arrays) -> dict[str, np.ndarray]:
    return {name: value.astype(np.float64) for name, value in inputs.items()}


def _example(name: str) -> Case:
    def reference(inputs: Arrays) -> Mapping[str, np.ndarray]:
        with tempfile.TemporaryDirectory() as directory:
            program = Case(name, None, {}, reference, example=name).program(Path(directory))
            return program.compile(backend="numpy").run()

    exact = {"ancestor": {"Ancestor"}, "rules_and_embeddings": {"Aunt"}}.get(name, set())
    return Case(f"example_{name}", None, {}, reference, frozenset(exact), example=name)


EXAMPLE_CASES = [
    _example(path.name)
    for path in sorted(EXAMPLES.iterdir())
    if path.is_dir() and (path / f"{path.name}.fuse").exists()
]

# --- recursion -------------------------------------------------------------------

ANCESTOR = """
Ancestor(x, y) = Parent(x, y)
Ancestor(x, z) += Ancestor(x, y) Parent(y, z)
export Ancestor
"""


def _mutual(inputs: Arrays) -> dict[str, np.ndarray]:
    edge = inputs["Edge"].astype(bool)
    n = len(edge)
    reach = [np.eye(n, dtype=bool)]
    for _ in range(2 * n):
        reach.append((reach[-1].astype(np.int64) @ edge.astype(np.int64)) > 0)
    odd = np.any(reach[1::2], axis=0)
    even = np.any(reach[2::2], axis=0)
    return {"Odd": odd.astype(np.float32), "Even": even.astype(np.float32)}


def _most_probable_path(inputs: Arrays) -> dict[str, np.ndarray]:
    """Best[x, z] = max over paths x -> z of the product of edge
    probabilities (Floyd-Warshall in the max-times semiring)."""
    best = inputs["P"].astype(np.float64)
    for k in range(len(best)):
        best = np.maximum(best, best[:, [k]] * best[[k], :])
    return {"Best": best}


def _linear_system(inputs: Arrays) -> dict[str, np.ndarray]:
    m, b = inputs["M"].astype(np.float64), inputs["B"].astype(np.float64)
    return {"X": np.linalg.solve(np.eye(len(b)) - m, b)}


_CONTRACTION = uniform(31, 8, 8) * (0.3 / 8)

# The paper's Datalog spelling: `<-`, `←` and `:-`, commas as joins, a
# final `.`, and stratified negation.
DATALOG_ANCESTOR = """
Ancestor(x, y) <- Parent(x, y).
Ancestor(x, z) ← Ancestor(x, y), Parent(y, z)
Aunt(x, z) :- Sister(x, y), Parent(y, z).
Unrelated(x, y) <- Person(x), Person(y), not Ancestor(x, y), !Ancestor(y, x)
export Ancestor, Aunt, Unrelated
"""


def _datalog_family(inputs: Arrays) -> dict[str, np.ndarray]:
    parent = inputs["Parent"].astype(bool)
    ancestor = warshall(inputs["Parent"]).astype(bool)
    aunt = (inputs["Sister"].astype(np.int64) @ parent.astype(np.int64)) > 0
    unrelated = ~ancestor & ~ancestor.T
    return {
        name: value.astype(np.float32)
        for name, value in (("Ancestor", ancestor), ("Aunt", aunt), ("Unrelated", unrelated))
    }


RECURSION_CASES = [
    Case(
        "datalog_spelling_and_negation",
        DATALOG_ANCESTOR,
        {
            "Parent": random_dag(24, 0.08, seed=11),
            "Sister": random_graph(24, 0.05, seed=12),
            "Person": np.ones(24, np.float32),
        },
        _datalog_family,
        frozenset({"Ancestor", "Aunt", "Unrelated"}),
    ),
    Case(
        "ancestor_random_dag",
        ANCESTOR,
        {"Parent": random_dag(60, 0.05, seed=1)},
        lambda i: {"Ancestor": warshall(i["Parent"])},
        frozenset({"Ancestor"}),
    ),
    Case(
        "ancestor_with_cycles",
        ANCESTOR,
        {"Parent": random_graph(30, 0.06, seed=3)},
        lambda i: {"Ancestor": warshall(i["Parent"])},
        frozenset({"Ancestor"}),
    ),
    Case(
        "ancestor_naive_strategy",
        ANCESTOR,
        {"Parent": random_graph(25, 0.08, seed=4)},
        lambda i: {"Ancestor": warshall(i["Parent"])},
        frozenset({"Ancestor"}),
        config=ExecutionConfig(fixpoint_strategy="naive"),
    ),
    Case(
        "non_linear_recursion",
        "Path(x, y) = Edge(x, y)\nPath(x, z) += Path(x, y) Path(y, z)\nexport Path",
        {"Edge": random_dag(40, 0.05, seed=5)},
        lambda i: {"Path": warshall(i["Edge"])},
        frozenset({"Path"}),
    ),
    Case(
        "mutual_recursion",
        """
        Odd(x, y) = Edge(x, y)
        Odd(x, z) += Even(x, y) Edge(y, z)
        Even(x, z) = Odd(x, y) Edge(y, z)
        export Odd, Even
        """,
        {"Edge": random_dag(25, 0.12, seed=9)},
        _mutual,
        frozenset({"Odd", "Even"}),
    ),
    Case(
        "max_recursion",
        "Best[x, y] max= P[x, y]\nBest[x, z] max= Best[x, y] P[y, z]\nexport Best",
        {"P": uniform(11, 12, 12) * random_graph(12, 0.3, seed=12)},
        _most_probable_path,
    ),
    Case(
        "float_linear_recursion",
        "X[i] = B[i] + M[i, j] X[j]\nexport X",
        {"M": _CONTRACTION, "B": normal(32, 8)},
        _linear_system,
        atol=1e-5,
    ),
]

# --- the projection rule -------------------------------------------------------------


def _gaussian_kernel(inputs: Arrays) -> dict[str, np.ndarray]:
    x = inputs["X"].astype(np.float64)
    distance = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return {"K": np.exp(-distance / inputs["V"])}


PROJECTION_CASES = [
    Case(
        "projection_inside_relu_first_term_only",
        "Y[i] = relu(W[i, j] X[j] + B[i])\nexport Y",
        {"W": normal(40, 4, 3), "X": normal(41, 3), "B": normal(42, 4)},
        lambda i: {"Y": np.maximum(f64(i)["W"] @ i["X"] + i["B"], 0)},
    ),
    Case(
        "projection_whole_squared_term_inside_exp",
        "K[i, i'] = exp(-(X[i, j] - X[i', j])^2 / V)\nexport K",
        {"X": normal(43, 5, 3), "V": np.float32(2.0)},
        _gaussian_kernel,
    ),
    Case(
        "projection_sum_of_terms_equals_two_equations",
        """
        L[i, k] = A[i, j] B[j, k] + C[i, k]
        M[i, k] = A[i, j] B[j, k]
        M[i, k] += C[i, k]
        export L, M
        """,
        {"A": normal(44, 3, 4), "B": normal(45, 4, 2), "C": normal(46, 3, 2)},
        lambda i: dict.fromkeys(("L", "M"), f64(i)["A"] @ i["B"] + i["C"]),
    ),
    Case(
        "projection_max",
        "M[i] max= A[i, j]\nexport M",
        {"A": normal(47, 4, 6)},
        lambda i: {"M": i["A"].max(axis=1)},
    ),
    Case(
        "projection_avg",
        "M[i] avg= A[i, j]\nexport M",
        {"A": normal(48, 4, 6)},
        lambda i: {"M": f64(i)["A"].mean(axis=1)},
    ),
    Case(
        "projection_max_equations_combine_by_max",
        "M[i] max= A[i]\nM[i] max= B[i]\nexport M",
        {"A": normal(49, 5), "B": normal(50, 5)},
        lambda i: {"M": np.maximum(i["A"], i["B"])},
    ),
    Case(
        "projection_positional_index_renaming",
        "T[x, y] = A[x, y]\nT[u, v] += A[v, u]\nexport T",
        {"A": normal(51, 3, 3)},
        lambda i: {"T": i["A"] + i["A"].T},
    ),
    Case(
        "projection_boolean_steps_after_combining",
        "R(i, j) = A[i, j]\nR(i, j) += B[i, j]\nexport R",
        {"A": normal(52, 4, 4), "B": normal(53, 4, 4)},
        lambda i: {"R": ((i["A"] + i["B"]) > 0).astype(np.float32)},
        frozenset({"R"}),
    ),
    Case(
        "projection_matrix_chain",
        "D[i, m] = A[i, j] B[j, k] C[k, l] E[l, m]\nexport D",
        {
            "A": normal(54, 3, 5),
            "B": normal(55, 5, 4),
            "C": normal(56, 4, 6),
            "E": normal(57, 6, 2),
        },
        lambda i: {"D": np.linalg.multi_dot([f64(i)[n] for n in "ABCE"])},
        atol=1e-5,
    ),
    Case(
        "projection_diagonal",
        "T = A[i, i]\nD[i] = A[i, i] B[i]\nexport T, D",
        {"A": normal(58, 4, 4), "B": normal(59, 4)},
        lambda i: {"T": np.trace(f64(i)["A"]), "D": np.diag(i["A"]) * i["B"]},
    ),
]

# --- builtins ------------------------------------------------------------------------


def _unary_case(name: str, reference: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> Case:
    return Case(
        f"builtin_{name}",
        f"Y[i, j] = {name}(X[i, j])\nexport Y",
        {"X": x},
        lambda i: {"Y": reference(i["X"].astype(np.float64))},
    )


def _sig(inputs: Arrays) -> dict[str, np.ndarray]:
    x = inputs["X"].astype(np.float64)
    return {
        "S": scipy.special.expit(x),
        "H": scipy.special.expit(x / 0.5),
        "Z": (x > 0).astype(np.float32),
    }


def _lnorm(x: np.ndarray, eps: float, axis: int) -> np.ndarray:
    centered = x - x.mean(axis=axis, keepdims=True)
    return centered / np.sqrt((centered**2).mean(axis=axis, keepdims=True) + eps)


def _masked_softmax(inputs: Arrays) -> dict[str, np.ndarray]:
    x, mask = inputs["X"].astype(np.float64), inputs["M"] > 0
    e = np.where(mask, np.exp(x - np.where(mask, x, -np.inf).max(axis=1, keepdims=True)), 0)
    total = e.sum(axis=1, keepdims=True)
    return {"Y": np.divide(e, total, out=np.zeros_like(e), where=total > 0)}


def _attention(inputs: Arrays) -> dict[str, np.ndarray]:
    q, k, v = (inputs[n].astype(np.float64) for n in "QKV")
    scores = q @ k.T / math.sqrt(q.shape[1])
    causal = np.where(np.tril(np.ones(scores.shape, dtype=bool)), scores, -np.inf)
    return {"Y": softmax(scores) @ v, "C": softmax(causal) @ v}


def _rope(inputs: Arrays) -> dict[str, np.ndarray]:
    return {"Y": rope_reference(inputs["X"])}


def rope_reference(x: np.ndarray, base: float = 10000.0) -> np.ndarray:
    """`rope(X[p, d], base=base)` as docs/dsl_reference.md defines it."""
    x = x.astype(np.float64)
    positions, features = x.shape
    theta = np.arange(positions)[:, None] * base ** (-np.arange(0, features, 2) / features)
    even, odd = x[:, 0::2], x[:, 1::2]
    y = np.empty_like(x)
    y[:, 0::2] = even * np.cos(theta) - odd * np.sin(theta)
    y[:, 1::2] = odd * np.cos(theta) + even * np.sin(theta)
    return y


def _topk(inputs: Arrays) -> dict[str, np.ndarray]:
    x = inputs["X"]
    keep = np.zeros(x.shape, dtype=bool)
    for row in range(len(x)):
        keep[row, sorted(range(x.shape[1]), key=lambda c: (-x[row, c], c))[:2]] = True
    return {"T": np.where(keep, x, 0)}


def _case(inputs: Arrays) -> dict[str, np.ndarray]:
    c1, c2, a, b, d = (inputs[n] for n in ("C1", "C2", "A", "B", "D"))
    return {"Y": np.where(c1 > 0, a, np.where(c2 > 0, b, d)), "Z": np.where(c1 > 0, a, 0)}


TIES = np.array([[1, 3, 3, 0, 3], [2, 2, 2, 2, 2], [-1, 5, -1, 4, 5]], dtype=np.float32)

BUILTIN_CASES = [
    _unary_case("relu", lambda x: np.maximum(x, 0), normal(60, 3, 4)),
    _unary_case(
        "gelu", lambda x: 0.5 * x * (1 + scipy.special.erf(x / math.sqrt(2))), normal(61, 3, 4)
    ),
    _unary_case(
        "step", lambda x: (x > 0).astype(np.float32), np.array([[-1, 0, 0.5, 2]], np.float32)
    ),
    _unary_case("exp", np.exp, normal(62, 3, 4)),
    _unary_case("log", np.log, uniform(63, 3, 4, low=0.1, high=5.0)),
    _unary_case("sqrt", np.sqrt, uniform(64, 3, 4, low=0.0, high=5.0)),
    _unary_case("abs", np.abs, normal(65, 3, 4)),
    _unary_case("tanh", np.tanh, normal(66, 3, 4)),
    _unary_case("sin", np.sin, normal(67, 3, 4)),
    _unary_case("cos", np.cos, normal(68, 3, 4)),
    Case(
        "builtin_sig_temperature",
        "S[i] = sig(X[i])\nH[i] = sig(X[i], T=0.5)\nZ[i] = sig(X[i], T=0)\nexport S, H, Z",
        {"X": np.array([-3, -0.5, 0, 0.5, 3], np.float32)},
        _sig,
        frozenset({"Z"}),
    ),
    Case(
        "builtin_softmax",
        "Y[p, t.] = softmax(X[p, t])\nZ[p., t] = softmax(X[p, t])\nexport Y, Z",
        {"X": normal(69, 3, 5)},
        lambda i: {"Y": softmax(f64(i)["X"], 1), "Z": softmax(f64(i)["X"], 0)},
    ),
    Case(
        "builtin_lnorm",
        "Y[p, d.] = lnorm(X[p, d])\nZ[p., d] = layernorm(X[p, d], eps=0.001)\nexport Y, Z",
        {"X": normal(70, 4, 6)},
        lambda i: {"Y": _lnorm(f64(i)["X"], 1e-5, 1), "Z": _lnorm(f64(i)["X"], 1e-3, 0)},
        atol=1e-5,
    ),
    Case(
        "builtin_masked_softmax",
        "Y[p, t.] = masked_softmax(X[p, t], M[p, t])\nexport Y",
        {
            "X": normal(71, 4, 5),
            "M": np.array(
                [[1, 1, 0, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 0, 0]], np.float32
            ),
        },
        _masked_softmax,
    ),
    Case(
        "builtin_attention_and_causal_mask",
        """
        Y[p, e] = attention(Q[p, d], K[p', d], V[p', e])
        C[p, e] = attention(Q[p, d], K[p', d], V[p', e], causal_mask(p, p'))
        export Y, C
        """,
        {"Q": normal(72, 6, 4), "K": normal(73, 6, 4), "V": normal(74, 6, 3)},
        _attention,
    ),
    Case(
        "builtin_causal_mask",
        "C[i, j] = causal_mask(i, j) A[i, j]\nexport C",
        {"A": normal(75, 4, 4)},
        lambda i: {"C": np.tril(i["A"])},
    ),
    Case(
        "builtin_rope",
        "Y[p, d] = rope(X[p, d])\nexport Y",
        {"X": normal(76, 6, 8)},
        _rope,
    ),
    Case(
        "builtin_concat",
        "C[p, d] = concat(A[p, d], B[p, d], axis=d)\nexport C",
        {"A": normal(77, 3, 2), "B": normal(78, 3, 2)},
        lambda i: {"C": np.concatenate([i["A"], i["B"]], axis=1)},
    ),
    Case(
        "builtin_concat_parts_of_different_sizes_transposed",
        'C[d, p] = concat(A[p, d], B[p, d], X[p, d] * 2, axis="d")\nexport C',
        {"A": normal(79, 3, 2), "B": normal(80, 3, 5), "X": normal(81, 3, 1)},
        lambda i: {"C": np.concatenate([i["A"], i["B"], 2 * i["X"]], axis=1).T},
    ),
    Case(
        "builtin_topk_ties",
        "T[p, t] = topk(X[p, t], k=2)\nexport T",
        {"X": TIES},
        _topk,
    ),
    Case(
        "builtin_const",
        "C[i] = const([1.5, -2.0, 4.0])\nS = const(2.5)\nY[i] = C[i] S + X[i]\nexport C, S, Y",
        {"X": normal(79, 3)},
        lambda i: {
            "C": np.array([1.5, -2.0, 4.0]),
            "S": np.float64(2.5),
            "Y": np.array([1.5, -2.0, 4.0]) * 2.5 + i["X"],
        },
    ),
    Case(
        "builtin_reduce_max_and_mean",
        "M[p] = reduce_max(X[p, i])\nA[p] = reduce_mean(X[p, i])\nexport M, A",
        {"X": normal(80, 4, 5)},
        lambda i: {"M": i["X"].max(axis=1), "A": f64(i)["X"].mean(axis=1)},
    ),
    Case(
        "builtin_case",
        "Y[i] = case(C1[i], A[i], C2[i], B[i], D[i])\nZ[i] = case(C1[i], A[i])\nexport Y, Z",
        {
            "C1": np.array([1, 0, -1, 0, 2], np.float32),
            "C2": np.array([0, 1, 1, 0, 1], np.float32),
            "A": normal(81, 5),
            "B": normal(82, 5),
            "D": normal(83, 5),
        },
        _case,
    ),
    Case(
        "builtin_tucker_dense",
        "X[i, j, k] = tucker_dense(G[a, b, c], U[i, a], V[j, b], W[k, c])\nexport X",
        {
            "G": normal(84, 2, 3, 2),
            "U": normal(85, 4, 2),
            "V": normal(86, 3, 3),
            "W": normal(87, 5, 2),
        },
        lambda i: {"X": np.einsum("abc,ia,jb,kc->ijk", *(f64(i)[n] for n in "GUVW"))},
        atol=1e-5,
    ),
    Case(
        "builtin_even_odd",
        "E[i] = even(i) X[i]\nO[i] = odd(i) X[i]\nexport E, O",
        {"X": normal(88, 7)},
        lambda i: {"E": i["X"] * (np.arange(7) % 2 == 0), "O": i["X"] * (np.arange(7) % 2 == 1)},
    ),
]

# --- constant indices ------------------------------------------------------------------

INDEX_CASES = [
    Case(
        "constant_index_on_the_right",
        "First[o] = Obs[0, o] + 1\nLast[t] = Obs[t, 3]\nexport First, Last",
        {"Obs": normal(90, 3, 4)},
        lambda i: {"First": i["Obs"][0] + 1, "Last": i["Obs"][:, 3]},
    ),
    Case(
        "constant_index_on_the_left",
        "Alpha[t, s] = Base[t, s]\nAlpha[0, s] += Pi[s]\nAlpha[2, s] += Pi[s] Two\nexport Alpha",
        {"Base": normal(92, 3, 4), "Pi": normal(91, 4), "Two": np.float32(2.0)},
        lambda i: {"Alpha": i["Base"] + np.stack([i["Pi"], np.zeros(4), 2 * i["Pi"]])},
    ),
]

# --- index arithmetic (docs/index_arithmetic.md) ------------------------------------


def _valid_conv2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Features[x, y] = relu(Filter[dx, dy, ch] Image[x+dx, y+dy, ch]), by loops."""
    rows = image.shape[0] - kernel.shape[0] + 1
    cols = image.shape[1] - kernel.shape[1] + 1
    out = np.zeros((rows, cols))
    for x in range(rows):
        for y in range(cols):
            patch = image[x : x + kernel.shape[0], y : y + kernel.shape[1], :]
            out[x, y] = max(0.0, float((patch * kernel).sum()))
    return out


def _max_pool(features: np.ndarray, stride: int) -> np.ndarray:
    rows, cols = -(-features.shape[0] // stride), -(-features.shape[1] // stride)
    out = np.zeros((rows, cols))
    for x in range(rows):
        for y in range(cols):
            out[x, y] = features[x * stride : (x + 1) * stride, y * stride : (y + 1) * stride].max()
    return out


def _mlp_layer(inputs: Arrays) -> dict[str, np.ndarray]:
    w, x = f64(inputs)["W"], f64(inputs)["X"]
    y = np.zeros((w.shape[0], w.shape[1]))
    for i in range(1, w.shape[0]):
        y[i] = np.maximum(0.0, w[i] @ x[i - 1])
    return {"Y": y}


def _recurrence(inputs: Arrays) -> dict[str, np.ndarray]:
    i = f64(inputs)
    steps = i["U"].shape[1]
    h = np.zeros((len(i["H0"]), steps + 1))
    h[:, 0] = i["H0"]
    for t in range(steps):
        h[:, t + 1] = np.tanh(i["W"] @ h[:, t] + i["U"][:, t])
    return {"H": h}


INDEX_ARITHMETIC_CASES = [
    Case(
        "paper_cnn_conv_and_max_pool",
        "Features[x, y] = relu(Filter[dx, dy, ch] Image[x+dx, y+dy, ch])\n"
        "S = 2\nPooled[x/S, y/S] max= Features[x, y]\nexport Features, Pooled",
        {"Image": normal(100, 7, 6, 2), "Filter": normal(101, 3, 2, 2)},
        lambda i: {
            "Features": (f := _valid_conv2d(i["Image"], i["Filter"])),
            "Pooled": _max_pool(f, 2),
        },
    ),
    Case(
        "mlp_by_layer_reads_the_previous_layer",
        "Y[i, j] = relu(W[i, j, k] X[i-1, k])\nexport Y",
        {"W": normal(102, 4, 3, 5), "X": normal(103, 4, 5)},
        _mlp_layer,
    ),
    Case(
        "slices_and_shifts",
        "Mid[i] = V[2:5]\nTail[i] = V[3:]\nDiff[i] = V[i+1] - V[i]\nRev[t] = V[N-1-t]\n"
        "N = 6\nexport Mid, Tail, Diff, Rev",
        {"V": normal(104, 6)},
        lambda i: {
            "Mid": i["V"][2:5],
            "Tail": i["V"][3:],
            "Diff": i["V"][1:] - i["V"][:-1],
            "Rev": i["V"][::-1],
        },
    ),
    Case(
        "stored_time_recurrence",
        "H[i, 0] = H0[i]\nH[i, t+1] = tanh(W[i, j] H[j, t] + U[i, t])\nexport H",
        {"H0": normal(105, 3), "W": normal(106, 3, 3) * 0.5, "U": normal(107, 3, 4)},
        _recurrence,
    ),
]

CASES: list[Case] = [
    *EXAMPLE_CASES,
    *RECURSION_CASES,
    *PROJECTION_CASES,
    *BUILTIN_CASES,
    *INDEX_CASES,
    *INDEX_ARITHMETIC_CASES,
]
