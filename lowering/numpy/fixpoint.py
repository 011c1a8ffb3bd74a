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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fuse.lowering.backend import FixpointDivergence

from .kernels import Array
from .region import Region, Values

_ZERO = np.float32(0.0)

_DELTAS: dict[str, Callable[[Array, Array], Array]] = {
    "difference": np.subtract,
    "changed": lambda cur, prev: np.where(cur != prev, cur, _ZERO),
}


def _change(new: Sequence[Array], old: Sequence[Array]) -> float:
    """max |new - old| over every element of every result (NaN propagates)."""
    return float(
        np.max(
            [np.max(np.abs(n - o)) for n, o in zip(new, old, strict=True) if n.size], initial=0.0
        )
    )


@dataclass(frozen=True)
class Fixpoint:
    """One compiled `fuse.fixpoint`; called as a step of its parent region.

    `iterations` is the executable's per-run counter, keyed by the joined
    tensor names; a fixpoint nested in another adds up over its runs."""

    tensors: tuple[str, ...]
    body: Region
    init: Region | None  # None: naive
    deltas: tuple[str, ...]  # one DeltaKind per result; empty: naive
    zeros: tuple[Array, ...]
    tolerance: float
    max_iters: int
    result_slots: tuple[int, ...]
    iterations: dict[str, int]

    def __call__(self, values: Values) -> None:
        prev = self.zeros
        cur = self.init(values, ()) if self.init else self.body(values, self.zeros)
        count = 1
        while True:
            change = _change(cur, prev)
            if change <= self.tolerance:
                break
            if count >= self.max_iters:
                raise FixpointDivergence(self.tensors, self.max_iters, change)
            # naive: no delta kinds, so no deltas
            deltas = [
                _DELTAS[kind](c, p) for kind, c, p in zip(self.deltas, cur, prev, strict=False)
            ]
            prev, cur = cur, self.body(values, [*cur, *deltas])
            count += 1
        key = ", ".join(self.tensors)
        self.iterations[key] = self.iterations.get(key, 0) + count
        for slot, value in zip(self.result_slots, cur, strict=True):
            values[slot] = value
