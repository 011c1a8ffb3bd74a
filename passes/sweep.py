"""Propagating facts through a program's statements until nothing changes,
in time linear in the program rather than in sweeps x statements.

Shape inference and symbol-domain propagation both learn facts about
tensors (a dimension's size, its symbol table) from the statements that
touch them. The simple schedule sweeps over all statements until a whole
sweep learns nothing; on a chain written last equation first that is one
sweep per equation. `sweep_until_stable` runs the same schedule but skips
the runs that would repeat the statement's last run exactly, so the facts
learnt, and the first conflict found, are those of the sweeps.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Sequence


def sweep_until_stable(
    accessed: Sequence[Counter[str]], run: Callable[[int], Iterable[str]]
) -> None:
    """Runs statements `0..n-1` in order, and again while facts change.

    `accessed[p]` counts how often statement `p` accesses each tensor, and
    a statement's run must depend only on the facts about those tensors;
    `run(p)` runs it and returns the tensors it learnt new facts about.
    A statement runs again only when a tensor it accesses changed since its
    last run, and where the sweeps would run it: later in the current sweep
    if it comes after the statement that changed the tensor, else in the
    next sweep. Its own changes re-run a statement only where it accesses
    the tensor more than once: a single access learns the same facts again,
    but the new facts may conflict with another access (`X[i, j] X[j, i]`).
    """
    touching: dict[str, list[int]] = {}
    for position, counts in enumerate(accessed):
        for tensor in counts:
            touching.setdefault(tensor, []).append(position)
    this_sweep = list(range(len(accessed)))  # a heap: the sweep's order
    queued = set(this_sweep)
    next_sweep: set[int] = set()
    while this_sweep or next_sweep:
        if not this_sweep:
            this_sweep, queued, next_sweep = sorted(next_sweep), next_sweep, set()
        position = heapq.heappop(this_sweep)
        queued.discard(position)
        next_sweep.discard(position)
        for tensor in run(position):
            for other in touching[tensor]:
                if other > position and other not in queued:
                    queued.add(other)
                    heapq.heappush(this_sweep, other)
                elif other < position or accessed[position][tensor] > 1:
                    next_sweep.add(other)
