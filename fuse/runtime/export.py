"""Artifacts that run without Fuse: `runner.export(...)` and `fuse export`.

Three formats, each the native artifact of its ecosystem:

* `jax`: a `jax.export.Exported` (serialized with `Exported.serialize()`;
  load with `jax.export.deserialize` and call `exported.call(inputs)`, also
  under `jax.jit`);
* `stablehlo`: portable StableHLO bytecode, the artifact with StableHLO's
  compatibility guarantees (the module inside the `jax` artifact);
* `torch`: a `torch.export.ExportedProgram` (saved as `.pt2`; load with
  `torch.export.load` and call `.module()(inputs)`).

Every artifact has one calling convention: it takes a dict of the
program's runtime inputs by name and returns a dict with every export by
name and every sink by its path, so sinks survive as outputs. File sources
and policy weights are read at export time and baked in as constants. A
program with fixpoints also returns `"fixpoint_status"`: per fixpoint
(named by its tensors, joined by ", ") the row `[converged, iterations,
last change]` on jax/stablehlo and `[hit bound, iterations, last change]` on
torch, since a host callback that raises cannot be serialized: the caller
checks the row instead.

A runtime input's size is static where `input_shapes=` / `--shape A=6x40`
gives it (sources give their own) and symbolic otherwise, one symbol per
class of dimensions the program's indices tie together
(fuse.runtime.symbolic; docs/export.md says what must stay static).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fuse.errors import FuseError

if TYPE_CHECKING:
    from fuse.lowering.symbolic_sizes import SizeReader
    from fuse.pipeline import GradientRequest
    from fuse.runtime.cache import CompiledPlan
    from fuse.runtime.runner import Runner
    from fuse.runtime.symbolic import SymbolicSizes

FORMATS = ("jax", "stablehlo", "torch")
SUFFIXES = {"jax": ".jax", "stablehlo": ".mlirbc", "torch": ".pt2"}


def parse_shape(binding: str) -> tuple[str, tuple[int, ...]]:
    """`A=6x40` -> ("A", (6, 40)); `S=` is a scalar."""
    name, separator, sizes = binding.partition("=")
    if not separator or not name.strip():
        raise FuseError(f"--shape expects NAME=SIZExSIZE (e.g. A=6x40), got '{binding}'")
    if not sizes.strip():
        return name.strip(), ()
    try:
        shape = tuple(int(size) for size in sizes.lower().split("x"))
    except ValueError:
        raise FuseError(
            f"--shape {binding}: sizes must be positive integers joined by 'x' (e.g. A=6x40)"
        ) from None
    if any(size <= 0 for size in shape):
        raise FuseError(f"--shape {binding}: sizes must be positive")
    return name.strip(), shape


@dataclass(frozen=True)
class ExportPlan:
    """A plan specialized for export: the compiled plan, the runtime inputs
    the artifact takes (in `@main` order) with their shapes (probe sizes
    where `sizes` makes them symbolic, fuse.runtime.symbolic), and the
    constants it bakes in."""

    runner: Runner
    plan: CompiledPlan
    shapes: dict[str, tuple[int, ...]]
    constants: dict[str, np.ndarray]
    sizes: SymbolicSizes | None = None

    @property
    def output_names(self) -> list[str]:
        return [spec.name if spec.path is None else spec.path for spec in self.plan.outputs]

    def dims(self, name: str) -> tuple[int | str, ...]:
        """Runtime input `name`'s sizes: numbers, or symbols."""
        if self.sizes is not None and name in self.sizes.dims:
            return self.sizes.dims[name]
        return self.shapes[name]

    def plan_for(self, gradient: GradientRequest) -> CompiledPlan:
        """The plan with `gradient` at the same sizes."""
        shapes = {**{n: np.shape(v) for n, v in self.constants.items()}, **self.shapes}
        if self.sizes is None:
            return self.runner.plan_for_shapes(shapes, gradient)
        return _probe_plan(self.runner, shapes, self.sizes, gradient)


