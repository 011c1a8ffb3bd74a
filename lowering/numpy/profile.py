"""Per-op wall time for `explain()`, and how each fixpoint converged.

Compiling with `profile=True` wraps every step in a timer. Each op has one
entry, in program order (a fixpoint before the ops of its regions, which are
indented), and an op inside a fixpoint accumulates over all iterations. The
unprofiled plan has no timers at all.

Fixpoints also record, per iteration, how many elements of their tensors
changed (`convergence`): what `fuse run --plot` draws.
"""

from __future__ import annotations

from time import perf_counter

from .region import Step, Values


class Profile:
    def __init__(self) -> None:
        self._labels: list[str] = []
        self._seconds: list[float] = []
        self.convergence: dict[str, list[int]] = {}

    def add(self, label: str) -> int:
        """Reserves the entry of one op, before its regions are compiled."""
        self._labels.append(label)
        self._seconds.append(0.0)
        return len(self._labels) - 1

    def timed(self, entry: int, step: Step) -> Step:
        seconds = self._seconds

        def run(values: Values) -> None:
            start = perf_counter()
            step(values)
            seconds[entry] += perf_counter() - start

        return run

    def reset(self) -> None:
        self._seconds[:] = [0.0] * len(self._seconds)
        self.convergence.clear()

    def changed(self, fixpoint: str, count: int) -> None:
        """One iteration of `fixpoint` changed `count` elements."""
        self.convergence.setdefault(fixpoint, []).append(count)

    def entries(self) -> list[tuple[str, float]]:
        return list(zip(self._labels, self._seconds, strict=True))
