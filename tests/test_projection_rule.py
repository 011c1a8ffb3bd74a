"""The projection rule of DESIGN.md §3 (an index is projected where it is
joined), end to end on every backend against NumPy references written from
the rule, not from the compiler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

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


# --- random expressions against a reference evaluator of the rule ---------------------
#
# Programs `Y[i] op= EXPR` over A[i, j], B[i], C[j], D[i, j]: `j` is the one
# projected index. The reference places `j` by DESIGN.md §3 on its own tree,
# walking down from the top, and evaluates with NumPy in float64.

SIZES = {"i": 3, "j": 4}
TENSORS = {"A": "ij", "B": "i", "C": "j", "D": "ij"}
KINDS = {"=": "sum", "max=": "max", "avg=": "mean"}


@dataclass(frozen=True, eq=False)
class Expr:
    """A node: `access` (tensor name), `number`, `add`/`sub`, `mul`/`div`
    (`div` only by the number 2), `neg`, `square`, or a call (`relu`,
    `tanh`)."""

    kind: str
    children: tuple[Expr, ...] = ()
    tensor: str = ""
    number: float = 0.0

    def text(self) -> str:
        part = [f"({c.text()})" for c in self.children]
        match self.kind:
            case "access":
                return f"{self.tensor}[{', '.join(TENSORS[self.tensor])}]"
            case "number":
                return repr(self.number)
            case "add" | "sub":
                return f"{part[0]} {'+' if self.kind == 'add' else '-'} {part[1]}"
            case "mul":
                return f"{part[0]} {part[1]}"
            case "div":
                return f"{part[0]} / 2"
            case "neg":
                return f"-{part[0]}"
            case "square":
                return f"{part[0]}^2"
        return f"{self.kind}({self.children[0].text()})"

    def mentions(self, index: str) -> bool:
        if self.kind == "access":
            return index in TENSORS[self.tensor]
        return any(c.mentions(index) for c in self.children)

    def tensors(self) -> set[str]:
        own = {self.tensor} if self.kind == "access" else set()
        return own.union(*(c.tensors() for c in self.children))


def _expressions() -> st.SearchStrategy[Expr]:
    leaves = st.one_of(
        st.sampled_from(sorted(TENSORS)).map(lambda t: Expr("access", tensor=t)),
        st.sampled_from([0.5, 2.0]).map(lambda v: Expr("number", number=v)),
    )

    def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        pair = st.tuples(inner, inner)
        return st.one_of(
            st.tuples(st.sampled_from(["add", "sub", "mul"]), pair).map(lambda k: Expr(k[0], k[1])),
            st.tuples(st.sampled_from(["div", "neg", "square", "relu", "tanh"]), inner).map(
                lambda k: Expr(k[0], (k[1],))
            ),
        )

    return st.recursive(leaves, extend, max_leaves=6)


SUM_PARTS = ("add", "sub")
PRODUCT_PARTS = ("mul", "div", "neg")
CALLS = ("relu", "tanh")


def projected_nodes(scope: Expr, kind: str) -> set[int]:
    """Where the rule projects `j` inside `scope` (ids of nodes): walk down
    while one child holds every occurrence, remembering the last candidate
    (product, power, sum, call argument or the scope) and the innermost
    power whose base holds the path since the last call argument."""
    node, parent_kind = scope, ""
    candidate, power = scope, None
    while True:
        is_call_argument = parent_kind in CALLS
        if is_call_argument:
            power = None
        if node is not scope and (
            is_call_argument
            or node.kind == "square"
            or (node.kind in SUM_PARTS and parent_kind not in SUM_PARTS)
            or (node.kind in PRODUCT_PARTS and parent_kind not in PRODUCT_PARTS)
        ):
            candidate = node
        holders = [c for c in node.children if c.mentions("j")]
        if len(holders) != 1:
            break
        if node.kind == "square":
            power = node
        node, parent_kind = holders[0], node.kind
    if candidate.kind not in SUM_PARTS:
        return {id(candidate)}
    if power is not None:  # above the sum: one below it would be the candidate
        return {id(power)}
    if kind == "max":
        return {id(candidate)}
    return set().union(*(projected_nodes(t, kind) for t in _terms(candidate) if t.mentions("j")))


def _terms(node: Expr) -> list[Expr]:
    if node.kind in SUM_PARTS:
        return [t for c in node.children for t in _terms(c)]
    return [node]


def evaluate(node: Expr, projected: set[int], kind: str, inputs: Arrays) -> np.ndarray:
    """`node` over (i, j) in float64, reduced over j (and broadcast back)
    where the rule projects it."""
    values = [evaluate(c, projected, kind, inputs) for c in node.children]
    match node.kind:
        case "access":
            value = inputs[node.tensor].reshape(
                [SIZES[n] if n in TENSORS[node.tensor] else 1 for n in "ij"]
            )
        case "number":
            value = np.float64(node.number)
        case "add":
            value = values[0] + values[1]
        case "sub":
            value = values[0] - values[1]
        case "mul":
            value = values[0] * values[1]
        case "div":
            value = values[0] / 2
        case "neg":
            value = -values[0]
        case "square":
            value = values[0] ** 2
        case "relu":
            value = np.maximum(values[0], 0)
        case _:
            value = np.tanh(values[0])
    value = np.broadcast_to(value, (SIZES["i"], SIZES["j"]))
    if id(node) in projected:
        reduce = {"sum": np.sum, "max": np.max, "mean": np.mean}[kind]
        value = np.broadcast_to(reduce(value, axis=1, keepdims=True), value.shape)
    return value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=_expressions(), operator=st.sampled_from(sorted(KINDS)), seed=st.integers(0, 99))
def test_random_expressions_follow_the_rule_on_every_backend(
    expr: Expr, operator: str, seed: int
) -> None:
    assume(expr.mentions("i"))
    kind = KINDS[operator]
    inputs = {
        name: normal(seed + n, *(SIZES[i] for i in TENSORS[name]))
        for n, name in enumerate(sorted(expr.tensors()))
    }
    projected = projected_nodes(expr, kind) if expr.mentions("j") else set()
    expected = evaluate(expr, projected, kind, f64(inputs))[:, 0]
    text = f"Y[i] {operator} {expr.text()}\nexport Y"
    tolerance = 1e-4 * max(1.0, float(np.abs(expected).max()))
    for backend in BACKENDS:
        actual = run(backend, text, inputs)["Y"]
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=tolerance, err_msg=backend)
