"""Progress of long loops on a terminal: fixpoints, scans and training.

A loop reports each step to a `LoopProgress`; a bar appears only when the
loop has run for a second (`DELAY`), stderr is a terminal and the run
allows it (`ExecutionConfig(progress=False)`, `fuse run --quiet`), so short
loops and logs never see one, and a step costs one clock read until then.
The bar is tqdm's: iteration count (out of the total where it is known,
a scan's steps), rate and the last change (a fixpoint's) or loss
(training's).

The jax backend runs a whole program, its fixpoints and scans included, as
one XLA executable compiled from StableHLO text; such an executable has no
host callback to report steps through, so jax runs show no bar (training
on jax shows its per-step bar, the steps being separate calls).
"""

from __future__ import annotations

import sys
import time
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