def _known_shapes(
    runner: Runner, input_shapes: Mapping[str, tuple[int, ...]]
) -> tuple[dict[str, tuple[int, ...]], dict[str, np.ndarray], list[str]]:
    """The shapes an export knows (`input_shapes`, checked, and the sources
    and weights, read now to become constants), those constants, and the
    runtime inputs whose sizes are symbolic."""
    shapes = runner.checked_shapes(input_shapes)
    constants = runner.load_sources(shapes, require_all=False)
    known = {**{n: np.shape(v) for n, v in constants.items()}, **shapes}
    unsized = [d.name for d in runner.declarations if d.source is None and d.name not in known]
    return known, constants, unsized


def input_dims(
    runner: Runner, input_shapes: Mapping[str, tuple[int, ...]]
) -> dict[str, tuple[int | str, ...]]:
    """The sizes of each runtime input of an artifact exported with
    `input_shapes`: numbers where known, else symbolic dimensions (`i`,
    `2*d_half`; fuse.runtime.symbolic). Compiles nothing."""
    known, constants, unsized = _known_shapes(runner, input_shapes)
    dims: dict[str, tuple[int | str, ...]] = {
        name: shape for name, shape in known.items() if name not in constants
    }
    if unsized:
        sizes = runner.symbolic_sizes(known, unsized)
        dims |= {
            name: tuple(sizes.dimension(d) if isinstance(d, str) else d for d in row)
            for name, row in sizes.dims.items()
        }
    return dims


def export_plan(runner: Runner, input_shapes: Mapping[str, tuple[int, ...]]) -> ExportPlan:
    """Compiles `runner`'s program for the given runtime-input sizes, the
    others symbolic, with every source and weight read now to become a
    constant."""
    known, constants, unsized = _known_shapes(runner, input_shapes)
    sizes = None
    if not unsized:
        plan = runner.plan_for_shapes(known)
    else:
        plan, sizes = symbolic_plan(runner, known)
        known |= sizes.probe(0)
    inputs = {name: known[name] for name in plan.arguments if name not in constants}
    used = {name: constants[name] for name in plan.arguments if name in constants}
    return ExportPlan(runner, plan, inputs, used, sizes)


def symbolic_plan(
    runner: Runner,
    known: Mapping[str, tuple[int, ...]],
    gradient: GradientRequest | None = None,
) -> tuple[CompiledPlan, SymbolicSizes]:
    """The shape-polymorphic plan of `runner`'s program when only the
    `known` shapes are given (the other runtime inputs' sizes symbolic),
    and those sizes."""
    unsized = [d.name for d in runner.declarations if d.name not in known]
    sizes = runner.symbolic_sizes(known, unsized)
    return _probe_plan(runner, {**known, **sizes.probe(0)}, sizes, gradient), sizes


def _probe_plan(
    runner: Runner,
    shapes: Mapping[str, tuple[int, ...]],
    sizes: SymbolicSizes,
    gradient: GradientRequest | None,
) -> CompiledPlan:
    """The shape-polymorphic plan for `shapes` (at probe 0), checked against
    the same plan at a second probe: the two generalized programs must be
    the same text, else some size follows the symbols in a way the artifact
    cannot express (fuse.runtime.symbolic).

    Sizes that are monomials of the symbols are read by factoring (probes
    0 and 1). Where the two differ, the program is lowered as it is at
    probes 0, 1, 2 and two check probes, its numbers are read back from the
    five (`SymbolicSizes.reading`: sums, differences, floor divisions),
    and the plan generalized with them is checked at the check probe."""
    from fuse.runtime.symbolic import (
        CHECK_PROBE,
        READING_PROBES,
        ProbesDiffer,
        UnreadableSize,
    )

    def plan(probe: int, read: SizeReader | None) -> CompiledPlan:
        try:
            return runner.probe_plan({**shapes, **sizes.probe(probe)}, read, gradient)
        except FuseError as error:
            raise FuseError(
                f"with symbolic sizes ({sizes.describe()}): {error}\n(the "
                "sizes above are probe values standing for the symbols; give the sizes with "
                "--shape NAME=... or input_shapes= to export static sizes)"
            ) from None

    plans = [plan(probe, lambda n, p=probe: sizes.read(n, p)) for probe in (0, 1)]
    texts = [p.executable.symbolic_text for p in plans]
    if texts[0] == texts[1]:
        return plans[0]
    lowerings = [plan(p, None).executable.symbolic_text for p in READING_PROBES]
    try:
        reading = sizes.reading(lowerings)
        generalized = plan(0, reading.at_probe)
        check = plan(CHECK_PROBE, reading.at_check())
    except ProbesDiffer as differ:
        raise _differing(sizes, differ.lines) from None
    except UnreadableSize as error:
        raise _cannot_express(sizes, str(error.diagnostics[0].message)) from None
    plans = [generalized, check]
    texts = [p.executable.symbolic_text for p in plans]
    if texts[0] != texts[1]:
        pairs = zip(texts[0].splitlines(), texts[1].splitlines(), strict=False)
        raise _differing(sizes, next(((a, b) for a, b in pairs if a != b), None))
    return plans[0]


