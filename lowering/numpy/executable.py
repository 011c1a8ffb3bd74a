"""The callable a `NumpyBackend` compile returns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from fuse.config import ExecutionConfig
from fuse.errors import FuseError

from .build import build_plan
from .profile import Profile
from .recipe import PlanRecipe
from .sparse import to_dense


class NumpyExecutable:
    """Runs a compiled plan: `executable([x, w]) -> [y]`, arguments and
    results in `@main` order.

    After each run, `fixpoint_iterations` maps each fixpoint's tensor names
    (joined by ", ") to its iteration count, `held_sparse` names the inputs
    and fixpoint tensors that the run held as scipy.sparse matrices, and
    `last_profile` lists (op description, seconds) per op when compiled with
    `profile=True` (None otherwise). All describe the last run, so one
    executable should not be run from several threads at once when they are
    read. Results are always dense arrays.

    Floating-point exceptions (overflow, division by zero, log of 0) give
    IEEE results silently, as the other backends do.

    `recipe` is the plan as data, what the artifact cache stores
    (`recipe.encode`); `config.profile` times every op of each run.
    """

    def __init__(self, recipe: PlanRecipe, config: ExecutionConfig):
        self.recipe = recipe
        self._profile = Profile() if config.profile else None
        self._iterations: dict[str, int] = {}
        self._held_sparse: set[str] = set()
        self._plan = build_plan(recipe, config, self._profile, self._iterations, self._held_sparse)

    def __call__(self, args: Sequence[ArrayLike]) -> list[np.ndarray]:
        plan = self._plan
        if len(args) != len(plan.arg_shapes):
            raise FuseError(f"the program takes {len(plan.arg_shapes)} inputs, got {len(args)}")
        arrays = [arg if sp.issparse(arg) else np.asarray(arg, dtype=np.float32) for arg in args]
        for name, array, shape in zip(plan.arg_names, arrays, plan.arg_shapes, strict=True):
            if array.shape != shape:
                raise FuseError(
                    f"input {name} has shape {array.shape}, but the program expects {shape}"
                )
        self._iterations.clear()
        self._held_sparse.clear()
        # Relations stay dense beside a NaN or an infinity: a sparse join
        # skips zeros, dropping the NaN of `0 * inf` that IEEE gives (and
        # every backend's dense path), which made a false Boolean true.
        relations = plan.relation_inputs
        converted = relations if relations and all(map(_finite, arrays)) else ()
        for n in converted:
            arrays[n] = plan.to_relation(arrays[n])
            if sp.issparse(arrays[n]):
                self._held_sparse.add(plan.arg_names[n])
        for n, array in enumerate(arrays):  # given sparse, but not a relation input here
            if n not in converted:
                arrays[n] = to_dense(array)
        if self._profile is not None:
            self._profile.reset()
        with np.errstate(all="ignore"):
            results = plan.region(list(plan.template), arrays)
        return [np.asarray(result) for result in results]

    @property
    def last_profile(self) -> list[tuple[str, float]] | None:
        return self._profile.entries() if self._profile is not None else None

    @property
    def fixpoint_iterations(self) -> dict[str, int]:
        return dict(self._iterations)

    @property
    def fixpoint_convergence(self) -> dict[str, list[int]]:
        """Per fixpoint of the last profiled run, the number of elements
        each iteration changed (empty without `config.profile`)."""
        if self._profile is None:
            return {}
        return {name: list(counts) for name, counts in self._profile.convergence.items()}

    @property
    def held_sparse(self) -> frozenset[str]:
        return frozenset(self._held_sparse)


def _finite(array: np.ndarray | sp.csr_array) -> bool:
    return bool(np.isfinite(array.data if sp.issparse(array) else array).all())
