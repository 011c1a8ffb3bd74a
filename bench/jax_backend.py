"""Issue 5: the JAX/XLA backend against hand-written `jax.jit` code.

* attention block and MLP, steady state: Fuse's `xla_callable` under
  `jax.jit` against the same computation written in `jax.numpy` (target
  <= 1.1x), and `runner.run()` (host arrays in and out) against the
  hand-written function with the same host transfers;
* first-call compile time of both (printed; no target);
* transitive closure on n=1,000: Fuse's `stablehlo.while` against a
  hand-written `jax.lax.while_loop`.

    python -m bench.jax_backend
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import Row, best_of, print_table, row
from bench.workloads import (
    ATTENTION,
    MLP,
    TRANSITIVE_CLOSURE,
    attention_inputs,
    mlp_inputs,
    random_digraph,
)
from fuse import Program

NO_TARGET = float("inf")


def _hand_attention(d):
    import jax.numpy as jnp

    scores = (d["Q"] @ d["K"].T) * d["Scale"]
    mask = jnp.tril(jnp.ones(scores.shape, dtype=bool))
    scores = jnp.where(mask, scores, -jnp.inf)
    weights = jnp.exp(scores - scores.max(axis=1, keepdims=True))
    return (weights / weights.sum(axis=1, keepdims=True)) @ d["V"]


def _hand_mlp(d):
    import jax.numpy as jnp

    h = jnp.maximum(d["X"] @ d["W1"] + d["B1"], 0)
    h = jnp.maximum(h @ d["W2"] + d["B2"], 0)
    return h @ d["W3"] + d["B3"]


def _hand_closure(edge):
    import jax
    import jax.numpy as jnp

    def body(state):
        path, _ = state
        new = ((edge + path @ edge) > 0).astype(jnp.float32)
        return new, jnp.any(new != path)

    path, _ = jax.lax.while_loop(lambda s: s[1], body, (jnp.zeros_like(edge), jnp.array(True)))
    return path


def _first_call(fn, *args) -> float:
    start = time.perf_counter()
    np.asarray(fn(*args))
    return time.perf_counter() - start


def _rows(name: str, program: str, data: dict[str, np.ndarray], hand, repeat: int) -> list[Row]:
    import jax

    device_data = {k: jax.device_put(v) for k, v in data.items()}
    runner = Program(program).compile(backend="jax")
    fused = jax.jit(lambda d: runner.xla_callable(d)["Y"])
    written = jax.jit(hand)
    fuse_compile = _first_call(fused, device_data)
    hand_compile = _first_call(written, device_data)
    np.testing.assert_allclose(
        np.asarray(fused(device_data)), np.asarray(written(device_data)), rtol=1e-4, atol=1e-4
    )
    runner.run(data)
    return [
        row(
            f"jax: {name} (jit)",
            best_of(lambda: fused(device_data).block_until_ready(), repeat, 10),
            "hand-written jax.jit",
            best_of(lambda: written(device_data).block_until_ready(), repeat, 10),
            1.1,
        ),
        row(
            f"jax: {name} run()",
            best_of(lambda: runner.run(data), repeat, 10),
            "jax.jit + host transfers",
            best_of(lambda: np.asarray(written(data)), repeat, 10),
            1.1,
        ),
        row(
            f"jax: {name} first-call compile",
            fuse_compile,
            "hand-written jax.jit",
            hand_compile,
            NO_TARGET,
        ),
    ]


def run(repeat: int = 10) -> list[Row]:
    import jax

    rows = _rows("attention P=256 D=64", ATTENTION, attention_inputs(), _hand_attention, repeat)
    rows += _rows("3-layer MLP 256x512", MLP, mlp_inputs(), _hand_mlp, repeat)

    edge = random_digraph(1000, 1.5)
    device_edge = jax.device_put(edge)
    runner = Program(TRANSITIVE_CLOSURE).compile(backend="jax")
    fused = jax.jit(lambda e: runner.xla_callable({"Edge": e})["Path"])
    written = jax.jit(_hand_closure)
    np.testing.assert_array_equal(np.asarray(fused(device_edge)), np.asarray(written(device_edge)))
    rows.append(
        row(
            "jax: transitive closure n=1000",
            best_of(lambda: fused(device_edge).block_until_ready(), 3),
            "hand-written lax.while_loop",
            best_of(lambda: written(device_edge).block_until_ready(), 3),
            NO_TARGET,
        )
    )
    return rows


if __name__ == "__main__":
    print_table(run())
