"""Issue 13: recurrences as scans, at the issue's sizes.

* the paper's RNN, `X[i, b, t+1] = sig(W[i, j] X[j, b, t] + U[i, b, t])`
  (hidden 256, batch 32, 512 steps), on each backend against the loop a
  person would write: a NumPy loop, a torch loop, `jax.lax.scan` under
  `jax.jit` (target <= 1.2x);
* the same recurrence written the only way Fuse could run it before scans,
  with a 0/1 shift tensor as a fixpoint that recomputes every step each
  iteration, against the scan (target: the scan at least 20x faster). The
  fixpoint does T + 1 iterations of O(T) to O(T^2) work each, far too slow
  to time at 512 steps on a shared machine (minutes per run), so it is
  measured against the scan at 64 and 128 steps (both sides at the same T),
  and the 512-step row compares the scan measured at 512 steps with the
  fixpoint *extrapolated* from those two as a power law c * T^k (the row's
  competitor says so and gives k);
* the virtual-index RNN `X[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])`
  (hidden 256): peak memory allocated during a run of 100,000 steps
  against one of 1,000 (tracemalloc, NumPy backend; target <= 1.5x). The
  inputs exist before the run and are not counted: they are the data.

Each Fuse timing calls the backend's compiled executable on prepared
inputs (as the hand-written code gets them), after one warm-up run. The two
sides of a row alternate, round by round, and each keeps its best round, so
a busy machine slows both alike.

    python -m bench.recurrence [--quick]

`--quick` runs 128 steps and the fixpoint at 32 and 64 (a smoke test, not
the issue's sizes).
"""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Callable

import numpy as np
from scipy.special import expit

from bench.common import Row, best_of, print_table, row
from fuse import ExecutionConfig, Program

HIDDEN, BATCH = 256, 32
STEPS, QUICK_STEPS = 512, 128
FIXPOINT_STEPS, QUICK_FIXPOINT_STEPS = (64, 128), (32, 64)

RNN = """
X[i, b, 0] = X0[i, b]
X[i, b, t+1] = sig(W[i, j] X[j, b, t] + U[i, b, t])
export X
"""

# The same recurrence before scans: X[:, :, s] reads X[:, :, s - 1] through
# Shift[t, s] = [s == t + 1]; Start = [s == 0] places X0, Later = [s > 0]
# masks the recurrent term, and UPrev[i, b, s] = U[i, b, s - 1] (0 at s = 0).
RNN_AS_FIXPOINT = """
X[i, b, s] = X0[i, b] Start[s] + Later[s] sig(W[i, j] X[j, b, t] Shift[t, s] + UPrev[i, b, s])
export X
"""

VIRTUAL_RNN = """
X[i, 0] = X0[i]
X[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])
export X
"""


