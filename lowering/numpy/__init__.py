"""The NumPy backend: the dataflow level as a compiled plan of closures.

`compile` walks `@main` once and resolves everything static (subscripts,
permutations, axes, contraction plans, constants) into a `PlanRecipe`,
plain data that the artifact cache can store, then builds it into
closures over a value table indexed by SSA slot; a run is a loop over
those closures. `load` builds an executable from a stored recipe alone.

    exe = NumpyBackend().compile(module, ExecutionConfig(profile=True))
    outputs = exe([x, w])
    exe.last_profile         # [(op description, seconds), ...]
    exe.fixpoint_iterations  # {"Path": 4}
    exe.held_sparse          # frozenset({"Edge", "Path"}): scipy.sparse inside

Boolean relations above `config.sparse_threshold` elements are held as
`scipy.sparse` CSR matrices (`relations.py` has the rule), so a semi-naive
step costs in proportion to its delta; results are always dense.

Files: `plan.py` (IR walk), `recipe.py` (the plan as data), `build.py`
(recipe to closures), `kernels.py` (one builder per op kind),
`relations.py` (which values are sparse) and `sparse.py` (their kernels),
`fixpoint.py` (the loop; when it stops: `fuse.lowering.fixpoint_loop`),
`region.py` (the value table's steps),
`profile.py` (timers), `executable.py` (the callable).
"""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp

from fuse.config import ExecutionConfig

from .executable import NumpyExecutable
from .plan import plan_recipe
from .recipe import decode, encode

__all__ = ["NumpyBackend", "NumpyExecutable"]


class NumpyBackend:
    name = "numpy"
    takes_sparse_relations = True

    def compile(self, module: ModuleOp, config: ExecutionConfig) -> NumpyExecutable:
        """`config.profile` times every op of each run (see `last_profile`)."""
        return NumpyExecutable(plan_recipe(module, config), config)

    def save(self, executable: NumpyExecutable) -> bytes:
        """`executable` as bytes that `load` reads back (its recipe)."""
        return encode(executable.recipe)

    def load(self, data: bytes, config: ExecutionConfig) -> NumpyExecutable:
        """The executable `save` stored, for the `config` it was compiled with."""
        return NumpyExecutable(decode(data), config)
