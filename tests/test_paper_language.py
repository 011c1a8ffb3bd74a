"""The paper's spellings that the front end rewrites away: user functions
(`softsign(x) := ...`, inlined) and `H`, `Even`, `Odd` for step, even, odd.
Each runs on every backend against NumPy written from the definitions."""

from __future__ import annotations

import numpy as np
import pytest

from fuse import FuseError, Program

BACKENDS = ["numpy", "torch", "jax"]


def run(text: str, backend: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    out = Program(text, "paper.fuse").compile(backend).run(inputs=inputs)
    return {name: np.asarray(value) for name, value in out.items()}


X = np.array([-2.0, -0.5, 0.0, 3.0, 0.25], np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_user_functions_are_inlined(backend: str) -> None:
    text = """
softsign(x) := x / (1 + abs(x))
sq_dist(a, b) := (a - b) * (a - b)
both(a, b) := softsign(a) + sq_dist(a, b)
Y[i] = softsign(X[i])
Z[i] = both(X[i], 1)
export Y, Z
"""
    out = run(text, backend, X=X)
    np.testing.assert_allclose(out["Y"], X / (1 + np.abs(X)), rtol=1e-6)
    np.testing.assert_allclose(out["Z"], X / (1 + np.abs(X)) + (X - 1) ** 2, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_paper_builtin_spellings(backend: str) -> None:
    text = "Y[i] = H(X[i]) + 2 Even(i) + 4 Odd(i)\nexport Y"
    positions = np.arange(len(X))
    expected = (X > 0) + 2 * (positions % 2 == 0) + 4 * (positions % 2 == 1)
    np.testing.assert_array_equal(run(text, backend, X=X)["Y"], expected.astype(np.float32))


def test_a_tensor_named_like_a_paper_builtin_stays_a_tensor() -> None:
    text = "Even(x, y) = E(x, y)\nOdd(x, y) = Even(x, y)\nexport Odd"
    edge = np.eye(3, dtype=np.float32)
    np.testing.assert_array_equal(run(text, "numpy", E=edge)["Odd"], edge)


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("f(x) := g(x)\ng(y) := f(y)\nY[i] = f(X[i])", "recursion among functions", "2:9"),
        ("f(x) := x\nY[i] = f(X[i], X[i])", "function 'f' takes 1 argument, got 2", "2:8"),
        ("relu(x) := x\nY[i] = relu(X[i])", "function 'relu' redefines a builtin", "1:1"),
        ("f(x) := x\nf(y) := y\nY[i] = f(X[i])", "function 'f' is defined twice", "2:1"),
        ("A[i] = X[i]\nA(x) := x", "'A' is both a function and a tensor", "2:1"),
        ("f(x, x) := x\nY[i] = f(X[i], X[i])", "function 'f' repeats a parameter name", "1:1"),
        ("f(1) := 2", "a function's parameters are plain names", "1:3"),
    ],
)
def test_function_errors_are_located(text: str, message: str, where: str) -> None:
    with pytest.raises(FuseError) as raised:
        Program(text, "bad.fuse")
    rendered = str(raised.value)
    assert f"bad.fuse:{where}: error: {message}" in rendered
    assert rendered.count("error:") == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_tensor_literals_with_and_without_indices(backend: str) -> None:
    """The paper's perceptron: `W = [0.2, 1.9, -0.7, 3]`, `X = [0, 1, 1, 0]`,
    `Y = step(W[i] X[i])`; nested lists give one index per level."""
    text = """
W = [0.2, 1.9, -0.7, 3]
X = [0, 1, 1, 0]
Y = step(W[i] X[i])
M = [[1, 2], [3, 4]]
V[j] = [10, 20]
Z[i] = M[i, j] V[j]
C = 0.5
S = C Y
export Y, Z, S
"""
    out = run(text, backend)
    w, x = np.array([0.2, 1.9, -0.7, 3]), np.array([0, 1, 1, 0])
    assert out["Y"] == float(w @ x > 0)
    np.testing.assert_allclose(out["Z"], np.array([[1, 2], [3, 4]]) @ np.array([10, 20]))
    assert out["S"] == 0.5 * float(w @ x > 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_named_integer_constants_in_index_positions(backend: str) -> None:
    """`L = 2` then `Emb[n, L, d]` reads layer 2."""
    emb = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    out = run("L = 2\nY[n, d] = Emb[n, L, d]\nexport Y", backend, Emb=emb)
    np.testing.assert_array_equal(out["Y"], emb[:, 2, :])


def test_an_unknown_uppercase_index_is_an_error_not_a_variable() -> None:
    with pytest.raises(FuseError) as raised:
        Program("L = 2\nAncestor(x, y) = Parent(x, y)\nAncestor(Alice, x)?", "kb.fuse")
    rendered = str(raised.value)
    assert "kb.fuse:3:10: error: unknown constant 'Alice'" in rendered
    assert "integer constants here: L" in rendered


@pytest.mark.parametrize("backend", BACKENDS)
def test_positional_encoding_uses_index_values_as_numbers(backend: str) -> None:
    """The paper's transformer positional encoding, as printed: `p` and `d`
    outside brackets are coordinates; PosEnc's sizes come from where it is
    read (beside X)."""
    text = """
L = 10000
D = 8
PosEnc[p, d] = Even(d) sin(p / L^(d / D)) + Odd(d) cos(p / L^((d - 1) / D))
Stream[p, d] = X[p, d] + PosEnc[p, d]
export Stream
"""
    x = np.linspace(-1, 1, 40, dtype=np.float32).reshape(5, 8)
    p, d = np.meshgrid(np.arange(5.0), np.arange(8.0), indexing="ij")
    posenc = np.where(d % 2 == 0, np.sin(p / 10000 ** (d / 8)), np.cos(p / 10000 ** ((d - 1) / 8)))
    np.testing.assert_allclose(run(text, backend, X=x)["Stream"], x + posenc, atol=1e-6)


def test_index_function_arguments_stay_index_names() -> None:
    """`even(i)` and `axis=i` name the index; only a bare `i` used as a
    value is its coordinate."""
    text = "Y[i, j.] = softmax(i X[i, j] + even(i), axis=j)\nexport Y"
    x = np.ones((3, 2), np.float32)
    out = run(text, "numpy", X=x)["Y"]
    np.testing.assert_allclose(out, np.full((3, 2), 0.5), rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_files_read_and_written_without_indices(backend: str, tmp_path) -> None:
    """`W = "w.npy"` reads the whole tensor and `"y.npy" = Y` writes it, at
    the rank the program uses them with elsewhere."""
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "w.npy", w)
    text = 'W = "w.npy"\nY[i, j] = 2 W[i, j]\n"y.npy" = Y\nexport Y'
    Program(text, str(tmp_path / "prog.fuse")).compile(backend).run()
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), 2 * w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_file_read_without_indices_takes_its_rank_from_a_query(backend: str, tmp_path) -> None:
    """`W = "w.npy"` then only `W[1, j]?`: the query is the use that gives
    W its rank (it was a rank-0 tensor, then a rank clash)."""
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "w.npy", w)
    text = 'W = "w.npy"\nW[1, j]?\nW[0, 2]?'
    out = Program(text, str(tmp_path / "prog.fuse")).compile(backend).run()
    np.testing.assert_array_equal(np.asarray(out["Query_W"]), w[1])
    assert np.asarray(out["Query_W_1"]) == w[0, 2]


