"""Gradients of elementwise (`fuse.binary`, `fuse.select`, `fuse.unary`)
and normalization (`fuse.normalize`) ops."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import TensorType, f32
from xdsl.ir import SSAValue

from fuse.dialects.fuse import BinaryOp, NormalizeOp, SelectOp, UnaryOp
from fuse.dialects.fuse.subscripts import parse_subscripts
from fuse.passes.autodiff.sweep import (
    LETTERS,
    Emitter,
    ReverseSweep,
    check_distinct,
    describe,
    error_at,
    gradient_rule,
    is_step,
)

# --- rules: elementwise --------------------------------------------------------------


def _tie_split(e: Emitter, difference: SSAValue, larger: bool) -> SSAValue:
    """Weight of the first operand of max (`larger`) or min: 1 where it wins,
    0 where it loses, 1/2 at a tie."""
    sign = e.sign(difference)
    if not larger:
        sign = e.unary("neg", sign)
    return e.with_scalar("mul", e.with_scalar("add", sign, 1.0), 0.5)


@gradient_rule(BinaryOp)
def _binary_rule(sweep: ReverseSweep, op: BinaryOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    (a_s, b_s), o = parse_subscripts(op.subscripts.data)
    a, b, z = op.lhs, op.rhs, op.result
    check_distinct(op, a_s)
    check_distinct(op, b_s)
    fn = op.fn.data

    def send(x: SSAValue, letters: str, terms: Sequence[tuple[str, SSAValue]]) -> None:
        """x's gradient: g times `terms`, summed down to x's letters."""
        if x not in sweep.active:
            return
        if not terms:
            sweep.accumulate(x, e.reduce(g, o, letters, x.type))
            return
        subs = ",".join([o, *(t for t, _ in terms)])
        sweep.accumulate(x, e.einsum(f"{subs}->{letters}", [g, *(v for _, v in terms)], x.type))

    if fn == "add":
        send(a, a_s, [])
        send(b, b_s, [])
    elif fn == "sub":
        send(a, a_s, [])
        if b in sweep.active:
            sweep.accumulate(b, e.reduce(e.unary("neg", g), o, b_s, b.type))
    elif fn == "mul":
        send(a, a_s, [(b_s, b)])
        send(b, b_s, [(a_s, a)])
    elif fn == "div":
        quotient = e.binary("div", f"{o},{b_s}->{o}", g, b, z.type)
        if a in sweep.active:
            sweep.accumulate(a, e.reduce(quotient, o, a_s, a.type))
        if b in sweep.active:
            scaled = e.unary("neg", e.same("mul", quotient, z))
            sweep.accumulate(b, e.reduce(scaled, o, b_s, b.type))
    elif fn == "pow":
        if a in sweep.active:
            lowered = e.binary("pow", f"{a_s},{b_s}->{o}", a, e.with_scalar("sub", b, 1.0), z.type)
            send(a, a_s, [(o, lowered), (b_s, b)])
        if b in sweep.active:
            send(b, b_s, [(o, z), (a_s, e.unary("log", a))])
    elif fn in ("max", "min"):
        difference = e.binary("sub", op.subscripts.data, a, b, z.type)
        first = _tie_split(e, difference, larger=fn == "max")
        send(a, a_s, [(o, first)])
        send(b, b_s, [(o, e.with_scalar("sub", first, 1.0, left=True))])
    else:
        raise error_at(op, f"no gradient rule for {describe(op)}")


@gradient_rule(SelectOp)
def _select_rule(sweep: ReverseSweep, op: SelectOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    (c_s, t_s, f_s), o = parse_subscripts(op.subscripts.data)
    zero = e.scalar(0.0)
    for value, letters, branches in (
        (op.on_true, t_s, (g, zero, f"{c_s},{o},->{o}")),
        (op.on_false, f_s, (zero, g, f"{c_s},,{o}->{o}")),
    ):
        if value in sweep.active:
            check_distinct(op, letters)
            on_true, on_false, subscripts = branches
            routed = e.emit(SelectOp(subscripts, op.condition, on_true, on_false, op.result.type))
            sweep.accumulate(value, e.reduce(routed, o, letters, value.type))


def _gelu_derivative(e: Emitter, x: SSAValue, y: SSAValue) -> SSAValue:
    """Phi(x) + x phi(x), with Phi(x) = gelu(x)/x (1/2 at x = 0): the
    dialect has no erf, and gelu(x) = x Phi(x) divides back without
    cancellation."""
    s = LETTERS[: x.type.get_num_dims()]
    nonzero = e.unary("abs", x)
    one, half = e.scalar(1.0), e.scalar(0.5)
    safe_x = e.emit(SelectOp(f"{s},{s},->{s}", nonzero, x, one, x.type))
    ratio = e.same("div", y, safe_x)
    cdf = e.emit(SelectOp(f"{s},{s},->{s}", nonzero, ratio, half, x.type))
    gauss = e.unary("exp", e.with_scalar("mul", e.same("mul", x, x), -0.5))
    density = e.with_scalar("mul", e.same("mul", x, gauss), float(1.0 / np.sqrt(2.0 * np.pi)))
    return e.same("add", cdf, density)


@gradient_rule(UnaryOp)
def _unary_rule(sweep: ReverseSweep, op: UnaryOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    x, y, fn = op.operand, op.result, op.fn.data
    if is_step(op):  # reached only as a straight-through estimator
        gradient = g
    elif fn == "neg":
        gradient = e.unary("neg", g)
    elif fn == "log":
        gradient = e.same("div", g, x)
    elif fn == "sqrt":
        gradient = e.with_scalar("mul", e.same("div", g, y), 0.5)
    else:
        derivative = {
            "relu": lambda: e.unary("step", x),
            "exp": lambda: y,
            "abs": lambda: e.sign(x),
            "tanh": lambda: e.with_scalar("sub", e.same("mul", y, y), 1.0, left=True),
            "sin": lambda: e.unary("cos", x),
            "cos": lambda: e.unary("neg", e.unary("sin", x)),
            "gelu": lambda: _gelu_derivative(e, x, y),
            "sig": lambda: _sig_derivative(e, op),
        }.get(fn)
        if derivative is None:
            raise error_at(op, f"no gradient rule for {describe(op)}")
        gradient = e.same("mul", g, derivative())
    sweep.accumulate(x, gradient)


def _sig_derivative(e: Emitter, op: UnaryOp) -> SSAValue:
    """y (1 - y) / T."""
    y = op.result
    temperature = op.temperature.value.data if op.temperature is not None else 1.0
    slope = e.same("mul", y, e.with_scalar("sub", y, 1.0, left=True))
    return slope if temperature == 1.0 else e.with_scalar("mul", slope, 1.0 / temperature)


@gradient_rule(NormalizeOp)
def _normalize_rule(
    sweep: ReverseSweep, op: NormalizeOp, cotangents: list[SSAValue | None]
) -> None:
    e = sweep.emitter
    [g] = cotangents
    x, y = op.operand, op.result
    if x not in sweep.active:
        return  # only a mask is active: masks have zero gradient
    s = LETTERS[: x.type.get_num_dims()]
    r = s.replace(s[op.axis.value.data], "")
    shape = x.type.get_shape()
    row = TensorType(f32, [shape[s.index(c)] for c in r])
    if op.kind.data == "softmax":  # (masked: y = 0 where masked, so is this)
        projected = e.einsum(f"{s},{s}->{r}", [g, y], row)
        centered = e.binary("sub", f"{s},{r}->{s}", g, projected, x.type)
        sweep.accumulate(x, e.same("mul", centered, y))
        return
    # lnorm: (g - mean(g) - y mean(g y)) / sqrt(var + eps)
    mean = e.einsum(f"{s}->{r}", [x], row, kind="mean")
    deviation = e.binary("sub", f"{s},{r}->{s}", x, mean, x.type)
    variance = e.einsum(f"{s},{s}->{r}", [deviation, deviation], row, kind="mean")
    inverse = e.with_scalar("pow", e.with_scalar("add", variance, op.epsilon), -0.5)
    mean_g = e.einsum(f"{s}->{r}", [g], row, kind="mean")
    mean_gy = e.einsum(f"{s},{s}->{r}", [g, y], row, kind="mean")
    centered = e.binary("sub", f"{s},{r}->{s}", g, mean_g, x.type)
    along = e.binary("mul", f"{s},{r}->{s}", y, mean_gy, x.type)
    gradient = e.binary("mul", f"{s},{r}->{s}", e.same("sub", centered, along), inverse, x.type)
    sweep.accumulate(x, gradient)