def rnn_inputs(steps: int, seed: int = 0, gain: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    scale = gain / np.sqrt(HIDDEN)
    return {
        "W": (rng.standard_normal((HIDDEN, HIDDEN)) * scale).astype(np.float32),
        "U": rng.standard_normal((HIDDEN, BATCH, steps)).astype(np.float32),
        "X0": rng.standard_normal((HIDDEN, BATCH)).astype(np.float32),
    }


def paired(fused: Callable[[], object], other: Callable[[], object], repeat: int) -> tuple:
    """(best seconds of `fused`, best of `other`), timed alternately."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, kept in ((fused, times[0]), (other, times[1])):
            kept.append(best_of(fn, 1))
    return min(times[0]), min(times[1])


def fuse_executable(
    program: str,
    backend: str,
    inputs: dict[str, np.ndarray],
    config: ExecutionConfig | None = None,
    warm_up: bool = True,
) -> Callable:
    """The compiled executable on its prepared arguments, warmed up once
    (a run of seconds, such as the shift-tensor fixpoint's, needs none)."""
    if config is None:
        config = ExecutionConfig() if backend == "numpy" else ExecutionConfig(device="cpu")
    runner = Program(program, "recurrence.fuse").compile(backend, config)
    bound = runner.bind_inputs(inputs)
    plan = runner.plan_for(bound)
    arguments = [bound[name] for name in plan.arguments]

    def call() -> object:
        return plan.executable(arguments)[0]

    if warm_up:
        call()
    return call


def numpy_loop(d: dict[str, np.ndarray]) -> np.ndarray:
    w, u, x = d["W"], d["U"], d["X0"]
    out = np.empty((u.shape[2] + 1, *x.shape), dtype=np.float32)
    out[0] = x
    for t in range(u.shape[2]):
        x = expit(w @ x + u[:, :, t])
        out[t + 1] = x
    return np.moveaxis(out, 0, 2)


def torch_row(d: dict[str, np.ndarray], repeat: int) -> Row:
    import torch

    w, u, x0 = (torch.from_numpy(d[k]) for k in ("W", "U", "X0"))

    def loop() -> torch.Tensor:
        x, states = x0, [x0]
        for t in range(u.shape[2]):
            x = torch.sigmoid(w @ x + u[:, :, t])
            states.append(x)
        return torch.stack(states, dim=2)

    fused = fuse_executable(RNN, "torch", d)
    np.testing.assert_allclose(fused().numpy(), loop().numpy(), rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        mine, theirs = paired(fused, loop, repeat)
    return row(f"recurrence: torch RNN, {u.shape[2]} steps", mine, "torch loop", theirs, 1.2)


def jax_row(d: dict[str, np.ndarray], repeat: int) -> Row:
    import jax
    import jax.numpy as jnp

    device = {k: jax.device_put(v) for k, v in d.items()}

    @jax.jit
    def scan(w, u, x0):
        def step(x, u_t):
            x = jax.nn.sigmoid(w @ x + u_t)
            return x, x

        _, states = jax.lax.scan(step, x0, jnp.moveaxis(u, 2, 0))
        return jnp.moveaxis(jnp.concatenate([x0[None], states]), 0, 2)

    def hand() -> object:
        return scan(device["W"], device["U"], device["X0"]).block_until_ready()

    runner = Program(RNN, "recurrence.fuse").compile("jax", ExecutionConfig(device="cpu"))
    fused_jit = jax.jit(lambda inputs: runner.xla_callable(inputs)["X"])

    def fused() -> object:
        return fused_jit(device).block_until_ready()

    np.testing.assert_allclose(np.asarray(fused()), np.asarray(hand()), rtol=1e-4, atol=1e-5)
    mine, theirs = paired(fused, hand, repeat)
    steps = d["U"].shape[2]
    return row(
        f"recurrence: jax RNN, {steps} steps", mine, "jax.lax.scan under jax.jit", theirs, 1.2
    )


def shift_inputs(steps: int) -> dict[str, np.ndarray]:
    """The RNN's inputs and the 0/1 tensors of its shift-tensor form.

    With small weights the map is a contraction and the fixpoint would stop
    early, within its tolerance, long before step T is exact; weights of
    gain 4 keep every step's error alive, as a general recurrence does."""
    d = rnn_inputs(steps, seed=1, gain=4.0)
    positions = np.arange(steps + 1)
    return dict(
        d,
        Start=(positions == 0).astype(np.float32),
        Later=(positions > 0).astype(np.float32),
        Shift=(positions[None, :] == positions[:, None] + 1).astype(np.float32),
        UPrev=np.concatenate([np.zeros_like(d["U"][:, :, :1]), d["U"]], axis=2),
    )


def fixpoint_rows(measured: tuple[int, int], steps: int, repeat: int) -> list[Row]:
    """The scan against the shift-tensor fixpoint at each of the `measured`
    step counts, then at `steps` against the fixpoint extrapolated from
    those (see the module docstring)."""
    rows: list[Row] = []
    fixpoint_seconds: list[float] = []
    for count in measured:
        shifted = shift_inputs(count)
        scan = fuse_executable(RNN, "numpy", {k: shifted[k] for k in ("W", "U", "X0")})
        # tolerance 0 asks for the exact values the scan computes
        config = ExecutionConfig(max_iters=count + 10, tolerance=0.0)
        inputs = {k: v for k, v in shifted.items() if k != "U"}
        fixpoint = fuse_executable(RNN_AS_FIXPOINT, "numpy", inputs, config, warm_up=False)
        np.testing.assert_allclose(np.asarray(scan()), np.asarray(fixpoint()), rtol=1e-4, atol=1e-5)
        mine, theirs = paired(scan, fixpoint, repeat)
        fixpoint_seconds.append(theirs)
        rows.append(
            row(
                f"recurrence: numpy RNN as a scan, {count} steps",
                mine,
                f"the shift-tensor fixpoint, {count} steps",
                theirs,
                1 / 20,
            )
        )
    (t1, s1), (t2, s2) = zip(measured, fixpoint_seconds, strict=True)
    exponent = np.log(s2 / s1) / np.log(t2 / t1)
    extrapolated = s2 * (steps / t2) ** exponent
    scan = fuse_executable(RNN, "numpy", rnn_inputs(steps, seed=1, gain=4.0))
    rows.append(
        row(
            f"recurrence: numpy RNN as a scan, {steps} steps",
            best_of(scan, repeat),
            f"the fixpoint EXTRAPOLATED from {t1}, {t2} steps as T^{exponent:.2f}",
            extrapolated,
            1 / 20,
        )
    )
    return rows


def virtual_peak(steps: int) -> int:
    """Bytes allocated at the peak of one run (after a warm-up run)."""
    rng = np.random.default_rng(2)
    scale = 1 / np.sqrt(HIDDEN)
    inputs = {
        "W": (rng.standard_normal((HIDDEN, HIDDEN)) * scale).astype(np.float32),
        "V": (rng.standard_normal((HIDDEN, HIDDEN)) * scale).astype(np.float32),
        "U": rng.standard_normal((HIDDEN, steps)).astype(np.float32),
        "X0": rng.standard_normal(HIDDEN).astype(np.float32),
    }
    call = fuse_executable(VIRTUAL_RNN, "numpy", inputs)
    tracemalloc.start()
    call()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def run(repeat: int = 5, quick: bool = False) -> list[Row]:
    steps = QUICK_STEPS if quick else STEPS
    d = rnn_inputs(steps)
    fused = fuse_executable(RNN, "numpy", d)
    np.testing.assert_allclose(fused(), numpy_loop(d), rtol=1e-4, atol=1e-5)
    mine, theirs = paired(fused, lambda: numpy_loop(d), repeat)
    rows = [
        row(f"recurrence: numpy RNN, {steps} steps", mine, "NumPy loop", theirs, 1.2),
        torch_row(d, repeat),
        jax_row(d, repeat),
        *fixpoint_rows(QUICK_FIXPOINT_STEPS if quick else FIXPOINT_STEPS, steps, 2),
    ]
    rows.append(
        row(
            "recurrence: virtual RNN 256, 100,000 steps",
            virtual_peak(100_000),
            "1,000 steps",
            virtual_peak(1_000),
            1.5,
            unit="bytes",
        )
    )
    return rows


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv[1:]))
