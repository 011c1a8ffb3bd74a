"""Runtime policies: where a program's weights come from and what happens to
them before a run.

```python
policies = RuntimePolicies(
    weights="ckpt/model.safetensors",          # or a directory, an .npz, a JSON manifest
    quantized={"W": QuantSpec(scale=0.02)},    # int8 -> fp32 (also read from the store)
    lora=[LoraRule("W", "W_lora_a", "W_lora_b", alpha=16, r=8)],
    sharding={"b": "data", "W": ("model", None)},  # by index, per-tensor overrides (jax)
)
runner = program.compile(backend="numpy", policies=policies)
```

Precedence, for each input or source tensor of the program: a runtime input
given to `run()` wins and is used as given; else the weight store's tensor
(dequantized and adapted); else the source file. Tensors that the policies
supply are read and prepared once per runner, on first use, because weights
are static and dequantizing or adapting them is not free; source files keep
being read on every run.

Stores (`WeightStore`): a directory (`.npy` files by stem, `.npz` and
`.safetensors` files by key), one `.npz` or `.safetensors` file, or a JSON
manifest `{"W": "w.npy", "V": {"file": "all.npz", "key": "v", "scale": 0.5,
"zero_point": "v_zp.npy"}}` (paths relative to the manifest). `mmap=True`
memory-maps `.npy` files; `.npz` members and safetensors tensors are read
tensor by tensor.

int8 (or uint8) tensors are dequantized as `(q - zero_point) * scale` in
fp32, with `scale` and `zero_point` from `quantized` or else from the store's
`{name}.scale` and `{name}.zero_point` tensors (zero point 0 when absent);
both must broadcast to the tensor's shape (per-tensor or per-channel). An
integer tensor without a scale is an error rather than silently read as
numbers. Values are taken as already in range: nothing is clipped.

LoRA: `W + (A @ B) * alpha / r`, applied after dequantization, with `W` of
shape (m, n), `A` (m, r) and `B` (r, n) taken from the store or from the
program's source files.

Every problem with a weight is a `FuseError` naming the tensor and its file;
a malformed policy is a `ValueError` naming the field, like
`ExecutionConfig`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from fuse.errors import FuseError
from fuse.runtime.formats import file_error
from fuse.runtime.io import IOContext

__all__ = [
    "LoraRule",
    "QuantSpec",
    "RuntimePolicies",
    "WeightStore",
    "Weights",
    "dequantize",
]

_QUANTIZED_DTYPES = (np.dtype(np.int8), np.dtype(np.uint8))
_STORE_FILES = (".npy", ".npz", ".safetensors")


@dataclass(frozen=True, eq=False)  # array fields: compared by identity
class QuantSpec:
    """How to dequantize one int8 tensor: `(q - zero_point) * scale`. Each is
    a number (per tensor) or an array that broadcasts to the tensor's shape
    (per channel)."""

    scale: ArrayLike
    zero_point: ArrayLike = 0


@dataclass(frozen=True)
class LoraRule:
    """`target + (a @ b) * alpha / r`: `a` (m, r) and `b` (r, n) name tensors
    of the weight store or source tensors of the program."""

    target: str
    a: str
    b: str
    alpha: float
    r: int


@dataclass(frozen=True)
class _Entry:
    """Where one store tensor lives: `key` inside `path` (a file holding one
    array needs none), or an inline `value` from a manifest."""

    path: Path
    key: str | None = None
    value: np.ndarray | None = None

    def __str__(self) -> str:
        archive = self.key is not None and self.path.suffix.lower() != ".npy"
        return f"{self.path}[{self.key}]" if archive else str(self.path)


class WeightStore:
    """Named tensors in files (see the module docstring for the layouts).
    Opening a store only indexes it: tensors are read by `load`."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path).expanduser()
        self._entries = self._index()

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._entries)

    def origin(self, name: str) -> str:
        """The file that holds `name` (`file[key]` inside an archive), for messages."""
        return str(self._entries[name])

    def load(self, name: str, *, mmap: bool = False) -> np.ndarray:
        """Tensor `name` in its stored dtype (`mmap`: `.npy` files are mapped)."""
        entry = self._entries[name]
        if entry.value is not None:
            return entry.value
        try:
            if entry.path.suffix.lower() == ".safetensors":
                return _read_safetensors(entry.path, entry.key)
            return IOContext(mmap=mmap).load(entry.key, entry.path)
        except FuseError as error:
            reason = "; ".join(d.message for d in error.diagnostics)
            raise FuseError(f"weight store: tensor '{name}': {reason}") from None

    def _index(self) -> dict[str, _Entry]:
        if self.path.is_dir():
            entries: dict[str, _Entry] = {}
            for file in sorted(self.path.iterdir()):
                if file.suffix.lower() in _STORE_FILES:
                    for name, entry in _file_entries(file).items():
                        if name in entries:
                            raise file_error(
                                str(file), f"tensor '{name}' is also in {entries[name]}"
                            )
                        entries[name] = entry
            return entries
        suffix = self.path.suffix.lower()
        if suffix == ".json":
            return _manifest_entries(self.path)
        if suffix in (".npz", ".safetensors"):
            return _file_entries(self.path)
        if not self.path.exists():
            raise file_error(str(self.path), "no such weight store")
        raise file_error(
            str(self.path),
            "is not a weight store: give a directory, an .npz, a .safetensors file "
            "or a .json manifest",
        )


