"""Gradient of a naive `fuse.fixpoint`, by implicit differentiation."""

from __future__ import annotations

import numpy as np
from xdsl.ir import Block, Operation, Region, SSAValue

from fuse.dialects.fuse import FixpointOp, YieldOp
from fuse.passes.autodiff.sweep import (
    Emitter,
    ReverseSweep,
    active_values,
    error_at,
    gradient_rule,
    static_shape,
)


@gradient_rule(FixpointOp)
def _fixpoint_rule(sweep: ReverseSweep, op: FixpointOp, cotangents: list[SSAValue | None]) -> None:
    """Implicit differentiation at the converged values (module docstring)."""
    if op.is_semi_naive:
        raise error_at(
            op,
            f"fuse-autodiff differentiates naive fixpoints ({', '.join(op.tensor_names)} is "
            "semi_naive): run fuse-autodiff before fuse-semi-naive",
        )
    e = sweep.emitter
    body = op.body.block
    # F(x*, theta), computed once outside: its values are used by both sweeps.
    mapping: dict[SSAValue, SSAValue] = dict(zip(body.args, op.results, strict=True))
    replica: list[Operation] = []
    for inner in body.ops:
        if isinstance(inner, YieldOp):
            continue
        copy = inner.clone(value_mapper=mapping)
        e.emit(copy)
        replica.append(copy)
    yielded = [mapping.get(v, v) for v in body.last_op.operands]
    results = list(op.results)
    seeds = [
        c if c is not None else e.constant(np.zeros(static_shape(r, op, "a zero cotangent")))
        for c, r in zip(cotangents, results, strict=True)
    ]
    # u = g + (dF/dx)^T u, from u = 0.
    through_x = active_values(replica, set(results), sweep.straight_through)
    if any(v in through_x for v in yielded):
        adjoint_block = Block(arg_types=[r.type for r in results])
        inner_sweep = ReverseSweep(
            Emitter(adjoint_block, location=op.location), through_x, sweep.straight_through
        )
        for value, current in zip(yielded, adjoint_block.args, strict=True):
            inner_sweep.accumulate(value, current)
        inner_sweep.run(replica)
        next_values = []
        for seed, result in zip(seeds, results, strict=True):
            flowing = inner_sweep.adjoints.get(result)
            next_values.append(
                seed if flowing is None else inner_sweep.emitter.same("add", seed, flowing)
            )
        adjoint_block.add_op(YieldOp(*next_values))
        adjoint = FixpointOp(
            "naive",
            [f"adjoint.{n}" for n in op.tensor_names],
            [r.type for r in results],
            Region(adjoint_block),
        )
        for key in ("max_iters", "tolerance"):
            if key in op.properties:
                adjoint.properties[key] = op.properties[key]
        e.location = op.location
        e.emit(adjoint)
        seeds = list(adjoint.results)
    # theta's share: (dF/dtheta)^T u.
    outer_active = active_values(replica, sweep.active - set(results), sweep.straight_through)
    outer = ReverseSweep(e, outer_active, sweep.straight_through)
    for value, seed in zip(yielded, seeds, strict=True):
        outer.accumulate(value, seed)
    outer.run(replica)
    defined = {r for o in replica for r in o.results} | set(results)
    for value, gradient in outer.adjoints.items():
        if value not in defined:
            sweep.accumulate(value, gradient)
