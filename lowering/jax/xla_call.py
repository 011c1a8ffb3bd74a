"""Calling a lowered Fuse program from JAX code, `jax.jit` included.

Route: one JAX primitive, `fuse_stablehlo_call`, whose MLIR lowering rule
parses the program's StableHLO text into the MLIR context of the enclosing
JAX computation, merges it in with `jax.interpreters.mlir.merge_mlir_modules`
(the helper `jax.export` uses to inline exported modules: it renames the
program's `main` and makes it private) and emits a `func.call` to it. XLA
then compiles the program together with the surrounding JAX code, so it
fuses, runs on the same device and needs no host round trip.

Alternatives that were rejected: `jax.pure_callback` leaves jit (a host
round trip per call); `jax.export.deserialize` needs a serialized `Exported`
whose private fields (shardings, effects, VJP) would have to be forged; the
deprecated `stablehlo.custom_call` routes need C++ registration.

A program lowered with progress placeholders (`@fuse.progress`, see
passes/convert_fuse_to_stablehlo.py) carries the `LoopReports` that draws
its bars: the lowering rule replaces each placeholder, inside its `while`
body, by a host callback emitted by JAX's own machinery
(`jax.interpreters.mlir.emit_python_callback`, the primitive behind
`jax.debug.callback`), which hands each step to the loop's reporter. Only
`JaxExecutable.__call__` runs such a program; `xla_callable`, exports and
the cache get the program without placeholders, so no callback.

The primitive has no differentiation or batching rules of its own:
`runner.xla_callable` wraps it in a `jax.custom_vjp` that runs the program's
gradient program (fuse/runtime/jax_gradients.py), and `jax.vmap` fails with
JAX's "not implemented" error instead of giving wrong results. Outside a
trace (`jax.disable_jit()`), binding it runs the program's compiled
executable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from jax.extend.core import Primitive

from fuse.passes.convert_fuse_to_stablehlo import PROGRESS_STEPS_ATTR, PROGRESS_TARGET

if TYPE_CHECKING:
    from fuse.lowering.progress import LoopReports

    from .symbolic import SymbolicSignature


@dataclass(eq=False)  # hashed by identity: a static parameter of the primitive
class StableHloProgram:
    """A lowered module: `text` (generic MLIR with a `main` function), the
    sizes of `main`'s arguments and results (expressions of symbols where
    its shapes are dynamic, fuse.lowering.jax.symbolic), its result dtypes,
    `execute`, which runs the compiled executable on concrete arrays, and
    `progress`, the reports of a text lowered with progress placeholders
    (None: it has none)."""

    text: str
    signature: SymbolicSignature
    result_dtypes: tuple[Any, ...]
    execute: Callable[[Sequence[Any]], list[Any]] = field(repr=False)
    progress: LoopReports | None = field(default=None, repr=False)

    def result_avals(self, avals: Sequence[Any]) -> list[Any]:
        """The abstract results for arguments `avals`: each symbol is the
        extent of the first argument dimension that is exactly it."""
        import jax

        extents: dict[str, Any] = {}
        for aval, sizes in zip(avals, self.signature.arguments, strict=True):
            for extent, size in zip(aval.shape, sizes, strict=True):
                if size.symbol is not None:
                    extents.setdefault(size.symbol, extent)

        return [
            jax.core.ShapedArray(tuple(size.evaluate(extents.__getitem__) for size in sizes), dtype)
            for sizes, dtype in zip(self.signature.results, self.result_dtypes, strict=True)
        ]


def call_program(program: StableHloProgram, args: Sequence[Any]) -> list[Any]:
    """The results of `program` on `args` (JAX arrays or tracers)."""
    return _primitive().bind(*args, program=program)


@cache
def _primitive() -> Primitive:
    from jax.interpreters import mlir

    primitive = Primitive("fuse_stablehlo_call")
    primitive.multiple_results = True
    primitive.def_abstract_eval(lambda *avals, program: program.result_avals(avals))
    primitive.def_impl(lambda *args, program: program.execute(args))
    mlir.register_lowering(primitive, _lower)
    return primitive


def _lower(ctx: Any, *args: Any, program: StableHloProgram) -> Sequence[Any]:
    from jax.extend.mlir import ir
    from jax.extend.mlir.dialects import func
    from jax.interpreters import mlir

    module_context = ctx.module_context
    with module_context.context:
        submodule = ir.Module.parse(program.text)
        if program.progress is not None:
            _emit_progress_callbacks(ctx, submodule, program.progress)
        main = ir.SymbolTable(submodule.operation)["main"]  # a func.FuncOp view
        result_types = list(main.type.results)
        name = mlir.merge_mlir_modules(
            module_context.module, "fuse_program", submodule, dst_symtab=module_context.symbol_table
        )
        return func.CallOp(result_types, ir.FlatSymbolRefAttr.get(name), list(args)).results


_SCALAR_DTYPES = {"i1": np.bool_, "i32": np.int32, "f32": np.float32}


def _emit_progress_callbacks(ctx: Any, module: Any, reports: LoopReports) -> None:
    """Replaces each `@fuse.progress` placeholder of `module` by a host
    callback, emitted where the placeholder was (inside its loop body), that
    passes its operands to the loop's reporter."""
    import jax
    from jax.extend.mlir import ir
    from jax.interpreters import mlir

    placeholders: list[Any] = []

    def collect(op: Any) -> Any:
        if (
            op.name == "stablehlo.custom_call"
            and _string(op.attributes["call_target_name"]) == PROGRESS_TARGET
        ):
            placeholders.append(op)
        return ir.WalkResult.ADVANCE

    module.operation.walk(collect)
    for placeholder in placeholders:
        attributes = placeholder.attributes
        steps = (
            ir.IntegerAttr(attributes[PROGRESS_STEPS_ATTR]).value
            if PROGRESS_STEPS_ATTR in attributes
            else None
        )
        report = reports.reporter(_string(attributes["backend_config"]), steps)
        operands = list(placeholder.operands)
        avals = [
            jax.core.ShapedArray((), _SCALAR_DTYPES[str(ir.RankedTensorType(v.type).element_type)])
            for v in operands
        ]
        with ir.InsertionPoint(placeholder):
            mlir.emit_python_callback(
                replace(ctx, avals_in=avals, avals_out=[]),
                report,
                None,
                operands,
                avals,
                [],
                has_side_effect=True,
                returns_token=False,
            )
        placeholder.erase()


def _string(attribute: Any) -> str:
    from jax.extend.mlir import ir

    return ir.StringAttr(attribute).value
