"""Sparse relations in the NumPy backend (issue 4): scipy.sparse and dense
evaluation agree exactly on random graphs, the representation rule
(threshold, density, overrides), which values a run holds sparse, and the
polymorphic kernels against dense NumPy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from ir_helpers import parse_module
from test_semi_naive import closure
from xdsl.dialects.func import FuncOp

from fuse import ExecutionConfig, Program
from fuse.errors import FuseError
from fuse.lowering.numpy import NumpyExecutable, sparse
from fuse.lowering.numpy.fixpoint import tracker
from fuse.lowering.numpy.relations import (
    DENSITY_CUTOFF,
    input_converter,
    plan_relations,
    prefers_sparse,
)

LINEAR = """
Path(x, y) = Edge(x, y)
Path(x, z) += Path(x, y) Edge(y, z)
export Path
"""
NON_LINEAR = """
Path(x, y) = Edge(x, y)
Path(x, z) += Path(x, y) Path(y, z)
export Path
"""
MUTUAL = """
Odd(x, y) = Edge(x, y)
Odd(x, z) += Even(x, y) Edge(y, z)
Even(x, z) = Odd(x, y) Edge(y, z)
export Odd
export Even
"""
# Transposed joins, a join on all letters, projections, a filter by a
# vector, union with an inverse, max of two relations, and a max projection
# (which has no sparse form): the other relational kernels.
MIXED = """
Path(x, y) = Edge(x, y)
Path(x, z) += Edge(z, y) Path(x, y)
Sym(x, y) = Path(x, y) + Path(y, x)
Mutual(x, y) = Path(x, y) Path(y, x)
HasOut(x) = Edge(x, y)
Ends(x, y) = Path(x, y) HasOut(y)
Count[x] = Path(x, y)
Best[x, y] max= Path(x, y)
Best[x, y] max= Edge(y, x)
Top[x] max= Path(x, y) Edge(x, y)
export Sym
export Mutual
export Ends
export Count
export Best
export Top
"""
PROGRAMS = {"linear": LINEAR, "non-linear": NON_LINEAR, "mutual": MUTUAL, "mixed": MIXED}


def random_graph(n: int, degree: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n, n)) < degree / n).astype(np.float32)


def compile_program(text: str, **config: Any) -> Any:
    return Program(text).compile(backend="numpy", config=ExecutionConfig(**config))


def executable(runner: Any) -> NumpyExecutable:
    assert runner.last_plan is not None
    return runner.last_plan.executable


def run(
    text: str, edges: np.ndarray, **config: Any
) -> tuple[dict[str, np.ndarray], NumpyExecutable]:
    runner = compile_program(text, **config)
    return runner.run({"Edge": edges}), executable(runner)


# --- dense and sparse agree --------------------------------------------------------


@pytest.mark.parametrize("strategy", ["naive", "semi_naive", "auto"])
@pytest.mark.parametrize("name", list(PROGRAMS))
@pytest.mark.parametrize("seed", range(2))
def test_sparse_equals_dense_on_random_graphs(name: str, strategy: str, seed: int) -> None:
    edges = random_graph(60, 1.5, seed)
    dense, dense_exe = run(PROGRAMS[name], edges, fixpoint_strategy=strategy, relations="dense")
    for relations in ("sparse", "auto"):
        held, held_exe = run(
            PROGRAMS[name],
            edges,
            fixpoint_strategy=strategy,
            relations=relations,
            sparse_threshold=1,
        )
        assert held.keys() == dense.keys()
        for tensor, value in held.items():
            assert type(value) is np.ndarray and value.dtype == np.float32
            np.testing.assert_array_equal(value, dense[tensor], err_msg=f"{relations} {tensor}")
        assert held_exe.fixpoint_iterations == dense_exe.fixpoint_iterations
        assert "Edge" in held_exe.held_sparse
    assert dense_exe.held_sparse == frozenset()


def test_float_recursion_over_a_sparse_relation() -> None:
    """Path counting in a DAG is sum recursion (`difference` deltas): its
    values stay dense, and its joins with Edge, held sparse because a
    Boolean rule reads it too, give dense results."""
    text = """
    Count[x, y] = Edge[x, y]
    Count[x, z] += Count[x, y] Edge[y, z]
    Linked(x, y) = Edge(x, y) + Edge(y, x)
    export Count
    export Linked
    """
    edges = np.triu(random_graph(40, 4.0, 1), k=1)
    for strategy in ("naive", "semi_naive"):
        dense, _ = run(text, edges, fixpoint_strategy=strategy, relations="dense")
        held, exe = run(text, edges, fixpoint_strategy=strategy, relations="sparse")
        for name in ("Count", "Linked"):
            np.testing.assert_array_equal(held[name], dense[name])
        assert exe.held_sparse == {"Edge"}


# --- the representation rule -------------------------------------------------------


@pytest.mark.parametrize(
    ("relations", "shape", "density", "expected"),
    [
        ("auto", (256, 256), 0.01, True),  # 65536 elements: the default threshold
        ("auto", (255, 256), 0.01, False),  # below the threshold
        ("auto", (1000, 1000), DENSITY_CUTOFF, False),  # at the density cutoff
        ("auto", (1000, 1000), DENSITY_CUTOFF / 2, True),
        ("auto", (1000,), 0.0, False),  # rank 1: always dense
        ("auto", (100, 100, 100), 0.0, False),  # rank 3: always dense
        ("sparse", (4, 4), 1.0, True),  # rank 2, whatever the size and density
        ("sparse", (1000, 10, 10), 0.0, False),
        ("dense", (1000, 1000), 0.0, False),
    ],
)
def test_prefers_sparse(
    relations: str, shape: tuple[int, ...], density: float, expected: bool
) -> None:
    config = ExecutionConfig(relations=relations)
    assert prefers_sparse(config, shape, density) is expected


def test_sparse_threshold_comes_from_the_config() -> None:
    assert prefers_sparse(ExecutionConfig(sparse_threshold=100), (10, 10), 0.0)
    assert not prefers_sparse(ExecutionConfig(sparse_threshold=101), (10, 10), 0.0)


def test_inputs_are_converted_by_observed_density() -> None:
    sparse_input = random_graph(300, 2.0, 0)
    dense_input = random_graph(300, 150.0, 0)  # half ones
    auto = input_converter(ExecutionConfig())
    assert sp.issparse(auto(sparse_input)) and auto(dense_input) is dense_input
    forced = input_converter(ExecutionConfig(relations="sparse"))(dense_input)
    assert sp.issparse(forced) and forced.format == "csr"
    np.testing.assert_array_equal(forced.toarray(), dense_input)


STEPS = """
func.func @main(%E: tensor<300x300xf32> {fuse.name = "E"}, %v: tensor<300xf32> {fuse.name = "v"},
                %w: tensor<300x300xf32> {fuse.name = "w"}) -> tensor<300x300xf32> {
  %outer = fuse.einsum "i,j->ij" sum (%v, %v) : (tensor<300xf32>, tensor<300xf32>) -> tensor<300x300xf32>
  %a = fuse.unary step %outer : tensor<300x300xf32>
  %b = fuse.binary add "ij,ij->ij" (%E, %a) : (tensor<300x300xf32>, tensor<300x300xf32>) -> tensor<300x300xf32>
  %c = fuse.unary step %b : tensor<300x300xf32>
  %d = fuse.unary relu %w : tensor<300x300xf32>
  %e = fuse.binary add "ij,ij->ij" (%c, %d) : (tensor<300x300xf32>, tensor<300x300xf32>) -> tensor<300x300xf32>
  func.return %e : tensor<300x300xf32>
}"""


def _main(text: str) -> FuncOp:
    return next(op for op in parse_module(text).walk() if isinstance(op, FuncOp))


@pytest.mark.parametrize(
    ("relations", "threshold", "inputs", "sparse_steps"),
    [
        # E feeds a step: a candidate; w does not. The step of vectors
        # only (%a) is expected dense, the one of E (%c) sparse.
        ("auto", 65536, (0,), {"c"}),
        ("auto", 90001, (), set()),  # 300 x 300 is below the threshold
        ("sparse", 90001, (0,), {"a", "c"}),
        ("dense", 1, (), set()),
    ],
)
def test_static_decisions(
    relations: str, threshold: int, inputs: tuple[int, ...], sparse_steps: set[str]
) -> None:
    config = ExecutionConfig(relations=relations, sparse_threshold=threshold)
    decided = plan_relations(_main(STEPS), config)
    assert decided.inputs == inputs
    assert {value.name_hint for value in decided.steps} == sparse_steps


# --- what a run holds sparse ---------------------------------------------------------


def test_a_large_sparse_source_stays_sparse_through_a_fixpoint() -> None:
    edges = random_graph(400, 1.5, 0)  # 160,000 elements, density 0.4%
    for strategy in ("naive", "semi_naive"):
        held, exe = run(LINEAR, edges, fixpoint_strategy=strategy)  # relations="auto"
        assert exe.held_sparse == {"Edge", "Path"}
        dense, _ = run(LINEAR, edges, fixpoint_strategy=strategy, relations="dense")
        np.testing.assert_array_equal(held["Path"], dense["Path"])


def test_fixpoint_iterates_and_deltas_are_csr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Observed through spies on the kernels: every join and step inside a
    semi-naive closure over a large sparse Edge gets CSR operands (the
    iterate, the delta, Edge)."""
    seen: set[str] = set()
    build_einsum, step = sparse.einsum, sparse.step

    def spy_einsum(*args: Any) -> Any:
        kernel = build_einsum(*args)
        assert kernel is not None
        return lambda *xs: seen.update(type(x).__name__ for x in xs) or kernel(*xs)

    monkeypatch.setattr(sparse, "einsum", spy_einsum)
    monkeypatch.setattr(sparse, "step", lambda x: seen.add(type(x).__name__) or step(x))
    _, exe = run(LINEAR, random_graph(400, 1.5, 0), fixpoint_strategy="semi_naive")
    assert exe.fixpoint_iterations["Path"] > 3
    assert seen == {"csr_array"}


