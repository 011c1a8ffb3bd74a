"""Gradient of `fuse.einsum` (sum, mean, max)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import TensorType, f32
from xdsl.ir import SSAValue

from fuse.dialects.fuse import EinsumOp
from fuse.dialects.fuse.subscripts import parse_subscripts
from fuse.passes.autodiff.sweep import (
    ReverseSweep,
    check_distinct,
    describe,
    error_at,
    gradient_rule,
)


def _type_for(letters: str, sizes: dict[str, int]) -> TensorType:
    return TensorType(f32, [sizes[c] for c in letters])


def _letter_sizes(subscripts: Sequence[str], values: Sequence[SSAValue]) -> dict[str, int]:
    """Each letter's size (-1: dynamic) from the operands that have it."""
    sizes: dict[str, int] = {}
    for letters, value in zip(subscripts, values, strict=True):
        for letter, size in zip(letters, value.type.get_shape(), strict=True):
            if size >= 0 or letter not in sizes:
                sizes[letter] = size
    return sizes


def _argmax_weights(
    sweep: ReverseSweep, op: EinsumOp, ins: list[str], out: str
) -> tuple[str, SSAValue]:
    """Where the max projection takes its value: 1/(number of ties) at each
    arg-max of the product over all letters, 0 elsewhere."""
    e = sweep.emitter
    every = "".join(dict.fromkeys("".join(ins)))
    sizes = _letter_sizes(ins, list(op.inputs))
    full = _type_for(every, sizes)
    product = e.einsum(f"{','.join(ins)}->{every}", list(op.inputs), full)
    # The max of this very product, so equality below is exact on every backend.
    peak = e.einsum(f"{every}->{out}", [product], op.result.type, kind="max")
    below = e.binary("sub", f"{out},{every}->{every}", peak, product, full)
    at_max = e.with_scalar("sub", e.unary("step", below), 1.0, left=True)
    ties = e.einsum(f"{every}->{out}", [at_max], op.result.type)
    return every, e.binary("div", f"{every},{out}->{every}", at_max, ties, full)


@gradient_rule(EinsumOp)
def _einsum_rule(sweep: ReverseSweep, op: EinsumOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    ins, out = parse_subscripts(op.subscripts.data)
    kind = op.kind.data
    inputs = list(op.inputs)
    weights = _argmax_weights(sweep, op, ins, out) if kind == "max" else None
    sizes = _letter_sizes(ins, inputs)
    for k, (letters, x) in enumerate(zip(ins, inputs, strict=True)):
        if x not in sweep.active:
            continue
        check_distinct(op, letters)
        terms: list[tuple[str, SSAValue]] = [(out, g)]
        if weights is not None:
            terms.append(weights)
        terms += [(ins[j], inputs[j]) for j in range(len(inputs)) if j != k]
        covered = set("".join(t for t, _ in terms))
        kept = "".join(c for c in letters if c in covered)
        shape = x.type.get_shape()
        kept_type = TensorType(f32, [shape[letters.index(c)] for c in kept])
        subscripts = ",".join(t for t, _ in terms)
        gradient = e.einsum(f"{subscripts}->{kept}", [v for _, v in terms], kept_type)
        if kept != letters:  # letters summed in x alone: broadcast back over them
            gradient = e.broadcast_like(gradient, kept, x, letters)
        if kind == "mean":
            projected = [sizes[c] for c in dict.fromkeys("".join(ins)) if c not in out]
            if min(projected, default=0) < 0:
                raise error_at(
                    op,
                    f"the gradient of {describe(op)} needs static sizes (a mean divides by "
                    "the projected size): run fuse-infer-shapes with known input shapes first",
                )
            gradient = e.with_scalar("mul", gradient, 1.0 / int(np.prod(projected)))
        sweep.accumulate(x, gradient)
