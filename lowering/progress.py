"""Progress of long loops on a terminal: fixpoints, scans and training.

A loop reports each step to a `LoopProgress`; a bar appears only when the
loop has run for a second (`DELAY`), stderr is a terminal and the run
allows it (`ExecutionConfig(progress=False)`, `fuse run --quiet`), so short
loops and logs never see one, and a step costs one clock read until then.
The bar is tqdm's: iteration count (out of the total where it is known,
a scan's steps), rate and the last change (a fixpoint's) or loss
(training's).

The jax backend runs a whole program, its fixpoints and scans included, as
one XLA executable. Where a bar is wanted it compiles a host callback into
each loop body (fuse.lowering.jax.xla_call) that hands every step to a
`LoopReports`, which keeps one `LoopProgress` per loop; otherwise the
executable has no callback at all.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from typing import Any

DELAY = 1.0


class LoopProgress:
    """One run of one loop, labelled e.g. `fixpoint Path`; each step shows
    `measure` (the change of a fixpoint, the loss of training)."""

    def __init__(
        self, label: str, enabled: bool, measure: str = "change", total: int | None = None
    ):
        self.label = label
        self.measure = measure
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.perf_counter()
        self.bar: Any = None

    def step(self, count: int, change: float | None = None) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.start < DELAY:
                return
            from tqdm import tqdm

            self.bar = tqdm(
                desc=self.label, total=self.total, unit=" it", leave=False, file=sys.stderr
            )
        self.bar.n = count
        if change is not None:
            self.bar.set_postfix({self.measure: f"{change:.4g}"}, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> LoopProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class LoopReports:
    """The bars of the loops of one compiled program whose steps arrive one
    at a time from inside it, as host callbacks (the jax backend). A loop's
    bar opens at its first step, so a loop run again by an enclosing loop
    starts afresh, and closes at its last step (a fixpoint that converged, a
    scan's final step) or when the run ends (`close`: a fixpoint that hit
    its bound)."""

    def __init__(self) -> None:
        self.bars: dict[int, LoopProgress] = {}
        self._loops = itertools.count()

    def reporter(self, label: str, total: int | None = None) -> Callable[..., tuple[()]]:
        """The callback of one loop: called with the step count and, for a
        fixpoint, the change and the converged flag after each step."""
        loop = next(self._loops)

        def report(count: Any, change: Any = None, converged: Any = False) -> tuple[()]:
            self.step(loop, label, total, int(count), change, bool(converged))
            return ()

        return report

    def step(
        self,
        loop: int,
        label: str,
        total: int | None,
        count: int,
        change: Any = None,
        converged: bool = False,
    ) -> None:
        bar = self.bars.get(loop)
        if bar is None or count == 1:
            if bar is not None:
                bar.close()
            bar = self.bars[loop] = LoopProgress(label, True, total=total)
        bar.step(count, None if change is None else float(change))
        if converged or count == total:
            self.bars.pop(loop).close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()

    def __enter__(self) -> LoopReports:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
