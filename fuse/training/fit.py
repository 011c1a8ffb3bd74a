"""`runner.fit(...)`: gradient descent on a Fuse program, on any backend.

Each step runs the program's gradient program (`runner.value_and_grad`,
`fuse-autodiff`) on one batch and applies the optimizer
(fuse.training.optimizers) to the parameters:

    result = runner.fit(loss="Loss", params={"W": w0}, data={"X": x, "Y": y},
                        batch_index="e", batch_size=32, optimizer="adam",
                        lr=1e-3, epochs=10, seed=0)
    result.params, result.history

* `params`: initial values by name, or names whose initial values come from
  the program's sources or weight store.
* `data`: the other inputs. With `batch_index`, every data tensor that has
  that index (in its declaration) is cut into batches along it, in an order
  shuffled per epoch with `seed`; a last batch smaller than `batch_size` is
  dropped, so every step has the same shapes and one compiled plan.
  Without it, every step uses all the data.
* `steps` or `epochs` says how long; `history` holds one row per step:
  `{"step", "epoch", "loss"}`.
* `checkpoint=PATH` saves parameters, optimizer state, step and history as
  safetensors every `checkpoint_every` steps and at the end; `resume=True`
  continues from it.
* A progress bar with the loss appears on a terminal after a second
  (`progress=False` turns it off).

Each step's loss is read back one step late, after the next step has been
handed to the backend: on jax, whose steps run asynchronously, the host
then picks the next batch and dispatches it while the device still
computes, instead of waiting for every loss before doing anything else.
The bar and the history hold every step's loss all the same (the bar is
one step behind the steps dispatched), and a non-finite loss still stops
training with the step it happened at.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fuse.errors import FuseError
from fuse.lowering.progress import LoopProgress
from fuse.training.optimizers import Optimizer, make_optimizer


@dataclass
class FitResult:
    """Trained parameters (host NumPy arrays) and one history row per step."""

    params: dict[str, np.ndarray]
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def losses(self) -> list[float]:
        return [row["loss"] for row in self.history]


def fit(
    runner: Any,
    loss: str,
    params: Mapping[str, Any] | Collection[str],
    data: Mapping[str, Any] | None = None,
    *,
    batch_index: str | None = None,
    batch_size: int | None = None,
    optimizer: str = "adam",
    lr: float = 1e-3,
    steps: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
    resume: bool = False,
    progress: bool = True,
    **optimizer_settings: Any,
) -> FitResult:
    """Trains `params` to lower `loss` (see the module docstring)."""
    data = dict(data or {})
    start = _initial_params(runner, params)
    overlap = sorted(set(start) & set(data))
    if overlap:
        raise FuseError(f"'{overlap[0]}' is given both as a parameter and as data")
    if (steps is None) == (epochs is None):
        raise FuseError("fit needs exactly one of steps= and epochs=")
    chosen = make_optimizer(optimizer, lr, **optimizer_settings)
    batches = Batches(runner, data, batch_index, batch_size, seed)
    total = steps if steps is not None else epochs * batches.per_epoch  # type: ignore[operator]
    state = chosen.init(start)
    result = FitResult({name: np.asarray(value) for name, value in start.items()})
    if resume:
        if checkpoint is None or not Path(checkpoint).exists():
            raise FuseError(f"resume=True needs an existing checkpoint, got {checkpoint!r}")
        result, state = load_checkpoint(checkpoint, chosen)
    current, state = _on_backend(runner.backend_name, (result.params, state))
    train_step = _step_function(runner, loss, chosen)
    with LoopProgress("training", progress, measure="loss") as bar:
        losses = _LossReader(result.history, bar)
        for step in range(len(result.history), total):
            epoch, batch = batches.at(step)
            current, state, value = train_step(current, state, batch)
            losses.add(step, epoch, value)
            if checkpoint is not None and (step + 1) % checkpoint_every == 0:
                losses.read()
                _save(checkpoint, current, state, result.history, chosen)
        losses.read()
    result.params = {
        name: _host(value) for name, value in _fetched(runner.backend_name, current).items()
    }
    if checkpoint is not None:
        _save(checkpoint, current, state, result.history, chosen)
    return result


class _LossReader:
    """Reads each step's loss one step late (see the module docstring):
    `add` keeps the loss just dispatched and reads the one before; `read`
    reads the one kept. Reading checks the loss is finite, appends the
    step's history row and moves the bar."""

    def __init__(self, history: list[dict[str, float]], bar: LoopProgress):
        self.history = history
        self.bar = bar
        self.unread: tuple[int, int, Any] | None = None

    def add(self, step: int, epoch: int, value: Any) -> None:
        self.read()
        self.unread = (step, epoch, value)

    def read(self) -> None:
        if self.unread is None:
            return
        step, epoch, value = self.unread
        self.unread = None
        if not math.isfinite(loss := _scalar(value)):
            raise FuseError(
                f"the loss became {loss} at step {step} (epoch {epoch}): lower the learning rate"
            )
        self.history.append({"step": step, "epoch": epoch, "loss": loss})
        self.bar.step(step + 1, loss)


