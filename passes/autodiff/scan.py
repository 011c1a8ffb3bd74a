"""Gradient of `fuse.scan`: backpropagation through time, as reverse scans.

A scan computes s_{k+1} = f(s_k, x_k; theta) (x_k: step k's slices of the
scanned inputs, theta: the values its body reads from outside). Its
adjoint runs the other way: with a the cotangent of the state after step
k, step k of the adjoint scan evaluates the body once more at the stored
state before it and sends a back through the body's own gradient rules,
giving the cotangent of the state before (plus that state's own cotangent,
when the scan's stacked result has one), of x_k, and of theta. So the
gradient of a scan is a `fuse.scan` in the opposite direction whose body
is the body's gradient; every backend runs it as it runs any scan.

* The adjoint scan reads the states before each step from the stored
  result. A virtual scan keeps no states, so its gradient first runs the
  recurrence again as a stored scan: memory grows with the steps in the
  gradient (not in the forward run).
* The cotangent of the initial state is the adjoint after the last
  adjoint step. A scanned input's gradient is one value per step: the
  adjoint scan carries it as a state, stored, so its stacked result holds
  them all. theta's gradient is a sum over steps, carried in a virtual
  adjoint scan, so it costs no memory per step. Where both are needed the
  two adjoint scans are separate (the second recomputes the adjoints
  rather than storing a copy of theta per step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.ir import Block, Operation, Region, SSAValue

from fuse.dialects.fuse import ScanOp, YieldOp
from fuse.dialects.fuse.affine import LinearForm
from fuse.passes.autodiff.sweep import (
    Emitter,
    ReverseSweep,
    active_values,
    captures,
    gradient_rule,
    is_float,
    static_shape,
    unit,
)


def _shifted(rank: int, axis: int, offset: int) -> list[LinearForm]:
    """The map of a window that reads a rank-`rank` operand shifted by
    `offset` along `axis`."""
    return [LinearForm(unit(rank, q), offset if q == axis else 0) for q in range(rank)]


def _steps_of(e: Emitter, stacked: SSAValue, axis: int, first: int, steps: int) -> SSAValue:
    """Positions `first .. first + steps - 1` of `stacked` along `axis`."""
    shape = list(stacked.type.get_shape())
    shape[axis] = steps
    return e.window(stacked, _shifted(len(shape), axis, first), shape)


def _position(e: Emitter, stacked: SSAValue, axis: int, position: int) -> SSAValue:
    """The state at `position` along `axis` of `stacked` (that axis dropped)."""
    shape = list(stacked.type.get_shape())
    rank = len(shape) - 1
    del shape[axis]
    forms = []
    for q in range(rank + 1):
        if q == axis:
            forms.append(LinearForm((0,) * rank, position))
        else:
            k = q if q < axis else q - 1
            forms.append(LinearForm(unit(rank, k)))
    return e.window(stacked, forms, shape)


def _zeros(e: Emitter, like: SSAValue, op: Operation) -> SSAValue:
    """Zeros of `like`'s type (`op`: the scan, named where sizes are unknown)."""
    return e.constant(np.zeros(static_shape(like, op, "a zero adjoint")))


@dataclass
class _Forward:
    """What the adjoint scans read of the forward scan."""

    op: ScanOp
    axis: int  # the axis the next two stack their steps on
    before: list[SSAValue]  # per state, the state before each step
    given: list[tuple[int, SSAValue]]  # (state, its own cotangent before each step)
    final: list[SSAValue | None]  # the cotangents of the states after the last step
    thetas: list[SSAValue]  # active values the body reads from outside
    active_xs: list[int]  # scanned inputs with a gradient


