"""`fuse-autodiff{loss=NAME wrt=A,B}`: reverse-mode gradients as `fuse` ops.

The gradient of a tensor-logic program is a tensor-logic program (DESIGN.md
section 3c). This pass runs on the dataflow level and appends to `@main`
the gradients of the scalar result named `loss` with respect to the
arguments (runtime inputs and sources) named in `wrt`, as extra results
named `grad.A`, `grad.B`. Every gradient is built from the dataflow ops
themselves, so `fuse-opt` shows it, `cse`/`fuse-einsum-path` optimize it and
every backend runs it natively.

With `cotangents=true` instead of `loss`, the pass builds a vector-Jacobian
product: every exported result `Y` gets an argument `cotangent.Y` of its
type, appended after the program's own arguments, and the gradients are
those of `sum(cotangent.Y * Y)` (what `jax.custom_vjp` needs).

```mlir
// fuse-autodiff{loss=L wrt=W}
func.func @main(%W: tensor<3xf32> {fuse.name = "W"}) -> (tensor<f32> {fuse.name = "L"}) {
  %L = fuse.einsum "i,i->" sum (%W, %W) : (tensor<3xf32>, tensor<3xf32>) -> tensor<f32>
  func.return %L : tensor<f32>
}
// becomes: ... -> (tensor<f32> {fuse.name = "L"}, tensor<3xf32> {fuse.name = "grad.W"})
//   %seed = fuse.constant dense<1.0> : tensor<f32>
//   %0 = fuse.einsum ",i->i" sum (%seed, %W) ...   (once per use of W, then added)
```

Rules (one per op class, in `GRADIENT_RULES`; `gradient_rule` registers
more, e.g. for ops other passes add):

* `fuse.einsum` sum: the gradient of an operand is an einsum of the result's
  cotangent with the other operands, its subscripts permuted; letters only
  that operand has are broadcast with a ones vector. `mean` scales it by
  1/N. `max`: the cotangent goes to the arg-max of the product over the
  projected letters; ties split it evenly (as JAX's `reduce_max`).
* elementwise ops by their derivatives; `max`/`min` of two values split a
  tie evenly too. `step`, `sig` at temperature 0, Boolean values, indices
  and masks have zero gradient.
* `softmax`, masked softmax and `lnorm` by their closed-form Jacobians.
* `take`, `gather`, `concat` and `topk` route the cotangent back to the
  positions they read.
* a naive `fuse.fixpoint` by implicit differentiation: at the converged
  x* = F(x*, theta) the adjoint u solves u = g + (dF/dx)^T u, itself a
  linear fixpoint emitted as a `fuse.fixpoint` (tensors `adjoint.X`), and
  theta receives (dF/dtheta)^T u. It converges where the forward iteration
  is a contraction at x*, the condition for the fixpoint to be stable.
* `fuse.sample`: a Monte-Carlo estimate whose proposal does not depend on
  `wrt` differentiates as the estimate with fixed positions (an unbiased
  estimate of the gradient); a proposal that depends on `wrt` is an error.

An op without a rule, or a case a rule does not cover, is an error naming
the op and its equation, never a wrong number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    FunctionType,
    IntegerType,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
)
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import (
    BinaryOp,
    ConcatOp,
    ConstantOp,
    EinsumOp,
    FixpointOp,
    GatherOp,
    IndexFnOp,
    NormalizeOp,
    SampleOp,
    SelectOp,
    TakeOp,
    TopKOp,
    UnaryOp,
    YieldOp,
)
from fuse.dialects.fuse.dataflow import parse_subscripts
from fuse.passes.infer_shapes import location_prefix

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
GRAD_PREFIX = "grad."
COTANGENT_PREFIX = "cotangent."


class AutodiffError(DiagnosticException):
    """A gradient this pass cannot build, located at the equation."""


def _error(op: Operation, message: str) -> AutodiffError:
    return AutodiffError(f"{location_prefix(op)}{message}")


def _describe(op: Operation) -> str:
    """`fuse.unary erf` / `fuse.einsum "ij->i" max`: what a message names."""
    parts = [op.name]
    for key in ("fn", "kind", "subscripts"):
        value = op.properties.get(key)
        if isinstance(value, StringAttr):
            parts.append(f'"{value.data}"' if key == "subscripts" else value.data)
    return " ".join(parts)


def _static_shape(value: SSAValue, op: Operation, why: str) -> tuple[int, ...]:
    shape = tuple(value.type.get_shape())
    if any(size < 0 for size in shape):
        raise _error(
            op,
            f"the gradient of {_describe(op)} needs static sizes ({why}), got {value.type}: "
            "run fuse-infer-shapes with known input shapes first",
        )
    return shape


def _is_float(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and not isinstance(
        value.type.element_type, IntegerType
    )


# --- emitting gradient ops --------------------------------------------------------


@dataclass
class Emitter:
    """Builds gradient ops at one insertion point (before `before` in
    `block`, else at its end), located at the equation they differentiate."""

    block: Block
    before: Operation | None = None
    location: object = None

    def emit(self, op: Operation) -> SSAValue:
        if self.location is not None:
            op.location = self.location
        if self.before is not None:
            self.block.insert_op_before(op, self.before)
        else:
            self.block.add_op(op)
        return op.results[0]

    def constant(self, array: np.ndarray) -> SSAValue:
        array = np.asarray(array, dtype=np.float32)
        tensor_type = TensorType(f32, array.shape)
        values = [float(v) for v in array.ravel()]
        return self.emit(ConstantOp(DenseIntOrFPElementsAttr.from_list(tensor_type, values)))

    def scalar(self, value: float) -> SSAValue:
        return self.constant(np.array(value))

    def einsum(
        self, subscripts: str, inputs: Sequence[SSAValue], result_type: TensorType, kind="sum"
    ) -> SSAValue:
        ins, out = subscripts.split("->")
        if kind == "sum" and len(inputs) == 1 and ins == out:  # the identity
            return inputs[0]
        return self.emit(EinsumOp(subscripts, kind, inputs, result_type))

    def binary(
        self, fn: str, subscripts: str, lhs: SSAValue, rhs: SSAValue, result_type: TensorType
    ) -> SSAValue:
        return self.emit(BinaryOp(fn, subscripts, lhs, rhs, result_type))

    def unary(self, fn: str, value: SSAValue) -> SSAValue:
        return self.emit(UnaryOp(fn, value))

    def same(self, fn: str, lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        """`fn` of two tensors of one shape."""
        s = LETTERS[: lhs.type.get_num_dims()]
        return self.binary(fn, f"{s},{s}->{s}", lhs, rhs, lhs.type)

    def with_scalar(self, fn: str, value: SSAValue, number: float, *, left=False) -> SSAValue:
        """`value fn number` (or `number fn value` with `left`)."""
        s = LETTERS[: value.type.get_num_dims()]
        c = self.scalar(number)
        if left:
            return self.binary(fn, f",{s}->{s}", c, value, value.type)
        return self.binary(fn, f"{s},->{s}", value, c, value.type)

    def reduce(self, value: SSAValue, letters: str, target: str, result_type) -> SSAValue:
        """`value` (over `letters`) summed down to `target`'s letters."""
        if letters == target:
            return value
        return self.einsum(f"{letters}->{target}", [value], result_type)

    def broadcast_like(
        self, value: SSAValue, letters: str, shape_of: SSAValue, target: str
    ) -> SSAValue:
        """`value` broadcast to the shape of `shape_of` (over `target`): a
        select with equal branches, so no constant of (possibly dynamic)
        size is needed and `shape_of`'s values do not matter."""
        subscripts = f"{target},{letters},{letters}->{target}"
        return self.emit(SelectOp(subscripts, shape_of, value, value, shape_of.type))

    def sign(self, value: SSAValue) -> SSAValue:
        """-1, 0 or 1: step(x) - step(-x)."""
        return self.same(
            "sub", self.unary("step", value), self.unary("step", self.unary("neg", value))
        )


