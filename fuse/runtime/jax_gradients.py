"""`jax.grad` through a Fuse program: a `jax.custom_vjp` whose backward
pass runs the program's vector-Jacobian product, built by `fuse-autodiff`
(`cotangents=true`) and compiled for the jax backend like any program.

The primitive that calls a lowered program (lowering/jax/xla_call.py) has
no differentiation rule of its own; this wrapper is the one route by which
JAX differentiates Fuse programs, so `jax.grad`, `jax.value_and_grad` and
`jax.jit` of them run the same gradient program as `runner.grad`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fuse.passes.autodiff import COTANGENT_PREFIX, GRAD_PREFIX
from fuse.pipeline import GradientRequest

Arrays = dict[str, Any]
RunPlan = Callable[[Mapping[str, Any], GradientRequest | None], Arrays]


def differentiable_call(run_plan: RunPlan) -> Callable[[Arrays, Arrays], Arrays]:
    """`call(inputs, constants) -> exports`, differentiable in `inputs`.

    `run_plan(arguments, gradient)` runs the plan for `gradient` (None: the
    program itself) on `{name: array}` and returns its exports by name.
    `constants` (file sources the caller did not pass) get zero cotangents.
    """
    import jax

    @jax.custom_vjp
    def call(inputs: Arrays, constants: Arrays) -> Arrays:
        return run_plan({**constants, **inputs}, None)

    def forward(inputs: Arrays, constants: Arrays) -> tuple[Arrays, tuple[Arrays, Arrays]]:
        return call(inputs, constants), (inputs, constants)

    def backward(saved: tuple[Arrays, Arrays], cotangents: Arrays) -> tuple[Arrays, Arrays]:
        inputs, constants = saved
        wrt = tuple(sorted(inputs))
        arguments = {**constants, **inputs}
        arguments |= {COTANGENT_PREFIX + name: value for name, value in cotangents.items()}
        results = run_plan(arguments, GradientRequest(None, wrt, cotangents=True))
        gradients = {name: results[GRAD_PREFIX + name] for name in wrt}
        return gradients, jax.tree_util.tree_map(jax.numpy.zeros_like, constants)

    call.defvjp(forward, backward)
    return call
