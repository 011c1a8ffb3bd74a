"""`fuse-semi-naive` through the Program API: which fixpoints it rewrites,
that the delta form computes what naive iteration computes in as many
iterations, and (issue 4) a property test over random Datalog programs:
naive and semi-naive agree, and so do dense and sparse relations."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import ExecutionConfig, Program
from fuse.dialects.fuse import FixpointOp
from fuse.errors import FuseError

CLOSURE = """
Path(x, y) = Edge(x, y)
Path(x, z) += Path(x, y) Edge(y, z)
"""
NONLINEAR_CLOSURE = """
Path(x, y) = Edge(x, y)
Path(x, z) += Path(x, y) Path(y, z)
"""


def run(text: str, inputs: dict[str, np.ndarray], **config: Any) -> tuple[dict, list, dict]:
    """Exports, the fixpoint ops that ran and their iteration counts."""
    runner = Program(text).compile(backend="numpy", config=ExecutionConfig(**config))
    exports = runner.run(inputs=inputs)
    plan = runner.last_plan
    assert plan is not None
    fixpoints = [op for op in plan.module.walk() if isinstance(op, FixpointOp)]
    return exports, fixpoints, plan.executable.fixpoint_iterations


def chain(n: int) -> np.ndarray:
    """The path graph 0 -> 1 -> ... -> n-1."""
    return np.eye(n, k=1, dtype=np.float32)


def closure(edges: np.ndarray) -> np.ndarray:
    reach = edges > 0
    while True:
        wider = reach | ((reach.astype(np.int64) @ reach.astype(np.int64)) > 0)
        if (wider == reach).all():
            return reach.astype(np.float32)
        reach = wider


@pytest.mark.parametrize("n", [5, 12])
def test_linear_closure_on_a_chain(n: int) -> None:
    naive, naive_ops, naive_iters = run(CLOSURE, {"Edge": chain(n)}, fixpoint_strategy="naive")
    semi, semi_ops, semi_iters = run(CLOSURE, {"Edge": chain(n)}, fixpoint_strategy="semi_naive")
    np.testing.assert_array_equal(semi["Path"], closure(chain(n)))
    np.testing.assert_array_equal(semi["Path"], naive["Path"])
    assert [op.strategy.data for op in naive_ops] == ["naive"]
    assert [(op.strategy.data, op.delta_kinds) for op in semi_ops] == [("semi_naive", ["changed"])]
    # Semi-naive saves work per step, not steps: path lengths 1..n-1 take
    # n-1 steps from init, and one more confirms nothing changed.
    assert naive_iters == semi_iters == {"Path": n}


def test_nonlinear_closure_doubles_path_lengths() -> None:
    n = 12
    naive, _, naive_iters = run(NONLINEAR_CLOSURE, {"Edge": chain(n)}, fixpoint_strategy="naive")
    semi, ops, semi_iters = run(NONLINEAR_CLOSURE, {"Edge": chain(n)}, fixpoint_strategy="auto")
    np.testing.assert_array_equal(semi["Path"], closure(chain(n)))
    np.testing.assert_array_equal(semi["Path"], naive["Path"])
    assert ops[0].is_semi_naive
    assert naive_iters == semi_iters == {"Path": 6}  # lengths 1, 2, 4, 8, 16, confirm


def test_mutual_recursion() -> None:
    text = """
    Odd(x, y) = Edge(x, y)
    Odd(x, z) += Even(x, y) Edge(y, z)
    Even(x, z) = Odd(x, y) Edge(y, z)
    """
    edges = (np.random.default_rng(3).random((9, 9)) < 0.2).astype(np.float32)
    naive, _, naive_iters = run(text, {"Edge": edges}, fixpoint_strategy="naive")
    semi, ops, semi_iters = run(text, {"Edge": edges}, fixpoint_strategy="semi_naive")
    assert [op.tensor_names for op in ops] == [["Odd", "Even"]]
    assert ops[0].delta_kinds == ["changed", "changed"]
    for name in ("Odd", "Even"):
        np.testing.assert_array_equal(semi[name], naive[name])
    assert naive_iters == semi_iters
    # Odd-length walks from x to z, by repeated squaring of the parity graph.
    walks = np.block([[np.zeros_like(edges), edges], [edges, np.zeros_like(edges)]])
    np.testing.assert_array_equal(semi["Odd"], closure(walks)[:9, 9:])


def test_max_recursion() -> None:
    text = """
    Best[x] max= Score[x]
    Best[x] max= Best[y] Decay[y, x]
    """
    rng = np.random.default_rng(4)
    inputs = {
        "Score": rng.random(8).astype(np.float32),
        "Decay": (rng.random((8, 8)) * (rng.random((8, 8)) < 0.4)).astype(np.float32),
    }
    naive, _, naive_iters = run(text, inputs, fixpoint_strategy="naive")
    semi, ops, semi_iters = run(text, inputs, fixpoint_strategy="semi_naive")
    assert ops[0].delta_kinds == ["changed"]
    np.testing.assert_array_equal(semi["Best"], naive["Best"])
    assert naive_iters == semi_iters


def test_linear_float_recursion_uses_differences() -> None:
    text = "X[i] = A[i] + X[j] M[j, i]"
    rng = np.random.default_rng(5)
    a = rng.random(6).astype(np.float32)
    m = (rng.random((6, 6)) * 0.15).astype(np.float32)
    inputs = {"A": a, "M": m}
    naive, _, naive_iters = run(text, inputs, fixpoint_strategy="naive", tolerance=1e-7)
    semi, ops, semi_iters = run(text, inputs, fixpoint_strategy="semi_naive", tolerance=1e-7)
    assert ops[0].delta_kinds == ["difference"]
    exact = np.linalg.solve(np.eye(6) - m.T.astype(np.float64), a)
    np.testing.assert_allclose(semi["X"], exact, rtol=1e-5)
    np.testing.assert_allclose(semi["X"], naive["X"], rtol=1e-5)
    # the same sequence up to rounding, so the same count give or take one
    assert abs(naive_iters["X"] - semi_iters["X"]) <= 1


RELU = "X[i] = relu(A[i] + X[j] M[j, i])"
RELU_INPUTS = {"A": np.ones(4, np.float32), "M": np.full((4, 4), 0.1, np.float32)}


def test_nonlinearity_stays_naive_with_its_reason() -> None:
    naive, _, _ = run(RELU, RELU_INPUTS, fixpoint_strategy="naive")
    auto, ops, _ = run(RELU, RELU_INPUTS, fixpoint_strategy="auto")
    assert [op.strategy.data for op in ops] == ["naive"]
    assert ops[0].naive_reason is not None
    assert "relu" in ops[0].naive_reason.data
    np.testing.assert_array_equal(auto["X"], naive["X"])


def test_semi_naive_strategy_rejects_what_it_cannot_rewrite() -> None:
    with pytest.raises(FuseError, match=r"fixpoint of X cannot be semi-naive: X: .*relu"):
        run(RELU, RELU_INPUTS, fixpoint_strategy="semi_naive")


def test_naive_strategy_leaves_fixpoints_alone() -> None:
    _, ops, _ = run(CLOSURE, {"Edge": chain(4)}, fixpoint_strategy="naive")
    assert ops[0].strategy.data == "naive" and ops[0].naive_reason is None


# --- random Datalog programs (issue 4) ------------------------------------------

BASE_RELATIONS = ("E", "F")


def _atom(draw: st.DrawFn, name: str, x: str, y: str) -> str:
    """`name(x, y)`, or reversed: a join of the relation or of its inverse."""
    return f"{name}({y}, {x})" if draw(st.booleans()) else f"{name}({x}, {y})"


def _recursive_rule(draw: st.DrawFn, head: str, heads: list[str]) -> str:
    """A rule for `head` whose body reads at least one recursive relation:
    a chain join of one to three atoms (two or three recursive atoms make
    it non-linear)."""
    length = draw(st.integers(1, 3))
    names = [draw(st.sampled_from([*heads, *BASE_RELATIONS])) for _ in range(length)]
    if not set(names) & set(heads):
        names[draw(st.integers(0, length - 1))] = draw(st.sampled_from(heads))
    variables = ["x", "y", "z", "w"][: length + 1]
    body = " ".join(
        _atom(draw, name, a, b) for name, a, b in zip(names, variables, variables[1:], strict=False)
    )
    return f"{head}(x, {variables[-1]}) += {body}"


@st.composite
def datalog_programs(draw: st.DrawFn) -> str:
    """One recursive relation with one to three recursive rules, or two
    mutually recursive ones, each with a base rule; sometimes a unary
    reachability relation in a later stratum."""
    heads = ["P", "Q"] if draw(st.booleans()) else ["P"]
    rules = [f"{head}(x, y) = {draw(st.sampled_from(BASE_RELATIONS))}(x, y)" for head in heads]
    if len(heads) == 2:  # the cycle P -> Q -> P, plus up to one more rule
        rules += ["P(x, z) += Q(x, y) E(y, z)", "Q(x, z) += P(x, y) F(y, z)"]
        extra = draw(st.integers(0, 1))
    else:
        extra = draw(st.integers(1, 3))
    rules += [_recursive_rule(draw, draw(st.sampled_from(heads)), heads) for _ in range(extra)]
    if draw(st.booleans()):
        rules += ["R(x) = S(x)", f"R(y) += R(x) {draw(st.sampled_from(heads))}(x, y)"]
    return "\n".join(rules)


@st.composite
def relations(draw: st.DrawFn, program: str) -> dict[str, np.ndarray]:
    """Random 0/1 inputs of 4 to 12 nodes for the relations `program` reads."""
    n = draw(st.integers(4, 12))
    density = draw(st.sampled_from([0.1, 0.2, 0.35]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    names = set(re.findall(r"\b([EFS])\(", program))
    return {
        name: (rng.random((n, n) if name in BASE_RELATIONS else (n,)) < density).astype(np.float32)
        for name in sorted(names)
    }


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_random_datalog_naive_and_semi_naive_agree(data: st.DataObject) -> None:
    program = data.draw(datalog_programs(), label="program")
    inputs = data.draw(relations(program), label="inputs")
    naive, _, naive_iters = run(program, inputs, fixpoint_strategy="naive")
    semi, ops, semi_iters = run(program, inputs, fixpoint_strategy="semi_naive")
    assert ops and all(op.is_semi_naive for op in ops)
    assert semi.keys() == naive.keys()
    for name in naive:
        np.testing.assert_array_equal(semi[name], naive[name], err_msg=name)
    # exact Boolean arithmetic: the same sequence of values, step for step
    assert semi_iters == naive_iters
    dense, _, _ = run(program, inputs, fixpoint_strategy="semi_naive", relations="dense")
    sparse, _, _ = run(program, inputs, fixpoint_strategy="semi_naive", relations="sparse")
    for name in naive:
        np.testing.assert_array_equal(np.asarray(sparse[name]), dense[name], err_msg=name)
        np.testing.assert_array_equal(dense[name], naive[name], err_msg=name)