FAMILY = """
Parent(Alice, Bob).
Parent(Bob, Charlie)
Parent(Charlie, Dana)
Sister(Erin, Bob)
Ancestor(x, y) <- Parent(x, y)
Ancestor(x, z) <- Ancestor(x, y), Parent(y, z)
Aunt(x, z) <- Sister(x, y), Parent(y, z)
export Ancestor, Aunt
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_facts_build_relations_over_symbol_domains(backend: str) -> None:
    """Symbols are numbered per domain in order of first appearance; the
    rule joining Parent and Ancestor through x and y shares their domains,
    and Sister's second position shares Parent's first (through y)."""
    out = run(FAMILY, backend)
    people = ["Alice", "Bob", "Charlie", "Dana", "Erin"]
    parent = np.zeros((5, 5))
    for a, b in [("Alice", "Bob"), ("Bob", "Charlie"), ("Charlie", "Dana")]:
        parent[people.index(a), people.index(b)] = 1
    reach = parent.copy()
    for _ in range(5):
        reach = np.minimum(1, reach + reach @ parent)
    np.testing.assert_array_equal(out["Ancestor"], reach[:4, :4])
    # Sister's first position is a domain of its own (Erin); its second is
    # Parent's first: Erin is Charlie's aunt.
    assert out["Aunt"].shape == (1, 4) and out["Aunt"][0].tolist() == [0, 0, 1, 0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_query_names_a_symbol(backend: str) -> None:
    out = run(FAMILY + "Ancestor(Alice, x)?\n", backend)
    assert out["Query_Ancestor"].tolist() == [0, 1, 1, 1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_facts_are_elements_sized_by_their_use(backend: str) -> None:
    """The paper: `X(1), X(2)` is `X = [0, 1, 1, 0]` beside a 4-vector W."""
    text = "W = [0.2, 1.9, -0.7, 3]\nX(1)\nX(2)\nY = step(W[i] X[i])\nexport X, Y"
    out = run(text, backend)
    assert out["X"].tolist() == [0, 1, 1, 0] and out["Y"] == 1


def test_an_unknown_symbol_lists_the_nearest_ones() -> None:
    with pytest.raises(FuseError) as raised:
        Program(FAMILY + "Ancestor(Alise, x)?\n", "kb.fuse")
    rendered = str(raised.value)
    assert "kb.fuse:10:10: error: unknown symbol 'Alise' in position 1 of 'Ancestor'" in rendered
    assert "nearest symbols of that domain: Alice" in rendered


def test_a_fact_with_a_variable_is_an_error() -> None:
    with pytest.raises(FuseError, match="a fact names constants, but 'x' is a variable"):
        Program("Parent(Alice, x)", "kb.fuse")


@pytest.mark.parametrize(
    ("statement", "column"),
    [("Sister(Beth, Bob :).", 14), ("X(1+1).", 3), ("X(2:) = 1", 3)],
)
def test_a_fact_with_arithmetic_or_a_slice_is_a_located_error(statement: str, column: int) -> None:
    """Found by the program mutation fuzzer: a slice or index arithmetic in a
    fact's positions escaped as an AttributeError."""
    with pytest.raises(FuseError) as raised:
        Program(f"Sister(Beth, Bob).\n{statement}\nexport X", "kb.fuse").compile("numpy").run({})
    assert f"kb.fuse:2:{column}: error:" in str(raised.value)


