"""Issue 13's convolution row: a 3x3 convolution from 32 to 64 channels over
a batch of 16 64x64 images, ReLU and 2x2 max pooling, written as the paper
writes it,

    Features[b, x, y, o] = relu(Filter[dx, dy, i, o] Image[b, x+dx, y+dy, i])
    Pooled[b, x/2, y/2, o] max= Features[b, x, y, o]

which `fuse-recognize-convolutions` turns into `fuse.conv` + `fuse.pool`.

* torch: Fuse (`runner.run`, host arrays in) against `F.conv2d` + `relu` +
  `F.max_pool2d` on the same channels-last data (target: within 1.2x);
* jax: Fuse's `xla_callable` under `jax.jit` against
  `lax.conv_general_dilated` + `lax.reduce_window` under `jax.jit`
  (target: within 1.2x);
* numpy: Fuse's NumPy backend against torch's CPU convolution, the
  hand-written torch code above (target: within 2x).

Times are the best of alternating rounds, so a busy spell on the shared
machine slows both sides of a row.

    python -m bench.convolution
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.common import Row, print_table, race, row
from fuse import ExecutionConfig, Program
from fuse.runtime.runner import Runner

Arrays = dict[str, np.ndarray]
Tensors = dict[str, torch.Tensor]

PROGRAM = """
Features[b, x, y, o] = relu(Filter[dx, dy, i, o] Image[b, x+dx, y+dy, i])
Pooled[b, x/2, y/2, o] max= Features[b, x, y, o]
export Pooled
"""
BATCH, SIZE, CHANNELS, FEATURES, WINDOW = 16, 64, 32, 64, 3
NAME = f"conv {WINDOW}x{WINDOW} {CHANNELS}->{FEATURES}, {BATCH}x{SIZE}x{SIZE}, relu, max pool 2x2"


def inputs(seed: int = 0) -> Arrays:
    rng = np.random.default_rng(seed)
    return {
        "Image": rng.standard_normal((BATCH, SIZE, SIZE, CHANNELS)).astype(np.float32),
        "Filter": (
            rng.standard_normal((WINDOW, WINDOW, CHANNELS, FEATURES)) / np.sqrt(9 * CHANNELS)
        ).astype(np.float32),
    }


def torch_reference(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """NHWC image and HWIO filter in, NHWC pooled features out."""
    features = torch.relu(
        torch.nn.functional.conv2d(image.permute(0, 3, 1, 2), kernel.permute(3, 2, 0, 1))
    )
    return torch.nn.functional.max_pool2d(features, 2, ceil_mode=True).permute(0, 2, 3, 1)


def jax_reference(image: Any, kernel: Any) -> Any:
    """The same in JAX (NHWC, HWIO): jax arrays in and out."""
    import jax.numpy as jnp
    from jax import lax

    features = lax.conv_general_dilated(
        image,
        kernel,
        (1, 1),
        "VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision=lax.Precision.HIGHEST,
    )
    features = jnp.maximum(features, 0)
    return lax.reduce_window(features, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


def run(repeat: int = 5) -> list[Row]:
    data = inputs()
    tensors = {k: torch.from_numpy(v) for k, v in data.items()}
    with torch.no_grad():
        expected = torch_reference(tensors["Image"], tensors["Filter"]).numpy()
    return [
        _torch_row(data, tensors, expected, repeat),
        _jax_row(data, expected, repeat),
        _numpy_row(data, tensors, expected, repeat),
    ]


def _compiled(backend: str, data: Arrays, expected: np.ndarray) -> Runner:
    """Fuse's runner on `backend`, checked against `expected` and for
    having recognized the convolution and the pool."""
    runner = Program(PROGRAM, "conv.fuse").compile(backend, ExecutionConfig(device="cpu"))
    result = runner.run(data)["Pooled"]
    result = result.numpy() if isinstance(result, torch.Tensor) else np.asarray(result)
    np.testing.assert_allclose(result, expected, rtol=1e-3, atol=1e-3)
    ops = {op.name for op in runner.last_plan.module.walk()}
    assert {"fuse.conv", "fuse.pool"} <= ops, f"not recognized: {sorted(ops)}"
    return runner


def _torch_row(data: Arrays, tensors: Tensors, expected: np.ndarray, repeat: int) -> Row:
    runner = _compiled("torch", data, expected)
    with torch.no_grad():
        fuse, hand = race(
            lambda: runner.run(data),
            lambda: torch_reference(tensors["Image"], tensors["Filter"]),
            repeat,
        )
    return row(f"{NAME} (torch)", fuse, "F.conv2d + F.max_pool2d", hand, 1.2)


def _jax_row(data: Arrays, expected: np.ndarray, repeat: int) -> Row:
    import jax

    runner = _compiled("jax", data, expected)
    device = {k: jax.device_put(v) for k, v in data.items()}
    fused = jax.jit(lambda d: runner.xla_callable(d)["Pooled"])
    written = jax.jit(jax_reference)
    np.testing.assert_allclose(np.asarray(fused(device)), expected, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(
        np.asarray(written(device["Image"], device["Filter"])), expected, rtol=1e-3, atol=1e-3
    )
    fuse, hand = race(
        lambda: fused(device).block_until_ready(),
        lambda: written(device["Image"], device["Filter"]).block_until_ready(),
        repeat,
    )
    return row(f"{NAME} (jax)", fuse, "lax.conv_general_dilated + reduce_window", hand, 1.2)


def _numpy_row(data: Arrays, tensors: Tensors, expected: np.ndarray, repeat: int) -> Row:
    runner = _compiled("numpy", data, expected)
    with torch.no_grad():
        fuse, hand = race(
            lambda: runner.run(data),
            lambda: torch_reference(tensors["Image"], tensors["Filter"]),
            repeat,
        )
    return row(f"{NAME} (numpy)", fuse, "torch CPU F.conv2d + F.max_pool2d", hand, 2.0)


if __name__ == "__main__":
    print_table(run())
