"""Gradients of ops that move values: `fuse.take`, `fuse.gather`,
`fuse.concat`, `fuse.topk`."""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import TensorType, f32
from xdsl.ir import SSAValue

from fuse.dialects.fuse import ConcatOp, GatherOp, IndexFnOp, TakeOp, TopKOp
from fuse.passes.autodiff.sweep import LETTERS, ReverseSweep, gradient_rule, static_shape


def _fresh_letter(used: str) -> str:
    return next(c for c in LETTERS if c not in used)


@gradient_rule(TakeOp)
def _take_rule(sweep: ReverseSweep, op: TakeOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    x, dim = op.operand, op.dim.value.data
    s = LETTERS[: x.type.get_num_dims()]
    size = static_shape(x, op, "the taken dimension")[dim]
    onehot = e.emit(IndexFnOp("onehot", TensorType(f32, [size]), op.position.value.data))
    kept = s.replace(s[dim], "")
    sweep.accumulate(x, e.einsum(f"{kept},{s[dim]}->{s}", [g, onehot], x.type))


def _scatter_back(
    sweep: ReverseSweep, x: SSAValue, dim: int, g: SSAValue, placement: SSAValue
) -> None:
    """x's gradient from g, which has `placement`'s first size along `dim`:
    g[.., p, ..] goes to x[.., i, ..] with weight placement[p, i]."""
    s = LETTERS[: x.type.get_num_dims()]
    p = _fresh_letter(s)
    g_s = s.replace(s[dim], p)
    gradient = sweep.emitter.einsum(f"{g_s},{p}{s[dim]}->{s}", [g, placement], x.type)
    sweep.accumulate(x, gradient)


@gradient_rule(GatherOp)
def _gather_rule(sweep: ReverseSweep, op: GatherOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    x, dim = op.operand, op.dim.value.data
    size = static_shape(x, op, "the gathered dimension")[dim]
    # One-hot rows of the positions read: the rows of an identity, gathered.
    identity = e.constant(np.eye(size))
    placement = e.emit(GatherOp(identity, 0, op.indices))
    _scatter_back(sweep, x, dim, g, placement)


@gradient_rule(ConcatOp)
def _concat_rule(sweep: ReverseSweep, op: ConcatOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    axis = op.axis.value.data
    total = static_shape(op.result, op, "the concatenated dimension")[axis]
    offset = 0
    for x in op.inputs:
        size = static_shape(x, op, "the concatenated dimension")[axis]
        if x in sweep.active:
            placement = np.zeros((total, size))
            placement[offset + np.arange(size), np.arange(size)] = 1.0
            _scatter_back(sweep, x, axis, g, e.constant(placement))
        offset += size


@gradient_rule(TopKOp)
def _topk_rule(sweep: ReverseSweep, op: TopKOp, cotangents: list[SSAValue | None]) -> None:
    """g where the entry is kept. Which entries are kept is recomputed on
    x - min(x) + 1 (same order, same ties, all positive), so a kept entry
    that is 0 still counts as kept."""
    e = sweep.emitter
    [g] = cotangents
    x, axis = op.operand, op.axis.value.data
    s = LETTERS[: x.type.get_num_dims()]
    r = s.replace(s[axis], "")
    shape = x.type.get_shape()
    row = TensorType(f32, [shape[s.index(c)] for c in r])
    negated_min = e.einsum(f"{s}->{r}", [e.unary("neg", x)], row, kind="max")
    shifted = e.binary("add", f"{s},{r}->{s}", x, negated_min, x.type)
    positive = e.with_scalar("add", shifted, 1.0)
    kept = e.unary("step", e.emit(TopKOp(positive, op.k.value.data, axis)))
    sweep.accumulate(x, e.same("mul", g, kept))
