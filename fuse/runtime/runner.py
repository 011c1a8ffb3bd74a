"""Running a compiled program: inputs in, exports out, sinks written.

A `Runner` specializes the program to the shapes of its inputs (file
sources, weights from `RuntimePolicies`, runtime inputs), runs the pass
pipeline once per distinct shape signature, hands the dataflow module to the
backend and caches the result, the way `jax.jit` caches per input signature.
With a `cache_dir`, each such compile goes through the on-disk artifact
cache (`fuse.runtime.cache`); runs with a known signature never touch it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    UnitAttr,
    f32,
)
from xdsl.utils.exceptions import DiagnosticException

from fuse.collector import cyclic_gc_paused
from fuse.config import ExecutionConfig
from fuse.dialects.fuse import ExportOp, ProgramOp, SinkOp, TensorOp
from fuse.errors import Diagnostic, FuseError, diagnostic_from_pass
from fuse.frontend import ast
from fuse.frontend.sema import tensor_accesses
from fuse.lowering.backend import Backend, FixpointDivergence
from fuse.lowering.symbolic_sizes import SizeReader
from fuse.passes.autodiff import COTANGENT_PREFIX, GRAD_PREFIX
from fuse.passes.dataflow_emitter import PROBE_SIZES
from fuse.passes.infer_shapes import ShapeConflict, infer_program_shapes
from fuse.passes.memory_budget import MemoryBudgetExceeded, check_memory
from fuse.pipeline import DECLARATIVE_PASSES, GradientRequest, dataflow_passes, run_passes
from fuse.runtime.binding import RunnerInputs
from fuse.runtime.cache import ArtifactCache, CompiledPlan, OutputSpec, cache_key
from fuse.runtime.confinement import check_file_access
from fuse.runtime.declarations import tensor_declarations
from fuse.runtime.domains import sink_domains
from fuse.runtime.explain import (
    ExplainReport,
    Explanation,
    describe_rules,
    with_native_ops,
    with_recursions,
)
from fuse.runtime.inputs import defensive_copy, to_host
from fuse.runtime.io import IOContext, SinkSpec
from fuse.runtime.policies import RuntimePolicies, Weights
from fuse.runtime.sharding import annotate_main, describe_sharding, resolve_sharding
from fuse.runtime.symbolic import SymbolicSizes

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
class Runner(RunnerInputs):
    """A program compiled for one backend and configuration."""

    program: Any  # fuse.program.Program
    backend_name: str
    config: ExecutionConfig
    cache_dir: Any = None
    policies: RuntimePolicies = field(default_factory=RuntimePolicies)
    # Directories besides the program's own tree its sources and sinks may
    # use (see fuse.runtime.confinement).
    allow_paths: tuple[str | os.PathLike[str], ...] = ()
    # Sizes of runtime inputs known before any run (`fx_module`, export,
    # `fuse compile --shape`).
    input_shapes: Mapping[str, Sequence[int]] | None = None
    backend: Backend = field(init=False)
    plans: dict[tuple, CompiledPlan] = field(init=False, default_factory=dict)
    last_plan: CompiledPlan | None = field(init=False, default=None)
    last_run_seconds: float = field(init=False, default=0.0)
    # Compiled training steps of `fit` (jax), by loss and optimizer.
    training_steps: dict[tuple, Any] = field(init=False, default_factory=dict)
    # Runners like this one for other backends (`for_backend`), kept so that
    # their plans are compiled once, not on every `export`.
    siblings: dict[str, Runner] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.backend = get_backend(self.backend_name)
        self.io = IOContext(Path(self.program.base_dir))
        check_file_access(self.program, self.io, self.allow_paths)
        self.cache = ArtifactCache(self.cache_dir) if self.cache_dir is not None else None
        tensors = tensor_declarations(self.program.ast)
        self.declarations = [
            t for t in tensors if t.input or t.source is not None or t.facts is not None
        ]
        self.facts_values = {}
        self.weights = Weights(
            self.policies, [d.name for d in self.declarations], self._read_source
        )
        self.sharding = resolve_sharding(self.policies.sharding, tensors)
        if self.config.mesh is not None and self.backend.name != "jax":
            raise FuseError(
                f"ExecutionConfig.mesh: sharded execution runs on the jax backend (XLA's SPMD "
                f"partitioner), not on {self.backend_name}"
            )
        self.answers_queries = any(isinstance(s, ast.Query) for s in self.program.ast.statements)

    # --- compiling --------------------------------------------------------------

    def plan_for(
        self, bound: Mapping[str, Any], gradient: GradientRequest | None = None
    ) -> CompiledPlan:
        """The plan for the shapes of `bound` (arrays, or anything with a
        `.shape`, such as JAX tracers), compiled on first use; with
        `gradient`, the program that also returns those gradients."""
        shapes = {name: tuple(value.shape) for name, value in bound.items()}
        return self.plan_for_shapes(shapes, gradient)

    def plan_for_shapes(
        self, shapes: Mapping[str, tuple[int, ...]], gradient: GradientRequest | None = None
    ) -> CompiledPlan:
        """The plan for these input shapes, compiled on first use."""
        shapes = {name: tuple(shape) for name, shape in shapes.items()}
        signature = tuple(sorted(shapes.items()))
        key = signature if gradient is None else (gradient, signature)
        plan = self.plans.get(key)
        if plan is None:
            plan = self._compile(shapes, gradient)
            self.plans[key] = plan
        return plan

    @cyclic_gc_paused()
    def specialized_module(
        self,
        shapes: Mapping[str, tuple[int, ...]],
        gradient: GradientRequest | None = None,
        at_probe_sizes: bool = False,
    ) -> tuple[ModuleOp, Explanation, list[tuple[str | None, ...]]]:
        """The dataflow module for these input shapes (with `gradient`, also
        returning those gradients), what explain() reports about its
        equations, and the symbol domains of each sink's dims. Shapes
        `at_probe_sizes` stand for symbolic sizes (fuse.runtime.symbolic):
        the program is marked so, and computes the tables whose shapes
        follow them in the graph (`dataflow_emitter.PROBE_SIZES`)."""
        module = self._declarative_module(shapes)
        if at_probe_sizes:
            program = next(o for o in module.walk() if isinstance(o, ProgramOp))
            program.attributes[PROBE_SIZES] = UnitAttr()
        if gradient is not None and gradient.loss is not None:
            _export_loss(module, gradient.loss)
        try:
            # Up to fuse-demand: explain() and sinks' domains read the
            # canonical rules before they are stratified.
            canonical = DECLARATIVE_PASSES.index("fuse-demand") + 1
            run_passes(module, DECLARATIVE_PASSES[:canonical])
            program = next(o for o in module.walk() if isinstance(o, ProgramOp))
            explanation = describe_rules(program)
            domains = sink_domains(program, self.source_domains())
            rest = (*DECLARATIVE_PASSES[canonical:], *dataflow_passes(self.config, gradient))
            run_passes(module, rest)
            explanation = with_native_ops(explanation, module)
        except ShapeConflict as error:
            conflict = self._conflict_as_written(shapes) or error
            raise FuseError([diagnostic_from_pass(str(conflict), self.program.source)]) from None
        except DiagnosticException as error:
            raise FuseError([diagnostic_from_pass(str(error), self.program.source)]) from None
        if self.sharding:
            annotate_main(module, self.sharding)
        return module, with_recursions(explanation, module), domains

    def _declarative_module(self, shapes: Mapping[str, tuple[int, ...]]) -> ModuleOp:
        """The program as written, its inputs and sources of these shapes."""
        module = self.program.declarative_module()
        for op in module.walk():
            if isinstance(op, TensorOp) and op.tensor_name in shapes:
                op.tensor_type = TensorType(f32, shapes[op.tensor_name])
        return module

    def _conflict_as_written(self, shapes: Mapping[str, tuple[int, ...]]) -> ShapeConflict | None:
        """A shape conflict found again before canonicalization, which renames
        indices (`y` -> `y_1`) and merges a tensor's equations into the first
        one: reported this way, it names the program's own indices and points
        at the equation and the access where the sizes disagree."""
        program = next(
            o for o in self._declarative_module(shapes).walk() if isinstance(o, ProgramOp)
        )
        try:
            infer_program_shapes(program)
        except ShapeConflict as conflict:
            return conflict
        return None  # a conflict only canonical rules (fuse-demand's) have

    def _compile(
        self, shapes: Mapping[str, tuple[int, ...]], gradient: GradientRequest | None
    ) -> CompiledPlan:
        start = time.perf_counter()
        if self.cache is None or self.config.mesh is not None:  # a mesh's devices are live
            plan = self._specialize(shapes, gradient)
        else:
            key = self._cache_key(shapes, gradient)
            plan = self.cache.compile(
                key, self.backend, self.config, lambda: self._specialize(shapes, gradient)
            )
        plan.compile_seconds = time.perf_counter() - start
        return plan

    def _specialize(
        self, shapes: Mapping[str, tuple[int, ...]], gradient: GradientRequest | None
    ) -> CompiledPlan:
        module, explanation, domains = self.specialized_module(shapes, gradient)
        arguments, outputs = main_signature(module)
        # `cotangent.*` arguments (a vector-Jacobian product) come from JAX.
        self._require_arguments(
            [a for a in arguments if not a.startswith(COTANGENT_PREFIX)], shapes
        )
        self._check_memory(module)
        with _out_of_memory_as_error(self.backend_name, "compiling the program"):
            executable = self.backend.compile(module, self.config)
        return CompiledPlan(module, executable, arguments, outputs, explanation, domains)

    def symbolic_sizes(
        self, known: Mapping[str, tuple[int, ...]], symbolic: Sequence[str]
    ) -> SymbolicSizes:
        """Sizes of the runtime inputs `symbolic` following the program's
        indices, given the `known` shapes (fuse.runtime.symbolic)."""
        from fuse.runtime.symbolic import symbolic_sizes

        indices = {d.name: d.indices for d in self.declarations}
        return symbolic_sizes(
            self._declarative_module(known), [(name, indices[name]) for name in symbolic]
        )

    def probe_plan(
        self,
        shapes: Mapping[str, tuple[int, ...]],
        sizes: SizeReader | None,
        gradient: GradientRequest | None = None,
    ) -> CompiledPlan:
        """The plan at the probe sizes `shapes` of symbolic sizes that
        `sizes` reads back (fuse.runtime.symbolic), lowered shape-polymorphic
        by the backend (with `sizes` None: lowered as it is, for its text):
        for export, so neither cached nor checked against `max_memory`
        (nothing runs at probe sizes)."""
        module, explanation, domains = self.specialized_module(
            shapes, gradient, at_probe_sizes=True
        )
        arguments, outputs = main_signature(module)
        compile_symbolic = getattr(self.backend, "compile_symbolic", None)
        if compile_symbolic is None:
            raise FuseError(f"the {self.backend_name} backend has no symbolic sizes")
        executable = compile_symbolic(module, self.config, sizes)
        return CompiledPlan(module, executable, arguments, outputs, explanation, domains)

    def _check_memory(self, module: ModuleOp) -> None:
        """Refuses the plan if one of its arrays exceeds
        `ExecutionConfig.max_memory`, before the backend allocates it."""
        if not self.config.max_memory:
            return
        try:
            check_memory(module, self.config.max_memory, self.backend_name, self.config.block_size)
        except MemoryBudgetExceeded as error:
            span = None
            if error.location is not None:
                line, col = error.location.line.data, error.location.column.data
                span = ast.Span(error.location.filename.data, line, col, line, col + 1)
            source = self.program.source.line(span.line) if span is not None else None
            raise FuseError([Diagnostic(error.message, span, source)]) from None

    def _cache_key(
        self, shapes: Mapping[str, tuple[int, ...]], gradient: GradientRequest | None
    ) -> str:
        table = self.program.ast.domains
        return cache_key(
            {
                "gradient": gradient.pass_spec() if gradient is not None else None,
                "program": self.program.text,
                "file": self.program.file,
                "backend": self.backend.name,
                "config": self.config.key(),
                "shapes": sorted(shapes.items()),
                "domains": sorted(f"{t}#{k}={d}" for (t, k), d in self.source_domains().items()),
                "symbols": table.fingerprint() if table is not None else None,
                "policies": self.policies.fingerprint(),
                "progress": self.backend.name == "jax" and _jax_shows_progress(self.config),
            }
        )

    # --- running ----------------------------------------------------------------

    def run(self, inputs: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """Runs the program; returns `{exported name: array}`, the answers of
        its queries among them (`Query_Path` for `Path(3, y)?`), and writes
        sinks. A program with queries needs only the runtime inputs its
        outputs reach (`fuse-demand` prunes the rest)."""
        bound = self.bind_inputs(inputs, missing_ok=self.answers_queries)
        plan = self.plan_for(bound)
        if self.answers_queries:  # otherwise bind_inputs has required every input
            self._require_arguments(plan.arguments, bound)
        if self.config.validate_device_transfers:
            _check_device_transfers(inputs or {}, plan.executable)
        start = time.perf_counter()
        try:
            with _out_of_memory_as_error(self.backend_name, "running the program"):
                results = plan.executable([bound[name] for name in plan.arguments])
        except FixpointDivergence as error:
            span = self._recursion(error.tensors)
            raise error.located(lambda m: self.program.source.diagnostic(m, span)) from None
        self.last_run_seconds = time.perf_counter() - start
        self.last_plan = plan
        exports: dict[str, np.ndarray] = {}
        sinks = []
        domains = iter(plan.sink_domains)
        for spec, value in zip(plan.outputs, results, strict=True):
            if spec.path is not None:
                tables = tuple(self.io.symbols.table(d) if d else None for d in next(domains))
                sinks.append(SinkSpec(spec.path, to_host(value), spec.dims, tables=tables))
            elif spec.name is not None:
                exports[spec.name] = value if self.config.zero_copy else defensive_copy(value)
        self.io.write_all(sinks)
        return exports

    def _recursion(self, tensors: Collection[str]) -> ast.Span | None:
        """The left-hand side of the first equation of `tensors` that reads
        one of them (the recursion a divergence comes from), else of their
        first equation."""
        equations = [
            s
            for s in self.program.ast.statements
            if isinstance(s, ast.Equation) and s.lhs.name in tensors
        ]
        for equation in equations:
            if any(ref.name in tensors for ref in tensor_accesses(equation.rhs)):
                return equation.lhs.span
        return equations[0].lhs.span if equations else None

    def _require_arguments(self, arguments: Collection[str], given: Collection[str]) -> None:
        """`@main`'s arguments must all be given (inputs left out of binding
        are fine only where the plan does not take them)."""
        for name in arguments:
            if name not in given:
                raise self._missing_input(name)

    @property
    def xla_callable(self) -> Any:
        """Backend `jax`: a callable `{input name: array} -> {export name:
        array}` on JAX arrays that also works inside `jax.jit`. File sources
        not given as inputs are read once, like `run()` does."""
        if self.backend_name not in ("jax", "xla"):
            raise ValueError(
                f"xla_callable needs backend='jax', this runner uses {self.backend_name!r}"
            )

        from fuse.runtime.jax_gradients import differentiable_call

        def run_plan(
            arguments: Mapping[str, Any], gradient: GradientRequest | None
        ) -> dict[str, Any]:
            """The exports of the plan for `gradient` (the program itself:
            None) on `arguments`; `cotangent.*` arguments are not inputs, so
            the plan is keyed by the others' shapes."""
            shaped = {n: v for n, v in arguments.items() if not n.startswith(COTANGENT_PREFIX)}
            plan = self.plan_for(shaped, gradient)
            exports = {spec.name for spec in plan.outputs if spec.path is None}
            results = plan.executable.xla_callable(arguments)
            return {name: value for name, value in results.items() if name in exports}

        call = differentiable_call(run_plan)

        def call_with_sources(inputs: Mapping[str, Any]) -> dict[str, Any]:
            return call(dict(inputs), self.load_sources(inputs))

        return call_with_sources

    def value_and_grad(
        self,
        loss: str,
        wrt: str | Collection[str],
        inputs: Mapping[str, Any] | None = None,
        *,
        straight_through: bool = False,
    ) -> tuple[Any, dict[str, Any]]:
        """The scalar tensor `loss` and its gradients with respect to the
        inputs or sources `wrt`, `(loss value, {name: gradient})`, as arrays
        of the backend's kind, computed by the gradient program
        (`fuse-autodiff`) on this backend. With `straight_through`, `step`
        (Boolean tensors included) passes gradients through unchanged
        instead of blocking them, to learn through rules."""
        names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
        request = GradientRequest(loss, names, straight_through=straight_through)
        bound = self.bind_inputs(inputs)
        plan = self.plan_for(bound, request)
        arguments = [bound[name] for name in plan.arguments]
        with _out_of_memory_as_error(self.backend_name, "computing gradients"):
            if self.backend_name in ("jax", "xla"):  # JAX arrays, not host copies
                results = plan.executable.xla_callable(
                    dict(zip(plan.arguments, arguments, strict=True))
                )
            else:
                values = plan.executable(arguments)
                results = {s.name: v for s, v in zip(plan.outputs, values, strict=True) if s.name}
        self.last_plan = plan
        return results[loss], {name: results[GRAD_PREFIX + name] for name in names}

    def fit(
        self,
        loss: str,
        params: Mapping[str, Any] | Collection[str],
        data: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """Trains `params` by gradient descent on `loss`; returns a
        `FitResult` (trained parameters and per-step history). Options:
        batch_index, batch_size, optimizer ("sgd", "momentum", "adam",
        "adamw"), lr, steps or epochs, seed, checkpoint, checkpoint_every,
        resume, progress (see fuse.training.fit)."""
        from fuse.training.fit import fit

        return fit(self, loss, params, data, **options)

    def grad(
        self,
        loss: str,
        wrt: str | Collection[str],
        inputs: Mapping[str, Any] | None = None,
        *,
        straight_through: bool = False,
    ) -> dict[str, Any]:
        """The gradients of `value_and_grad`, without the loss."""
        return self.value_and_grad(loss, wrt, inputs, straight_through=straight_through)[1]

    def export(
        self,
        format: str,
        out: str | os.PathLike[str] | None = None,
        input_shapes: Mapping[str, Sequence[int]] | None = None,
        vjp_order: int = 0,
    ) -> Any:
        """The program as an artifact that runs without Fuse: `format` is
        "jax" (a `jax.export.Exported`), "stablehlo" (portable bytecode) or
        "torch" (a `torch.export.ExportedProgram`); written to `out` when
        given, a `jax` one with `vjp_order` orders of derivatives
        (`jax.grad` of the loaded artifact runs the gradient program). Sizes
        of runtime inputs come from `input_shapes` (else the runner's). See
        fuse.runtime.export and docs/export.md."""
        from fuse.runtime.export import export, write_artifact

        shapes = input_shapes if input_shapes is not None else self.input_shapes
        artifact = export(self, format, self.checked_shapes(shapes))
        if out is not None:
            write_artifact(format, artifact, out, vjp_order)
        return artifact

    def for_backend(self, backend: str) -> Runner:
        """This runner, or one like it (same program, configuration,
        policies, paths and shapes) compiled for `backend`; made once, so
        its compiled plans are reused by later calls."""
        name = get_backend(backend).name
        if name == self.backend.name:
            return self
        if name not in self.siblings:
            self.siblings[name] = Runner(
                self.program,
                backend,
                self.config,
                self.cache_dir,
                self.policies,
                self.allow_paths,
                self.input_shapes,
            )
        return self.siblings[name]

    def query(
        self, tensor: str, inputs: Mapping[str, Any] | None = None, **bindings: int | str
    ) -> np.ndarray:
        """`tensor` with the named indices fixed (`runner.query("Path", x=3)`,
        or by symbol: `runner.query("Ancestor", x="Alice")`),
        computed on demand: only what the query reaches (`fuse-demand`)."""
        from fuse.runtime.query import query

        return query(self, tensor, inputs, **bindings)

    def symbols(self, tensor: str, index: str) -> list[str]:
        """The names of the positions along `tensor`'s index `index` (its
        domain's symbols, from facts and symbol files), so that a query's answer can be read
        by name: `dict(zip(runner.symbols("Ancestor", "y"), answer))`."""
        from fuse.runtime.query import index_symbols

        return index_symbols(self.program, tensor, index)

    def answers(
        self, tensor: str, inputs: Mapping[str, Any] | None = None, **bindings: int | str
    ) -> dict[tuple[str, ...], float]:
        """`query`'s nonzero answers by name: `runner.answers("Ancestor",
        x="Alice")` is `{("Bob",): 1.0, ("Carol",): 1.0}`."""
        from fuse.runtime.query import answers

        return answers(self, tensor, inputs, **bindings)

    @property
    def fx_module(self) -> Any:
        """Backend `torch`: the `torch.fx.GraphModule` of the last run, else
        of the sizes known without running (sources, `input_shapes`), where
        the sizes of other runtime inputs are symbolic: read from the
        inputs (fuse.runtime.symbolic)."""
        if self.backend_name != "torch":
            raise ValueError(
                f"fx_module needs backend='torch', this runner uses {self.backend_name!r}"
            )
        if self.last_plan is None:
            shapes = self.known_shapes({})
            if any(d.name not in shapes for d in self.declarations):
                from fuse.runtime.export import symbolic_plan

                return symbolic_plan(self, shapes)[0].executable.fx_module
        return self._current_plan().executable.fx_module

    def _current_plan(self) -> CompiledPlan:
        """The last run's plan, else the plan for the sizes known without
        running (sources, weights and `input_shapes`)."""
        if self.last_plan is not None:
            return self.last_plan
        shapes = self.known_shapes({})
        unsized = [d.name for d in self.declarations if d.name not in shapes]
        if unsized:
            raise FuseError(
                f"the size of input '{unsized[0]}' is not known yet: run the program first "
                f"or compile it with input_shapes={{'{unsized[0]}': (...)}}"
            )
        return self.plan_for_shapes(shapes)

    def _repr_html_(self) -> str:
        """In a notebook: backend, inputs and the program, highlighted."""
        from fuse.repl.notebook import runner_html

        return runner_html(self)

    def explain(self) -> ExplainReport:
        """Each equation with its canonical einsum, projected indices and
        stratum; fixpoint iterations and step times of the last run."""
        plan = self._current_plan()
        text = plan.explanation.render(
            self.backend_name,
            plan.compile_seconds,
            self.last_run_seconds if plan is self.last_plan else None,
            plan.executable,
        )
        if self.config.mesh is not None:
            text = f"{text}\n{describe_sharding(self.sharding, plan.executable)}"
        return ExplainReport(
            text, plan.module, getattr(plan.executable, "last_profile", None) or []
        )


@contextmanager
def _out_of_memory_as_error(backend: str, step: str) -> Iterator[None]:
    """A backend that runs out of memory anyway (the estimate is per array;
    several live arrays or a library's own scratch space can add up) ends in
    a `FuseError` naming the step, not a raw `MemoryError` or torch OOM."""
    try:
        yield
    except Exception as error:
        if not isinstance(error, MemoryError) and type(error).__name__ != "OutOfMemoryError":
            raise
        raise FuseError(
            f"the {backend} backend ran out of memory {step}: {error}; lower "
            "ExecutionConfig.max_memory so such plans are refused before they run"
        ) from None


def _export_loss(module: ModuleOp, loss: str) -> None:
    """Makes `loss` a result of the program, so fuse-autodiff can seed it.
    A program without exports and sinks already exports every tensor."""
    program = next(o for o in module.walk() if isinstance(o, ProgramOp))
    ops = list(program.body.block.ops)
    declared = {op.tensor_name for op in ops if isinstance(op, TensorOp)}
    if loss not in declared:
        raise FuseError(
            f"loss '{loss}' is not a tensor of the program (its tensors: "
            f"{', '.join(sorted(declared)) or 'none'})"
        )
    exports = {op.tensor.root_reference.data for op in ops if isinstance(op, ExportOp)}
    if loss not in exports and (exports or any(isinstance(op, SinkOp) for op in ops)):
        program.body.block.add_op(ExportOp(loss))


def _device_of(value: Any) -> str:
    """Where an array lives: `cpu` for NumPy and host arrays, else the
    torch device (`cuda:0`) or the JAX device's platform and id."""
    device = getattr(value, "device", None)
    if device is None or isinstance(device, str):
        return device or "cpu"
    if hasattr(device, "platform"):  # a JAX device
        return "cpu" if device.platform == "cpu" else f"{device.platform}:{device.id}"
    return "cpu" if device.type == "cpu" else str(device)


def _check_device_transfers(inputs: Mapping[str, Any], executable: Any) -> None:
    """`ExecutionConfig(validate_device_transfers=True)`: a run on an
    accelerator may not copy a runtime input there implicitly; the caller
    moves it (`tensor.to(device)`, `jax.device_put`) and so sees every
    transfer. Runs on the CPU never transfer."""
    target = _device_of(executable)
    if target == "cpu":
        return
    for name, value in inputs.items():
        source = _device_of(value)
        if source != target:
            raise FuseError(
                f"ExecutionConfig.validate_device_transfers: input '{name}' is on {source} but "
                f"the program runs on {target}; move it there explicitly first"
            )


def _jax_shows_progress(config: ExecutionConfig) -> bool:
    from fuse.lowering.jax.backend import shows_progress

    return shows_progress(config)
