"""RuntimePolicies on every backend: weight stores of each kind supplying a
program's tensors, their precedence against source files and runtime
inputs, int8 dequantization, LoRA adapters, sharding metadata, and the
errors that name the tensor and the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

from fuse import FuseError, Program, RuntimePolicies
from fuse.runtime.policies import LoraRule, QuantSpec, WeightStore

BACKENDS = ["numpy", "torch", "jax"]
RNG = np.random.default_rng(3)

# W and B are runtime inputs (no source): only a store or run() supplies them.
AFFINE = """
Y[b, j] = X[b, i] W[i, j] + B[j]
export Y
"""
# W and B read files, which a store overrides.
AFFINE_SOURCES = """
W[i, j] = "w.npy"
B[j] = "b.npy"
Y[b, j] = X[b, i] W[i, j] + B[j]
export Y
"""


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value)


def run(
    text: str, backend: str, policies: RuntimePolicies, base: Path, **inputs: np.ndarray
) -> np.ndarray:
    runner = Program(text, base_dir=base).compile(backend=backend, policies=policies)
    return as_numpy(runner.run(inputs)["Y"])


def write_store(kind: str, root: Path, tensors: dict[str, np.ndarray]) -> Path:
    """`tensors` as a store of `kind`; returns the path to give as `weights`."""
    if kind == "npy-directory":
        store = root / "store"
        store.mkdir()
        for name, array in tensors.items():
            np.save(store / f"{name}.npy", array)
        return store
    if kind == "npz":
        np.savez(root / "store.npz", **tensors)
        return root / "store.npz"
    if kind == "safetensors":
        save_file(tensors, str(root / "store.safetensors"))
        return root / "store.safetensors"
    if kind == "safetensors-shards":  # a directory of several files, as checkpoints ship
        store = root / "shards"
        store.mkdir()
        for n, (name, array) in enumerate(tensors.items()):
            save_file({name: array}, str(store / f"model-{n:05d}.safetensors"))
        return store
    assert kind == "manifest"
    files = {}
    for name, array in tensors.items():
        np.save(root / f"file_{name}.npy", array)
        files[name] = f"file_{name}.npy"
    (root / "weights.json").write_text(json.dumps(files))
    return root / "weights.json"


STORE_KINDS = ["npy-directory", "npz", "safetensors", "safetensors-shards", "manifest"]


@pytest.mark.parametrize("kind", STORE_KINDS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_store_supplies_inputs(backend: str, kind: str, tmp_path: Path) -> None:
    x, w, b = rand(2, 3), rand(3, 4), rand(4)
    store = write_store(kind, tmp_path, {"W": w, "B": b})
    y = run(AFFINE, backend, RuntimePolicies(weights=store), tmp_path, X=x)
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_precedence_run_input_then_store_then_source(backend: str, tmp_path: Path) -> None:
    x, w_file, b_file, w_store, w_input = rand(2, 3), rand(3, 4), rand(4), rand(3, 4), rand(3, 4)
    np.save(tmp_path / "w.npy", w_file)
    np.save(tmp_path / "b.npy", b_file)
    policies = RuntimePolicies(weights=write_store("npz", tmp_path, {"W": w_store}))
    # The store's W replaces w.npy; B, absent from the store, still comes from b.npy.
    y = run(AFFINE_SOURCES, backend, policies, tmp_path, X=x)
    np.testing.assert_allclose(y, x @ w_store + b_file, rtol=1e-5, atol=1e-5)
    # A runtime input wins over both.
    y = run(AFFINE_SOURCES, backend, policies, tmp_path, X=x, W=w_input)
    np.testing.assert_allclose(y, x @ w_input + b_file, rtol=1e-5, atol=1e-5)


def test_store_tensors_the_program_does_not_use_are_ignored(tmp_path: Path) -> None:
    x, w, b = rand(2, 3), rand(3, 4), rand(4)
    store = write_store("npz", tmp_path, {"W": w, "B": b, "Unused": rand(7)})
    y = run(AFFINE, "numpy", RuntimePolicies(weights=store), tmp_path, X=x)
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-5, atol=1e-5)


def test_mmap_maps_npy_files(tmp_path: Path) -> None:
    x, w, b = rand(2, 3), rand(3, 4), rand(4)
    store_path = write_store("npy-directory", tmp_path, {"W": w, "B": b})
    assert isinstance(WeightStore(store_path).load("W", mmap=True), np.memmap)
    y = run(AFFINE, "numpy", RuntimePolicies(weights=store_path, mmap=True), tmp_path, X=x)
    np.testing.assert_allclose(y, x @ w + b, rtol=1e-5, atol=1e-5)


# --- int8 ---------------------------------------------------------------------


def quantize(w: np.ndarray, axis_scale: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int8 values, a scale (per column when `axis_scale`) and a zero point."""
    scale = (np.abs(w).max(axis=0) if axis_scale else np.abs(w).max()) / 100
    zero_point = np.int8(3)
    q = np.clip(np.round(w / scale) + zero_point, -128, 127).astype(np.int8)
    return q, np.asarray(scale, dtype=np.float32), np.asarray(zero_point)


