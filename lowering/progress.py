"""Progress of long loops on a terminal: fixpoints today, scans and
training as they land.

A loop reports each step to a `LoopProgress`; a bar appears only when the
loop has run for a second (`DELAY`), stderr is a terminal and the run
allows it (`ExecutionConfig(progress=False)`, `fuse run --quiet`), so short
loops and logs never see one, and a step costs one clock read until then.
The bar is tqdm's: iteration count, rate and the last change.
"""

from __future__ import annotations

import sys
import time
from typing import Any

DELAY = 1.0


class LoopProgress:
    """One run of one loop, labelled e.g. `fixpoint Path`."""

    def __init__(self, label: str, enabled: bool):
        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.perf_counter()
        self.bar: Any = None

    def step(self, count: int, change: float) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.perf_counter() - self.start < DELAY:
                return
            from tqdm import tqdm

            self.bar = tqdm(desc=self.label, unit=" it", leave=False, file=sys.stderr)
        self.bar.n = count
        self.bar.set_postfix(change=f"{change:.3g}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
