"""A `fuse.fixpoint` iterated from the host: when it stops, for every backend
that runs the loop in Python (NumPy; torch's eager runs).

The backend writes the iteration as a generator of `(change, values)`: it
yields after each body application (the first being the init region's, or
the body's on zeros) the change that application made, max |cur - prev|,
with whatever it wants back at the end, and applies the body once more
when resumed. `converge` decides when to stop, the same way for all:

* converged: the change is at most the tolerance (a NaN change never is);
* diverged: `max_iters` applications without converging;
* halted: the backend says a fixpoint nested in this one has diverged.

It also counts the applications and shows a progress bar on a terminal
(`LoopProgress`) while the loop runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fuse.lowering.progress import LoopProgress

Values = TypeVar("Values")


@dataclass(frozen=True)
class Outcome(Generic[Values]):
    """How a host loop ended: the values of the last iteration, how many body
    applications it took (the first counting as one), the last change, and
    whether it stopped at its bound without converging."""

    values: Values
    iterations: int
    change: float
    diverged: bool


def converge(
    steps: Iterable[tuple[float, Values]],
    tensors: tuple[str, ...],
    tolerance: float,
    max_iters: int,
    progress: bool,
    halted: Callable[[], bool] = lambda: False,
) -> Outcome[Values]:
    """Runs `steps` until it converges, diverges or `halted()` says so."""
    with LoopProgress(f"fixpoint {', '.join(tensors)}", progress) as bar:
        for count, (change, values) in enumerate(steps, start=1):
            if halted() or change <= tolerance:
                return Outcome(values, count, change, diverged=False)
            if count >= max_iters:
                return Outcome(values, count, change, diverged=True)
            bar.step(count, change)
    raise ValueError("a fixpoint's steps ended before it converged")
