"""Compiled regions: lists of closures over one shared value table.

Compilation gives every SSA value of `@main`, nested regions included, a
slot in one flat list. A step is a closure that reads its operands' slots
and writes its result's slot, so running is a plain loop over steps: no IR
inspection, no lookups by op. Nested regions (fixpoint bodies) use the same
table, which is how they see values defined outside them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Values = list[Any]
Step = Callable[[Values], None]


@dataclass(frozen=True)
class Region:
    """A compiled block: its steps, the slots each step leaves dead (cleared
    right after it, so memory is reused as in hand-written code), the slots
    its arguments are written to, and the slots of the values its
    terminator returns or yields."""

    steps: tuple[Step, ...]
    releases: tuple[tuple[int, ...], ...]
    arg_slots: tuple[int, ...]
    yield_slots: tuple[int, ...]

    def __call__(self, values: Values, args: Sequence[Any]) -> list[Any]:
        for slot, arg in zip(self.arg_slots, args, strict=True):
            values[slot] = arg
        for step, dead in zip(self.steps, self.releases, strict=True):
            step(values)
            for slot in dead:
                values[slot] = None
        return [values[slot] for slot in self.yield_slots]