StepFunction = Any  # (params, state, batch) -> (params, state, loss value)


def _step_function(runner: Any, loss: str, optimizer: Optimizer) -> StepFunction:
    """One training step. On jax, with the loss exported, the whole step
    (forward, gradient through `xla_callable`'s custom VJP, and the
    optimizer's update) is one `jax.jit` program, as hand-written JAX
    training is; elsewhere the gradient program runs, then the update (in
    place on torch)."""
    if runner.backend_name in ("jax", "xla") and loss in _exports(runner):
        # One compiled step per runner, loss and optimizer: fit called again
        # (more epochs, a resumed run) does not trace and compile it again.
        key = (loss, optimizer.name, tuple(sorted(optimizer.settings.items())))
        if key not in runner.training_steps:
            runner.training_steps[key] = _jitted_step(runner, loss, optimizer)
        return runner.training_steps[key]

    # On torch the optimizer overwrites fit's own tensors with torch._foreach_
    # ops, as torch.optim does: an eager update per tensor cost more than the
    # forward and backward passes of a small MLP.
    in_place = runner.backend_name == "torch" and optimizer.update_in_place is not None

    def step(params: Any, state: Any, batch: Any) -> tuple[Any, Any, Any]:
        value, grads = runner.value_and_grad(loss, list(params), {**batch, **params})
        if in_place:
            return params, optimizer.update_in_place(params, grads, state), value
        params, state = optimizer.update(params, grads, state)
        return params, state, value

    return step


def _jitted_step(runner: Any, loss: str, optimizer: Optimizer) -> StepFunction:
    """The whole step as one `jax.jit` program. The parameters and the
    optimizer state are donated: fit owns them (`_on_backend`'s copies)
    and never reads a step's inputs again, so XLA writes the new values
    over the old buffers instead of allocating new ones every step."""
    import jax

    call = runner.xla_callable

    def loss_of(params: Mapping[str, Any], batch: Mapping[str, Any]) -> Any:
        return call({**batch, **params})[loss]

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def jitted(params: Any, state: Any, batch: Any) -> tuple[Any, Any, Any]:
        value, grads = jax.value_and_grad(loss_of)(params, batch)
        params, state = optimizer.update(params, grads, state)
        return params, state, value

    return jitted


def _exports(runner: Any) -> set[str]:
    from fuse.frontend import ast

    return {s.name for s in runner.program.ast.statements if isinstance(s, ast.Export)}


class Batches:
    """Where each step's batch comes from: data tensors cut along the batch
    index, in an order shuffled once per epoch."""

    def __init__(
        self,
        runner: Any,
        data: Mapping[str, Any],
        batch_index: str | None,
        batch_size: int | None,
        seed: int,
    ):
        self.data = {name: np.asarray(value) for name, value in data.items()}
        self.seed = seed
        self.axes: dict[str, int] = {}
        self._order: tuple[int, np.ndarray] | None = None  # (epoch, its row order)
        if batch_index is None:
            self.size, self.batch_size = 1, 1
            return
        for declaration in runner.declarations:
            if declaration.name in self.data and batch_index in declaration.indices:
                self.axes[declaration.name] = declaration.indices.index(batch_index)
        if not self.axes:
            raise FuseError(f"no data tensor has the batch index '{batch_index}'")
        sizes = {name: self.data[name].shape[axis] for name, axis in self.axes.items()}
        if len(set(sizes.values())) != 1:
            raise FuseError(f"the data tensors disagree on the size of '{batch_index}': {sizes}")
        self.size = next(iter(sizes.values()))
        self.batch_size = min(batch_size or self.size, self.size)
        if self.batch_size < 1:
            raise FuseError(f"batch_size must be at least 1, got {batch_size}")

    @property
    def per_epoch(self) -> int:
        return self.size // self.batch_size if self.axes else 1

    def order(self, epoch: int) -> np.ndarray:
        """The rows of `epoch` in the order its batches take them, drawn
        once per epoch (a generator seeded per step cost more than the
        step's own host work)."""
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, np.random.default_rng([self.seed, epoch]).permutation(self.size))
        return self._order[1]

    def at(self, step: int) -> tuple[int, dict[str, np.ndarray]]:
        """The epoch of `step` and its batch."""
        epoch, position = divmod(step, self.per_epoch)
        if not self.axes:
            return epoch, self.data
        rows = self.order(epoch)[position * self.batch_size : (position + 1) * self.batch_size]
        batch = dict(self.data)
        for name, axis in self.axes.items():
            batch[name] = np.take(self.data[name], rows, axis=axis)
        return epoch, batch