def _cannot_express(sizes: SymbolicSizes, why: str) -> FuseError:
    return FuseError(
        f"exporting with symbolic sizes ({sizes.describe()}): some size of the program follows "
        f"the symbols in a way an artifact cannot express: {why}\nGive the sizes with --shape "
        "NAME=... (input_shapes= in Python) to export static sizes."
    )


def _differing(sizes: SymbolicSizes, lines: Sequence[str] | None) -> FuseError:
    """The program's lowerings at two probe sizes differ at `lines`."""
    first, second = lines if lines is not None else ("(one program is longer)", "")
    return _cannot_express(
        sizes,
        "a size-dependent choice, or a size that is no sum, product or floor division of the "
        f"symbols. The lowered program differs between two probe sizes at:\n  {first.strip()}"
        f"\n  {second.strip()}",
    )


def export_jax(runner: Runner, input_shapes: Mapping[str, tuple[int, ...]]) -> Any:
    """A `jax.export.Exported` of the program (see the module docstring),
    differentiable in its runtime inputs: serialized with `vjp_order=1` it
    carries the program's gradient program as its VJP."""
    import jax

    planned = export_plan(runner, input_shapes)
    symbolic = planned.plan.executable.symbolic
    scope = jax.export.SymbolicScope(symbolic.constraints if symbolic is not None else ())
    dimension = planned.sizes.dimension if planned.sizes is not None else str
    specs = {
        name: jax.ShapeDtypeStruct(
            _jax_shape([dimension(d) for d in planned.dims(name)], scope), np.float32
        )
        for name in planned.shapes
    }
    call = differentiable_export(planned)
    return jax.export.export(jax.jit(lambda inputs: call(inputs, {})))(specs)


def _jax_shape(dims: Sequence[str], scope: Any) -> tuple[Any, ...]:
    """A shape for `jax.export` from its dimensions' text (`40`, `i`,
    `2*d_half`): symbolic dimensions of the one `scope` all inputs share."""
    import jax

    if all(d.isdigit() for d in dims):
        return tuple(int(d) for d in dims)
    return jax.export.symbolic_shape(", ".join(dims), scope=scope)


def differentiable_export(planned: ExportPlan) -> Callable[..., Any]:
    """`call(inputs, {}) -> {export, sink or "fixpoint_status": value}` with
    the constants bound, whose VJP (`jax.custom_vjp`, as for
    `runner.xla_callable`) runs the vector-Jacobian program of the exports
    (`fuse-autodiff cotangents=true`). Only exports are differentiated:
    the cotangents of sinks and status rows are dropped, as the gradient
    program takes one cotangent per export."""
    from fuse.runtime.jax_gradients import differentiable_call

    def run_plan(arguments: Mapping[str, Any], gradient: GradientRequest | None) -> dict[str, Any]:
        plan = planned.plan if gradient is None else planned.plan_for(gradient)
        taken = {name: value for name, value in arguments.items() if name in plan.arguments}
        return plan.executable.exportable(planned.constants)(taken)

    return differentiable_call(run_plan)


def export_stablehlo(runner: Runner, input_shapes: Mapping[str, tuple[int, ...]]) -> bytes:
    """Portable StableHLO bytecode of the program: the `jax` artifact's
    module, with its calls inlined where a function is called more than
    once (`_inline_shared_calls`)."""
    return _inline_shared_calls(bytes(export_jax(runner, input_shapes).mlir_module_serialized))


