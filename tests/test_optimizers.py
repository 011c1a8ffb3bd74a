"""The optimizers against torch.optim, on NumPy, torch and JAX arrays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import FuseError
from fuse.training.optimizers import make_optimizer

REFERENCES: dict[str, Callable[[list[torch.Tensor], float], torch.optim.Optimizer]] = {
    "sgd": lambda p, lr: torch.optim.SGD(p, lr=lr),
    "momentum": lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9),
    "adam": lambda p, lr: torch.optim.Adam(p, lr=lr),
    "adamw": lambda p, lr: torch.optim.AdamW(p, lr=lr, weight_decay=0.01),
}


def _as(kind: str, array: np.ndarray) -> Any:
    if kind == "torch":
        return torch.tensor(array, dtype=torch.float64)
    if kind == "jax":
        import jax.numpy as jnp

        return jnp.asarray(array)
    return array


@pytest.mark.parametrize("kind", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("name", sorted(REFERENCES))
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**16), lr=st.sampled_from([1e-3, 0.05, 0.3]))
def test_matches_torch_optim(kind: str, name: str, seed: int, lr: float) -> None:
    rng = np.random.default_rng(seed)
    start = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = [{n: rng.standard_normal(v.shape) for n, v in start.items()} for _ in range(4)]

    reference = {n: torch.tensor(v, requires_grad=True) for n, v in start.items()}
    optim = REFERENCES[name](list(reference.values()), lr)
    for step in grads:
        for n, p in reference.items():
            p.grad = torch.tensor(step[n])
        optim.step()

    optimizer = make_optimizer(name, lr)
    params = {n: _as(kind, v) for n, v in start.items()}
    state = optimizer.init(params)
    for step in grads:
        params, state = optimizer.update(params, {n: _as(kind, g) for n, g in step.items()}, state)
    assert state["step"] == len(grads)
    rtol = 1e-5 if kind == "jax" else 1e-6  # JAX computes in float32 by default
    for n, p in reference.items():
        np.testing.assert_allclose(np.asarray(params[n]), p.detach().numpy(), rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("name", sorted(REFERENCES))
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**16), lr=st.sampled_from([1e-3, 0.05, 0.3]))
def test_in_place_torch_step_matches_the_pure_one(name: str, seed: int, lr: float) -> None:
    """`update_in_place` (torch._foreach_ ops, what fit runs on torch) is
    `update`'s step: same parameters and state after several steps."""
    rng = np.random.default_rng(seed)
    start = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = [
        {n: torch.tensor(rng.standard_normal(v.shape)) for n, v in start.items()} for _ in range(4)
    ]
    optimizer = make_optimizer(name, lr)
    pure = {n: torch.tensor(v) for n, v in start.items()}
    pure_state = optimizer.init(pure)
    in_place = {n: torch.tensor(v) for n, v in start.items()}
    state = optimizer.init(in_place)
    assert optimizer.update_in_place is not None
    for step in grads:
        pure, pure_state = optimizer.update(pure, step, pure_state)
        state = optimizer.update_in_place(in_place, step, state)
    assert state["step"] == pure_state["step"] == len(grads)
    for n in start:
        torch.testing.assert_close(in_place[n], pure[n], rtol=1e-12, atol=1e-12)
    for group in ("m", "v", "velocity"):
        for n in pure_state.get(group, {}):
            torch.testing.assert_close(
                state[group][n], pure_state[group][n], rtol=1e-12, atol=1e-12
            )


@pytest.mark.parametrize("nesterov", [False, True])
def test_in_place_momentum_matches_torch(nesterov: bool) -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal(4)
    reference = torch.tensor(w, requires_grad=True)
    optim = torch.optim.SGD([reference], lr=0.1, momentum=0.9, nesterov=nesterov)
    optimizer = make_optimizer("momentum", 0.1, nesterov=nesterov)
    params = {"w": torch.tensor(w)}
    state = optimizer.init(params)
    assert optimizer.update_in_place is not None
    for _ in range(3):
        g = torch.tensor(rng.standard_normal(4))
        reference.grad = g.clone()
        optim.step()
        state = optimizer.update_in_place(params, {"w": g}, state)
    torch.testing.assert_close(params["w"], reference.detach(), rtol=1e-12, atol=1e-12)


def test_nesterov_matches_torch() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal(4)
    reference = torch.tensor(w, requires_grad=True)
    optim = torch.optim.SGD([reference], lr=0.1, momentum=0.9, nesterov=True)
    optimizer = make_optimizer("momentum", 0.1, nesterov=True)
    params = {"w": w}
    state = optimizer.init(params)
    for _ in range(3):
        g = rng.standard_normal(4)
        reference.grad = torch.tensor(g)
        optim.step()
        params, state = optimizer.update(params, {"w": g}, state)
    np.testing.assert_allclose(params["w"], reference.detach().numpy(), rtol=1e-12)


def test_bad_names_and_rates() -> None:
    with pytest.raises(FuseError, match="unknown optimizer 'adagrad'"):
        make_optimizer("adagrad", 0.1)
    with pytest.raises(FuseError, match="learning rate must be a positive number"):
        make_optimizer("sgd", 0)
