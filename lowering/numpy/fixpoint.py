"""The `fuse.fixpoint` loop.

Naive and semi-naive iteration share one loop. Naive is the special case
whose first values are one body application from zeros and whose body
takes no deltas:

    prev, cur = zeros, init()            # naive: body(zeros)
    while max |cur - prev| > tolerance:
        delta_i = cur_i - prev_i                      (difference)
                | where(cur_i != prev_i, cur_i, 0)    (changed)
        prev, cur = cur, body(cur..., delta...)       # naive: body(cur...)

Convergence is judged on `cur - prev` for both delta kinds: a `changed`
delta holds values, not changes, so its size says nothing about
convergence under a float tolerance. Iterations count body applications,
the init region counting as one; the count reaching `max_iters` without
convergence raises `FixpointDivergence`. A NaN change never converges.
(`fuse.lowering.fixpoint_loop` decides when to stop, as for torch.)

A result held sparse (`relations.py`) is Boolean: every value it takes is
a `step` (or the zeros it starts from), all 0 or 1. Its change and delta
cost one CSR merge, in time proportional to the facts rather than to n^2:
a `changed` delta, `cur` where it differs from `prev`, is `cur > prev` on
0/1 values, and the change is 1 when that has a fact or when a fact was
dropped (`prev > cur`, checked only when nothing is new); naive iteration
needs only `cur != prev`, and a `difference` delta is `cur - prev`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from fuse.lowering.backend import FixpointDivergence
from fuse.lowering.fixpoint_loop import converge

from .kernels import Array
from .profile import Profile
from .region import Region, Values
from .sparse import Sparse, Value

_ZERO = np.float32(0.0)

# (cur, prev) -> (max |cur - prev|, delta or None)
Tracker = Callable[[Value, Value], tuple[float, Value | None]]


def _max_abs(delta: Array) -> float:
    return float(np.max(np.abs(delta))) if delta.size else 0.0


def _dense_naive(cur: Array, prev: Array) -> tuple[float, None]:
    return _max_abs(cur - prev), None


def _dense_changed(cur: Array, prev: Array) -> tuple[float, Array]:
    return _max_abs(cur - prev), np.where(cur != prev, cur, _ZERO)


def _dense_difference(cur: Array, prev: Array) -> tuple[float, Array]:
    delta = cur - prev
    return _max_abs(delta), delta


def _sparse_naive(cur: Sparse, prev: Sparse) -> tuple[float, None]:
    return (1.0 if (cur != prev).nnz else 0.0), None


def _sparse_changed(cur: Sparse, prev: Sparse) -> tuple[float, Sparse]:
    new = cur > prev
    changed = bool(new.nnz) or bool((prev > cur).nnz)
    return (1.0 if changed else 0.0), new.astype(np.float32)


def _sparse_difference(cur: Sparse, prev: Sparse) -> tuple[float, Sparse]:
    delta = cur - prev
    return (float(np.abs(delta.data).max()) if delta.nnz else 0.0), delta


_TRACKERS: dict[tuple[str | None, bool], Tracker] = {
    (None, False): _dense_naive,
    ("changed", False): _dense_changed,
    ("difference", False): _dense_difference,
    (None, True): _sparse_naive,
    ("changed", True): _sparse_changed,
    ("difference", True): _sparse_difference,
}


def tracker(delta: str | None, sparse: bool) -> Tracker:
    """For a result with this delta kind (None: naive), held sparse or not."""
    return _TRACKERS[delta, sparse]


def _changed(cur: Sequence[Value], prev: Sequence[Value]) -> int:
    """How many elements differ between two iterations' values."""
    total = 0
    for c, p in zip(cur, prev, strict=True):
        total += (c != p).nnz if sp.issparse(c) or sp.issparse(p) else int(np.count_nonzero(c != p))
    return total


@dataclass(frozen=True)
class Fixpoint:
    """One compiled `fuse.fixpoint`; called as a step of its parent region.

    `iterations` is the executable's per-run counter, keyed by the joined
    tensor names; a fixpoint nested in another adds up over its runs.
    `held_sparse` is the executable's per-run record of the names whose
    values were scipy.sparse."""

    tensors: tuple[str, ...]
    body: Region
    init: Region | None  # None: naive
    trackers: tuple[Tracker, ...]  # per result
    zeros: tuple[Value, ...]
    tolerance: float
    max_iters: int
    result_slots: tuple[int, ...]
    iterations: dict[str, int]
    held_sparse: set[str]
    progress: bool  # a progress bar on a terminal after a second
    profile: Profile | None  # records changed elements per iteration

    def __call__(self, values: Values) -> None:
        outcome = converge(
            self._steps(values), self.tensors, self.tolerance, self.max_iters, self.progress
        )
        if outcome.diverged:
            raise FixpointDivergence(self.tensors, self.max_iters, outcome.change)
        key = ", ".join(self.tensors)
        self.iterations[key] = self.iterations.get(key, 0) + outcome.iterations
        for name, slot, value in zip(self.tensors, self.result_slots, outcome.values, strict=True):
            values[slot] = value
            if sp.issparse(value):
                self.held_sparse.add(name)

    def _steps(self, values: Values) -> Iterator[tuple[float, Sequence[Value]]]:
        """Each iteration's change and values (`fixpoint_loop.converge`);
        resumed, one more body application."""
        prev = self.zeros
        cur = self.init(values, ()) if self.init else self.body(values, self.zeros)
        while True:
            tracked = [track(c, p) for track, c, p in zip(self.trackers, cur, prev, strict=True)]
            if self.profile is not None:
                self.profile.changed(", ".join(self.tensors), _changed(cur, prev))
            yield float(np.max([c for c, _ in tracked], initial=0.0)), cur
            deltas = [d for _, d in tracked if d is not None]  # naive: none
            prev, cur = cur, self.body(values, [*cur, *deltas])