def _inline_shared_calls(artifact: bytes) -> bytes:
    """`artifact` with every `func.call` of `main` inlined, if some function
    is called more than once; else unchanged. StableHLO's
    `stablehlo-refine-shapes` (docs/export.md's recipe for symbolic sizes)
    specializes a function to the sizes it is called with, and fails on one
    called with different ones ("refined with incompatible refinement
    keys"): jax.export computes a dimension variable such as `d_half` of
    `2*d_half` with such functions (`divmod` calls `floor_divide` and
    `remainder`, which both call `_where`). jax inlines them before it
    refines, but the `inline` pass cannot from Python (jaxlib registers no
    inliner for `func`), so the artifact comes inlined."""
    from jax.extend.mlir import ir, passmanager
    from jax.extend.mlir.dialects import stablehlo

    def calls(op: ir.Operation) -> list[ir.Operation]:
        found = []

        def visit(inner: ir.Operation) -> ir.WalkResult:
            if inner.name == "func.call":
                found.append(inner)
            return ir.WalkResult.ADVANCE

        op.walk(visit)
        return found

    def callee(call: ir.Operation) -> str:
        return ir.FlatSymbolRefAttr(call.attributes["callee"]).value

    with ir.Context() as context:
        stablehlo.register_dialect(context)
        module = stablehlo.deserialize_portable_artifact(context, artifact)
        functions = {
            ir.StringAttr(op.attributes["sym_name"]).value: op.operation
            for op in module.body.operations
            if op.operation.name == "func.func"
        }
        called = [callee(call) for function in functions.values() for call in calls(function)]
        if len(called) == len(set(called)):
            return artifact
        main = functions["main"]
        while pending := calls(main):
            for call in pending:
                body = functions[callee(call)].clone(ir.InsertionPoint(module.body))
                block = body.regions[0].blocks[0]
                for argument, operand in zip(block.arguments, call.operands, strict=True):
                    argument.replace_all_uses_with(operand)
                *ops, terminator = block.operations
                for op in ops:
                    op.move_before(call)
                for result, value in zip(call.results, terminator.operands, strict=True):
                    result.replace_all_uses_with(value)
                call.erase()
                body.erase()
        passmanager.PassManager.parse("builtin.module(symbol-dce)").run(module.operation)
        requirement = stablehlo.StablehloCompatibilityRequirement.WEEK_4  # as jax.export's
        version = stablehlo.get_version_from_compatibility_requirement(requirement)
        return bytes(stablehlo.serialize_portable_artifact(module, version))


def export_torch(runner: Runner, input_shapes: Mapping[str, tuple[int, ...]]) -> Any:
    """A `torch.export.ExportedProgram` of the program, with one
    `torch.export.Dim` per symbolic size."""
    import torch

    from fuse.lowering.torch.export import ExportableProgram
    from fuse.lowering.torch.symbolic import dynamic_shapes

    planned = export_plan(runner, input_shapes)
    executable = planned.plan.executable
    module = ExportableProgram(
        executable.fx_module,
        planned.plan.arguments,
        planned.constants,
        planned.output_names,
        executable.status_names,
    )
    if planned.sizes is None:
        example = {name: torch.zeros(shape) for name, shape in planned.shapes.items()}
        return torch.export.export(module, (example,))
    dims = {name: planned.dims(name) for name in planned.shapes}
    # Small distinct example sizes: the graph holds no probe size any more.
    shapes = {**planned.shapes, **planned.sizes.shapes(_example_sizes(planned.sizes))}
    example = {name: torch.zeros(shapes[name]) for name in dims}
    # Dynamo's caches from an earlier export in this process (a fixpoint's
    # loop traced at fixed sizes) leak their size guards into this trace, as
    # `12 != x`, which torch then reports as the `Dim` specialized: start
    # from empty caches (later torch.compile calls recompile).
    torch._dynamo.reset()
    spec = (dynamic_shapes(dims, planned.sizes.minimums, planned.sizes.even),)
    try:
        return torch.export.export(module, (example,), dynamic_shapes=spec)
    except torch._dynamo.exc.UserError as error:  # a Dim the graph fixes or bounds
        refined = _raised_minimums(error, spec)
        if refined is not None:
            try:
                return torch.export.export(module, (example,), dynamic_shapes=refined)
            except torch._dynamo.exc.UserError as again:
                error = again
        summary = " ".join(str(error).strip().splitlines()[:3])
        raise FuseError(
            f"torch.export cannot keep the sizes of {planned.sizes.describe()} symbolic: "
            f"{summary}; give them with --shape NAME=... (input_shapes= in Python)"
        ) from None


