"""Issue 15: exported artifacts against the same function exported from
hand-written code.

The attention block (P=256, D=64) is exported by Fuse (`runner.export`)
and, written by hand, by `jax.export` / `torch.export`; both artifacts are
serialized, loaded back the way a deployment would load them, and called.
Rows: steady-state call of the loaded artifact (target <= 1.1x) and
load + first call (printed; no target).

    python -m bench.export
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import Row, best_of, print_table, row
from bench.workloads import ATTENTION, attention_inputs
from fuse import Program
from fuse.runtime.export import artifact_bytes

NO_TARGET = float("inf")


def _hand_jax(d: dict[str, Any]) -> dict[str, Any]:
    import jax.numpy as jnp

    scores = (d["Q"] @ d["K"].T) * d["Scale"]
    mask = jnp.tril(jnp.ones(scores.shape, dtype=bool))
    scores = jnp.where(mask, scores, -jnp.inf)
    weights = jnp.exp(scores - scores.max(axis=1, keepdims=True))
    return {"Y": (weights / weights.sum(axis=1, keepdims=True)) @ d["V"]}


def _hand_torch() -> Any:
    import torch

    class Attention(torch.nn.Module):
        def forward(self, d: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            scores = (d["Q"] @ d["K"].T) * d["Scale"]
            mask = torch.ones(scores.shape, dtype=torch.bool).tril()
            scores = scores.masked_fill(~mask, float("-inf"))
            return {"Y": torch.softmax(scores, dim=1) @ d["V"]}

    return Attention()


def _load_jax(data: bytes) -> Callable[[Any], Any]:
    import jax

    return jax.jit(jax.export.deserialize(bytearray(data)).call)


def _load_torch(data: bytes) -> Callable[[Any], Any]:
    import torch

    return torch.export.load(io.BytesIO(data)).module()


def _rows(
    format: str, fuse_bytes: bytes, hand_bytes: bytes, load: Callable, inputs: Any, repeat: int
) -> list[Row]:
    def load_and_call(data: bytes) -> tuple[float, Callable]:
        start = time.perf_counter()
        function = load(data)
        np.asarray(function(inputs)["Y"])
        return time.perf_counter() - start, function

    fuse_first, fused = load_and_call(fuse_bytes)
    hand_first, written = load_and_call(hand_bytes)
    np.testing.assert_allclose(
        np.asarray(fused(inputs)["Y"]), np.asarray(written(inputs)["Y"]), rtol=1e-4, atol=1e-4
    )
    return [
        row(
            f"{format}: exported attention P=256 D=64, call",
            best_of(lambda: np.asarray(fused(inputs)["Y"]), repeat, 10),
            f"hand-written, {format}.export",
            best_of(lambda: np.asarray(written(inputs)["Y"]), repeat, 10),
            1.1,
        ),
        row(
            f"{format}: exported attention, load + first call",
            fuse_first,
            f"hand-written, {format}.export",
            hand_first,
            NO_TARGET,
        ),
    ]


def run(repeat: int = 10) -> list[Row]:
    import jax
    import torch

    data = attention_inputs()
    shapes = {name: np.shape(value) for name, value in data.items()}
    runner = Program(ATTENTION).compile()

    fuse_jax = artifact_bytes("jax", runner.export("jax", input_shapes=shapes))
    specs = {n: jax.ShapeDtypeStruct(np.shape(v), np.float32) for n, v in data.items()}
    hand_jax = bytes(jax.export.export(jax.jit(_hand_jax))(specs).serialize())
    device_data = {n: jax.device_put(v) for n, v in data.items()}
    rows = _rows("jax", fuse_jax, hand_jax, _load_jax, device_data, repeat)

    fuse_torch = artifact_bytes("torch", runner.export("torch", input_shapes=shapes))
    tensors = {n: torch.from_numpy(np.asarray(v)) for n, v in data.items()}
    buffer = io.BytesIO()
    torch.export.save(torch.export.export(_hand_torch(), (tensors,)), buffer)
    rows += _rows("torch", fuse_torch, buffer.getvalue(), _load_torch, tensors, repeat)
    return rows


if __name__ == "__main__":
    print_table(run())