def test_an_equation_at_a_constant_sum_is_the_equation_at_its_value() -> None:
    """`X(1+1) = 1` is not a fact (its position is arithmetic) but an
    equation at position 2, sized by it as `X(2) = 1` is."""
    exports = Program("X(1+1) = 1\nexport X", "kb.fuse").compile("numpy").run({})
    np.testing.assert_array_equal(exports["X"], [0, 0, 1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_argument_concat_merges_heads(backend: str) -> None:
    """The paper's `Merge[b, p, d_m] = concat(Attn[b, h, p, d_v])`: the
    indices the left-hand side lacks flatten, head-major, into d_m."""
    attn = np.random.default_rng(0).normal(size=(2, 3, 4, 5)).astype(np.float32)
    out = run("Merge[b, p, d_m] = concat(Attn[b, h, p, d_v])\nexport Merge", backend, Attn=attn)
    np.testing.assert_array_equal(out["Merge"], attn.transpose(0, 2, 1, 3).reshape(2, 4, 15))


def test_one_argument_concat_needs_one_new_index() -> None:
    with pytest.raises(FuseError, match="concat with one argument flattens"):
        Program("M[b, x, y] = concat(A[b, h])\nexport M", "m.fuse").compile().run(
            inputs={"A": np.ones((2, 3), np.float32)}
        )


def test_facts_that_would_span_a_huge_relation_are_refused() -> None:
    """Found by the mutation fuzzer: `Parent(1000000, Bob)` beside symbol
    facts made the front end allocate a 10^12-element table."""
    with pytest.raises(FuseError) as raised:
        Program(
            "Parent(1000000, Bob)\nParent(Alice, Beth)\nAnc(x, z) <- Parent(x, y), Parent(y, z)",
            "kb.fuse",
        )
    message = str(raised.value)
    assert "kb.fuse:1:1: error: the facts of 'Parent' span a 1000001 x 1000001" in message
