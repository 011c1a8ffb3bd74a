"""Language semantics of DESIGN.md section 3, end to end on NumPy:
recursion, the projection rule, same-LHS combination, Boolean tensors,
shapes and runtime inputs."""

from __future__ import annotations

import numpy as np
import pytest

from fuse import ExecutionConfig, FuseError, Program
from fuse.lowering.backend import FixpointDivergence


def run(
    text: str, config: ExecutionConfig | None = None, **inputs: np.ndarray
) -> dict[str, np.ndarray]:
    return Program(text, "test.fuse").compile(backend="numpy", config=config).run(inputs)


def warshall(adjacency: np.ndarray) -> np.ndarray:
    closure = adjacency.astype(bool).copy()
    for k in range(len(closure)):
        closure |= closure[:, [k]] & closure[[k], :]
    return closure.astype(np.float32)


ANCESTOR = """
Ancestor(x, y) = Parent(x, y)
Ancestor(x, z) += Ancestor(x, y) Parent(y, z)
export Ancestor
"""


def random_dag(n: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.triu((rng.random((n, n)) < density), k=1).astype(np.float32)


def test_ancestor_over_a_200_node_dag_matches_warshall() -> None:
    parent = random_dag(200, 0.02, seed=1)
    out = run(ANCESTOR, Parent=parent)
    np.testing.assert_array_equal(out["Ancestor"], warshall(parent))


def test_graph_with_cycles() -> None:
    rng = np.random.default_rng(3)
    edges = (rng.random((30, 30)) < 0.08).astype(np.float32)
    edges[0, 1] = edges[1, 2] = edges[2, 0] = 1
    out = run(ANCESTOR, Parent=edges)
    closure = warshall(edges)
    np.testing.assert_array_equal(out["Ancestor"], closure)
    assert out["Ancestor"][0, 0] == 1  # on a cycle


def test_non_linear_recursion() -> None:
    edges = random_dag(40, 0.05, seed=5)
    program = """
    Path(x, y) = Edge(x, y)
    Path(x, z) += Path(x, y) Path(y, z)
    export Path
    """
    np.testing.assert_array_equal(run(program, Edge=edges)["Path"], warshall(edges))


def test_two_mutually_recursive_tensors() -> None:
    # Even(x, y): a path of even length >= 2 from x to y; Odd: odd length.
    edges = random_dag(25, 0.12, seed=9)
    program = """
    Odd(x, y) = Edge(x, y)
    Odd(x, z) += Even(x, y) Edge(y, z)
    Even(x, z) = Odd(x, y) Edge(y, z)
    export Odd
    export Even
    """
    out = run(program, Edge=edges)
    reach = [np.eye(25, dtype=bool)]
    for _ in range(25):
        reach.append((reach[-1].astype(np.float32) @ edges) > 0)
    odd = np.any(reach[1::2], axis=0)
    even = np.any(reach[2::2], axis=0)
    np.testing.assert_array_equal(out["Odd"], odd.astype(np.float32))
    np.testing.assert_array_equal(out["Even"], even.astype(np.float32))


def test_float_recursion_that_does_not_converge_raises_the_documented_error() -> None:
    program = """
    X[i] = A[i] + X[i] Two
    export X
    """
    with pytest.raises(FixpointDivergence) as raised:
        run(program, ExecutionConfig(max_iters=50), A=np.ones(3, np.float32), Two=np.float32(2))
    assert raised.value.tensors == ["X"]
    assert "did not converge in 50 iterations" in str(raised.value)


def test_float_recursion_that_converges() -> None:
    # X = A + 0.5 X  ->  X = 2 A
    out = run(
        "X[i] = A[i] + X[i] Half\nexport X", A=np.arange(3, dtype=np.float32), Half=np.float32(0.5)
    )
    np.testing.assert_allclose(out["X"], 2 * np.arange(3), atol=1e-4)


def test_projection_rule_relu_sums_inside_the_call_over_the_first_term_only() -> None:
    rng = np.random.default_rng(0)
    w, x, b = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=4)
    out = run("Y[i] = relu(W[i, j] X[j] + B[i])\nexport Y", W=w, X=x, B=b)
    np.testing.assert_allclose(out["Y"], np.maximum(w @ x + b, 0), rtol=1e-5)


def test_projection_rule_gaussian_kernel_sums_the_whole_squared_term_inside_exp() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    out = run("K[i, i'] = exp(-(X[i, j] - X[i', j])^2 / V)\nexport K", X=x, V=np.float32(2.0))
    distance = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(out["K"], np.exp(-distance / 2.0), rtol=1e-5)