def test_small_or_dense_relations_stay_dense() -> None:
    _, small = run(LINEAR, random_graph(100, 1.5, 0))  # 10,000 < 65,536 elements
    assert small.held_sparse == frozenset()
    dense_input = random_graph(300, 150.0, 0)
    result, exe = run(LINEAR, dense_input)
    assert exe.held_sparse == {"Path"}  # the density check keeps Edge dense
    expected, _ = run(LINEAR, dense_input, relations="dense")
    np.testing.assert_array_equal(result["Path"], expected["Path"])


def test_ops_without_a_sparse_form_densify() -> None:
    """softmax over a sparse relation, and a division by one."""
    text = """
    Path(x, y) = Edge(x, y)
    Path(x, z) += Path(x, y) Edge(y, z)
    Soft[x, y.] = softmax(Path[x, y])
    Ratio[x, y] = Edge[x, y] / (Path[x, y] + 1)
    export Soft
    export Ratio
    """
    edges = random_graph(50, 1.5, 2)
    dense, _ = run(text, edges, relations="dense")
    held, exe = run(text, edges, relations="sparse")
    assert exe.held_sparse == {"Edge", "Path"}
    for name in ("Soft", "Ratio"):
        np.testing.assert_array_equal(held[name], dense[name])


# --- kernels ---------------------------------------------------------------------------