def _file_entries(file: Path) -> dict[str, _Entry]:
    """Every tensor of one store file, by name."""
    suffix = file.suffix.lower()
    if suffix == ".npy":
        return {file.stem: _Entry(file)}
    keys = _safetensors_keys(file) if suffix == ".safetensors" else _npz_keys(file)
    return {key: _Entry(file, key) for key in keys}


def _npz_keys(file: Path) -> list[str]:
    import zipfile

    try:
        with np.load(file, allow_pickle=False) as archive:
            return list(archive.files)
    except FileNotFoundError:
        raise file_error(str(file), "no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise file_error(str(file), f"is not a valid .npz archive ({error})") from None


def _safetensors_keys(file: Path) -> list[str]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), framework="numpy") as handle:
            return list(handle.keys())
    except FileNotFoundError:
        raise file_error(str(file), "no such file") from None
    except (OSError, SafetensorError) as error:
        raise file_error(str(file), f"is not a valid safetensors file ({error})") from None


def _read_safetensors(file: Path, key: str | None) -> np.ndarray:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), framework="numpy") as handle:
            keys = list(handle.keys())
            if len(keys) == 1:  # like an .npz: a file's only tensor, whatever its key
                key = keys[0]
            if key not in keys:
                raise file_error(str(file), f"has no tensor {key!r}; its keys: {', '.join(keys)}")
            return handle.get_tensor(key)
    except (OSError, SafetensorError, TypeError) as error:  # TypeError: dtypes NumPy lacks (bf16)
        raise file_error(str(file), f"cannot read tensor {key!r} ({error})") from None


