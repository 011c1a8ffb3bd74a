"""The NumPy backend's executable format: a compiled plan as plain data.

`plan.py` walks the IR once and describes every kernel as a
`KernelRecipe`: the name of a kernel builder (`build.py`) and its static
arguments (subscripts, shapes, axes, contraction paths: strings, numbers,
tuples). `build.py` turns a `PlanRecipe` into closures. Because a recipe is
data it serializes, and it is what the artifact cache stores as this
backend's executable: a warm compile builds the closures from it without
decoding or walking the IR.

`decode` unpickles with an allow-list of this module's classes, so a
stored recipe can hold nothing but recipes and plain values.

    recipe = plan_recipe(module, config)       # plan.py
    assert decode(encode(recipe)) == recipe
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


@dataclass(frozen=True)
class KernelRecipe:
    """`build.BUILDERS[builder](*args)` is the kernel."""

    builder: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class FixpointRecipe:
    """One `fuse.fixpoint`: its regions, per result the delta kind (None:
    naive) and whether it is held sparse, and its stopping rule."""

    tensors: tuple[str, ...]
    body: RegionRecipe
    init: RegionRecipe | None  # None: naive
    deltas: tuple[str | None, ...]
    held_sparse: tuple[bool, ...]
    shapes: tuple[Shape, ...]
    tolerance: float
    max_iters: int
    result_slots: tuple[int, ...]


@dataclass(frozen=True)
class ScanRecipe:
    """One `fuse.scan` (`scan.Scan`): its body, its steps and direction,
    the slots of its states and scanned inputs with their scan axes, and
    its stored results' stacking axis and shapes, scan axis first (None:
    virtual)."""

    tensors: tuple[str, ...]
    body: RegionRecipe
    steps: int
    reverse: bool
    init_slots: tuple[int, ...]
    xs_slots: tuple[int, ...]
    in_axes: tuple[int, ...]
    axis: int | None
    stacked_shapes: tuple[Shape, ...] | None
    result_slots: tuple[int, ...]


@dataclass(frozen=True)
class StepRecipe:
    """Reads `operands`, writes `result` (a fixpoint writes its own
    `result_slots`, and so does a scan). `label` names the step in a profile; None: untimed."""

    kernel: KernelRecipe | FixpointRecipe | ScanRecipe
    operands: tuple[int, ...] = ()
    result: int = -1
    label: str | None = None


@dataclass(frozen=True)
class RegionRecipe:
    """A block: its steps, the slots dead after each, and the slots of its
    arguments and of the values it yields (`region.Region`)."""

    steps: tuple[StepRecipe, ...]
    releases: tuple[tuple[int, ...], ...]
    arg_slots: tuple[int, ...]
    yield_slots: tuple[int, ...]


@dataclass(frozen=True)
class PlanRecipe:
    """`@main`: a value table of `slot_count` slots, the constants stored in
    it (slot -> shape and fp32 bytes), its body, and its arguments."""

    slot_count: int
    constants: tuple[tuple[int, Shape, bytes], ...]
    region: RegionRecipe
    arg_names: tuple[str, ...]
    arg_shapes: tuple[Shape, ...]
    relation_inputs: tuple[int, ...]


_ALLOWED = {
    (__name__, cls.__name__): cls
    for cls in (
        KernelRecipe,
        FixpointRecipe,
        ScanRecipe,
        StepRecipe,
        RegionRecipe,
        PlanRecipe,
    )
}


class _RecipeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"a plan recipe cannot hold {module}.{name}") from None


def encode(recipe: PlanRecipe) -> bytes:
    return pickle.dumps(recipe, protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: bytes) -> PlanRecipe:
    """The recipe `encode` wrote; `pickle.UnpicklingError` (or another
    error of a damaged stream) for anything else."""
    recipe = _RecipeUnpickler(io.BytesIO(data)).load()
    if not isinstance(recipe, PlanRecipe):
        raise pickle.UnpicklingError(f"a plan recipe, not {type(recipe).__name__}")
    return recipe