RNG = np.random.default_rng(0)


def relation(shape: tuple[int, ...], negative: bool = False) -> np.ndarray:
    values = RNG.integers(-2 if negative else 0, 4, size=shape).astype(np.float32)
    return np.where(RNG.random(shape) < 0.3, values, np.float32(0.0))


def as_sparse(x: np.ndarray) -> Any:
    return sparse.to_csr(x) if x.ndim == 2 else x


def check_kernel(kernel: Any, operands: list[np.ndarray], expected: np.ndarray) -> None:
    """The kernel on every mix of CSR and dense rank-2 operands."""
    for mask in range(1 << len(operands)):
        args = [as_sparse(x) if mask >> n & 1 else x for n, x in enumerate(operands)]
        result = kernel(*args)
        if sp.issparse(result):
            assert result.format == "csr" and result.has_canonical_format
            result = result.toarray()
        np.testing.assert_allclose(np.asarray(result), expected, rtol=1e-6)


@pytest.mark.parametrize(
    "subscripts",
    [
        "ij,jk->ik",
        "ji,jk->ik",
        "ij,kj->ik",
        "ji,kj->ki",
        "j,jk->k",
        "ij,j->i",
        "ij,ij->ij",
        "ij,ji->ij",
        "ij,j->ij",
        "ij->ji",
        "ij->i",
        "ij->j",
        "ij->",
    ],
)
def test_einsum_kernels(subscripts: str) -> None:
    inputs, output = subscripts.split("->")
    letters = inputs.split(",")
    operands = [relation(tuple(5 if c in "ik" else 7 for c in s)) for s in letters]
    shapes = [x.shape for x in operands]
    maybe_sparse = [x.ndim == 2 for x in operands]
    kernel = sparse.einsum(letters, output, "sum", shapes, maybe_sparse)
    assert kernel is not None
    check_kernel(kernel, operands, np.einsum(subscripts, *operands))


@pytest.mark.parametrize(
    ("subscripts", "kind"), [("ij,jk,kl->il", "sum"), ("ij,jk->ik", "max"), ("ii,ij->j", "sum")]
)
def test_einsum_without_a_sparse_form(subscripts: str, kind: str) -> None:
    inputs, output = subscripts.split("->")
    shapes = [(4, 4)] * len(inputs.split(","))
    assert sparse.einsum(inputs.split(","), output, kind, shapes, [True] * len(shapes)) is None


def aligned(letters: str, output: str, x: np.ndarray) -> np.ndarray:
    """`x` laid out along `output`, with size-1 axes for missing letters."""
    kept = "".join(c for c in output if c in letters)
    return np.einsum(f"{letters}->{kept}", x).reshape(
        [x.shape[letters.index(c)] if c in letters else 1 for c in output]
    )