def _initial_params(runner: Any, params: Mapping[str, Any] | Collection[str]) -> dict[str, Any]:
    if isinstance(params, Mapping):
        return {name: np.asarray(value, dtype=np.float32) for name, value in params.items()}
    names = list(params)
    stored = runner.load_sources(set(), require_all=False)
    missing = [name for name in names if name not in stored]
    if missing:
        raise FuseError(
            f"parameter '{missing[0]}' has no initial value: give params={{name: array}} or a "
            "source/weight store for it"
        )
    return {name: stored[name] for name in names}


def _on_backend(backend: str, arrays: Any) -> Any:
    """Backend copies of the arrays in `arrays` (dicts and tuples of arrays
    and step counts), never views of the caller's: torch's step overwrites
    them, jax's donates them. On jax one batched transfer, the step count
    included (as an int32 array, the type the step returns, so the first
    step and the others share one compiled program)."""
    as_float = _map_arrays(arrays, lambda value: np.asarray(value, dtype=np.float32))
    if backend in ("jax", "xla"):
        import jax

        return jax.device_put(_map_arrays(as_float, lambda v: v, np.int32), may_alias=False)
    if backend == "torch":
        import torch

        return _map_arrays(as_float, torch.tensor)
    return as_float  # NumPy steps make new arrays


def _fetched(backend: str, arrays: dict[str, Any]) -> dict[str, Any]:
    """`arrays` on the host (JAX arrays in one batched transfer)."""
    if backend in ("jax", "xla"):
        import jax

        return jax.device_get(arrays)
    return arrays


def _host(value: Any) -> np.ndarray:
    from fuse.runtime.runner import to_host

    return to_host(value).astype(np.float32, copy=False)


def _scalar(value: Any) -> float:
    return float(_host(value).reshape(()))


def _map_arrays(state: Any, convert: Any, count: Any = None) -> Any:
    """`convert` applied to every array in dicts and tuples of them, and
    `count` (if given) to the step counts, which are Python numbers."""
    if isinstance(state, dict):
        return {key: _map_arrays(value, convert, count) for key, value in state.items()}
    if isinstance(state, tuple):
        return tuple(_map_arrays(value, convert, count) for value in state)
    if isinstance(state, int | float):
        return state if count is None else count(state)
    return convert(state)


# --- checkpoints ----------------------------------------------------------------


def _flatten(state: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in state.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}/")
        elif not isinstance(value, int | float):
            yield f"{prefix}{key}", value


def _save(
    path: str | Path,
    params: Mapping[str, Any],
    state: Mapping[str, Any],
    history: list[dict[str, float]],
    optimizer: Optimizer,
) -> None:
    """Parameters (`param/W`), optimizer state (`state/m/W`) and, as
    metadata, the step, the optimizer and the history, written atomically."""
    from safetensors.numpy import save

    from fuse.runtime.io import atomic_write

    state = {**state, "step": int(state["step"])}  # a traced step comes back as an array
    tensors = {f"param/{name}": _host(value) for name, value in params.items()}
    tensors |= {key: _host(value) for key, value in _flatten(state, "state/")}
    metadata = {
        "format": "fuse-checkpoint-1",
        "step": str(int(state["step"])),
        "optimizer": json.dumps({"name": optimizer.name, **optimizer.settings}),
        "history": json.dumps(history),
    }
    data = save(tensors, metadata=metadata)
    atomic_write(Path(path), lambda stream: stream.write(data))


def load_checkpoint(path: str | Path, optimizer: Optimizer) -> tuple[FitResult, dict[str, Any]]:
    """The parameters, history and optimizer state a checkpoint holds; the
    optimizer must be the one it was saved with."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata() or {}
        if metadata.get("format") != "fuse-checkpoint-1":
            raise FuseError(f"{path}: not a Fuse training checkpoint")
        saved = json.loads(metadata["optimizer"])
        if saved.get("name") != optimizer.name:
            raise FuseError(
                f"{path} was saved by optimizer '{saved.get('name')}', not '{optimizer.name}'"
            )
        params: dict[str, np.ndarray] = {}
        state: dict[str, Any] = {"step": int(metadata["step"])}
        for key in handle.keys():  # noqa: SIM118 (safe_open is not a Mapping)
            value = handle.get_tensor(key)
            kind, _, rest = key.partition("/")
            if kind == "param":
                params[rest] = value
            else:
                group, _, name = rest.partition("/")
                state.setdefault(group, {})[name] = value
    return FitResult(params, json.loads(metadata["history"])), state
