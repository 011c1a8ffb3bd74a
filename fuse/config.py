"""Execution settings shared by every backend.

`ExecutionConfig` validates itself on construction: an invalid value or
combination raises `ValueError` naming the field and the allowed values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Precision = Literal["fp32", "bf16", "fp16", "auto"]
FixpointStrategyName = Literal["naive", "semi_naive", "auto"]
Representation = Literal["auto", "dense", "sparse"]

_CHOICES: dict[str, tuple[object, ...]] = {
    "precision": ("fp32", "bf16", "fp16", "auto"),
    "fixpoint_strategy": ("naive", "semi_naive", "auto"),
    "mode": ("forward", "demand"),
    "projection": ("exact", "monte_carlo"),
    "relations": ("auto", "dense", "sparse"),
    "opt_level": (0, 1, 2),
}

_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")

# The default memory limit: this share of the machine's physical memory.
DEFAULT_MEMORY_FRACTION = 0.5


def default_max_memory() -> int | None:
    """Half the machine's physical memory in bytes, or None (no limit) where
    the OS does not report it."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return int(total * DEFAULT_MEMORY_FRACTION) if total > 0 else None


@dataclass(frozen=True)
class ExecutionConfig:
    """How a compiled program runs.

    * `precision`: element type of floating-point work (fp32 accumulation).
    * `device`: `auto`, `cpu`, `cuda[:n]` or `mps`.
    * `fixpoint_strategy`: `naive`, `semi_naive` or `auto` (semi-naive
      wherever valid).
    * `max_iters` / `tolerance`: fixpoint bounds; reaching `max_iters` is an
      error. `tolerance` applies to float tensors (Boolean ones are exact).
    * `opt_level`: 0 runs only what execution needs; 1 adds cse/dce,
      semi-naive rewriting and native convolutions and pools; 2 adds einsum contraction-path optimization.
    * `relations`: how the NumPy backend holds Boolean tensors (`auto` picks
      sparse above `sparse_threshold` elements when density is low).
    * `mode`, `projection`, `samples`, `seed`: demand-driven queries and
      Monte-Carlo projection.
    * `zero_copy`, `jax_enable_xla_cache`, `jax_cache_dir`,
      `validate_device_transfers`, `block_size`, `compile`: backend controls
      described in docs/backend_matrix.md.
    * `profile`: time every step of each run, for `runner.explain()`.
    * `progress`: show a progress bar (iterations, last change) for a loop
      that runs longer than a second, when stderr is a terminal (numpy,
      eager torch and jax fixpoints and scans; `fuse run --quiet` turns it
      off).
    * `max_memory`: the most bytes any one array of a plan may take (every
      intermediate and result, einsum contraction steps and Monte-Carlo
      samples included; inputs are not counted). A plan with a larger array
      is refused with an error naming the equation, the shape and the bytes,
      before the backend compiles or allocates anything. Default: half the
      physical memory; `None` turns the check off.
    * `mesh`: run sharded over a device mesh (jax backend): a
      `jax.sharding.Mesh` or axis sizes `{"data": 4, "model": 2}`; the
      tensors are split as `RuntimePolicies.sharding` says (docs/scaling.md).
    """

    precision: Precision = "fp32"
    device: str = "auto"
    zero_copy: bool = True
    jax_enable_xla_cache: bool = False
    jax_cache_dir: str | None = None
    validate_device_transfers: bool = False
    fixpoint_strategy: FixpointStrategyName = "auto"
    block_size: int | None = None
    max_iters: int = 1000
    tolerance: float = 1e-6
    opt_level: int = 2
    relations: Representation = "auto"
    sparse_threshold: int = 1 << 16
    mode: Literal["forward", "demand"] = "forward"
    projection: Literal["exact", "monte_carlo"] = "exact"
    samples: int = 1024
    seed: int | None = None
    compile: bool = False
    profile: bool = False
    max_memory: int | None = field(default_factory=default_max_memory)
    progress: bool = True
    mesh: Any = None

    def __post_init__(self) -> None:
        for name, choices in _CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                allowed = ", ".join(repr(c) for c in choices)
                raise ValueError(f"ExecutionConfig.{name}={value!r}: allowed values are {allowed}")
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(self.device):
            raise ValueError(
                f"ExecutionConfig.device={self.device!r}: allowed values are "
                "'auto', 'cpu', 'cuda', 'cuda:N', 'mps'"
            )
        _positive_int("max_iters", self.max_iters)
        _positive_int("samples", self.samples)
        _positive_int("sparse_threshold", self.sparse_threshold)
        if self.block_size is not None:
            _positive_int("block_size", self.block_size)
        if self.max_memory is not None:
            _positive_int("max_memory", self.max_memory)
        if not isinstance(self.tolerance, int | float) or self.tolerance < 0:
            raise ValueError(
                f"ExecutionConfig.tolerance={self.tolerance!r}: allowed values are numbers >= 0"
            )
        _check_mesh(self.mesh)
        if self.jax_cache_dir is not None and not self.jax_enable_xla_cache:
            raise ValueError(
                "ExecutionConfig.jax_cache_dir is set but jax_enable_xla_cache is False: "
                "allowed combinations are a cache dir with jax_enable_xla_cache=True"
            )

    def key(self) -> tuple[object, ...]:
        """A hashable summary, for caches keyed by configuration."""
        return tuple(
            mesh_key(self.mesh) if f.name == "mesh" else getattr(self, f.name) for f in fields(self)
        )


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"ExecutionConfig.{name}={value!r}: allowed values are integers >= 1")


def _check_mesh(mesh: object) -> None:
    """None, axis sizes `{"data": 4, "model": 2}`, or a `jax.sharding.Mesh`."""
    if mesh is None or (hasattr(mesh, "axis_names") and hasattr(mesh, "devices")):
        return
    if (
        isinstance(mesh, Mapping)
        and mesh
        and all(
            isinstance(name, str)
            and isinstance(size, int)
            and not isinstance(size, bool)
            and size >= 1
            for name, size in mesh.items()
        )
    ):
        return
    raise ValueError(
        f"ExecutionConfig.mesh={mesh!r}: allowed values are None, a jax.sharding.Mesh, or "
        "mesh axis sizes such as {'data': 4, 'model': 2}"
    )


def mesh_key(mesh: object) -> object:
    """The mesh as plain data: axis names and sizes (and device ids)."""
    if mesh is None:
        return None
    if isinstance(mesh, Mapping):
        return tuple(mesh.items())
    devices = mesh.devices  # type: ignore[attr-defined]
    return (
        tuple(zip(mesh.axis_names, devices.shape, strict=True)),
        tuple(int(d.id) for d in devices.flat),
    )
