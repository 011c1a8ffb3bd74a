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
* `fuse.window`/`fuse.place` through their maps (a window's adjoint is a
  place, a place's a window); `fuse.conv` by convolutions (a transposed
  convolution for the input, a convolution with the cotangent for the
  filter); `fuse.pool` as the place it is (`windows.py`).
* `fuse.scan` by backpropagation through time: scans in the opposite
  direction whose bodies differentiate the step (`scan.py`).
* `fuse.sample`: a Monte-Carlo estimate whose proposal does not depend on
  `wrt` differentiates as the estimate with fixed positions (an unbiased
  estimate of the gradient); a proposal that depends on `wrt` is an error.

An op without a rule, or a case a rule does not cover, is an error naming
the op and its equation, never a wrong number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, FunctionType, ModuleOp, StringAttr
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

# Importing the rule modules registers their rules.
from fuse.passes.autodiff import (  # noqa: F401
    contraction,
    elementwise,
    fixpoint,
    scan,
    structural,
    windows,
)
from fuse.passes.autodiff.sweep import (
    COTANGENT_PREFIX,
    GRAD_PREFIX,
    GRADIENT_RULES,
    AutodiffError,
    Emitter,
    GradientRule,
    ReverseSweep,
    active_values,
    gradient_rule,
    static_shape,
)

__all__ = [
    "COTANGENT_PREFIX",
    "GRADIENT_RULES",
    "GRAD_PREFIX",
    "AutodiffError",
    "AutodiffPass",
    "GradientRule",
    "differentiate",
    "gradient_rule",
]

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
    main: func.FuncOp,
    loss: str | None,
    wrt: Sequence[str],
    cotangents: bool,
    straight_through: bool = False,
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
    active = active_values(ops, set(arguments), straight_through)
    sweep = ReverseSweep(emitter, active, straight_through)
    for value, seed in seeds:
        sweep.accumulate(value, seed)
    sweep.run(ops)

    emitter.location = None
    gradients = []
    for argument in arguments:
        gradient = sweep.adjoints.get(argument)
        if gradient is None:  # the loss does not depend on it
            gradient = emitter.constant(np.zeros(static_shape(argument, ret, "a zero gradient")))
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
    straight_through: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        differentiate(_main(op), self.loss, self.wrt, self.cotangents, self.straight_through)