def test_max_projection() -> None:
    a = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)
    out = run("M[i] max= A[i, j]\nexport M", A=a)
    np.testing.assert_allclose(out["M"], a.max(axis=1))


def test_avg_projection() -> None:
    a = np.random.default_rng(3).normal(size=(4, 6)).astype(np.float32)
    out = run("M[i] avg= A[i, j]\nexport M", A=a)
    np.testing.assert_allclose(out["M"], a.mean(axis=1), rtol=1e-6)


def test_same_lhs_equations_add_and_sum_equals_two_equations() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    one = run("L[i, k] = A[i, j] B[j, k] + A[i, j] B[j, k]\nexport L", A=a, B=b)["L"]
    two = run("L[i, k] = A[i, j] B[j, k]\nL[i, k] += A[i, j] B[j, k]\nexport L", A=a, B=b)["L"]
    np.testing.assert_allclose(one, two, rtol=1e-6)
    np.testing.assert_allclose(one, 2 * a @ b, rtol=1e-5)


def test_max_equations_combine_by_max() -> None:
    a, b = np.array([1, 5, 2], np.float32), np.array([4, 0, 3], np.float32)
    out = run("M[i] max= A[i]\nM[i] max= B[i]\nexport M", A=a, B=b)
    np.testing.assert_array_equal(out["M"], np.maximum(a, b))


def test_positional_index_renaming() -> None:
    a = np.random.default_rng(5).normal(size=(3, 3)).astype(np.float32)
    out = run("T[x, y] = A[x, y]\nT[u, v] += A[v, u]\nexport T", A=a)
    np.testing.assert_allclose(out["T"], a + a.T, rtol=1e-6)


def test_boolean_lhs_steps_after_combining() -> None:
    a = np.array([[0.5, -1.0], [0.0, 2.0]], np.float32)
    b = np.array([[-1.0, 2.0], [0.0, -3.0]], np.float32)
    out = run("R(i, j) = A[i, j]\nR(i, j) += B[i, j]\nexport R", A=a, B=b)
    np.testing.assert_array_equal(out["R"], ((a + b) > 0).astype(np.float32))


def test_softmax_over_the_dotted_axis() -> None:
    x = np.random.default_rng(6).normal(size=(3, 5)).astype(np.float32)
    out = run("Y[p, t.] = softmax(X[p, t])\nZ[p., t] = softmax(X[p, t])\nexport Y\nexport Z", X=x)
    np.testing.assert_allclose(out["Y"].sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(out["Z"].sum(axis=0), 1, rtol=1e-6)


def test_constant_indices_and_literal_broadcast() -> None:
    obs = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = run("First[o] = Obs[0, o] + 1\nexport First", Obs=obs)
    np.testing.assert_array_equal(out["First"], obs[0] + 1)


def test_sig_temperature_zero_is_step() -> None:
    x = np.array([-1.0, 0.0, 2.0], np.float32)
    out = run("S[i] = sig(X[i], T=0)\nH[i] = sig(X[i], T=2)\nexport S\nexport H", X=x)
    np.testing.assert_array_equal(out["S"], [0, 0, 1])
    np.testing.assert_allclose(out["H"], 1 / (1 + np.exp(-x / 2)), rtol=1e-6)


def test_missing_runtime_input_is_a_clear_error() -> None:
    with pytest.raises(FuseError, match="missing runtime input 'B'"):
        run("C[i, k] = A[i, j] B[j, k]\nexport C", A=np.ones((2, 2), np.float32))


def test_unknown_input_is_a_clear_error() -> None:
    with pytest.raises(FuseError, match="unknown input 'Z'"):
        run("C[i] = A[i]\nexport C", A=np.ones(2, np.float32), Z=np.ones(2, np.float32))


def test_one_index_bound_to_two_sizes_names_both_tensors_and_sizes() -> None:
    with pytest.raises(FuseError) as raised:
        run(
            "C[i] = A[i, j] B[j]\nexport C", A=np.ones((2, 3), np.float32), B=np.ones(4, np.float32)
        )
    message = str(raised.value)
    assert "test.fuse:1:16" in message
    assert "'j'" in message and "'A'" in message and "'B'" in message
    assert "3" in message and "4" in message
    # Located like a front-end error: the source line, and a caret under the
    # access whose size disagrees.
    assert message.splitlines()[1:] == ["C[i] = A[i, j] B[j]", " " * 15 + "^"]


def test_rank_mismatch_of_an_input() -> None:
    with pytest.raises(FuseError, match="has rank 1"):
        run("C[i, j] = A[i, j]\nexport C", A=np.ones(3, np.float32))