# --- activity ---------------------------------------------------------------------


def _zero_gradient(op: Operation) -> bool:
    """Ops whose results have zero derivative everywhere they have one."""
    if isinstance(op, UnaryOp):
        return op.fn.data == "step" or (
            op.fn.data == "sig" and op.temperature is not None and op.temperature.value.data == 0
        )
    return isinstance(op, ConstantOp | IndexFnOp | SampleOp)


def _captures(op: Operation) -> list[SSAValue]:
    """Values defined outside `op` that its regions read."""
    inside = {op}
    seen: dict[SSAValue, None] = {}
    for nested in op.walk():
        inside.add(nested)
    for nested in op.walk():
        for operand in nested.operands:
            owner = operand.owner
            defining = owner if isinstance(owner, Operation) else owner.parent_op()
            if defining not in inside:
                seen[operand] = None
    return list(seen)


def active_values(ops: Iterable[Operation], seeds: set[SSAValue]) -> set[SSAValue]:
    """The float values among `ops`' results that depend on `seeds` through
    ops with a nonzero derivative (`seeds` included)."""
    active = set(seeds)
    for op in ops:
        if _zero_gradient(op):
            if isinstance(op, SampleOp) and op.weights in active:
                raise _error(
                    op,
                    "a Monte-Carlo projection (fuse.sample) whose proposal depends on the "
                    "tensors being differentiated has no gradient here: compile with "
                    "ExecutionConfig(projection='exact')",
                )
            continue
        if isinstance(op, FixpointOp):
            if not any(v in active for v in _captures(op)):
                continue
            body = op.body.block
            inner = active_values(body.ops, active | set(body.args))
            if any(v in inner for v in body.last_op.operands):
                active.update(op.results)
            continue
        if any(v in active for v in op.operands):
            active.update(r for r in op.results if _is_float(r))
    return active


