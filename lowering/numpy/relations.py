"""Which values the NumPy backend holds as `scipy.sparse` relations.

A semi-naive Datalog step joins the last delta with the base relations. On
dense arrays that is a full n^2 (or n^3) operation however few facts are
new; on CSR matrices it costs in proportion to the facts involved. Dense
arrays win when most entries are nonzero, or the matrix is small, so the
rule is

    prefers_sparse(config, shape, density), by config.relations:
        "dense":  never
        "sparse": rank 2
        "auto":   rank 2, elements >= config.sparse_threshold,
                  and density < DENSITY_CUTOFF

The shape is static; the density is not, so the rule is applied where it
can be:

* Inputs (`@main` arguments) of rank 2 that feed a Boolean value are
  *candidates*; at run time each is converted to CSR if the rule holds for
  its observed density (one `count_nonzero`). Under `relations="sparse"`
  they are converted without a look. No input is converted when one of
  the run's inputs holds a NaN or an infinity (`NumpyExecutable`): a
  sparse join skips zeros and would drop the NaN of `0 * inf`.
* Boolean values are the results of `fuse.unary step` (as `fuse-stratify`
  emits them), the fixpoint values whose every yield is such a step, and
  their deltas. A step's representation is fixed at compile time, which
  keeps the dense path free of run-time checks. Its expected density is
  0 ("as sparse as the relations it comes from") when it is computed from
  a candidate input, and `DENSE_STEP_DENSITY` when it is computed from
  dense values only. A sparse step returns CSR whatever its operand turned
  out to be, so a Boolean value computed from large dense rank-2 inputs (a
  thresholded layer) is held sparse under "auto": correct, but slower than
  `relations="dense"`.
* A fixpoint value is sparse when every region yields it from a sparse
  step; its iterates and deltas are then CSR too.

Everything else follows from the operands (`sparse.py`): a join of two
sparse values is sparse, a sum with a dense value is dense, and an op with
no sparse form densifies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from xdsl.dialects.func import FuncOp
from xdsl.ir import BlockArgument, SSAValue

from fuse.config import ExecutionConfig
from fuse.dialects.fuse import FixpointOp, UnaryOp

from .kernels import Array, Shape
from .sparse import Value, to_csr, to_dense

DENSITY_CUTOFF = 0.05
"""Measured at n = 2000: a CSR product of two matrices of this density
catches up with dense BLAS between 5% and 10% nonzeros."""

DENSE_STEP_DENSITY = 0.5
"""A thresholded dense value (an activation's sign): about half ones."""


def prefers_sparse(config: ExecutionConfig, shape: Shape, density: float) -> bool:
    """The representation rule (module docstring)."""
    if config.relations == "dense" or len(shape) != 2:
        return False
    if config.relations == "sparse":
        return True
    return math.prod(shape) >= config.sparse_threshold and density < DENSITY_CUTOFF


def input_converter(config: ExecutionConfig) -> Callable[[Array], Value]:
    """The run-time half of the rule, for candidate inputs."""
    if config.relations == "sparse":
        return to_csr

    def convert(array: Value) -> Value:
        # A relation given sparse is counted without a dense pass over it.
        nonzero = array.nnz if sp.issparse(array) else np.count_nonzero(array)
        density = nonzero / math.prod(array.shape)
        return to_csr(array) if prefers_sparse(config, array.shape, density) else to_dense(array)

    return convert


@dataclass(frozen=True)
class Relations:
    """The static decisions for one `@main`."""

    inputs: tuple[int, ...]  # candidate arguments, by position
    steps: frozenset[SSAValue]  # step results held as CSR

    def fixpoint(self, op: FixpointOp) -> tuple[bool, ...]:
        """Per result: held sparse (every region yields it from a sparse step)."""
        yields = [region.block.last_op.operands for region in op.regions]
        return tuple(
            all(values[n] in self.steps for values in yields) for n in range(len(op.results))
        )


def plan_relations(main: FuncOp, config: ExecutionConfig) -> Relations:
    """The compile-time half of the rule: candidate inputs and sparse steps."""
    if config.relations == "dense":
        return Relations((), frozenset())
    steps = [op.result for op in main.walk() if isinstance(op, UnaryOp) and op.fn.data == "step"]
    feeding = [_sources(step) for step in steps]
    candidates = {
        arg
        for arg in main.body.block.args
        if prefers_sparse(config, _shape(arg), 0.0) and any(arg in used for used in feeding)
    }
    sparse_steps = frozenset(
        step
        for step, used in zip(steps, feeding, strict=True)
        if prefers_sparse(config, _shape(step), 0.0 if used & candidates else DENSE_STEP_DENSITY)
    )
    return Relations(tuple(sorted(arg.index for arg in candidates)), sparse_steps)


def _shape(value: SSAValue) -> Shape:
    return tuple(value.type.get_shape())


def _sources(value: SSAValue) -> set[SSAValue]:
    """Every value that `value` is computed from, through fixpoints: a
    fixpoint result comes from its yields, an iterate or a delta from its
    result."""
    seen: set[SSAValue] = set()
    work = [value]
    while work:
        current = work.pop()
        if current in seen:
            continue
        seen.add(current)
        if isinstance(current, BlockArgument):
            parent = current.block.parent_op()
            if isinstance(parent, FixpointOp):
                work.append(parent.results[current.index % len(parent.results)])
        elif isinstance(current.owner, FixpointOp):
            work += (
                region.block.last_op.operands[current.index] for region in current.owner.regions
            )
        else:
            work += current.owner.operands
    return seen
