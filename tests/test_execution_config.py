"""`ExecutionConfig`: every field validates, and the runtime controls of the
starter README do what they say on every backend."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from fuse import ExecutionConfig, FuseError, Program
from fuse.runtime.runner import _check_device_transfers, to_host

BACKENDS = ["numpy", "torch", "jax"]

INVALID = [
    ("precision", "fp64", "'fp32', 'bf16', 'fp16', 'auto'"),
    ("device", "tpu", "'auto', 'cpu', 'cuda', 'cuda:N', 'mps'"),
    ("fixpoint_strategy", "eager", "'naive', 'semi_naive', 'auto'"),
    ("mode", "backward", "'forward', 'demand'"),
    ("projection", "sampled", "'exact', 'monte_carlo'"),
    ("relations", "csr", "'auto', 'dense', 'sparse'"),
    ("opt_level", 3, "0, 1, 2"),
    ("max_iters", 0, "integers >= 1"),
    ("samples", -1, "integers >= 1"),
    ("block_size", 0, "integers >= 1"),
    ("sparse_threshold", 0, "integers >= 1"),
    ("tolerance", -1.0, "numbers >= 0"),
    ("max_memory", 0, "integers >= 1"),
]


@pytest.mark.parametrize(("field", "value", "allowed"), INVALID)
def test_an_invalid_value_names_the_field_and_the_allowed_values(
    field: str, value: object, allowed: str
) -> None:
    with pytest.raises(ValueError) as raised:
        ExecutionConfig(**{field: value})
    assert f"ExecutionConfig.{field}=" in str(raised.value)
    assert allowed in str(raised.value)


def test_an_invalid_combination_names_both_fields() -> None:
    with pytest.raises(ValueError, match=r"jax_cache_dir.*jax_enable_xla_cache"):
        ExecutionConfig(jax_cache_dir="/tmp/x")


def test_every_field_of_the_starter_readme_exists() -> None:
    names = {f.name for f in fields(ExecutionConfig)}
    assert {
        "precision",
        "device",
        "zero_copy",
        "jax_enable_xla_cache",
        "jax_cache_dir",
        "validate_device_transfers",
        "fixpoint_strategy",
        "block_size",
        "max_iters",
        "tolerance",
        "mode",
        "projection",
        "samples",
        "seed",
    } <= names


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_copy_false_hands_back_results_the_caller_owns(backend: str) -> None:
    program = Program("C[i, j] = const([[1, 2], [3, 4]])\nY[i] = X[i] * 2\nexport C, Y")
    x = np.ones(2, np.float32)
    out = program.compile(backend, ExecutionConfig(zero_copy=False)).run({"X": x})
    again = program.compile(backend, ExecutionConfig(zero_copy=False)).run({"X": x})
    for name in ("C", "Y"):
        value = to_host(out[name])
        value[...] = -1  # writable, and shared with nothing
        np.testing.assert_array_equal(
            to_host(again[name]), [[1, 2], [3, 4]] if name == "C" else [2, 2]
        )
    np.testing.assert_array_equal(x, [1, 1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_block_size_gives_the_same_max_projection(backend: str) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(11, 6)).astype(np.float32), rng.normal(size=(6, 5)).astype(np.float32)
    program = Program("M[i, j] max= A[i, k] B[k, j]\nexport M")
    for block_size in (None, 1, 4, 100):
        out = program.compile(backend, ExecutionConfig(block_size=block_size)).run({"A": a, "B": b})
        np.testing.assert_allclose(
            to_host(out["M"]), (a[:, :, None] * b[None]).max(axis=1), rtol=1e-6
        )


def test_jax_xla_cache_writes_compiled_programs_to_the_cache_dir(tmp_path: Path) -> None:
    config = ExecutionConfig(jax_enable_xla_cache=True, jax_cache_dir=str(tmp_path / "xla"))
    out = (
        Program("Y[i] = X[i] * 3\nexport Y")
        .compile("jax", config)
        .run({"X": np.ones(4, np.float32)})
    )
    np.testing.assert_array_equal(out["Y"], [3, 3, 3, 3])
    assert any((tmp_path / "xla").iterdir())


@pytest.mark.parametrize("backend", BACKENDS)
def test_validate_device_transfers_never_fires_on_the_cpu(backend: str) -> None:
    config = ExecutionConfig(device="cpu", validate_device_transfers=True)
    out = (
        Program("Y[i] = X[i] + 1\nexport Y")
        .compile(backend, config)
        .run({"X": np.zeros(2, np.float32)})
    )
    np.testing.assert_array_equal(to_host(out["Y"]), [1, 1])


def test_validate_device_transfers_refuses_an_implicit_copy_to_an_accelerator() -> None:
    # No accelerator here: the check is exercised on an executable that
    # reports one (torch-style device object with a type and a string form).
    cuda = type("Device", (), {"type": "cuda", "__str__": lambda self: "cuda:0"})()
    executable = SimpleNamespace(device=cuda)
    with pytest.raises(FuseError, match="input 'X' is on cpu but the program runs on cuda:0"):
        _check_device_transfers({"X": np.zeros(2)}, executable)
    on_device = SimpleNamespace(device=cuda)
    _check_device_transfers({"X": on_device}, executable)
