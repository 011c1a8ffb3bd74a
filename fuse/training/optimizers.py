"""Optimizers in the style of optax: pure `init` and `update` functions.

An optimizer is a pair of functions over dicts of arrays (parameters and
gradients by tensor name):

    state = optimizer.init(params)
    params, state = optimizer.update(params, grads, state)

They use only arithmetic operators and `** 0.5`, so the same code updates
NumPy arrays, torch tensors and JAX arrays (under `jax.jit` too). On torch,
`update_in_place` is the same step on lists of tensors with `torch._foreach_`
ops that overwrite the parameters and the state: one call per operation for
all tensors, and no temporaries, as torch.optim's own step (a per-tensor
eager update cost more than the forward and backward passes of a small
MLP). The formulas are the published ones, as torch.optim and optax
implement them:

* `sgd(lr)`: `w - lr g`;
* `momentum(lr, beta, nesterov)`: `v = beta v + g`, `w - lr v` (Nesterov:
  `w - lr (g + beta v)`), torch.optim.SGD's convention;
* `adam(lr, b1, b2, eps)`: bias-corrected first and second moments
  (Kingma and Ba);
* `adamw(lr, b1, b2, eps, weight_decay)`: Adam with decoupled weight decay
  (Loshchilov and Hutter), `w - lr (m_hat / (sqrt(v_hat) + eps) + wd w)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Arrays = Mapping[str, Any]
State = dict[str, Any]


@dataclass(frozen=True)
class Optimizer:
    """`init(params) -> state`; `update(params, grads, state) -> (params,
    state)`. `name` and `settings` describe it (checkpoints record them)."""

    name: str
    settings: dict[str, float | bool]
    init: Callable[[Arrays], State]
    update: Callable[[Arrays, Arrays, State], tuple[dict[str, Any], State]]
    # torch tensors only: `update`'s step, overwriting `params` and the
    # state's tensors (the caller owns them); returns the new state.
    update_in_place: Callable[[Arrays, Arrays, State], State] | None = None


def _lists(names: list[str], *groups: Arrays) -> list[list[Any]]:
    return [[group[n] for n in names] for group in groups]


def _zeros_like(params: Arrays) -> dict[str, Any]:
    return {name: value * 0 for name, value in params.items()}


def sgd(lr: float) -> Optimizer:
    def init(params: Arrays) -> State:
        return {"step": 0}

    def update(params: Arrays, grads: Arrays, state: State) -> tuple[dict[str, Any], State]:
        new = {name: params[name] - lr * grads[name] for name in params}
        return new, {"step": state["step"] + 1}

    def update_in_place(params: Arrays, grads: Arrays, state: State) -> State:
        import torch

        p, g = _lists(list(params), params, grads)
        torch._foreach_add_(p, g, alpha=-lr)
        return {"step": state["step"] + 1}

    return Optimizer("sgd", {"lr": lr}, init, update, update_in_place)


def momentum(lr: float, beta: float = 0.9, nesterov: bool = False) -> Optimizer:
    def init(params: Arrays) -> State:
        return {"step": 0, "velocity": _zeros_like(params)}

    def update(params: Arrays, grads: Arrays, state: State) -> tuple[dict[str, Any], State]:
        velocity = {n: beta * state["velocity"][n] + grads[n] for n in params}
        direction = {n: grads[n] + beta * velocity[n] for n in params} if nesterov else velocity
        new = {n: params[n] - lr * direction[n] for n in params}
        return new, {"step": state["step"] + 1, "velocity": velocity}

    def update_in_place(params: Arrays, grads: Arrays, state: State) -> State:
        import torch

        p, g, v = _lists(list(params), params, grads, state["velocity"])
        torch._foreach_mul_(v, beta)
        torch._foreach_add_(v, g)
        direction = torch._foreach_add(g, v, alpha=beta) if nesterov else v
        torch._foreach_add_(p, direction, alpha=-lr)
        return {"step": state["step"] + 1, "velocity": state["velocity"]}

    settings = {"lr": lr, "beta": beta, "nesterov": nesterov}
    return Optimizer("momentum", settings, init, update, update_in_place)


def _adam(name: str, lr: float, b1: float, b2: float, eps: float, weight_decay: float) -> Optimizer:
    def init(params: Arrays) -> State:
        return {"step": 0, "m": _zeros_like(params), "v": _zeros_like(params)}

    def update(params: Arrays, grads: Arrays, state: State) -> tuple[dict[str, Any], State]:
        step = state["step"] + 1
        m = {n: b1 * state["m"][n] + (1 - b1) * grads[n] for n in params}
        v = {n: b2 * state["v"][n] + (1 - b2) * grads[n] * grads[n] for n in params}
        correct1, correct2 = 1 - b1**step, 1 - b2**step
        new = {}
        for n in params:
            adapted = (m[n] / correct1) / ((v[n] / correct2) ** 0.5 + eps)
            new[n] = params[n] - lr * (adapted + weight_decay * params[n])
        return new, {"step": step, "m": m, "v": v}

    def update_in_place(params: Arrays, grads: Arrays, state: State) -> State:
        import torch

        step = state["step"] + 1
        p, g, m, v = _lists(list(params), params, grads, state["m"], state["v"])
        torch._foreach_lerp_(m, g, 1 - b1)  # b1 m + (1 - b1) g
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, g, g, value=1 - b2)
        correct1, correct2 = 1 - b1**step, 1 - b2**step
        denominator = torch._foreach_sqrt(v)
        torch._foreach_div_(denominator, correct2**0.5)
        torch._foreach_add_(denominator, eps)
        if weight_decay:  # decoupled: from the parameters before the step
            torch._foreach_mul_(p, 1 - lr * weight_decay)
        torch._foreach_addcdiv_(p, m, denominator, value=-lr / correct1)
        return {"step": step, "m": state["m"], "v": state["v"]}

    settings = {"lr": lr, "b1": b1, "b2": b2, "eps": eps}
    if name == "adamw":
        settings["weight_decay"] = weight_decay
    return Optimizer(name, settings, init, update, update_in_place)


def adam(lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> Optimizer:
    return _adam("adam", lr, b1, b2, eps, 0.0)


def adamw(
    lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.01
) -> Optimizer:
    return _adam("adamw", lr, b1, b2, eps, weight_decay)


OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "sgd": sgd,
    "momentum": momentum,
    "adam": adam,
    "adamw": adamw,
}


def make_optimizer(name: str, lr: float, **settings: Any) -> Optimizer:
    """The optimizer `name` ("sgd", "momentum", "adam", "adamw")."""
    from fuse.errors import FuseError

    if name not in OPTIMIZERS:
        raise FuseError(f"unknown optimizer '{name}': choose one of {', '.join(OPTIMIZERS)}")
    if not isinstance(lr, int | float) or isinstance(lr, bool) or lr <= 0:
        raise FuseError(f"the learning rate must be a positive number, got {lr!r}")
    return OPTIMIZERS[name](lr, **settings)