@pytest.mark.parametrize("kind", ["npy-directory", "safetensors"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_int8_from_store_metadata(backend: str, kind: str, tmp_path: Path) -> None:
    x, w, b = rand(2, 3), rand(3, 4), rand(4)
    q, scale, zero_point = quantize(w, axis_scale=True)
    tensors = {"W": q, "W.scale": scale, "W.zero_point": zero_point, "B": b}
    y = run(
        AFFINE,
        backend,
        RuntimePolicies(weights=write_store(kind, tmp_path, tensors)),
        tmp_path,
        X=x,
    )
    dequantized = (q.astype(np.float32) - np.float32(zero_point)) * scale
    np.testing.assert_allclose(y, x @ dequantized + b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dequantized, w, atol=float(scale.max()))  # it is W, quantized


@pytest.mark.parametrize("backend", BACKENDS)
def test_int8_source_file_with_quant_spec(backend: str, tmp_path: Path) -> None:
    x, w, b = rand(2, 3), rand(3, 4), rand(4)
    q, scale, _ = quantize(w, axis_scale=False)
    np.save(tmp_path / "w.npy", q)
    np.save(tmp_path / "b.npy", b)
    policies = RuntimePolicies(quantized={"W": QuantSpec(scale=float(scale))})
    y = run(AFFINE_SOURCES, backend, policies, tmp_path, X=x)
    np.testing.assert_allclose(y, x @ (q.astype(np.float32) * scale) + b, rtol=1e-5, atol=1e-5)


def test_manifest_entries_carry_quantization(tmp_path: Path) -> None:
    x, w, b = rand(2, 3), rand(3, 4), rand(4)
    q, scale, zero_point = quantize(w, axis_scale=True)
    (tmp_path / "parts").mkdir()
    np.savez(tmp_path / "parts" / "all.npz", weight=q, bias=b)
    np.save(tmp_path / "parts" / "scale.npy", scale)
    weight = {"file": "parts/all.npz", "key": "weight", "scale": "parts/scale.npy"}
    manifest = {
        "W": {**weight, "zero_point": int(zero_point)},
        "B": {"file": "parts/all.npz", "key": "bias"},
    }
    (tmp_path / "weights.json").write_text(json.dumps(manifest))
    y = run(AFFINE, "numpy", RuntimePolicies(weights=tmp_path / "weights.json"), tmp_path, X=x)
    dequantized = (q.astype(np.float32) - np.float32(zero_point)) * scale
    np.testing.assert_allclose(y, x @ dequantized + b, rtol=1e-5, atol=1e-5)


def test_int8_scale_that_does_not_broadcast(tmp_path: Path) -> None:
    q, _, _ = quantize(rand(3, 4), axis_scale=True)
    store = write_store("npz", tmp_path, {"W": q, "W.scale": np.ones(3, np.float32), "B": rand(4)})
    with pytest.raises(FuseError, match=r"store\.npz\[W\].*'W'.*scale has shape \(3,\).*\(3, 4\)"):
        run(AFFINE, "numpy", RuntimePolicies(weights=store), tmp_path, X=rand(2, 3))


def test_int8_without_scale_is_an_error(tmp_path: Path) -> None:
    store = write_store("npz", tmp_path, {"W": np.ones((3, 4), np.int8), "B": rand(4)})
    with pytest.raises(FuseError, match=r"store\.npz\[W\].*'W' holds int8 values but has no scale"):
        run(AFFINE, "numpy", RuntimePolicies(weights=store), tmp_path, X=rand(2, 3))


def test_quant_spec_on_float_tensor_is_an_error(tmp_path: Path) -> None:
    store = write_store("npz", tmp_path, {"W": rand(3, 4), "B": rand(4)})
    policies = RuntimePolicies(weights=store, quantized={"W": QuantSpec(0.1)})
    with pytest.raises(FuseError, match=r"'W' has a quantization scale but holds float32"):
        run(AFFINE, "numpy", policies, tmp_path, X=rand(2, 3))


# --- LoRA ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_lora_after_dequantization(backend: str, tmp_path: Path) -> None:
    x, w, b, a_factor, b_factor = rand(2, 3), rand(3, 4), rand(4), rand(3, 2), rand(2, 4)
    q, scale, zero_point = quantize(w, axis_scale=True)
    tensors = {"W": q, "W.scale": scale, "W.zero_point": zero_point, "B": b}
    tensors |= {"W_lora_a": a_factor, "W_lora_b": b_factor}
    policies = RuntimePolicies(
        weights=write_store("safetensors", tmp_path, tensors),
        lora=[LoraRule("W", "W_lora_a", "W_lora_b", alpha=8.0, r=2)],
    )
    y = run(AFFINE, backend, policies, tmp_path, X=x)
    adapted = (q.astype(np.float32) - np.float32(zero_point)) * scale + a_factor @ b_factor * 4.0
    np.testing.assert_allclose(y, x @ adapted + b, rtol=1e-5, atol=1e-5)


def test_lora_factors_from_program_sources(tmp_path: Path) -> None:
    x, w, b, a_factor, b_factor = rand(2, 3), rand(3, 4), rand(4), rand(3, 1), rand(1, 4)
    for name, array in {"w": w, "b": b, "la": a_factor, "lb": b_factor}.items():
        np.save(tmp_path / f"{name}.npy", array)
    text = 'LA[i, r] = "la.npy"\nLB[r, j] = "lb.npy"\n' + AFFINE_SOURCES
    policies = RuntimePolicies(lora=[LoraRule("W", "LA", "LB", alpha=2, r=1)])
    y = run(text, "numpy", policies, tmp_path, X=x)
    np.testing.assert_allclose(y, x @ (w + a_factor @ b_factor * 2) + b, rtol=1e-5, atol=1e-5)


def test_lora_shape_mismatch_names_tensors_and_files(tmp_path: Path) -> None:
    tensors = {"W": rand(3, 4), "B": rand(4), "A": rand(3, 2), "Bf": rand(3, 4)}
    policies = RuntimePolicies(
        weights=write_store("npz", tmp_path, tensors), lora=[LoraRule("W", "A", "Bf", 1.0, 2)]
    )
    with pytest.raises(FuseError, match=r"LoRA rule for 'W'.*store\.npz\[W\].*'Bf' \(3, 4\)"):
        run(AFFINE, "numpy", policies, tmp_path, X=rand(2, 3))


def test_lora_target_must_be_an_input_of_the_program(tmp_path: Path) -> None:
    policies = RuntimePolicies(lora=[LoraRule("Y", "A", "B", 1.0, 1)])
    with pytest.raises(FuseError, match=r"'Y' as a LoRA target, but it is not an input"):
        Program(AFFINE, base_dir=tmp_path).compile(policies=policies)


# --- sharding -----------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_sharding_is_recorded(backend: str, tmp_path: Path) -> None:
    sharding = {"W": ("data", "model"), "Y": (None, "model")}
    runner = Program(AFFINE, base_dir=tmp_path).compile(
        backend=backend, policies=RuntimePolicies(sharding=sharding)
    )
    assert runner.sharding == sharding


def test_sharding_is_checked_against_the_program(tmp_path: Path) -> None:
    program = Program(AFFINE, base_dir=tmp_path)
    with pytest.raises(FuseError, match=r"gives 1 mesh axes, but 'W' has 2 dimensions"):
        program.compile(policies=RuntimePolicies(sharding={"W": ("model",)}))
    with pytest.raises(FuseError, match=r"sharding names 'Nope'"):
        program.compile(policies=RuntimePolicies(sharding={"Nope": (None,)}))


# --- stores and policies: errors ---------------------------------------------


def test_store_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FuseError, match=r"missing\.npz: no such file"):
        RuntimePolicies(weights=tmp_path / "missing.npz").store()
    (tmp_path / "weights.json").write_text('{"W": "absent.npy"}')
    store = WeightStore(tmp_path / "weights.json")
    with pytest.raises(FuseError, match=r"tensor 'W'.*absent\.npy: no such file"):
        store.load("W")
    (tmp_path / "bad.json").write_text('{"W": {"file": "w.npy", "scales": 1}}')
    with pytest.raises(FuseError, match=r"bad\.json: tensor 'W': unknown field 'scales'"):
        WeightStore(tmp_path / "bad.json")
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(FuseError, match=r"broken\.safetensors: is not a valid safetensors file"):
        WeightStore(tmp_path / "broken.safetensors")


def test_a_tensor_in_two_files_of_a_directory_is_an_error(tmp_path: Path) -> None:
    np.save(tmp_path / "W.npy", rand(2))
    np.savez(tmp_path / "more.npz", W=rand(2))
    with pytest.raises(FuseError, match=r"tensor 'W' is also in .*W\.npy"):
        WeightStore(tmp_path)


def test_invalid_policies_raise_value_errors() -> None:
    with pytest.raises(ValueError, match=r"LoraRule\.r=0: allowed values are integers >= 1"):
        RuntimePolicies(lora=[LoraRule("W", "A", "B", 1.0, 0)])
    with pytest.raises(ValueError, match=r"RuntimePolicies\.quantized\['W'\]"):
        RuntimePolicies(quantized={"W": 0.5})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"RuntimePolicies\.sharding\['W'\]"):
        RuntimePolicies(sharding={"W": ["model"]})  # type: ignore[dict-item]


