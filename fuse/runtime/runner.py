"""Running a compiled program: inputs in, exports out, sinks written.

A `Runner` specializes the program to the shapes of its inputs (file
sources and runtime inputs), runs the pass pipeline once per distinct shape
signature, hands the dataflow module to the backend and caches the result,
the way `jax.jit` caches per input signature.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr, TensorType, f32
from xdsl.utils.exceptions import DiagnosticException

from fuse.config import ExecutionConfig
from fuse.dialects.fuse import ProgramOp, TensorOp
from fuse.errors import FuseError
from fuse.lowering.backend import Backend, Executable
from fuse.pipeline import DECLARATIVE_PASSES, dataflow_passes, run_passes
from fuse.runtime.domains import sink_domains
from fuse.runtime.explain import Explanation, describe_rules
from fuse.runtime.io import IOContext, SinkSpec, SourceSpec

BACKEND_NAMES = ("numpy", "torch", "jax", "xla")


def get_backend(name: str) -> Backend:
    """The backend called `name` (imported on first use)."""
    if name == "numpy":
        from fuse.lowering.numpy import NumpyBackend

        return NumpyBackend()
    if name in ("jax", "xla"):
        from fuse.lowering.jax.backend import JaxBackend

        return JaxBackend()
    if name == "torch":
        from fuse.lowering.torch import TorchBackend

        return TorchBackend()
    raise ValueError(
        f"backend={name!r}: allowed values are {', '.join(repr(b) for b in BACKEND_NAMES)}"
    )


@dataclass(frozen=True)
class OutputSpec:
    """One result of `@main`: an export (`name`) or a sink (`path`, `dims`)."""

    name: str | None
    path: str | None
    dims: tuple[str, ...] = ()


@dataclass
class CompiledPlan:
    """One shape specialization of a program."""

    module: ModuleOp
    executable: Executable
    arguments: list[str]
    outputs: list[OutputSpec]
    explanation: Explanation
    compile_seconds: float
    sink_domains: list[tuple[str | None, ...]]


def _string(attrs: DictionaryAttr, key: str) -> str | None:
    value = attrs.data.get(key)
    return value.data if isinstance(value, StringAttr) else None


def main_signature(module: ModuleOp) -> tuple[list[str], list[OutputSpec]]:
    """Argument names and output specs of `@main`, from its attributes."""
    main = next(
        op for op in module.walk() if isinstance(op, func.FuncOp) and op.sym_name.data == "main"
    )
    arguments = [_string(a, "fuse.name") or "" for a in (main.arg_attrs or ArrayAttr([])).data]
    outputs = []
    for attrs in (main.res_attrs or ArrayAttr([])).data:
        dims = attrs.data.get("fuse.dims")
        outputs.append(
            OutputSpec(
                _string(attrs, "fuse.name"),
                _string(attrs, "fuse.sink"),
                tuple(d.data for d in dims.data) if isinstance(dims, ArrayAttr) else (),
            )
        )
    return arguments, outputs


@dataclass
class _InputDeclaration:
    name: str
    rank: int
    source: str | None


@dataclass
class Runner:
    """A program compiled for one backend and configuration."""

    program: Any  # fuse.program.Program
    backend_name: str
    config: ExecutionConfig
    cache_dir: Any = None
    backend: Backend = field(init=False)
    plans: dict[tuple, CompiledPlan] = field(init=False, default_factory=dict)
    last_plan: CompiledPlan | None = field(init=False, default=None)
    last_run_seconds: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.backend = get_backend(self.backend_name)
        self.io = IOContext(Path(self.program.base_dir))
        self.declarations = self._input_declarations()

    def _input_declarations(self) -> list[_InputDeclaration]:
        module = self.program.declarative_module()
        return [
            _InputDeclaration(
                op.tensor_name, op.tensor_type.get_num_dims(), op.source.data if op.source else None
            )
            for op in module.walk()
            if isinstance(op, TensorOp) and (op.input is not None or op.source is not None)
        ]

    # --- inputs -----------------------------------------------------------------

    def bind_inputs(self, inputs: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
        """Every input and source as an fp32 array: runtime inputs override
        file sources."""
        inputs = dict(inputs or {})
        known = {d.name for d in self.declarations}
        unknown = sorted(set(inputs) - known)
        if unknown:
            raise FuseError(
                f"unknown input '{unknown[0]}': the program's inputs are "
                f"{', '.join(sorted(known)) or 'none'}"
            )
        sources = self.io.load_all(
            SourceSpec(d.name, d.source, _dim_keys(d.name, d.rank))
            for d in self.declarations
            if d.source is not None and d.name not in inputs
        )
        bound: dict[str, np.ndarray] = {}
        for declaration in self.declarations:
            if declaration.name in inputs:
                array = np.asarray(_to_numpy(inputs[declaration.name]), dtype=np.float32)
            elif declaration.name in sources:
                array = np.asarray(sources[declaration.name], dtype=np.float32)
            else:
                raise FuseError(
                    f"missing runtime input '{declaration.name}': pass it in run(inputs=...)"
                )
            if array.ndim != declaration.rank:
                raise FuseError(
                    f"input '{declaration.name}' has rank {array.ndim} (shape {array.shape}), "
                    f"but the program uses it with rank {declaration.rank}"
                )
            bound[declaration.name] = array
        return bound

    def load_sources(
        self, overridden: Collection[str], *, require_all: bool = True
    ) -> dict[str, np.ndarray]:
        """Every file source not `overridden` by a runtime input, read in one
        pass so relation files share symbol tables. With `require_all`, a
        runtime input missing from `overridden` is an error."""
        if require_all:
            for declaration in self.declarations:
                if declaration.source is None and declaration.name not in overridden:
                    raise FuseError(
                        f"missing runtime input '{declaration.name}': pass it in run(inputs=...)"
                    )
        loaded = self.io.load_all(
            SourceSpec(d.name, d.source, _dim_keys(d.name, d.rank))
            for d in self.declarations
            if d.source is not None and d.name not in overridden
        )
        return {name: np.asarray(array, dtype=np.float32) for name, array in loaded.items()}

    def known_shapes(self, inputs: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Shapes of the given inputs and of every file source, for compiling
        without running (`fuse compile`); other inputs stay dynamic."""
        sources = self.load_sources(inputs, require_all=False)
        return {name: np.shape(value) for name, value in {**sources, **inputs}.items()}

    # --- compiling --------------------------------------------------------------

    def plan_for(self, bound: Mapping[str, Any]) -> CompiledPlan:
        """The plan for the shapes of `bound` (arrays, or anything with a
        `.shape`, such as JAX tracers), compiled on first use."""
        shapes = {name: tuple(value.shape) for name, value in bound.items()}
        signature = tuple(sorted(shapes.items()))
        plan = self.plans.get(signature)
        if plan is None:
            plan = self._compile(shapes)
            self.plans[signature] = plan
        return plan

    def source_domains(self) -> dict[tuple[str, int], str]:
        """Symbol domains of source dimensions, as the loader recorded them."""
        domains = {}
        for declaration in self.declarations:
            for k, key in enumerate(_dim_keys(declaration.name, declaration.rank)):
                table = self.io.symbols.table_for(key)
                if table is not None:
                    domains[(declaration.name, k)] = table.domain
        return domains

    def specialized_module(
        self, shapes: Mapping[str, tuple[int, ...]]
    ) -> tuple[ModuleOp, Explanation, list[tuple[str | None, ...]]]:
        """The dataflow module for these input shapes, what explain() reports
        about its equations, and the symbol domains of each sink's dims."""
        module = self.program.declarative_module()
        for op in module.walk():
            if isinstance(op, TensorOp) and op.tensor_name in shapes:
                op.tensor_type = TensorType(f32, shapes[op.tensor_name])
        try:
            run_passes(module, DECLARATIVE_PASSES[:2])
            program = next(o for o in module.walk() if isinstance(o, ProgramOp))
            explanation = describe_rules(program)
            domains = sink_domains(program, self.source_domains())
            run_passes(module, (*DECLARATIVE_PASSES[2:], *dataflow_passes(self.config)))
        except DiagnosticException as error:
            raise FuseError(str(error)) from None
        return module, explanation, domains

    def _compile(self, shapes: Mapping[str, tuple[int, ...]]) -> CompiledPlan:
        start = time.perf_counter()
        module, explanation, domains = self.specialized_module(shapes)
        executable = self.backend.compile(module, self.config)
        arguments, outputs = main_signature(module)
        return CompiledPlan(
            module,
            executable,
            arguments,
            outputs,
            explanation,
            time.perf_counter() - start,
            domains,
        )

    # --- running ----------------------------------------------------------------

    def run(self, inputs: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Runs the program; returns `{exported name: array}` and writes sinks."""
        bound = self.bind_inputs(inputs)
        plan = self.plan_for(bound)
        start = time.perf_counter()
        results = plan.executable([bound[name] for name in plan.arguments])
        self.last_run_seconds = time.perf_counter() - start
        self.last_plan = plan
        exports: dict[str, np.ndarray] = {}
        sinks = []
        domains = iter(plan.sink_domains)
        for spec, value in zip(plan.outputs, results, strict=True):
            if spec.path is not None:
                tables = tuple(self.io.symbols.table(d) if d else None for d in next(domains))
                sinks.append(SinkSpec(spec.path, np.asarray(value), spec.dims, tables=tables))
            elif spec.name is not None:
                exports[spec.name] = value
        self.io.write_all(sinks)
        return exports

    @property
    def xla_callable(self) -> Any:
        """Backend `jax`: a callable `{input name: array} -> {export name:
        array}` on JAX arrays that also works inside `jax.jit`. File sources
        not given as inputs are read once, like `run()` does."""
        if self.backend_name not in ("jax", "xla"):
            raise ValueError(
                f"xla_callable needs backend='jax', this runner uses {self.backend_name!r}"
            )

        def call(inputs: Mapping[str, Any]) -> dict[str, Any]:
            arguments = {**self.load_sources(inputs), **inputs}
            plan = self.plan_for(arguments)
            exports = {spec.name for spec in plan.outputs if spec.path is None}
            results = plan.executable.xla_callable(arguments)
            return {name: value for name, value in results.items() if name in exports}

        return call

    def explain(self) -> str:
        """Each equation with its canonical einsum, projected indices and
        stratum; fixpoint iterations and step times of the last run."""
        plan = self.last_plan
        if plan is None:
            bound = self.bind_inputs({}) if all(d.source for d in self.declarations) else None
            if bound is None:
                return "explain(): run the program first (it has runtime inputs)"
            plan = self.plan_for(bound)
        return plan.explanation.render(
            self.backend_name,
            plan.compile_seconds,
            self.last_run_seconds if plan is self.last_plan else None,
            plan.executable,
        )


def _dim_keys(tensor: str, rank: int) -> tuple[str, ...]:
    """Loader index names unique to each source dimension, so the symbol
    registry records domains per (tensor, dimension)."""
    return tuple(f"{tensor}#{k}" for k in range(rank))


def _to_numpy(value: Any) -> Any:
    """NumPy view of arrays from other frameworks (torch tensors, jax arrays)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value