def _raised_minimums(error: Exception, spec: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """`spec` with the larger minimums torch.export's `error` suggests, when
    that is all it suggests (every `Dim` stays one symbol of its own): a
    size torch itself needs larger than the program does (it specializes
    a size below 2, so `i - 1` needs `i >= 3`). None where it suggests
    fixing a `Dim` or tying it to another."""
    import torch

    refine = torch.export.dynamic_shapes.refine_dynamic_shapes_from_suggested_fixes
    try:
        refined = refine(getattr(error, "msg", str(error)), spec)
    except torch._dynamo.exc.UserError:  # no suggested fixes in the message
        return None
    pairs = [(dim, refined[0][name][k]) for name, row in spec[0].items() for k, dim in row.items()]
    keeps_symbols = all(
        type(new) is type(old) and new.__name__ == old.__name__ for old, new in pairs
    )
    return refined if keeps_symbols else None


def _example_sizes(sizes: SymbolicSizes) -> dict[str, int]:
    """Symbol -> the size `torch.export` traces it at: small (the graph
    holds no probe size any more), at least the symbol's minimum, and
    distinct, so torch does not take two symbols of equal example size for
    one."""
    chosen: dict[str, int] = {}
    for symbol in sizes.symbols:
        size = max(16, sizes.minimums.get(symbol, 1))
        while size in chosen.values():
            size += 1
        chosen[symbol] = size
    return chosen


EXPORTERS: dict[str, tuple[str, Callable[[Runner, Mapping[str, tuple[int, ...]]], Any]]] = {
    "jax": ("jax", export_jax),
    "stablehlo": ("jax", export_stablehlo),
    "torch": ("torch", export_torch),
}


def export(runner: Runner, format: str, input_shapes: Mapping[str, tuple[int, ...]]) -> Any:
    """The artifact of `runner`'s program in `format`, compiled by the
    backend that format needs (whatever backend `runner` itself uses)."""
    if format not in EXPORTERS:
        raise FuseError(f"unknown export format '{format}': choose one of {', '.join(FORMATS)}")
    backend, exporter = EXPORTERS[format]
    return exporter(runner.for_backend(backend), input_shapes)


def artifact_bytes(format: str, artifact: Any, vjp_order: int = 0) -> bytes:
    """What `fuse export --out FILE` writes for an artifact of `format`; a
    `jax` artifact with `vjp_order` orders of derivatives (each builds the
    gradient program of the one before; see `differentiable_export`)."""
    if format == "jax":
        return bytes(artifact.serialize(vjp_order=vjp_order))
    if format == "stablehlo":
        return artifact
    import io

    import torch

    buffer = io.BytesIO()
    torch.export.save(artifact, buffer)
    return buffer.getvalue()


def artifact_text(format: str, artifact: Any) -> str:
    """The StableHLO module of a `jax` or `stablehlo` artifact as MLIR text."""
    if format == "jax":
        return str(artifact.mlir_module())
    from jax.extend.mlir import ir
    from jax.extend.mlir.dialects import stablehlo

    with ir.Context() as context:
        stablehlo.register_dialect(context)
        return str(stablehlo.deserialize_portable_artifact(context, artifact))


def write_artifact(format: str, artifact: Any, path: str | Path, vjp_order: int = 0) -> None:
    """Writes the artifact atomically (a failed export leaves no file)."""
    from fuse.runtime.io import atomic_write

    data = artifact_bytes(format, artifact, vjp_order)
    atomic_write(Path(path), lambda stream: stream.write(data))
