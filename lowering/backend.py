"""What every backend implements.

A backend takes a module whose `func.func @main` is at the dataflow level
with static shapes, and returns an `Executable`: a callable from the
arguments of `@main` (in order) to its results (in order). The numpy and jax
backends take and return NumPy arrays; the torch backend returns torch
tensors (on its device, carrying autograd history). A backend may define
`prepare_input(value)` to take runtime inputs in its own form (torch keeps
tensors that require grad); otherwise the runner hands it fp32 NumPy
arrays. A backend whose executables serialize defines `save(executable) ->
bytes` and `load(data, config) -> Executable`: the artifact cache then
stores the executable, and a warm compile neither decodes nor walks the IR.
The host runtime (`fuse.runtime`) maps names to positions using the
argument and result attributes that `fuse-stratify` writes:

* argument `{fuse.name = "W"}` (and `fuse.source = "w.npy"` for sources);
* result `{fuse.name = "Y"}` for an export, or
  `{fuse.sink = "out.npy", fuse.dims = ["i", "j"]}` for a sink, which the
  host writes after the run.

Backends never fall back to one another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr, TensorType
from xdsl.dialects.func import FuncOp
from xdsl.ir import Attribute, BlockArgument, SSAValue

from fuse.config import ExecutionConfig
from fuse.errors import Diagnostic, FuseError

Executable = Callable[[Sequence[np.ndarray]], list[np.ndarray]]


class Backend(Protocol):
    name: str
    # Whether `run` may hand the executable a scipy.sparse matrix given as a
    # runtime input (a relation it may hold as CSR); others get it dense.
    takes_sparse_relations: bool

    def compile(self, module: ModuleOp, config: ExecutionConfig) -> Executable: ...


class FixpointDivergence(FuseError):
    """A `fuse.fixpoint` reached its iteration bound without converging."""

    def __init__(
        self,
        tensors: Sequence[str],
        iterations: int,
        last_change: float,
        locate: Callable[[str], Diagnostic] | None = None,
    ):
        self.tensors = list(tensors)
        self.iterations = iterations
        self.last_change = last_change
        message = (
            f"fixpoint over {', '.join(self.tensors)} did not converge in {iterations} "
            f"iterations (last change {last_change:.6g}); raise ExecutionConfig.max_iters "
            "or check that the recursion converges"
        )
        super().__init__([locate(message)] if locate is not None else message)

    def located(self, locate: Callable[[str], Diagnostic]) -> FixpointDivergence:
        """The same divergence, its message placed by `locate` (at the
        recursive equation: backends know only the tensors' names)."""
        return FixpointDivergence(self.tensors, self.iterations, self.last_change, locate)


def main_function(module: ModuleOp) -> FuncOp:
    """The `func.func @main` every backend compiles."""
    for op in module.ops:
        if isinstance(op, FuncOp) and op.sym_name.data == "main":
            return op
    raise FuseError("the module has no func.func @main to run (run fuse-stratify first)")


def declared_names(main: FuncOp) -> list[str | None]:
    """Each argument's `fuse.name` (None where it has none): the name the
    host runtime passes it by. Each backend names the others its own way."""
    attrs = main.arg_attrs.data if main.arg_attrs is not None else ()
    names: list[str | None] = [None] * len(main.body.block.args)
    for n, attr in enumerate(attrs):
        name = attr.data.get("fuse.name")
        if isinstance(name, StringAttr):
            names[n] = name.data
    return names


def static_shape(value: SSAValue, backend: str) -> tuple[int, ...]:
    """The shape of `value`, which `backend` can run only as a ranked tensor
    of static shape; otherwise an error naming the value and its type."""
    value_type = value.type
    if isinstance(value, BlockArgument):
        where = f"argument #{value.index} of {value.block.parent_op().name}"
    else:
        where = f"the result of {value.owner.name}"
    if not isinstance(value_type, TensorType):
        raise FuseError(f"the {backend} backend runs ranked tensors; {where} has type {value_type}")
    shape = tuple(value_type.get_shape())
    if any(size < 0 for size in shape):
        raise FuseError(
            f"the {backend} backend needs static shapes; {where} has type {value_type} "
            "(infer shapes before compiling)"
        )
    return shape


EXPORT_STATUS_KEY = "fixpoint_status"
"""The output of an exported artifact holding its fixpoints' status rows."""


def unique_names(names: Iterable[str]) -> list[str]:
    """`names` with repeats told apart (`A`, `A#2`): keys of an exported
    artifact's `fixpoint_status`, where two fixpoints may compute the same
    tensors (a nested fixpoint runs once per outer step)."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return unique


SHARDING_ATTR = "fuse.sharding"
"""`@main` argument/result attribute: one mesh axis name per dimension, ""
for a dimension that is not split (fuse.runtime.sharding writes it)."""


def sharding_axes(attrs: Mapping[str, Attribute]) -> tuple[str | None, ...] | None:
    """The `fuse.sharding` axes in one argument's or result's attributes."""
    value = attrs.get(SHARDING_ATTR)
    if not isinstance(value, ArrayAttr):
        return None
    return tuple(axis.data or None for axis in value.data if isinstance(axis, StringAttr))