UFUNCS = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "max": np.maximum,
    "min": np.minimum,
}


@pytest.mark.parametrize("fn", list(UFUNCS))
@pytest.mark.parametrize("subscripts", ["ij,ij->ij", "ij,ji->ij", "ij,j->ij", "i,ij->ij"])
def test_binary_kernels(fn: str, subscripts: str) -> None:
    inputs, output = subscripts.split("->")
    a, b = inputs.split(",")
    x, y = relation((6,) * len(a), negative=True), relation((6,) * len(b), negative=True)
    kernel = sparse.binary(fn, subscripts, [x.shape, y.shape], [x.ndim == 2, y.ndim == 2])
    assert kernel is not None
    expected = UFUNCS[fn](aligned(a, output, x), aligned(b, output, y))
    check_kernel(kernel, [x, y], expected)


def test_binary_without_a_sparse_form() -> None:
    assert sparse.binary("div", "ij,ij->ij", [(3, 3)] * 2, [True, False]) is None
    assert sparse.binary("add", "ij,jk->ijk", [(3, 3)] * 2, [True, False]) is None


@pytest.mark.parametrize("kind", [None, "changed", "difference"])
def test_sparse_fixpoint_trackers_match_dense(kind: str | None) -> None:
    """Change and delta of one step, on 0/1 values: growing, shrinking
    (a dropped fact), mixed and unchanged."""
    grown = relation((6, 6)) > 0
    shrunk = grown & (RNG.random((6, 6)) < 0.5)
    mixed = RNG.random((6, 6)) < 0.3
    pairs = [(grown, shrunk), (shrunk, grown), (mixed, grown), (grown, grown)]
    for cur, prev in (tuple(x.astype(np.float32) for x in pair) for pair in pairs):
        change, delta = tracker(kind, False)(cur, prev)
        sparse_change, sparse_delta = tracker(kind, True)(sparse.to_csr(cur), sparse.to_csr(prev))
        assert sparse_change == change
        if kind is None:
            assert delta is None and sparse_delta is None
        else:
            np.testing.assert_array_equal(sparse_delta.toarray(), delta)


def test_step_kernel() -> None:
    x = relation((8, 8), negative=True)
    for operand in (x, sparse.to_csr(x), sparse.to_csr(np.abs(x)), sparse.zeros((8, 8))):
        result = sparse.step(operand)
        assert result.format == "csr" and result.has_canonical_format
        expected = (sparse.to_dense(operand) > 0).astype(np.float32)
        np.testing.assert_array_equal(result.toarray(), expected)


@pytest.mark.parametrize("dim", [0, 1])
def test_take_kernel_reads_a_line_without_densifying(
    dim: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = relation((9, 7), negative=True)
    monkeypatch.setattr(sparse, "to_dense", lambda _: pytest.fail("densified"))
    for position in range(x.shape[dim]):
        kernel = sparse.take(dim, position)
        expected = np.take(x, position, axis=dim)
        for operand in (x, sparse.to_csr(x)):
            np.testing.assert_array_equal(kernel(operand), expected)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("seed", [0, 1])
def test_a_relation_given_as_a_scipy_sparse_matrix(backend: str, seed: int) -> None:
    """`run(inputs={"Edge": csr})`: the same closure as the dense input on
    every backend. NumPy holds it sparse without a dense pass over it (the
    REPL's fact relations); torch and jax are given it dense."""
    rng = np.random.default_rng(seed)
    edges = (rng.random((400, 400)) < 0.004).astype(np.float32)
    given = sp.csr_array(edges.astype(np.float64))  # any real dtype, as for arrays
    runner = Program(LINEAR).compile(backend)
    sparse_run = np.asarray(runner.run({"Edge": given})["Path"])
    np.testing.assert_array_equal(sparse_run, closure(edges))
    if backend == "numpy":
        assert "Edge" in runner.last_plan.executable.held_sparse
    np.testing.assert_array_equal(given.toarray(), edges)  # the caller's matrix is untouched


def test_a_sparse_input_is_checked_like_an_array() -> None:
    runner = Program(LINEAR).compile("numpy")
    complex_edges = sp.csr_array(np.eye(4, dtype=np.complex64))
    with pytest.raises(FuseError, match="input 'Edge' has complex"):
        runner.run({"Edge": complex_edges})
    dense_only = Program("Y[i] = A[i, j] B[j]\nexport Y").compile("numpy")
    out = dense_only.run({"A": sp.csr_array(np.eye(3, dtype=np.float32)), "B": np.ones(3)})
    np.testing.assert_array_equal(out["Y"], np.ones(3))