def _adjoint_scan(
    sweep: ReverseSweep, forward: _Forward, with_xs: bool, with_thetas: bool
) -> ScanOp:
    """A scan in the opposite direction carrying the adjoints of the states
    (then, with `with_xs`, the gradient of each active scanned input at the
    step, stored; with `with_thetas`, the running sums of theta's gradient,
    virtual). Its body differentiates the forward body at each step."""
    e, op = sweep.emitter, forward.op
    n = len(op.init)
    body = op.body.block
    states = [v.type for v in op.init]
    slices = [a.type for a in body.args[n:]]  # step k's slice of each scanned input
    step_slices = [body.args[n + j] for j in forward.active_xs] if with_xs else []
    thetas = forward.thetas if with_thetas else []
    # Scanned: the stored states before each step, their own cotangents, the inputs.
    given = forward.given
    scanned = [*forward.before, *(g for _, g in given), *op.xs]
    scanned_axes = [forward.axis] * (n + len(given)) + list(op.scanned_axes)
    init = [
        g if g is not None else _zeros(e, v, op)
        for g, v in zip(forward.final, op.init, strict=True)
    ]
    init += [_zeros(e, v, op) for v in [*step_slices, *thetas]]

    block = Block(
        arg_types=[
            *(v.type for v in init),
            *states,
            *(states[i] for i, _ in given),
            *slices,
        ]
    )
    carried = block.args[: len(init)]
    adjoints, sums = carried[:n], carried[n + len(step_slices) :]
    rest = block.args[len(init) :]
    before, own, inputs = rest[:n], rest[n : n + len(given)], rest[n + len(given) :]
    inner_emitter = Emitter(block, location=op.location)
    mapping: dict[SSAValue, SSAValue] = dict(zip(body.args, [*before, *inputs], strict=True))
    replica: list[Operation] = []
    for inner in body.ops:
        if isinstance(inner, YieldOp):
            continue
        copy = inner.clone(value_mapper=mapping)
        inner_emitter.emit(copy)
        replica.append(copy)
    yielded = [mapping.get(v, v) for v in body.last_op.operands]
    seeds = {v for v in before if is_float(v)} | set(thetas)
    seeds |= {inputs[j] for j in forward.active_xs}
    inner = ReverseSweep(
        inner_emitter,
        active_values(replica, sweep.active | seeds, sweep.straight_through),
        sweep.straight_through,
    )
    for value, adjoint in zip(yielded, adjoints, strict=True):
        inner.accumulate(value, adjoint)
    inner.run(replica)

    def gradient_of(value: SSAValue) -> SSAValue:
        found = inner.adjoints.get(value)
        return found if found is not None else _zeros(inner_emitter, value, op)

    next_adjoints = [gradient_of(v) for v in before]
    for (i, _), g in zip(given, own, strict=True):
        next_adjoints[i] = inner_emitter.same("add", next_adjoints[i], g)
    next_xs = [gradient_of(inputs[j]) for j in forward.active_xs] if with_xs else []
    next_sums = []
    for theta, total in zip(thetas, sums, strict=True):
        step = inner.adjoints.get(theta)
        next_sums.append(total if step is None else inner_emitter.same("add", total, step))
    block.add_op(YieldOp(*next_adjoints, *next_xs, *next_sums))
    names = [f"adjoint.{t}" for t in op.tensor_names]
    names += [f"adjoint.scanned.{j}" for j in range(len(step_slices))]
    names += [f"adjoint.read.{k}" for k in range(len(thetas))]
    adjoint = ScanOp(
        names,
        init,
        scanned,
        scanned_axes,
        op.step_count,
        Region(block),
        axis=None if not with_xs else 0,
        virtual=not with_xs,
        reverse=not op.is_reverse,
    )
    e.location = op.location
    e.emit(adjoint)
    return adjoint


@gradient_rule(ScanOp)
def _scan_rule(sweep: ReverseSweep, op: ScanOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    steps = op.step_count
    if op.is_virtual:  # the states before each step, stored for the gradient
        stored = ScanOp(
            op.tensor_names,
            list(op.init),
            list(op.xs),
            op.scanned_axes,
            steps,
            op.body.clone(),
            axis=0,
            reverse=op.is_reverse,
        )
        e.emit(stored)
        stacked, axis = list(stored.results), 0
        final, stacked_cotangents = list(cotangents), [None] * len(cotangents)
    else:
        stacked, axis = list(op.results), op.stacking_axis
        last = 0 if op.is_reverse else steps  # where the state after the last step sits
        final = [None if g is None else _position(e, g, axis, last) for g in cotangents]
        stacked_cotangents = list(cotangents)
    before = 1 if op.is_reverse else 0  # where the state before step k sits: k + before
    forward = _Forward(
        op,
        axis,
        [_steps_of(e, s, axis, before, steps) for s in stacked],
        [
            (i, _steps_of(e, g, axis, before, steps))
            for i, g in enumerate(stacked_cotangents)
            if g is not None
        ],
        final,
        thetas=[v for v in captures(op) if v in sweep.active and is_float(v)],
        active_xs=[j for j, x in enumerate(op.xs) if x in sweep.active],
    )
    n = len(op.init)
    initial: list[SSAValue] | None = None
    if forward.active_xs:
        per_step = _adjoint_scan(sweep, forward, with_xs=True, with_thetas=False)
        # The adjoint scan runs the other way: its last step's state sits at
        # 0 when it runs in reverse, at `steps` otherwise; step k's at k or k + 1.
        last, after = (0, 0) if per_step.is_reverse else (steps, 1)
        initial = [_position(e, r, 0, last) for r in per_step.results[:n]]
        for j, result in zip(forward.active_xs, per_step.results[n:], strict=True):
            x, in_axis = op.xs[j], op.scanned_axes[j]
            rank = x.type.get_num_dims()
            # result[d] = stacked[d[in_axis] + after, the other d in order]
            others = [q for q in range(rank) if q != in_axis]
            forms = [LinearForm(unit(rank, in_axis), after)]
            forms += [LinearForm(unit(rank, o)) for o in others]
            sweep.accumulate(x, e.window(result, forms, x.type.get_shape()))
    if forward.thetas or initial is None:
        summed = _adjoint_scan(sweep, forward, with_xs=False, with_thetas=True)
        if initial is None:
            initial = list(summed.results[:n])
        for theta, total in zip(forward.thetas, summed.results[n:], strict=True):
            sweep.accumulate(theta, total)
    for value, gradient in zip(op.init, initial, strict=True):
        sweep.accumulate(value, gradient)
