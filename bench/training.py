"""Issue 14: one training step (forward + backward + Adam update) of an MLP
64-256-256-10 with batch 128, Fuse against the hand-written step measured in
the same run:

* jax: `runner.fit`'s step against `jax.jit(jax.value_and_grad)` + optax
  Adam (target <= 1.2x);
* torch: against a hand-written torch autograd step with torch.optim.Adam
  (target <= 1.2x);
* numpy: Fuse's NumPy step against torch's CPU step (target <= 3x).

Each side runs the same number of steps on the same batches per timed
round: Fuse a whole `runner.fit` call (copying the parameters in, picking
shuffled batches, fetching the trained parameters back), the hand-written
side its step loop. Both read every step's loss on the host, and on jax
both read it one step late, after dispatching the next step, as `fit`
does (fuse.training.fit). The two sides of a row alternate round by round
and each keeps its best round, so a busy machine slows both alike.

    python -m bench.training
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from bench.common import Row, print_table, race, row
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


def _fuse_steps(backend: str, steps: int) -> Callable[[], object]:
    """`runner.fit` for `steps` Adam steps, compiled and warmed up."""
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
    return lambda: runner.fit("Loss", params, data, steps=steps, **options)


def _jax_steps(steps: int) -> Callable[[], object]:
    """`steps` hand-written JAX steps, compiled and warmed up."""
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
    trained = [p, optimizer.init(p)]
    batches = [
        (data["X"][i * BATCH : (i + 1) * BATCH], data["Y"][i * BATCH : (i + 1) * BATCH])
        for i in range(steps)
    ]

    def loop() -> None:
        p, state = trained
        unread = None
        for x, y in batches:
            p, state, value = step(p, state, x, y)
            if unread is not None:
                float(unread)  # the loss on the host each step, one step late, as fit reads it
            unread = value
        float(unread)
        trained[:] = p, state

    loop()
    return loop


def _torch_steps(steps: int) -> Callable[[], object]:
    """`steps` hand-written torch steps, warmed up."""
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

    def loop() -> None:
        for i in range(steps):
            one(i)

    one(0)
    return loop


def run(steps: int = 30, repeat: int = 5) -> list[Row]:
    def per_step(fuse: Callable[[], object], other: Callable[[], object]) -> tuple[float, float]:
        fuse_seconds, other_seconds = race(fuse, other, repeat)
        return fuse_seconds / steps, other_seconds / steps

    jax_fuse, jax_hand = per_step(_fuse_steps("jax", steps), _jax_steps(steps))
    torch_loop = _torch_steps(steps)
    torch_fuse, torch_hand = per_step(_fuse_steps("torch", steps), torch_loop)
    numpy_fuse, torch_hand_again = per_step(_fuse_steps("numpy", steps), torch_loop)
    return [
        row(
            "training step, MLP 64-256-256-10, batch 128: jax",
            jax_fuse,
            "jax.jit(value_and_grad) + optax",
            jax_hand,
            1.2,
        ),
        row("training step: torch", torch_fuse, "torch autograd + torch.optim", torch_hand, 1.2),
        row("training step: numpy", numpy_fuse, "torch CPU step", torch_hand_again, 3.0),
    ]


if __name__ == "__main__":
    print_table(run())
