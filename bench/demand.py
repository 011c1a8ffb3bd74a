"""Issue 4, demand mode: a query from one node of a 5,000-node chain graph
against forward evaluation of the whole transitive closure.

    Path(x, y) = Edge(x, y)
    Path(x, z) += Path(x, y) Edge(y, z)

The queries `Path(4990, y)?` (reaching 9 nodes) and `Path(0, y)?` (reaching
all 4,999) go through `fuse-demand`, which substitutes the constant: the
fixpoint runs over one row of Path, one iteration per path length the
query reaches. Forward evaluation computes all of Path, a 5,000 x 5,000
relation, in 5,000 semi-naive iterations. Both run on the NumPy backend
with its default relations (sparse here), steady state from a dense Edge
array; row names carry the work: iterations and the size of the recursive
tensor.

The full forward run takes minutes (185 s on two cores): by default it is
timed over its first `FORWARD_ITERATIONS` iterations (`max_iters` stops it).
Its iterations only get dearer as Path fills, so that time is a lower
bound and each ratio an upper bound. `run(forward_iterations=None)` times
the whole run.

    python -m bench.demand
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import Row, best_of, print_table, row
from fuse import ExecutionConfig, Program
from fuse.lowering.backend import FixpointDivergence
from fuse.runtime.query import query_runner

NODES = 5_000
RULES = "Path(x, y) = Edge(x, y)\nPath(x, z) += Path(x, y) Edge(y, z)\n"
FORWARD_ITERATIONS = 1_000
# Node -> target ratio: far below forward for a node reaching little, and
# never above it for the node reaching everything.
QUERIES = {4_990: 0.1, 0: 1.0}


def chain(nodes: int) -> np.ndarray:
    """Edge(v, v + 1) for every node v but the last."""
    edge = np.zeros((nodes, nodes), dtype=np.float32)
    edge[np.arange(nodes - 1), np.arange(1, nodes)] = 1
    return edge


def forward_seconds(edge: np.ndarray, iterations: int | None) -> float:
    """One forward run computing all of Path (compiled beforehand), over its
    first `iterations` iterations, or all of them for None."""
    config = ExecutionConfig(max_iters=iterations or len(edge) + 1)
    runner = Program(RULES + "export Path\n").compile(config=config)
    runner.plan_for(runner.bind_inputs({"Edge": edge}))
    start = time.perf_counter()
    try:
        runner.run({"Edge": edge})
    except FixpointDivergence:
        if iterations is None:
            raise
    return time.perf_counter() - start


def run(repeat: int = 3, forward_iterations: int | None = FORWARD_ITERATIONS) -> list[Row]:
    edge = chain(NODES)
    inputs = {"Edge": edge}
    runner = Program(RULES).compile(config=ExecutionConfig(max_iters=NODES + 1))
    done = f"first {forward_iterations:,} of" if forward_iterations else "all"
    forward = (
        f"forward closure, {done} {NODES:,} iterations over {NODES:,}x{NODES:,}",
        forward_seconds(edge, forward_iterations),
    )
    rows = []
    for node, target in QUERIES.items():
        answering = query_runner(runner, "Path", x=node)
        answer = answering.run(inputs)["Query_Path"]
        np.testing.assert_array_equal(answer, np.arange(NODES) > node)
        (iterations,) = answering.last_plan.executable.fixpoint_iterations.values()
        name = (
            f"demand: Path({node}, y)? reaching {NODES - 1 - node:,} of a {NODES:,}-node "
            f"chain, {iterations:,} iterations over {NODES:,}"
        )
        seconds = best_of(lambda answering=answering: answering.run(inputs), repeat)
        rows.append(row(name, seconds, *forward, target))
    return rows


if __name__ == "__main__":
    print_table(run())
