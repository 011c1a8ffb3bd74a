"""Issue 14: one training step (forward + backward + Adam update) of an MLP
64-256-256-10 with batch 128, Fuse against the hand-written step measured in
the same run:

* jax: `runner.fit`'s step against `jax.jit(jax.value_and_grad)` + optax
  Adam (target <= 1.2x);
* torch: against a hand-written torch autograd step with torch.optim.Adam
  (target <= 1.2x);
* numpy: Fuse's NumPy step against torch's CPU step (target <= 3x).

    python -m bench.training
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from bench.common import Row, print_table, row
from fuse import Program

MLP = """
H1[e, j] = relu(X[e, i] W1[i, j] + B1[j])
H2[e, k] = relu(H1[e, j] W2[j, k] + B2[k])
Logit[e, c] = H2[e, k] W3[k, c] + B3[c]
P[e, c.] = softmax(Logit[e, c])
Loss = -Y[e, c] log(P[e, c] + 0.0000001) / 128
export Loss
"""
SIZES = (64, 256, 256, 10)
BATCH = 128


def _data(steps: int, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    params = {}
    for n, (a, b) in enumerate(itertools.pairwise(SIZES), start=1):
        params[f"W{n}"] = (rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
        params[f"B{n}"] = np.zeros(b, np.float32)
    x = rng.standard_normal((BATCH * steps, SIZES[0])).astype(np.float32)
    y = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], BATCH * steps)]
    return params, {"X": x, "Y": y}


def _fuse_step_seconds(backend: str, steps: int) -> float:
    params, data = _data(steps)
    runner = Program(MLP).compile(backend=backend)
    options = {
        "batch_index": "e",
        "batch_size": BATCH,
        "optimizer": "adam",
        "lr": 1e-3,
        "progress": False,
    }
    runner.fit("Loss", params, data, steps=2, **options)  # compile, warm up
    start = time.perf_counter()
    runner.fit("Loss", params, data, steps=steps, **options)
    return (time.perf_counter() - start) / steps


def _jax_step_seconds(steps: int) -> float:
    import jax
    import jax.numpy as jnp
    import optax

    params, data = _data(steps)

    def loss(p, x, y):
        h = jax.nn.relu(x @ p["W1"] + p["B1"])
        h = jax.nn.relu(h @ p["W2"] + p["B2"])
        probabilities = jax.nn.softmax(h @ p["W3"] + p["B3"], axis=1)
        return -(y * jnp.log(probabilities + 1e-7)).sum() / BATCH

    optimizer = optax.adam(1e-3)

    @jax.jit
    def step(p, state, x, y):
        value, grads = jax.value_and_grad(loss)(p, x, y)
        updates, state = optimizer.update(grads, state, p)
        return optax.apply_updates(p, updates), state, value

    p = {k: jnp.asarray(v) for k, v in params.items()}
    state = optimizer.init(p)
    batches = [
        (data["X"][i * BATCH : (i + 1) * BATCH], data["Y"][i * BATCH : (i + 1) * BATCH])
        for i in range(steps)
    ]
    p, state, value = step(p, state, *batches[0])
    value.block_until_ready()
    start = time.perf_counter()
    for x, y in batches:
        p, state, value = step(p, state, x, y)
        float(value)  # the loss on the host each step, as fit records it
    return (time.perf_counter() - start) / steps


def _torch_step_seconds(steps: int) -> float:
    import torch

    params, data = _data(steps)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    optimizer = torch.optim.Adam(p.values(), lr=1e-3)
    x_all, y_all = torch.from_numpy(data["X"]), torch.from_numpy(data["Y"])

    def one(i: int) -> float:
        x, y = x_all[i * BATCH : (i + 1) * BATCH], y_all[i * BATCH : (i + 1) * BATCH]
        h = torch.relu(x @ p["W1"] + p["B1"])
        h = torch.relu(h @ p["W2"] + p["B2"])
        probabilities = torch.softmax(h @ p["W3"] + p["B3"], dim=1)
        value = -(y * torch.log(probabilities + 1e-7)).sum() / BATCH
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        return float(value)

    one(0)
    start = time.perf_counter()
    for i in range(steps):
        one(i)
    return (time.perf_counter() - start) / steps


def run(steps: int = 30) -> list[Row]:
    torch_seconds = _torch_step_seconds(steps)
    return [
        row(
            "training step, MLP 64-256-256-10, batch 128: jax",
            _fuse_step_seconds("jax", steps),
            "jax.jit(value_and_grad) + optax",
            _jax_step_seconds(steps),
            1.2,
        ),
        row(
            "training step: torch",
            _fuse_step_seconds("torch", steps),
            "torch autograd + torch.optim",
            torch_seconds,
            1.2,
        ),
        row(
            "training step: numpy",
            _fuse_step_seconds("numpy", steps),
            "torch CPU step",
            torch_seconds,
            3.0,
        ),
    ]


if __name__ == "__main__":
    print_table(run())