def test_fingerprint_follows_the_policies(tmp_path: Path) -> None:
    base = RuntimePolicies(weights=tmp_path)
    assert base.fingerprint() == RuntimePolicies(weights=str(tmp_path)).fingerprint()
    assert base.fingerprint() != RuntimePolicies(weights=tmp_path, mmap=True).fingerprint()
    assert base.fingerprint() != RuntimePolicies(sharding={"W": ("m", None)}).fingerprint()


@pytest.mark.filterwarnings("error")  # IEEE overflow is a value, not a warning on stderr
def test_lora_and_dequantization_overflow_to_inf_without_warnings(tmp_path: Path) -> None:
    x = np.ones((1, 3), np.float32)
    q = np.full((3, 4), 127, np.int8)
    tensors = {"W": q, "W.scale": np.full(4, 3e38, np.float32), "B": np.zeros(4, np.float32)}
    tensors |= {
        "W_lora_a": np.full((3, 1), 3e38, np.float32),
        "W_lora_b": np.ones((1, 4), np.float32),
    }
    policies = RuntimePolicies(
        weights=write_store("safetensors", tmp_path, tensors),
        lora=[LoraRule("W", "W_lora_a", "W_lora_b", alpha=1.0, r=1)],
    )
    y = run(AFFINE, "numpy", policies, tmp_path, X=x)
    assert np.isinf(y).all()
