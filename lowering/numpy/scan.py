"""The `fuse.scan` loop: one body application per step, every other index
vectorized inside the body.

Scanned inputs and stored results are viewed with their scan axis first
(`np.moveaxis`, no copy), so step k reads `x[k]` and writes `out[k]`; a
stored result is one preallocated array, never a list of steps to stack.
A virtual scan keeps only the current states, so its memory does not grow
with the number of steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fuse.lowering.progress import LoopProgress

from .recipe import ScanRecipe
from .region import Region, Values


@dataclass(frozen=True)
class Scan:
    """One compiled `fuse.scan`, called as a step of its parent region: the
    static facts of `recipe` (slots, axes, steps, stored results' shapes with
    the scan axis first) and its `body`, built; a long scan shows a
    progress bar where `progress` allows it (fuse.lowering.progress)."""

    recipe: ScanRecipe
    body: Region
    progress: bool

    def __call__(self, values: Values) -> None:
        recipe, steps, reverse = self.recipe, self.recipe.steps, self.recipe.reverse
        states = [values[slot] for slot in recipe.init_slots]
        xs = [
            np.moveaxis(values[slot], axis, 0)
            for slot, axis in zip(recipe.xs_slots, recipe.in_axes, strict=True)
        ]
        outs = (
            [np.empty(shape, dtype=np.float32) for shape in recipe.stacked_shapes]
            if recipe.stacked_shapes is not None
            else None
        )
        # A stored state's position: after step k, k + 1 forward and k
        # reversed; the initial state sits just before the first step.
        offset = 0 if reverse else 1
        if outs is not None:
            for out, state in zip(outs, states, strict=True):
                out[steps if reverse else 0] = state
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        label = f"scan {', '.join(recipe.tensors)}"
        with LoopProgress(label, self.progress, total=steps) as bar:
            for count, k in enumerate(order, start=1):
                states = self.body(values, [*states, *(x[k] for x in xs)])
                if outs is not None:
                    for out, state in zip(outs, states, strict=True):
                        out[k + offset] = state
                bar.step(count)
        if outs is not None:
            assert recipe.axis is not None
            states = [np.moveaxis(out, 0, recipe.axis) for out in outs]
        for slot, value in zip(recipe.result_slots, states, strict=True):
            values[slot] = value
