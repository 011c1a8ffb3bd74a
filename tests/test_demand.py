"""Demand mode: query statements, `fuse-demand` and `runner.query`.

The contract: a query's answer equals forward evaluation sliced at its
constants, on every backend, while the rewritten program computes only what
the query reaches (one row of a left-linear closure, the magic set's rows
of a right-linear one)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp

from fuse import Program
from fuse.dialects.fuse import ExportOp, QueryOp, RuleOp, SinkOp, TensorOp
from fuse.errors import FuseError
from fuse.frontend import load, parse, print_program
from fuse.frontend.ast import IndexConst, IndexVar, Query
from fuse.lowering.ir_builder import build_module
from fuse.pipeline import run_passes
from fuse.runtime.query import query, query_runner

BACKENDS = ["numpy", "jax", "torch"]
N = 7

LEFT = "Path(x, y) = Edge(x, y)\nPath(x, z) += Path(x, y) Edge(y, z)\n"
RIGHT = "Path(x, y) = Edge(x, y)\nPath(x, z) += Edge(x, y) Path(y, z)\n"
DOUBLING = "Path(x, y) = Edge(x, y)\nPath(x, z) += Path(x, y) Path(y, z)\n"
EVEN_ODD = "Odd(x, y) = Edge(x, y)\nOdd(x, z) += Even(x, y) Edge(y, z)\nEven(x, z) = Odd(x, y) Edge(y, z)\n"
# Weighted path sums over a DAG with signed weights: numeric sum recursion,
# whose magic sets must not let signs cancel a demand.
COUNT = "Count[x, y] = Dag[x, y]\nCount[x, z] += Dag[x, y] Count[y, z]\n"
WIDEST = "Best[x, y] max= W[x, y]\nBest[x, z] max= Best[x, y] W[y, z]\n"
LAYERS = "H[i] = relu(W[i, j] X[j])\nY[k] = V[k, i] H[i]\n"
FROM_ZERO = "Reach(y) = Path(0, y)\n" + RIGHT
# Three-way recursion, a constant inside a rule and a second relation.
TRIANGLE = (
    "A(x, y) = Edge(x, y)\nA(x, z) += C(x, y) Edge(y, z)\nB(x, z) = A(x, y) F(y, z)\n"
    "C(x, z) = B(x, y) Edge(y, z) + Edge(x, 0) F(0, z)\n"
)
# The sideways factor is itself derived (and specialized to the constant).
STEPS = (
    "Step(x, y) = Edge(x, y) Ok(y)\nPath(x, y) = Step(x, y)\nPath(x, z) += Step(x, y) Path(y, z)\n"
)


def _inputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "Edge": (rng.random((N, N)) < 0.2).astype(np.float32),
        "F": (rng.random((N, N)) < 0.3).astype(np.float32),
        "Ok": (rng.random(N) < 0.7).astype(np.float32),
        "Dag": np.triu(rng.integers(-1, 3, (N, N)), 1).astype(np.float32),
        "W": rng.random((N, N)).astype(np.float32),
        "X": rng.standard_normal(N).astype(np.float32),
        "V": rng.standard_normal((N, N)).astype(np.float32),
    }


def _slice(*index: int | slice) -> Callable[[np.ndarray], np.ndarray]:
    return lambda value: value[index]


ALL = slice(None)
CASES = [
    (LEFT, "Path(3, y)?", "Path", _slice(3, ALL)),
    (LEFT, "Path(x, 5)?", "Path", _slice(ALL, 5)),
    (LEFT, "Path(2, 6)?", "Path", _slice(2, 6)),
    (LEFT, "Path(x, x)?", "Path", np.diag),
    (RIGHT, "Path(3, y)?", "Path", _slice(3, ALL)),
    (RIGHT, "Path(x, 1)?", "Path", _slice(ALL, 1)),
    (DOUBLING, "Path(1, y)?", "Path", _slice(1, ALL)),
    (EVEN_ODD, "Even(2, y)?", "Even", _slice(2, ALL)),
    (EVEN_ODD, "Odd(x, 4)?", "Odd", _slice(ALL, 4)),
    (COUNT, "Count[0, z]?", "Count", _slice(0, ALL)),
    (COUNT, "Count[x, 6]?", "Count", _slice(ALL, 6)),
    (WIDEST, "Best[4, z]?", "Best", _slice(4, ALL)),
    (LAYERS, "Y[2]?", "Y", _slice(2)),
    (LAYERS, "H[i]?", "H", _slice(ALL)),
    (FROM_ZERO, "Reach(y)?", "Reach", _slice(ALL)),
    (TRIANGLE, "B[x, 1]?", "B", _slice(ALL, 1)),
    (TRIANGLE, "C(2, y)?", "C", _slice(2, ALL)),
    (STEPS, "Path(1, y)?", "Path", _slice(1, ALL)),
]


def _needed(program: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = {n for n in inputs if f"{n}[" in program or f"{n}(" in program}
    return {n: inputs[n] for n in names}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("rules", "text", "tensor", "select"), CASES)
def test_answer_equals_forward_evaluation_sliced(
    backend: str, rules: str, text: str, tensor: str, select: Callable
) -> None:
    inputs = _needed(rules, _inputs())
    forward = Program(rules + f"export {tensor}\n").compile().run(inputs)[tensor]
    answers = Program(rules + text + "\n").compile(backend=backend).run(inputs)
    assert list(answers) == [f"Query_{tensor}"]
    np.testing.assert_allclose(np.asarray(answers[f"Query_{tensor}"]), select(forward), rtol=1e-6)


# --- the rewrite ---------------------------------------------------------------


def _demanded(text: str) -> ModuleOp:
    module = build_module(load(text))
    run_passes(module, ["fuse-canonicalize-projections", "fuse-demand"])
    module.verify()
    return module


def _tensors(module: ModuleOp) -> dict[str, TensorOp]:
    return {op.tensor_name: op for op in module.walk() if isinstance(op, TensorOp)}


def test_left_linear_query_recurses_over_one_row() -> None:
    tensors = _tensors(_demanded(LEFT + "Path(3, y)?\n"))
    assert set(tensors) == {"Edge", "Path_cf", "Query_Path"}
    assert [str(n) for n in tensors["Path_cf"].indices.data] == ["y"]
    assert tensors["Path_cf"].boolean is not None


def test_right_linear_query_grows_a_magic_set() -> None:
    module = _demanded(RIGHT + "Path(3, y)?\n")
    tensors = _tensors(module)
    assert set(tensors) == {"Edge", "Path_cf", "Path_bf", "Magic_Path_bf", "Query_Path"}
    rules = {op.tensor_name: op for op in module.walk() if isinstance(op, RuleOp)}
    magic_reads = [
        op.tensor_name for op in rules["Magic_Path_bf"].body.walk() if op.name == "fuse.load"
    ]
    assert sorted(magic_reads) == ["Edge", "Edge", "Magic_Path_bf"]
    guarded = [op.tensor_name for op in rules["Path_bf"].body.walk() if op.name == "fuse.load"]
    assert "Magic_Path_bf" in guarded


def test_queries_keep_the_programs_exports_and_sinks() -> None:
    text = LEFT + 'Deg[x] = Edge(x, y)\nUnused[x] = Edge(x, x)\nexport Path\n"deg.npy" = Deg[x]\n'
    module = _demanded(text + "Path(1, y)?\n")
    exports = [op.tensor.root_reference.data for op in module.walk() if isinstance(op, ExportOp)]
    assert exports == ["Path", "Query_Path"]
    assert [op.path.data for op in module.walk() if isinstance(op, SinkOp)] == ["deg.npy"]
    assert not any(isinstance(op, QueryOp) for op in module.walk())
    assert "Deg" in _tensors(module)
    assert "Unused" not in _tensors(module)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_program_with_a_query_returns_its_exports_and_writes_its_sinks(
    backend: str, tmp_path
) -> None:
    """The query adds an answer; the exports, the sinks and the inputs they
    need stay as without it."""
    edge = _inputs()["Edge"]
    reach = np.linalg.matrix_power(np.eye(N) + edge, N) > 0  # reflexive closure
    closure = (edge @ reach > 0).astype(np.float32)  # paths of length >= 1
    text = LEFT + 'Deg[x] = Edge(x, y)\nexport Path\n"deg.npy" = Deg[x]\nPath(1, y)?\n'
    results = Program(text, base_dir=tmp_path).compile(backend=backend).run({"Edge": edge})
    assert list(results) == ["Path", "Query_Path"]
    np.testing.assert_array_equal(np.asarray(results["Path"]), closure)
    np.testing.assert_array_equal(np.asarray(results["Query_Path"]), closure[1])
    np.testing.assert_array_equal(np.load(tmp_path / "deg.npy"), edge.sum(axis=1))


def test_runner_query_does_not_write_the_programs_sinks(tmp_path) -> None:
    program = Program(LEFT + '"path.npy" = Path[x, y]\nexport Path\n', base_dir=tmp_path)
    answer = query(program.compile(), "Path", {"Edge": np.eye(N, k=1, dtype=np.float32)}, x=2)
    np.testing.assert_array_equal(answer, np.arange(N) > 2)
    assert not (tmp_path / "path.npy").exists()


def test_several_queries_and_a_taken_answer_name() -> None:
    text = LEFT + "Query_Path[x] = Edge(x, x)\nPath(1, y)?\nPath(x, 2)?\nQuery_Path[x]?\n"
    answers = Program(text).compile().run({"Edge": np.eye(N, k=1, dtype=np.float32)})
    assert list(answers) == ["Query_Path_1", "Query_Path_2", "Query_Query_Path"]
    np.testing.assert_array_equal(answers["Query_Path_1"], np.arange(N) > 1)
    np.testing.assert_array_equal(answers["Query_Path_2"], np.arange(N) < 2)


def test_a_program_without_queries_is_unchanged() -> None:
    text = LEFT + "export Path\n"
    module = build_module(load(text))
    run_passes(module, ["fuse-canonicalize-projections"])
    before = str(module)
    run_passes(module, ["fuse-demand"])
    assert str(module) == before


@pytest.mark.parametrize(
    ("rules", "text", "reason"),
    [
        (
            "R(t, x) = Edge(t, x)\nR(0, x) += R(0, y) Edge(y, x)\n",
            "R[0, x]?",
            "@R has a rule on a slice (an integer left-hand-side index)",
        ),
        (
            "S[p, t.] = softmax(X[p, t])\n",
            "S[p, 1]?",
            "@S applies 'softmax' over bound index 't'",
        ),
    ],
)
def test_unsupported_patterns_answer_from_forward_evaluation(
    rules: str, text: str, reason: str
) -> None:
    module = _demanded(rules + text + "\n")
    (answer,) = [
        op for op in module.walk() if isinstance(op, RuleOp) and op.tensor_name.startswith("Query_")
    ]
    assert answer.attributes["forward_reason"].data == reason
    tensor = text.split("[")[0]
    rng = np.random.default_rng(1)
    inputs = _needed(
        rules,
        {
            "Edge": (rng.random((N, N)) < 0.3).astype(np.float32),
            "X": rng.random((N, N)).astype(np.float32),
        },
    )
    forward = Program(rules + f"export {tensor}\n").compile().run(inputs)[tensor]
    (value,) = Program(rules + text + "\n").compile().run(inputs).values()
    np.testing.assert_allclose(value, forward[0] if tensor == "R" else forward[:, 1], rtol=1e-6)


def test_work_is_proportional_to_what_the_query_reaches() -> None:
    """On a chain, a query from node k iterates about as many times as k
    reaches nodes, and never over the matrix."""
    n = 40
    chain = np.eye(n, k=1, dtype=np.float32)
    runner = Program(LEFT + "export Path\n").compile()
    for node, reached in [(n - 4, 3), (n - 11, 10)]:
        answering = query_runner(runner, "Path", x=node)
        np.testing.assert_array_equal(
            answering.run({"Edge": chain})["Query_Path"], np.arange(n) > node
        )
        (iterations,) = answering.last_plan.executable.fixpoint_iterations.values()
        assert reached <= iterations <= reached + 2


# --- runner.query ------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_query_function(backend: str) -> None:
    edge = np.eye(N, k=1, dtype=np.float32)
    runner = Program(RIGHT + "export Path\n").compile(backend=backend)
    np.testing.assert_array_equal(
        np.asarray(query(runner, "Path", {"Edge": edge}, x=2)), np.arange(N) > 2
    )
    np.testing.assert_array_equal(
        np.asarray(query(runner, "Path", {"Edge": edge}, y=2)), np.arange(N) < 2
    )
    assert float(query(runner, "Path", {"Edge": edge}, x=np.int64(1), y=5)) == 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_inputs_a_query_does_not_reach_are_not_needed(backend: str) -> None:
    program = Program(LEFT + "Score[i] = relu(W[i, j] X[j])\nexport Path, Score\n")
    runner = program.compile(backend=backend)
    edge = np.eye(N, k=1, dtype=np.float32)
    answer = query(runner, "Path", {"Edge": edge}, x=2)  # no W, no X
    np.testing.assert_array_equal(np.asarray(answer), np.arange(N) > 2)
    with pytest.raises(FuseError, match="missing runtime input 'Edge'"):
        query(runner, "Path", {"W": np.ones((2, 2), np.float32)}, x=2)
    with pytest.raises(FuseError, match="missing runtime input 'X'"):
        query(runner, "Score", {"W": np.ones((2, 2), np.float32)}, i=0)
    with pytest.raises(FuseError, match="missing runtime input 'W'"):  # no query: all needed
        runner.run({"Edge": edge, "X": np.ones(2, np.float32)})


def test_query_runners_are_compiled_once() -> None:
    runner = Program(LEFT).compile()
    assert query_runner(runner, "Path", x=1) is query_runner(runner, "Path", x=1)
    assert query_runner(runner, "Path", x=1) is not query_runner(runner, "Path", x=2)


def test_query_ignores_the_programs_own_queries() -> None:
    runner = Program(LEFT + "Path(0, y)?\n").compile()
    answer = query(runner, "Path", {"Edge": np.eye(N, k=1, dtype=np.float32)}, y=3)
    np.testing.assert_array_equal(answer, np.arange(N) < 3)


@pytest.mark.parametrize(
    ("tensor", "bindings", "message"),
    [
        ("Path", {"z": 1}, "query of 'Path': it has no index 'z' (its indices: x, y)"),
        ("Path", {"x": -1}, "query of 'Path': index x=-1 must be a non-negative integer"),
        ("Path", {"x": 1.5}, "query of 'Path': index x=1.5 must be a non-negative integer"),
        ("Path", {"x": True}, "query of 'Path': index x=True must be a non-negative integer"),
        ("Edge", {"x": 1}, "query of runtime input 'Edge': no equation or source defines it"),
        ("Nope", {}, "query of undefined tensor 'Nope': the program does not mention it"),
    ],
)
def test_query_errors(tensor: str, bindings: dict, message: str) -> None:
    runner = Program(LEFT).compile()
    with pytest.raises(FuseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        query(runner, tensor, {"Edge": np.eye(N, dtype=np.float32)}, **bindings)


# --- the query statement ---------------------------------------------------------


def test_query_statement_parses_and_prints() -> None:
    program = parse("Path(3, y)?\nY[i, 0]?\nV?\n")
    assert program.statements == (
        Query("Path", (IndexConst(3), IndexVar("y")), True),
        Query("Y", (IndexVar("i"), IndexConst(0))),
        Query("V"),
    )
    assert print_program(program) == "Path(3, y)?\nY[i, 0]?\nV?\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("P(x) = E(x)\nP(y.)?", "dotted index 'y.' in a query"),
        ("P(x) = E(x)\nE(1)?", "query of runtime input 'E': no equation or source defines it"),
        ("P(x) = E(x)\nQ(1)?", "query of undefined tensor 'Q': no equation or source defines it"),
        ("P(x) = E(x)\nP(1, 2)?", "tensor 'P' is used with rank 2 here but with rank 1 at 1:1"),
    ],
)
def test_query_statement_errors(text: str, message: str) -> None:
    with pytest.raises(FuseError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(text)


def test_query_runners_do_not_share_cached_plans(tmp_path) -> None:
    edge = np.eye(N, k=1, dtype=np.float32)
    runner = Program(LEFT + "export Path\n").compile(cache_dir=tmp_path)
    np.testing.assert_array_equal(runner.run({"Edge": edge})["Path"], np.triu(np.ones((N, N)), 1))
    np.testing.assert_array_equal(query(runner, "Path", {"Edge": edge}, x=2), np.arange(N) > 2)
