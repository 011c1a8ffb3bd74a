"""A `PlanRecipe` turned into closures: the `Plan` a NumPy executable runs.

Each kernel recipe names a builder of `BUILDERS` (`kernels.py` and
`sparse.py`), called once here with its static arguments; each step binds
the kernel to its operand and result slots. Constants go, read-only, into
the value table's template. This is the whole of a warm compile's backend
work: no IR is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fuse.config import ExecutionConfig

from . import convolution, kernels, sparse
from .fixpoint import Fixpoint, tracker
from .kernels import Array, Kernel, Shape
from .profile import Profile
from .recipe import (
    FixpointRecipe,
    KernelRecipe,
    PlanRecipe,
    RegionRecipe,
    ScanRecipe,
    StepRecipe,
)
from .region import Region, Step, Values
from .relations import input_converter
from .scan import Scan
from .sparse import Value


@dataclass(frozen=True)
class Plan:
    """`@main`, compiled: run `region` on a copy of `template` (constants in
    place, None elsewhere) with the converted arguments, after
    `to_relation` has had its say on the arguments at `relation_inputs`."""

    region: Region
    template: list[Any]
    arg_names: tuple[str, ...]
    arg_shapes: tuple[Shape, ...]
    relation_inputs: tuple[int, ...]
    to_relation: Callable[[Array], Value]


def kernel(recipe: KernelRecipe) -> Kernel | None:
    """The kernel `recipe` describes; None where a sparse builder has no
    form for these operands (the planner then densifies)."""
    return BUILDERS[recipe.builder](*recipe.args)


def _ones(shape: Shape) -> Kernel:
    """The empty product."""
    ones = frozen(np.ones(shape, dtype=np.float32))
    return lambda: ones


BUILDERS: dict[str, Callable[..., Kernel | None]] = {
    "einsum": kernels.einsum,
    "ones": _ones,
    "binary": kernels.binary,
    "select": kernels.select,
    "unary": kernels.unary,
    "softmax": kernels.softmax,
    "masked_softmax": kernels.masked_softmax,
    "lnorm": kernels.lnorm,
    "take": kernels.take,
    "concat": kernels.concat,
    "topk": kernels.topk,
    "sample": kernels.sample,
    "gather": kernels.gather,
    "conv": convolution.conv,
    "pool": convolution.pool,
    "window": kernels.window,
    "place": kernels.place,
    "sparse.einsum": sparse.einsum,
    "sparse.binary": sparse.binary,
    "sparse.step": lambda: sparse.step,
    "sparse.take": sparse.take,
    "sparse.to_dense": lambda: sparse.to_dense,
    "densified": lambda dense, maybe_sparse: sparse.densified(kernel(dense), maybe_sparse),
}


def build_plan(
    recipe: PlanRecipe,
    config: ExecutionConfig,
    profile: Profile | None,
    iterations: dict[str, int],
    held_sparse: set[str],
) -> Plan:
    """`recipe`'s closures. Fixpoints count their iterations into
    `iterations` and record sparse results in `held_sparse`; with a
    `profile`, every labelled step is timed."""
    template: list[Any] = [None] * recipe.slot_count
    for slot, shape, data in recipe.constants:
        template[slot] = np.frombuffer(data, dtype=np.float32).reshape(shape)  # read-only
    builder = _Builder(profile, iterations, held_sparse, config.progress)
    return Plan(
        builder.region(recipe.region),
        template,
        recipe.arg_names,
        recipe.arg_shapes,
        recipe.relation_inputs,
        input_converter(config),
    )


def frozen(array: Array) -> Array:
    """Read-only: shared across runs, and possibly handed out as a result."""
    array.setflags(write=False)
    return array


class _Builder:
    def __init__(
        self,
        profile: Profile | None,
        iterations: dict[str, int],
        held: set[str],
        progress: bool,
    ):
        self.profile = profile
        self.progress = progress
        self.iterations = iterations
        self.held_sparse = held

    def region(self, recipe: RegionRecipe) -> Region:
        steps = tuple(self.step(step) for step in recipe.steps)
        return Region(steps, recipe.releases, recipe.arg_slots, recipe.yield_slots)

    def step(self, recipe: StepRecipe) -> Step:
        timed = self.profile is not None and recipe.label is not None
        entry = self.profile.add(recipe.label) if timed else 0  # before a fixpoint's regions
        if isinstance(recipe.kernel, FixpointRecipe):
            step: Step = self.fixpoint(recipe.kernel)
        elif isinstance(recipe.kernel, ScanRecipe):
            step = self.scan(recipe.kernel)
        else:
            built = kernel(recipe.kernel)
            if built is None:
                raise ValueError(f"kernel {recipe.kernel.builder} has no form for its operands")
            step = _bind(built, recipe.operands, recipe.result)
        return self.profile.timed(entry, step) if timed else step

    def scan(self, recipe: ScanRecipe) -> Scan:
        return Scan(recipe, self.region(recipe.body), self.progress)

    def fixpoint(self, recipe: FixpointRecipe) -> Fixpoint:
        return Fixpoint(
            tensors=recipe.tensors,
            body=self.region(recipe.body),
            init=self.region(recipe.init) if recipe.init is not None else None,
            trackers=tuple(
                tracker(delta, held)
                for delta, held in zip(recipe.deltas, recipe.held_sparse, strict=True)
            ),
            zeros=tuple(
                sparse.zeros(shape) if held else frozen(np.zeros(shape, dtype=np.float32))
                for shape, held in zip(recipe.shapes, recipe.held_sparse, strict=True)
            ),
            tolerance=recipe.tolerance,
            max_iters=recipe.max_iters,
            result_slots=recipe.result_slots,
            iterations=self.iterations,
            held_sparse=self.held_sparse,
            progress=self.progress,
            profile=self.profile,
        )


def _bind(kernel: Kernel, operands: tuple[int, ...], result: int) -> Step:
    """One step: read the operand slots, call the kernel, write the result
    slot. Specialized by arity, so a step is a single Python call."""
    match operands:
        case ():

            def step(values: Values) -> None:
                values[result] = kernel()
        case (a,):

            def step(values: Values) -> None:
                values[result] = kernel(values[a])
        case (a, b):

            def step(values: Values) -> None:
                values[result] = kernel(values[a], values[b])
        case _:

            def step(values: Values) -> None:
                values[result] = kernel(*[values[n] for n in operands])

    return step
