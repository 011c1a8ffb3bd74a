"""Issue 17: what sharding costs in communication and saves in memory.

Speed on 2 CPU cores says little about a cluster, so these rows measure
what holds on real hardware, from what XLA compiled for 8 simulated CPU
devices:

* bytes communicated per run: the result sizes of every collective in the
  optimized HLO, against the analytical minimum and, for the closure,
  against a row-partitioned closure written by hand with `jax.shard_map` (MLP 64-256-256-10, batch
  128: data-parallel needs none; model-parallel must all-reduce each
  layer's partial sums once; the closure with `Path` split by its first
  index and `Edge` replicated needs only the convergence test's scalars);
* per-device memory (XLA's memory analysis: arguments + outputs +
  temporaries) at 2, 4 and 8 devices against what a perfect split gives:
  the replicated weights whole plus 1/N of everything else one device
  holds.

Rows are "fuse / reference" with the reference in the competitor column.

    python -m bench.sharding
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np

from bench.common import Row, print_table
from bench.workloads import TRANSITIVE_CLOSURE, random_digraph

DEVICES = 8
MLP = """
H1[b, j] = relu(X[b, i] W1[i, j])
H2[b, k] = relu(H1[b, j] W2[j, k])
Y[b, l] = H2[b, k] W3[k, l]
export Y
"""
# `Path` split by its first index, `Edge` replicated.
ROWS = {"x": "data", "Edge": (None, None)}
MESH = {"data": DEVICES}
BYTES = {"f32": 4, "f16": 2, "bf16": 2, "s32": 4, "pred": 1, "f64": 8, "s64": 8}


COLLECTIVE = re.compile(
    r"^(\([^)]*\)|\S+) (?:all-reduce|all-gather|reduce-scatter|all-to-all|collective-permute)"
    r"(?:-start)?\("
)


def collective_bytes(hlo: str) -> int:
    """Bytes of the results of every collective in an optimized HLO module
    (once per appearance: a collective inside a loop body runs per step)."""
    total = 0
    for line in hlo.splitlines():
        _, equals, rhs = line.partition(" = ")
        found = COLLECTIVE.match(rhs) if equals else None
        if found is None:
            continue
        for dtype, dims in re.findall(r"(\w+)\[([\d,]*)\]", found.group(1)):
            total += BYTES.get(dtype, 4) * int(np.prod([int(d) for d in dims.split(",") if d]))
    return total


def _runner(program: str, sharding: dict, mesh: dict | None):
    from fuse import ExecutionConfig, Program, RuntimePolicies

    return Program(program).compile(
        backend="jax",
        config=ExecutionConfig(mesh=mesh),
        policies=RuntimePolicies(sharding=sharding if mesh else {}),
    )


def _compiled(program: str, data: dict, sharding: dict, mesh: dict | None):
    """What XLA compiled for the program's run on `mesh` (None: one device)."""
    runner = _runner(program, sharding, mesh)
    runner.run(data)
    return runner.last_plan.executable.compiled()


def _shard_map_closure(edge: np.ndarray):
    """The row-partitioned closure written by hand: each device iterates
    its rows of `Path` against the whole `Edge`; one psum per step decides
    whether any row changed."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import PartitionSpec

    mesh = jax.make_mesh((DEVICES,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))

    def rows(edge_rows, whole):
        def step(state):
            path, _ = state
            new = ((edge_rows + path @ whole) > 0).astype(jnp.float32)
            return new, jax.lax.psum(jnp.sum(new != path), "data") > 0

        path, _ = jax.lax.while_loop(lambda state: state[1], step, (edge_rows, jnp.array(True)))
        return path

    closure = jax.shard_map(
        rows,
        mesh=mesh,
        in_specs=(PartitionSpec("data"), PartitionSpec()),
        out_specs=PartitionSpec("data"),
    )
    spec = jax.ShapeDtypeStruct(edge.shape, np.float32)
    return jax.jit(closure).lower(spec, spec).compile()


def _memory(compiled) -> int:
    analysis = compiled.memory_analysis()
    return (
        analysis.argument_size_in_bytes
        + analysis.output_size_in_bytes
        + analysis.temp_size_in_bytes
    )


def _rows() -> list[dict]:
    rng = np.random.default_rng(0)
    mlp = {
        "X": rng.standard_normal((128, 64)).astype(np.float32),
        "W1": rng.standard_normal((64, 256)).astype(np.float32),
        "W2": rng.standard_normal((256, 256)).astype(np.float32),
        "W3": rng.standard_normal((256, 10)).astype(np.float32),
    }
    closure = {"Edge": random_digraph(512, 1.5)}
    rows = []
    # Splitting j, the index the second layer contracts, leaves each device
    # a partial sum of H2's pre-activation (b x k): one all-reduce of it.
    layouts = [
        ("MLP data-parallel", MLP, mlp, {"b": "data"}, {"data": DEVICES}, 0),
        ("MLP model-parallel", MLP, mlp, {"j": "model"}, {"model": DEVICES}, 128 * 256 * 4),
        # Each step all-reduces the convergence test's change, a scalar, in
        # the first round and in the loop body: two f32 scalars.
        ("closure n=512, Path rows split", TRANSITIVE_CLOSURE, closure, ROWS, {"data": DEVICES}, 8),
    ]
    for name, program, data, sharding, mesh, minimum in layouts:
        compiled = _compiled(program, data, sharding, mesh)
        rows.append(
            {
                "name": f"{name}: bytes communicated",
                "fuse": collective_bytes(compiled.as_text()),
                "reference": f"analytical minimum {minimum} B",
                "reference_value": minimum,
            }
        )
    rows.append(
        {
            "name": "closure n=512, Path rows split: bytes in the program",
            "fuse": collective_bytes(_compiled(TRANSITIVE_CLOSURE, closure, ROWS, MESH).as_text()),
            "reference": "hand-written jax.shard_map",
            "reference_value": collective_bytes(_shard_map_closure(closure["Edge"]).as_text()),
            # Fuse's first round (Path = Edge, checked once before the loop)
            # has its own scalar all-reduce; per loop step both move 4 bytes.
            "target": 2.0,
        }
    )
    for name, program, data, sharding, replicated in [
        ("MLP data-parallel", MLP, mlp, {"b": "data"}, ("W1", "W2", "W3")),
        ("closure n=512, Path rows split", TRANSITIVE_CLOSURE, closure, ROWS, ("Edge",)),
    ]:
        single = _memory(_compiled(program, data, sharding, None))
        kept_whole = sum(data[n].nbytes for n in replicated)
        for devices in (2, 4, DEVICES):
            per_device = _memory(_compiled(program, data, sharding, {"data": devices}))
            share = kept_whole + (single - kept_whole) / devices
            rows.append(
                {
                    "name": f"{name}: per-device memory, {devices} devices",
                    "fuse": per_device,
                    "reference": f"replicated + 1/{devices} of the rest",
                    "reference_value": share,
                    "target": 1.2,
                }
            )
    return rows


def run() -> list[Row]:
    """The rows, measured in a process with 8 simulated devices."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={DEVICES}"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.sharding", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    rows = []
    for entry in json.loads(done.stdout.splitlines()[-1]):
        reference = entry["reference_value"]
        ratio = entry["fuse"] / reference if reference else float(entry["fuse"] == 0)
        rows.append(
            Row(
                entry["name"],
                entry["fuse"],
                entry["reference"],
                reference,
                ratio,
                entry.get("target", 1.0),
                unit="bytes",
            )
        )
    return rows


if __name__ == "__main__":
    if "--json" in sys.argv:
        print(json.dumps(_rows()))
    else:
        print_table(run())
