"""The jax backend (alias "xla"): StableHLO compiled and run by XLA.

`compile` runs `convert-fuse-to-stablehlo` on a clone of the module, keeps
`@main`, prints it in MLIR's generic form (some xdsl-jax pretty printers
emit text that MLIR rejects) and returns a `JaxExecutable`. The executable
hands the text to jaxlib's XLA client,
`jax.extend.backend.get_backend(platform).compile_and_load(text, [device])`,
the supported entry point that parses a StableHLO module with a `main`
function and returns a loaded executable; it is called on the first run for
a given argument signature and cached process-wide by (program text,
device, argument shapes and dtypes), so compiling the same program again
costs no XLA time.

Device and precision (from `ExecutionConfig`):

* `device`: `auto` picks JAX's default backend; `cpu`, `cuda[:n]` pick that
  device; `mps` is refused (XLA has no Metal backend).
* `precision`: `fp32`, `bf16` (on any device), `fp16` (GPU only: refused on
  CPU, where XLA emulates it slowly and with different rounding), `auto`
  (bf16 on GPU/TPU, else fp32). The pass converts arguments to that type on
  entry and results back to the declared types, accumulating sums in f32.
  fp32 dots and convolutions ask for `HIGHEST` precision (no TF32) except on
  CPU, where XLA computes them in f32 anyway: there they carry no precision
  attribute (`dot_precision=default`), as `jnp.dot`'s do, so XLA compiles
  the same program as for hand-written JAX.

Fixpoints report `[converged, iterations, last change]` in trailing results
marked `fuse.fixpoint_status`; the executable strips them and raises
`FixpointDivergence` where one did not converge. Inside `jax.jit`
(`xla_callable`) the same check is a `jax.debug.callback` under a
`lax.cond`, so it costs nothing unless the bound is hit, and then surfaces
as a `JaxRuntimeError` carrying the `FixpointDivergence` message.

Progress: where a bar is wanted (`ExecutionConfig.progress`, stderr a
terminal, no mesh), the pass also emits a `@fuse.progress` placeholder in
each loop body; the executable keeps that text as `progress_text` and runs
it, with a host callback in place of each placeholder
(fuse.lowering.jax.xla_call), when called on NumPy arrays. `stablehlo_text`
(what `fuse compile --emit stablehlo`, the cache, `xla_callable` and
exports use) is the placeholders stripped, the very text of a compile
without progress; otherwise nothing differs, so a run without a bar
compiles no callback.

JAX is imported only when a program is compiled, never by `import fuse`.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute
from xdsl.printer import Printer
from xdsl.utils.exceptions import PassFailedException

from fuse.config import ExecutionConfig
from fuse.errors import FuseError
from fuse.lowering.backend import (
    EXPORT_STATUS_KEY,
    FixpointDivergence,
    main_function,
    sharding_axes,
    unique_names,
)
from fuse.lowering.symbolic_sizes import SizeReader
from fuse.passes.convert_fuse_to_stablehlo import (
    STATUS_ATTR,
    ConvertFuseToStablehloPass,
    strip_progress_reports,
)

from .symbolic import SymbolicSignature, generalize, static_signature

_CACHE_SIZE = 64


@dataclass(frozen=True)
class Signature:
    """What the host needs to know about the lowered `@main`."""

    arg_names: tuple[str, ...]
    arg_types: tuple[tuple[tuple[int, ...], np.dtype], ...]
    result_names: tuple[str, ...]  # `fuse.name`, else `fuse.sink`
    result_types: tuple[tuple[tuple[int, ...], np.dtype], ...]
    statuses: tuple[tuple[str, ...], ...]  # per fixpoint status result, its tensors
    # `fuse.sharding` of each argument / result (None: not split)
    arg_axes: tuple[tuple[str | None, ...] | None, ...] = ()
    result_axes: tuple[tuple[str | None, ...] | None, ...] = ()


@dataclass
class CacheInfo:
    hits: int = 0
    misses: int = 0


class JaxBackend:
    """Compiles dataflow-level modules for XLA (see the module docstring)."""

    name = "jax"
    takes_sparse_relations = False
    aliases = ("xla",)

    def compile(self, module: ModuleOp, config: ExecutionConfig) -> JaxExecutable:
        return self._compile(module, config, None, at_probe_sizes=False)

    def compile_symbolic(
        self, module: ModuleOp, config: ExecutionConfig, sizes: SizeReader | None
    ) -> JaxExecutable:
        """`module` is a plan at probe sizes that `sizes` reads back: the
        executable is shape-polymorphic (fuse.lowering.jax.symbolic), for
        `exportable` only. With `sizes` None, it is lowered as `compile`
        does, for its text (from which fuse.runtime.export reads them)."""
        return self._compile(module, config, sizes, at_probe_sizes=True)

    def _compile(
        self,
        module: ModuleOp,
        config: ExecutionConfig,
        sizes: SizeReader | None,
        *,
        at_probe_sizes: bool,
    ) -> JaxExecutable:
        """`at_probe_sizes`: `module` is at probe sizes (its index tables are
        computed in the graph: `ConvertFuseToStablehloPass.probe_sizes`)."""
        if config.jax_enable_xla_cache:
            _enable_persistent_cache(config.jax_cache_dir)
        platform, device = _select_device(config.device)
        precision = _resolve_precision(config.precision, platform)
        progress = sizes is None and shows_progress(config)
        lowered = module.clone()
        conversion = ConvertFuseToStablehloPass(
            precision=precision,
            max_iters=config.max_iters,
            tolerance=config.tolerance,
            progress=progress,
            # f32 dots are exact on CPU whatever they ask; HIGHEST elsewhere
            dot_precision="default" if platform == "cpu" else "highest",
            probe_sizes=at_probe_sizes,
        )
        try:
            conversion.apply(Context(), lowered)
        except PassFailedException as error:
            raise FuseError(f"jax backend: {error}") from error
        main = main_function(lowered)
        main.detach()
        symbolic = generalize(main, sizes) if sizes is not None else None
        signature = _signature(main)
        mesh = _mesh(config.mesh, signature) if config.mesh is not None else None
        program = ModuleOp([main])
        progress_text = None
        if progress:
            progress_text = _print_generic(program)
            strip_progress_reports(program)
        text = _print_generic(program)
        return JaxExecutable(text, signature, platform, device, mesh, symbolic, progress_text)


def shows_progress(config: ExecutionConfig) -> bool:
    """Whether a program compiled now reports its loops' steps to a bar:
    progress on, stderr a terminal, no device mesh. The artifact cache keys
    jax entries by it, since it changes what is compiled."""
    return config.progress and config.mesh is None and sys.stderr.isatty()


class JaxExecutable:
    """Runs one lowered program: `__call__` on NumPy arrays (the backend
    contract), `xla_callable` on JAX arrays inside or outside `jax.jit`."""

    def __init__(
        self,
        text: str,
        signature: Signature,
        platform: str,
        device: Any,
        mesh: Any = None,
        symbolic: SymbolicSignature | None = None,
        progress_text: str | None = None,
    ):
        self.stablehlo_text = text
        # `text` with the loops' progress placeholders, where a bar is wanted
        self.progress_text = progress_text
        self.signature = signature
        self.platform = platform
        self.device = device
        self.mesh = mesh
        # The sizes of a shape-polymorphic `main` (dynamic dimensions), which
        # only `exportable` can trace; None: static shapes.
        self.symbolic = symbolic
        self.cache_info = CacheInfo()

    @property
    def symbolic_text(self) -> str:
        """The lowered program, to compare two probes' lowerings by."""
        return self.stablehlo_text

    def __call__(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        host = self._host_arguments(args)
        if self.mesh is None:
            progress = self._running_program.progress
            with progress or contextlib.nullcontext():  # closes the bars this run left
                outputs = list(self._dispatch(*host))
                return [np.asarray(v) for v in self._check_statuses(outputs)]
        outputs = list(self._dispatch(*self._on_mesh(host)))
        return [_gathered(v) for v in self._check_statuses(outputs)]

    def _on_mesh(self, host: Sequence[np.ndarray]) -> list[Any]:
        """Host arrays as global arrays split over the mesh: each process
        places the shards its devices hold (every process passes the same
        whole arrays, as `run()` does on each host of a multi-process run)."""
        import jax

        arg_shardings, _ = self.shardings
        return [
            jax.make_array_from_callback(array.shape, sharding, lambda index, a=array: a[index])
            for array, sharding in zip(host, arg_shardings, strict=True)
        ]

    @cached_property
    def _program(self) -> Any:
        from .xla_call import StableHloProgram

        signature = self.signature
        results = _all_result_types(signature)
        sizes = self.symbolic or static_signature(
            [s for s, _ in signature.arg_types], [s for s, _ in results]
        )
        return StableHloProgram(
            self.stablehlo_text, sizes, tuple(t for _, t in results), self._execute
        )

    @cached_property
    def _running_program(self) -> Any:
        """What `__call__` runs: the program with its loops' progress
        callbacks where a bar is wanted, else `_program`. Outside `jax.jit`
        (`jax.disable_jit()`) both run `stablehlo_text`, without a bar."""
        if self.progress_text is None:
            return self._program
        from fuse.lowering.progress import LoopReports

        from .xla_call import StableHloProgram

        program = self._program
        return StableHloProgram(
            self.progress_text,
            program.signature,
            program.result_dtypes,
            self._execute,
            LoopReports(),
        )

    @property
    def compiled_variants(self) -> int:
        """How many input signatures `jax.jit` has compiled this program for."""
        return self._dispatch._cache_size()

    @cached_property
    def _dispatch(self) -> Callable[..., Sequence[Any]]:
        """All results of `main` (status results included) through `jax.jit`,
        whose C++ dispatch moves host arrays to the device far faster than
        per-argument `device_put`; the divergence check stays on the host."""
        import jax

        from .xla_call import call_program

        program = self._running_program
        if self.mesh is None:
            on_device = jax.sharding.SingleDeviceSharding(self.device)
            return jax.jit(lambda *args: call_program(program, args), in_shardings=on_device)
        arg_shardings, result_shardings = self.shardings
        return jax.jit(
            lambda *args: call_program(program, args),
            in_shardings=arg_shardings,
            out_shardings=result_shardings,
        )

    @cached_property
    def shardings(self) -> tuple[tuple[Any, ...], list[Any]]:
        """`NamedSharding`s of `main`'s arguments and of all its results
        (statuses and unsplit tensors replicated) on the mesh."""
        from jax.sharding import NamedSharding, PartitionSpec

        def on_mesh(axes: tuple[str | None, ...] | None) -> Any:
            return NamedSharding(self.mesh, PartitionSpec(*(axes or ())))

        signature = self.signature
        statuses = [None] * len(signature.statuses)
        return (
            tuple(on_mesh(axes) for axes in signature.arg_axes),
            [on_mesh(axes) for axes in [*signature.result_axes, *statuses]],
        )

    def compiled(self) -> Any:
        """What XLA compiled for these arguments (`jax.stages.Compiled`:
        its optimized HLO, after SPMD partitioning, and memory analysis)."""
        import jax

        specs = [jax.ShapeDtypeStruct(s, t) for s, t in self.signature.arg_types]
        return self._dispatch.lower(*specs).compile()

    def compiled_hlo(self) -> str:
        """The optimized HLO: it shows the collectives the partitioner added."""
        return self.compiled().as_text()

    @cached_property
    def xla_callable(self) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        """`{argument name: array} -> {result name: array}`, jitted; it also
        works traced inside the caller's own `jax.jit`."""
        import jax

        statuses = self.signature.statuses

        def call(inputs: Mapping[str, Any]) -> dict[str, Any]:
            results, rows = self._traced(inputs)
            for names, status in zip(statuses, rows, strict=True):
                jax.lax.cond(
                    status[0] == 0,
                    lambda s, names=names: jax.debug.callback(_raise_divergence, names, s),
                    lambda s: None,
                    status,
                )
            return results

        return jax.jit(call)

    def exportable(
        self, constants: Mapping[str, np.ndarray]
    ) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        """`{runtime input: array} -> {result name: array}` with `constants`
        bound, for `jax.export`: fixpoint statuses are returned under
        `"fixpoint_status"` instead of checked by a host callback, which an
        exported artifact cannot carry."""
        status_names = unique_names(", ".join(names) for names in self.signature.statuses)

        def call(inputs: Mapping[str, Any]) -> dict[str, Any]:
            results, rows = self._traced({**constants, **inputs})
            if status_names:
                results[EXPORT_STATUS_KEY] = dict(zip(status_names, rows, strict=True))
            return results

        return call

    def _traced(self, inputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        """`main` on named JAX arrays or tracers (checked against its
        signature, pinned to the mesh's shardings): its results by name and
        its fixpoint status rows."""
        import jax.numpy as jnp

        from .xla_call import call_program

        signature = self.signature
        unknown = sorted(set(inputs) - set(signature.arg_names))
        if unknown:
            raise ValueError(
                f"unknown input {unknown[0]!r}; inputs are {list(signature.arg_names)}"
            )
        args = []
        for name, (shape, dtype) in zip(signature.arg_names, signature.arg_types, strict=True):
            if name not in inputs:
                raise ValueError(f"missing input {name!r}")
            args.append(_checked_shape(name, jnp.asarray(inputs[name], dtype), shape))
        outputs = self._constrain(
            call_program(self._program, self._constrain(args, arguments=True))
        )
        count = len(signature.result_names)
        return dict(zip(signature.result_names, outputs[:count], strict=True)), outputs[count:]

    def _constrain(self, values: Sequence[Any], *, arguments: bool = False) -> list[Any]:
        """`values` (arguments, or all results) pinned to their shardings
        with `with_sharding_constraint`, which also holds inside a caller's
        `jax.jit`; unchanged without a mesh."""
        if self.mesh is None:
            return list(values)
        import jax

        arg_shardings, result_shardings = self.shardings
        shardings = arg_shardings if arguments else result_shardings
        explicit = jax.sharding.AxisType.Explicit in tuple(self.mesh.axis_types)
        pin = jax.sharding.reshard if explicit else jax.lax.with_sharding_constraint
        return [pin(value, sharding) for value, sharding in zip(values, shardings, strict=True)]

    # --- execution ---------------------------------------------------------------

    def _host_arguments(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        names, types = self.signature.arg_names, self.signature.arg_types
        if len(args) != len(names):
            raise ValueError(
                f"the program takes {len(names)} arguments {list(names)}, got {len(args)}"
            )
        return [
            _checked_shape(name, np.asarray(arg, dtype), shape)
            for arg, name, (shape, dtype) in zip(args, names, types, strict=True)
        ]

    def _execute(self, args: Sequence[Any]) -> list[Any]:
        """All results of `main` (status results included) as device arrays."""
        import jax
        import jax.extend.backend

        key = (
            self.stablehlo_text,
            self.device,
            tuple((tuple(a.shape), np.dtype(a.dtype).str) for a in args),
        )
        with _LOCK:
            executable = _EXECUTABLES.get(key)
            if executable is None:
                self.cache_info.misses += 1
                executable = jax.extend.backend.get_backend(self.platform).compile_and_load(
                    self.stablehlo_text, [self.device]
                )
                _EXECUTABLES[key] = executable
                if len(_EXECUTABLES) > _CACHE_SIZE:
                    _EXECUTABLES.popitem(last=False)
            else:
                self.cache_info.hits += 1
                _EXECUTABLES.move_to_end(key)
        return executable.execute([jax.device_put(a, self.device) for a in args])

    def _check_statuses(self, outputs: list[Any]) -> list[Any]:
        count = len(self.signature.result_names)
        for names, status in zip(self.signature.statuses, outputs[count:], strict=True):
            _raise_divergence(names, np.asarray(status))
        return outputs[:count]


def _gathered(value: Any) -> np.ndarray:
    """A result on the host, whole: gathered from every process when some of
    its shards live on other hosts' devices."""
    if value.is_fully_addressable:
        return np.asarray(value)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(value, tiled=True))


_EXECUTABLES: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_LOCK = threading.Lock()


def _raise_divergence(names: Sequence[str], status: Any) -> None:
    converged, iterations, change = (float(x) for x in np.asarray(status))
    if not converged:
        raise FixpointDivergence(names, int(iterations), change)


def _checked_shape(name: str, array: Any, shape: tuple[int, ...]) -> Any:
    """`array`, whose shape must be `shape` (a dynamic dimension: any size)."""
    actual = tuple(array.shape)
    if len(actual) != len(shape) or any(
        n not in (DYNAMIC_INDEX, e) for e, n in zip(actual, shape, strict=True)
    ):
        expected = tuple("?" if n == DYNAMIC_INDEX else n for n in shape)
        raise ValueError(f"input {name!r} has shape {actual}, expected {expected}")
    return array


# --- compile-time helpers ---------------------------------------------------------


def _select_device(device: str) -> tuple[str, Any]:
    """(XLA platform name, device) for `ExecutionConfig.device`."""
    import jax

    if device == "mps":
        raise ValueError(
            "ExecutionConfig.device='mps': the jax backend runs on 'cpu' or 'cuda' (XLA has no Metal backend)"
        )
    if device == "auto":
        chosen = jax.devices()[0]
        return chosen.platform, chosen
    platform, _, index = device.partition(":")
    try:
        devices = jax.devices("cpu" if platform == "cpu" else "gpu")
    except RuntimeError as error:
        raise ValueError(
            f"ExecutionConfig.device={device!r}: JAX has no such device ({error})"
        ) from None
    number = int(index or 0)
    if number >= len(devices):
        raise ValueError(
            f"ExecutionConfig.device={device!r}: only {len(devices)} device(s) available"
        )
    return devices[number].platform, devices[number]


def _resolve_precision(precision: str, platform: str) -> str:
    if precision == "auto":
        return "fp32" if platform == "cpu" else "bf16"
    if precision == "fp16" and platform == "cpu":
        raise ValueError(
            "ExecutionConfig.precision='fp16' needs a GPU; the jax backend is running on cpu "
            "(use 'fp32', 'bf16' or 'auto')"
        )
    return precision


def _print_generic(module: ModuleOp) -> str:
    import io

    stream = io.StringIO()
    Printer(stream=stream, print_generic_format=True).print_op(module)
    return stream.getvalue()


def _signature(main: func.FuncOp) -> Signature:
    inputs, outputs = main.function_type.inputs.data, main.function_type.outputs.data
    arg_attrs = _attr_dicts(main.arg_attrs, len(inputs))
    res_attrs = _attr_dicts(main.res_attrs, len(outputs))
    statuses = tuple(
        tuple(s.data for s in attrs[STATUS_ATTR].data)
        for attrs in res_attrs
        if isinstance(attrs.get(STATUS_ATTR), ArrayAttr)
    )
    count = len(outputs) - len(statuses)
    return Signature(
        arg_names=tuple(_name(a, f"arg{n}") for n, a in enumerate(arg_attrs)),
        arg_types=tuple(_shape_dtype(t) for t in inputs),
        result_names=tuple(_name(a, f"result{n}") for n, a in enumerate(res_attrs[:count])),
        result_types=tuple(_shape_dtype(t) for t in outputs[:count]),
        statuses=statuses,
        arg_axes=tuple(sharding_axes(a) for a in arg_attrs),
        result_axes=tuple(sharding_axes(a) for a in res_attrs[:count]),
    )


def _mesh(mesh: Any, signature: Signature) -> Any:
    """`ExecutionConfig.mesh` as a `jax.sharding.Mesh`, checked against the
    shardings of `main`'s arguments and results: each axis is a mesh axis
    and divides the dimension it splits."""
    import jax

    if isinstance(mesh, Mapping):
        needed = int(np.prod(list(mesh.values())))
        devices = jax.devices()
        if needed > len(devices):
            raise FuseError(
                f"ExecutionConfig.mesh={dict(mesh)} needs {needed} devices, but JAX sees "
                f"{len(devices)} ({devices[0].platform}); on CPU, simulate more with "
                "XLA_FLAGS=--xla_force_host_platform_device_count=N (or jax_num_cpu_devices) "
                "before JAX starts"
            )
        # Auto axes: the partitioner chooses shardings in between, as with
        # `with_sharding_constraint` in hand-written code.
        auto = (jax.sharding.AxisType.Auto,) * len(mesh)
        mesh = jax.make_mesh(
            tuple(mesh.values()), tuple(mesh), axis_types=auto, devices=devices[:needed]
        )
    sizes = dict(zip(mesh.axis_names, mesh.devices.shape, strict=True))
    named = [
        *zip(signature.arg_names, signature.arg_types, signature.arg_axes, strict=True),
        *zip(signature.result_names, signature.result_types, signature.result_axes, strict=True),
    ]
    for name, (shape, _), axes in named:
        for dim, axis in enumerate(axes or ()):
            if axis is None:
                continue
            if axis not in sizes:
                raise FuseError(
                    f"the sharding of '{name}' uses mesh axis '{axis}', but the mesh has axes "
                    f"{', '.join(sizes)}"
                )
            if shape[dim] % sizes[axis]:
                raise FuseError(
                    f"'{name}' has size {shape[dim]} in dimension {dim}, which mesh axis "
                    f"'{axis}' ({sizes[axis]} devices) does not divide"
                )
    return mesh


def _all_result_types(signature: Signature) -> list[tuple[tuple[int, ...], np.dtype]]:
    return [*signature.result_types, *[((3,), np.dtype(np.float32))] * len(signature.statuses)]


def _attr_dicts(attrs: ArrayAttr[DictionaryAttr] | None, count: int) -> list[dict[str, Attribute]]:
    return [dict(d.data) for d in attrs.data] if attrs is not None else [{} for _ in range(count)]


def _name(attrs: dict[str, Attribute], default: str) -> str:
    for key in ("fuse.name", "fuse.sink"):
        if isinstance(attrs.get(key), StringAttr):
            return attrs[key].data
    return default


def _shape_dtype(tensor_type: Attribute) -> tuple[tuple[int, ...], np.dtype]:
    assert isinstance(tensor_type, TensorType)
    return tuple(tensor_type.get_shape()), _numpy_dtype(str(tensor_type.element_type))


def _numpy_dtype(element_type: str) -> np.dtype:
    if element_type == "bf16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    names = {"f16": "float16", "f32": "float32", "f64": "float64", "i1": "bool",
             "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64"}  # fmt: skip
    if element_type not in names:
        raise FuseError(f"jax backend: no NumPy dtype for element type {element_type}")
    return np.dtype(names[element_type])


DEFAULT_XLA_CACHE = "~/.cache/fuse/jax"


def _enable_persistent_cache(directory: str | None) -> None:
    """`ExecutionConfig(jax_enable_xla_cache=True)`: JAX's persistent
    compilation cache (process-wide, as JAX's own setting is) in
    `jax_cache_dir`, caching every program however fast it compiled."""
    import jax

    path = Path(directory or DEFAULT_XLA_CACHE).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def stablehlo_text(module: ModuleOp, config: ExecutionConfig) -> str:
    """`@main` as the generic-form StableHLO handed to XLA
    (`fuse compile --emit stablehlo`)."""
    return JaxBackend().compile(module, replace(config, progress=False)).stablehlo_text