# --- the reverse sweep --------------------------------------------------------------

GradientRule = Callable[["ReverseSweep", Operation, list[SSAValue | None]], None]
GRADIENT_RULES: dict[type[Operation], GradientRule] = {}


def gradient_rule(op_class: type[Operation]) -> Callable[[GradientRule], GradientRule]:
    """Registers the gradient rule of `op_class`: `rule(sweep, op,
    cotangents)` calls `sweep.accumulate(operand, gradient)` for each
    operand in `sweep.active` (`cotangents` has one entry per result, None
    where nothing flows back). Passes that add dataflow ops register theirs
    here."""

    def register(rule: GradientRule) -> GradientRule:
        GRADIENT_RULES[op_class] = rule
        return rule

    return register


@dataclass
class ReverseSweep:
    """Cotangents of values, built backwards over a list of ops."""

    emitter: Emitter
    active: set[SSAValue]
    adjoints: dict[SSAValue, SSAValue] = field(default_factory=dict)

    def accumulate(self, value: SSAValue, gradient: SSAValue) -> None:
        if value not in self.active:
            return
        previous = self.adjoints.get(value)
        self.adjoints[value] = (
            gradient if previous is None else self.emitter.same("add", previous, gradient)
        )

    def run(self, ops: Sequence[Operation]) -> None:
        for op in reversed(ops):
            cotangents = [self.adjoints.get(r) for r in op.results]
            if all(c is None for c in cotangents) or not any(r in self.active for r in op.results):
                continue
            rule = GRADIENT_RULES.get(type(op))
            if rule is None:
                raise _error(op, f"no gradient rule for {_describe(op)}")
            self.emitter.location = op.location
            rule(self, op, cotangents)


# --- rules: contraction --------------------------------------------------------------


def _type_for(letters: str, sizes: dict[str, int]) -> TensorType:
    return TensorType(f32, [sizes[c] for c in letters])