def _manifest_entries(manifest: Path) -> dict[str, _Entry]:
    """`{tensor: file}` or `{tensor: {"file", "key", "scale", "zero_point"}}`;
    a scale or zero point is a number or a file, and becomes the store
    tensor `{tensor}.scale` / `{tensor}.zero_point`."""
    shown = str(manifest)
    try:
        spec = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise file_error(shown, "no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise file_error(shown, f"is not a JSON manifest ({error})") from None
    if not isinstance(spec, dict):
        raise file_error(shown, "a manifest is a JSON object {tensor: file}")
    base = manifest.parent
    entries: dict[str, _Entry] = {}
    for name, value in spec.items():
        if isinstance(value, str):
            value = {"file": value}
        if not isinstance(value, dict) or not isinstance(value.get("file"), str):
            raise file_error(shown, f"tensor '{name}': give a file name or {{\"file\": ...}}")
        unknown = sorted(set(value) - {"file", "key", "scale", "zero_point"})
        if unknown:
            raise file_error(
                shown,
                f"tensor '{name}': unknown field '{unknown[0]}' "
                "(allowed: file, key, scale, zero_point)",
            )
        entries[name] = _Entry(base / value["file"], value.get("key", name))
        for part in ("scale", "zero_point"):
            given = value.get(part)
            if isinstance(given, str):
                entries[f"{name}.{part}"] = _Entry(base / given)
            elif isinstance(given, int | float) and not isinstance(given, bool):
                entries[f"{name}.{part}"] = _Entry(manifest, value=np.asarray(given, np.float32))
            elif given is not None:
                raise file_error(shown, f"tensor '{name}': {part} is a number or a file name")
    return entries


@dataclass(frozen=True)
class RuntimePolicies:
    """Weight stores, int8 dequantization, LoRA adapters and sharding
    metadata for one compiled program (see the module docstring)."""

    weights: WeightStore | str | os.PathLike[str] | None = None
    mmap: bool = False
    quantized: Mapping[str, QuantSpec] = field(default_factory=dict)
    lora: Sequence[LoraRule] = ()
    sharding: Mapping[str, str | tuple[str | None, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.mmap, bool):
            raise ValueError(f"RuntimePolicies.mmap={self.mmap!r}: allowed values are True, False")
        for name, spec in self.quantized.items():
            if not isinstance(spec, QuantSpec):
                raise ValueError(
                    f"RuntimePolicies.quantized[{name!r}]={spec!r}: allowed values are QuantSpec"
                )
        for rule in self.lora:
            if not isinstance(rule, LoraRule):
                raise ValueError(f"RuntimePolicies.lora: {rule!r} is not a LoraRule")
            if not isinstance(rule.r, int) or isinstance(rule.r, bool) or rule.r < 1:
                raise ValueError(f"LoraRule.r={rule.r!r}: allowed values are integers >= 1")
            if not isinstance(rule.alpha, int | float) or isinstance(rule.alpha, bool):
                raise ValueError(f"LoraRule.alpha={rule.alpha!r}: allowed values are numbers")
        for name, axes in self.sharding.items():
            if isinstance(axes, str):
                continue  # an index's mesh axis
            if not isinstance(axes, tuple) or not all(
                a is None or isinstance(a, str) for a in axes
            ):
                raise ValueError(
                    f"RuntimePolicies.sharding[{name!r}]={axes!r}: allowed values are a mesh "
                    "axis name (for an index) or a tuple of mesh axis names or None, one per "
                    "dimension (for a tensor)"
                )

    def store(self) -> WeightStore | None:
        """The weight store, opened (indexed) now."""
        if self.weights is None or isinstance(self.weights, WeightStore):
            return self.weights
        return WeightStore(self.weights)

    def fingerprint(self) -> str:
        """A digest of the policies (the store's path, not its contents: the
        compiled program depends on weights only through their shapes)."""
        store = self.weights.path if isinstance(self.weights, WeightStore) else self.weights
        summary = {
            "weights": str(Path(store).expanduser().resolve()) if store is not None else None,
            "mmap": self.mmap,
            "quantized": {
                name: [np.asarray(s.scale).tolist(), np.asarray(s.zero_point).tolist()]
                for name, s in sorted(self.quantized.items())
            },
            "lora": [[r.target, r.a, r.b, r.alpha, r.r] for r in self.lora],
            "sharding": sorted(
                (name, axes if isinstance(axes, str) else list(axes))
                for name, axes in self.sharding.items()
            ),
        }
        return hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()


class Weights:
    """The values that `RuntimePolicies` supply to one program, checked when
    the program is compiled and prepared on first use.

    `inputs` are the program's input and source tensors; `read_source(name)`
    reads one's source file (None when it has none)."""

    def __init__(
        self,
        policies: RuntimePolicies,
        inputs: Collection[str],
        read_source: Callable[[str], tuple[np.ndarray, str] | None],
    ):
        self.policies = policies
        self.store = policies.store()
        self._read_source = read_source
        self._rules: dict[str, list[LoraRule]] = {}
        for rule in policies.lora:
            self._rules.setdefault(rule.target, []).append(rule)
        stored = self.store.names if self.store is not None else frozenset()
        for name, role in [
            *((n, "quantized") for n in policies.quantized),
            *((r.target, "a LoRA target") for r in policies.lora),
        ]:
            if name not in inputs:
                raise FuseError(
                    f"RuntimePolicies names '{name}' as {role}, but it is not an input or "
                    f"source of the program (those are: {', '.join(sorted(inputs)) or 'none'})"
                )
        self.supplied: frozenset[str] = frozenset(
            (stored & set(inputs)) | set(policies.quantized) | set(self._rules)
        )
        self._values: dict[str, np.ndarray] = {}

    def value(self, name: str) -> np.ndarray:
        """Tensor `name` (one of `supplied`) as fp32: dequantized, adapted."""
        value = self._values.get(name)
        if value is None:
            value, origin = self._dequantized(name)
            for rule in self._rules.get(name, ()):
                value = self._adapt(rule, value, origin)
            self._values[name] = value
        return value

    def _raw(self, name: str) -> tuple[np.ndarray, str]:
        """The stored value of `name` and the file it came from."""
        if self.store is not None and name in self.store:
            return self.store.load(name, mmap=self.policies.mmap), self.store.origin(name)
        found = self._read_source(name)
        if found is None:
            where = (
                f"the weight store {self.store.path}"
                if self.store is not None
                else "no weight store"
            )
            raise FuseError(
                f"tensor '{name}' is named by RuntimePolicies but neither {where} nor a "
                "source file of the program holds it"
            )
        return found

    def _dequantized(self, name: str) -> tuple[np.ndarray, str]:
        raw, origin = self._raw(name)
        spec = self.policies.quantized.get(name) or self._stored_spec(name)
        if spec is not None:
            return dequantize(name, origin, raw, spec), origin
        if raw.dtype in _QUANTIZED_DTYPES:
            raise file_error(
                origin,
                f"tensor '{name}' holds {raw.dtype} values but has no scale: add "
                f"'{name}.scale' (and '{name}.zero_point') to the store, or "
                f"RuntimePolicies(quantized={{'{name}': QuantSpec(...)}})",
            )
        return np.asarray(raw, dtype=np.float32), origin

    def _stored_spec(self, name: str) -> QuantSpec | None:
        store = self.store
        if store is None or f"{name}.scale" not in store:
            return None
        zero_point = f"{name}.zero_point"
        return QuantSpec(
            store.load(f"{name}.scale"), store.load(zero_point) if zero_point in store else 0
        )

    def _adapt(self, rule: LoraRule, w: np.ndarray, origin: str) -> np.ndarray:
        (a, a_origin), (b, b_origin) = self._dequantized(rule.a), self._dequantized(rule.b)
        if w.ndim != 2:
            raise file_error(origin, f"LoRA target '{rule.target}' has shape {w.shape}, not (m, n)")
        (m, n), r = w.shape, rule.r
        if a.shape != (m, r) or b.shape != (r, n):
            raise FuseError(
                f"LoRA rule for '{rule.target}' of shape {w.shape} ({origin}) with r={r} needs "
                f"A of shape {(m, r)} and B of shape {(r, n)}; got '{rule.a}' {a.shape} "
                f"({a_origin}) and '{rule.b}' {b.shape} ({b_origin})"
            )
        with np.errstate(all="ignore"):  # IEEE results (inf) as in a kernel, no warning
            return w + (a @ b) * np.float32(rule.alpha / rule.r)


def dequantize(name: str, origin: str, q: np.ndarray, spec: QuantSpec) -> np.ndarray:
    """`(q - zero_point) * scale` in fp32; scale and zero point must
    broadcast to `q`'s shape without changing it."""
    if q.dtype not in _QUANTIZED_DTYPES:
        raise file_error(
            origin, f"tensor '{name}' has a quantization scale but holds {q.dtype}, not int8"
        )
    scale = np.asarray(spec.scale, dtype=np.float32)
    zero_point = np.asarray(spec.zero_point, dtype=np.float32)
    for part, array in (("scale", scale), ("zero point", zero_point)):
        try:
            fits = np.broadcast_shapes(q.shape, array.shape) == q.shape
        except ValueError:
            fits = False
        if not fits:
            raise file_error(
                origin,
                f"tensor '{name}': its {part} has shape {array.shape}, which does not "
                f"broadcast to the int8 tensor's shape {q.shape}",
            )
    with np.errstate(all="ignore"):  # IEEE results (inf) as in a kernel, no warning
        return (q.astype(np.float32) - zero_point) * scale
