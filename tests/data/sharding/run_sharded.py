"""Runs every conformance case sharded over simulated CPU devices.

Usage: python run_sharded.py OUT.json. Started by tests/test_sharding.py in
a process of its own, because the device count must be set before JAX
starts (here, not globally). For each case and each layout (data-parallel,
model-parallel, 2-D) it picks indices whose sizes the mesh axes divide,
runs the case on the jax backend sharded and on one device, and records
the largest difference, the per-device shard shapes of the results and the
collectives in the compiled HLO.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from fuse import ExecutionConfig, RuntimePolicies
from fuse.runtime.declarations import tensor_declarations
from fuse.runtime.sharding import collectives
from tests.conformance.programs import CASES


def index_sizes(program, values) -> dict[str, int]:
    """Sizes of the indices of the tensors at the program's edges (inputs,
    sources and exports, from their arrays); an index with two sizes is
    left out (declarations name indices per tensor, not per program)."""
    sizes: dict[str, set[int]] = {}
    for declaration in tensor_declarations(program.ast):
        if declaration.name in values:
            for index, size in zip(
                declaration.indices, np.shape(values[declaration.name]), strict=True
            ):
                sizes.setdefault(index, set()).add(size)
    return {index: found.pop() for index, found in sizes.items() if len(found) == 1}


def layouts(sizes: dict[str, int]) -> dict[str, tuple[dict, dict]]:
    """(sharding rules, mesh) per layout, from the indices the mesh divides:
    the largest device count (at most 8; 4 x 2 for 2-D) dividing each size."""

    def ways(size: int, most: int) -> int:
        """The most devices (at most `most`) that split `size` evenly."""
        return max((n for n in range(2, most + 1) if size % n == 0), default=1)

    splittable = [index for index, size in sizes.items() if ways(size, 8) > 1]
    chosen: dict[str, tuple[dict, dict]] = {}
    if splittable:
        data, model = splittable[0], splittable[-1]
        chosen["data"] = ({data: "data"}, {"data": ways(sizes[data], 8)})
        chosen["model"] = ({model: "model"}, {"model": ways(sizes[model], 8)})
        pairs = [
            (a, b)
            for a in splittable
            for b in splittable
            if a != b and ways(sizes[a], 4) > 1 and ways(sizes[b], 2) > 1
        ]
        if pairs:
            data, model = pairs[0]
            chosen["2d"] = (
                {data: "data", model: "model"},
                {"data": ways(sizes[data], 4), "model": ways(sizes[model], 2)},
            )
    return chosen


MLP = """
H[b, j] = relu(X[b, i] W1[i, j])
Y[b, l] = H[b, j] W2[j, l]
export Y
"""


def mlp_collectives() -> dict[str, dict[str, int]]:
    """Collectives in the compiled MLP per layout: data-parallel keeps the
    sharded index everywhere, model-parallel projects it (`j`)."""
    from fuse import Program

    rng = np.random.default_rng(0)
    data = {
        "X": rng.standard_normal((16, 8)).astype(np.float32),
        "W1": rng.standard_normal((8, 8)).astype(np.float32),
        "W2": rng.standard_normal((8, 4)).astype(np.float32),
    }
    found = {}
    for layout, rules, mesh in [
        ("data", {"b": "data"}, {"data": 8}),
        ("model", {"j": "model"}, {"model": 8}),
        ("2d", {"b": "data", "j": "model"}, {"data": 4, "model": 2}),
    ]:
        runner = Program(MLP).compile(
            backend="jax",
            config=ExecutionConfig(mesh=mesh),
            policies=RuntimePolicies(sharding=rules),
        )
        runner.run(data)
        found[layout] = collectives(runner.last_plan.executable.compiled_hlo())
    return found


def indivisible_error() -> str:
    """The error for a mesh axis that does not divide the size it splits."""
    from fuse import FuseError, Program

    runner = Program(MLP).compile(
        backend="jax",
        config=ExecutionConfig(mesh={"data": 4}),
        policies=RuntimePolicies(sharding={"b": "data"}),
    )
    ones = {"X": np.ones((6, 8), np.float32), "W1": np.ones((8, 8), np.float32)}
    try:
        runner.run({**ones, "W2": np.ones((8, 4), np.float32)})
    except FuseError as error:
        return str(error)
    return "no error"


def main() -> int:
    report = []
    unsplittable: dict[str, dict[str, int]] = {}
    for case in CASES:
        with tempfile.TemporaryDirectory() as directory:
            program = case.program(Path(directory))
            runner = program.compile(backend="jax", config=case.config)
            single = runner.run(case.inputs or None)
            sources = runner.load_sources(case.inputs or {}, require_all=False)
            edges = {**sources, **case.inputs, **single}
            sizes = index_sizes(program, edges)
            chosen = layouts(sizes)
            if not chosen:  # every index has size 1 or a prime above 8
                unsplittable[case.name] = sizes
            for layout, (rules, mesh) in chosen.items():
                config = ExecutionConfig(**{**case.config.__dict__, "mesh": mesh})
                runner = program.compile(
                    backend="jax", config=config, policies=RuntimePolicies(sharding=rules)
                )
                sharded = runner.run(case.inputs or None)
                difference = max(
                    float(np.max(np.abs(np.asarray(sharded[n]) - np.asarray(v)), initial=0.0))
                    for n, v in single.items()
                )
                plan = runner.last_plan
                results = runner.xla_callable({**sources, **case.inputs})
                shards = {
                    name: {
                        "shape": list(value.shape),
                        "shard": list(value.addressable_shards[0].data.shape),
                        "axes": list(runner.sharding.get(name, ())),
                    }
                    for name, value in results.items()
                }
                report.append(
                    {
                        "case": case.name,
                        "layout": layout,
                        "rules": rules,
                        "mesh": mesh,
                        "difference": difference,
                        "scale": max(
                            (
                                float(np.max(np.abs(np.asarray(v)), initial=0.0))
                                for v in single.values()
                            ),
                            default=0.0,
                        ),
                        "shards": shards,
                        "collectives": collectives(plan.executable.compiled_hlo()),
                    }
                )
    Path(sys.argv[1]).write_text(
        json.dumps(
            {
                "devices": jax.device_count(),
                "cases": [case.name for case in CASES],
                "unsplittable": unsplittable,
                "runs": report,
                "mlp": mlp_collectives(),
                "indivisible": indivisible_error(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
