"""Pausing Python's cyclic garbage collector while compiling.

xDSL IR is a graph of reference cycles (an op points to its block, its
results, their uses and back), and compiling a program creates IR that
stays alive until the compile ends. Every full collection walks all of it,
and the collector runs one whenever enough new objects survived, so on a
2,000-equation program a quarter of the compile went to re-walking IR that
was never garbage, and that share grew with the program. Compiling with
the collector paused makes compile time linear again; the few cycles a
compile discards (erased ops) are freed by the first collection after it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pauses the cyclic collector for a `with` block or a call decorated
    with `@cyclic_gc_paused()`, and restores it however the block ends.
    Nests: only the outermost pause re-enables the collector, and a
    collector the caller disabled stays disabled."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