def _letter_sizes(subscripts: Sequence[str], values: Sequence[SSAValue]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for letters, value in zip(subscripts, values, strict=True):
        for letter, size in zip(letters, value.type.get_shape(), strict=True):
            if size >= 0 or letter not in sizes:
                sizes[letter] = size
    return sizes


def _check_distinct(op: Operation, letters: str) -> None:
    if len(set(letters)) != len(letters):
        raise _error(
            op,
            f"no gradient rule for {_describe(op)}: an operand repeats an index ('{letters}', "
            "a diagonal)",
        )


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
        _check_distinct(op, letters)
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
            projected = set("".join(ins)) - set(out)
            count = 1
            for letter in projected:
                if sizes[letter] < 0:
                    _static_shape(x, op, "a mean divides by the projected size")
                count *= sizes[letter]
            gradient = e.with_scalar("mul", gradient, 1.0 / count)
        sweep.accumulate(x, gradient)


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
    _check_distinct(op, a_s)
    _check_distinct(op, b_s)
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
        raise _error(op, f"no gradient rule for {_describe(op)}")


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
            _check_distinct(op, letters)
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
    if fn == "neg":
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
            raise _error(op, f"no gradient rule for {_describe(op)}")
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


# --- rules: structural -------------------------------------------------------------------


def _fresh_letter(used: str) -> str:
    return next(c for c in LETTERS if c not in used)


@gradient_rule(TakeOp)
def _take_rule(sweep: ReverseSweep, op: TakeOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    x, dim = op.operand, op.dim.value.data
    s = LETTERS[: x.type.get_num_dims()]
    size = _static_shape(x, op, "the taken dimension")[dim]
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
    size = _static_shape(x, op, "the gathered dimension")[dim]
    # One-hot rows of the positions read: the rows of an identity, gathered.
    identity = e.constant(np.eye(size))
    placement = e.emit(GatherOp(identity, 0, op.indices))
    _scatter_back(sweep, x, dim, g, placement)


@gradient_rule(ConcatOp)
def _concat_rule(sweep: ReverseSweep, op: ConcatOp, cotangents: list[SSAValue | None]) -> None:
    e = sweep.emitter
    [g] = cotangents
    axis = op.axis.value.data
    total = _static_shape(op.result, op, "the concatenated dimension")[axis]
    offset = 0
    for x in op.inputs:
        size = _static_shape(x, op, "the concatenated dimension")[axis]
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


# --- rules: recursion ----------------------------------------------------------------------


@gradient_rule(FixpointOp)
def _fixpoint_rule(sweep: ReverseSweep, op: FixpointOp, cotangents: list[SSAValue | None]) -> None:
    """Implicit differentiation at the converged values (module docstring)."""
    if op.is_semi_naive:
        raise _error(
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
        c if c is not None else e.constant(np.zeros(_static_shape(r, op, "a zero cotangent")))
        for c, r in zip(cotangents, results, strict=True)
    ]
    # u = g + (dF/dx)^T u, from u = 0.
    through_x = active_values(replica, set(results))
    if any(v in through_x for v in yielded):
        adjoint_block = Block(arg_types=[r.type for r in results])
        inner_sweep = ReverseSweep(Emitter(adjoint_block, location=op.location), through_x)
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
    outer = ReverseSweep(e, active_values(replica, sweep.active - set(results)))
    for value, seed in zip(yielded, seeds, strict=True):
        outer.accumulate(value, seed)
    outer.run(replica)
    defined = {r for o in replica for r in o.results} | set(results)
    for value, gradient in outer.adjoints.items():
        if value not in defined:
            sweep.accumulate(value, gradient)


# --- the pass -----------------------------------------------------------------------------


def _main(module: ModuleOp) -> func.FuncOp:
    for op in module.walk():
        if isinstance(op, func.FuncOp) and op.sym_name.data == "main":
            return op
    raise AutodiffError(
        "fuse-autodiff needs the dataflow level: no func.func @main (run fuse-stratify first)"
    )


def _names(attrs: ArrayAttr | None) -> list[str | None]:
    names = []
    for entry in attrs.data if attrs is not None else ():
        value = entry.data.get("fuse.name") if isinstance(entry, DictionaryAttr) else None
        names.append(value.data if isinstance(value, StringAttr) else None)
    return names


def differentiate(
    main: func.FuncOp, loss: str | None, wrt: Sequence[str], cotangents: bool
) -> None:
    """Appends the gradients (see the module docstring) to `main`."""
    if (loss is None) == (not cotangents):
        raise AutodiffError("fuse-autodiff takes either loss=NAME or cotangents=true")
    if not wrt:
        raise AutodiffError("fuse-autodiff needs wrt=NAME,... (the tensors to differentiate by)")
    block = main.body.block
    ret = block.last_op
    assert isinstance(ret, func.ReturnOp)
    arg_names = _names(main.arg_attrs)
    result_names = _names(main.res_attrs)
    arguments: list[SSAValue] = []
    for name in wrt:
        if name not in arg_names:
            if name in result_names:
                why = "is computed by the program; gradients are taken with respect to inputs and sources"
            else:
                why = f"is not an input of the program (its inputs: {', '.join(n for n in arg_names if n) or 'none'})"
            raise AutodiffError(f"fuse-autodiff: wrt tensor '{name}' {why}")
        arguments.append(block.args[arg_names.index(name)])

    seeds: list[tuple[SSAValue, SSAValue]] = []
    emitter = Emitter(block, before=ret)
    if loss is not None:
        if loss not in result_names:
            raise AutodiffError(f"fuse-autodiff: loss '{loss}' is not an exported result of @main")
        value = ret.operands[result_names.index(loss)]
        if value.type.get_num_dims() != 0:
            raise AutodiffError(
                f"fuse-autodiff: loss '{loss}' must be a scalar, it has type {value.type}"
            )
        seeds.append((value, emitter.scalar(1.0)))
    else:
        arg_attrs = (
            list(main.arg_attrs.data) if main.arg_attrs else [DictionaryAttr({})] * len(block.args)
        )
        for value, name in zip(ret.operands, result_names, strict=True):
            if name is not None:
                seeds.append((value, block.insert_arg(value.type, len(block.args))))
                arg_attrs.append(DictionaryAttr({"fuse.name": StringAttr(COTANGENT_PREFIX + name)}))
        main.arg_attrs = ArrayAttr(arg_attrs)

    ops = [op for op in block.ops if op is not ret]
    sweep = ReverseSweep(emitter, active_values(ops, set(arguments)))
    for value, seed in seeds:
        sweep.accumulate(value, seed)
    sweep.run(ops)

    emitter.location = None
    gradients = []
    for argument in arguments:
        gradient = sweep.adjoints.get(argument)
        if gradient is None:  # the loss does not depend on it
            gradient = emitter.constant(np.zeros(_static_shape(argument, ret, "a zero gradient")))
        gradients.append(gradient)
    new_ret = func.ReturnOp(*ret.operands, *gradients)
    block.insert_op_before(new_ret, ret)
    block.erase_op(ret)
    res_attrs = (
        list(main.res_attrs.data) if main.res_attrs else [DictionaryAttr({})] * len(result_names)
    )
    res_attrs += [DictionaryAttr({"fuse.name": StringAttr(GRAD_PREFIX + n)}) for n in wrt]
    main.res_attrs = ArrayAttr(res_attrs)
    main.function_type = FunctionType.from_lists(
        [a.type for a in block.args], [v.type for v in new_ret.operands]
    )


@dataclass(frozen=True)
class AutodiffPass(ModulePass):
    """See the module docstring."""

    name = "fuse-autodiff"

    loss: str | None = None
    wrt: tuple[str, ...] = ()
    cotangents: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        differentiate(_main(op), self.loss, self.wrt, self.cotangents)
