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

The primitive has no differentiation or batching rules of its own:
`runner.xla_callable` wraps it in a `jax.custom_vjp` that runs the program's
gradient program (fuse/runtime/jax_gradients.py), and `jax.vmap` fails with
JAX's "not implemented" error instead of giving wrong results. Outside a
trace (`jax.disable_jit()`), binding it runs the program's compiled
executable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from jax.extend.core import Primitive

if TYPE_CHECKING:
    from fuse.lowering.symbolic_sizes import Size

    from .symbolic import SymbolicSignature


@dataclass(eq=False)  # hashed by identity: a static parameter of the primitive
class StableHloProgram:
    """A lowered module: `text` (generic MLIR with a `main` function), the
    sizes of `main`'s arguments and results (expressions of symbols where
    its shapes are dynamic, fuse.lowering.jax.symbolic), its result dtypes,
    and `execute`, which runs the compiled executable on concrete arrays."""

    text: str
    signature: SymbolicSignature
    result_dtypes: tuple[Any, ...]
    execute: Callable[[Sequence[Any]], list[Any]] = field(repr=False)

    def result_avals(self, avals: Sequence[Any]) -> list[Any]:
        """The abstract results for arguments `avals`: each symbol is the
        extent of the first argument dimension that is exactly it."""
        import jax

        extents: dict[str, Any] = {}
        for aval, sizes in zip(avals, self.signature.arguments, strict=True):
            for extent, size in zip(aval.shape, sizes, strict=True):
                if size.symbol is not None:
                    extents.setdefault(size.symbol, extent)

        def extent(size: Size) -> Any:
            return math.prod((extents[s] for s in size.symbols), start=size.factor)

        return [
            jax.core.ShapedArray(tuple(extent(size) for size in sizes), dtype)
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
        main = ir.SymbolTable(submodule.operation)["main"]  # a func.FuncOp view
        result_types = list(main.type.results)
        name = mlir.merge_mlir_modules(
            module_context.module, "fuse_program", submodule, dst_symtab=module_context.symbol_table
        )
        return func.CallOp(result_types, ir.FlatSymbolRefAttr.get(name), list(args)).results
