"""The pass pipelines the compile API runs, in `--pass-pipeline` syntax.

The declarative pipeline takes a program to the dataflow level; the
dataflow pipeline optimizes it, more with each `opt_level`:

* 0: nothing beyond what execution needs;
* 1: native convolutions and pools (`fuse-recognize-convolutions`),
  semi-naive fixpoints (per `fixpoint_strategy`), `cse`, `dce`;
* 2: also einsum contraction paths (`fuse-einsum-path`).

Both are plain strings, so `fuse compile --print-pipeline` shows exactly
what runs and `fuse-opt --pass-pipeline=...` can replay it step by step.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.transforms import get_all_passes

from fuse.collector import cyclic_gc_paused
from fuse.config import ExecutionConfig
from fuse.passes.registry import all_passes

# `fuse-demand` answers queries and is a no-op on a program without any, so
# it runs in every mode: a query is itself the demand.
DECLARATIVE_PASSES = (
    "fuse-resolve-symbols",
    "fuse-canonicalize-projections",
    "fuse-demand",
    "fuse-infer-shapes",
    "fuse-recognize-recurrences",
    "fuse-stratify",
)


def available_passes() -> dict[str, type[ModulePass]]:
    passes = {
        name: factory
        for name, factory in get_all_passes().items()
        if name in ("cse", "dce", "canonicalize")
    }
    passes |= all_passes()
    return passes


@dataclass(frozen=True)
class GradientRequest:
    """What `fuse-autodiff` adds: the gradients of the scalar export `loss`
    with respect to the inputs `wrt`, or, with `cotangents`, the
    vector-Jacobian product of every export; with `straight_through`,
    `step` passes gradients through unchanged (see passes/autodiff)."""

    loss: str | None
    wrt: tuple[str, ...]
    cotangents: bool = False
    straight_through: bool = False

    def pass_spec(self) -> str:
        """`fuse-autodiff{...}`, names quoted (they may hold primes)."""
        quoted = ",".join(f'"{name}"' for name in self.wrt)
        options = [f"wrt={quoted}"]
        if self.loss is not None:
            options.insert(0, f'loss="{self.loss}"')
        if self.cotangents:
            options.append("cotangents=true")
        if self.straight_through:
            options.append("straight_through=true")
        return f"fuse-autodiff{{{' '.join(options)}}}"


def dataflow_passes(config: ExecutionConfig, gradient: GradientRequest | None = None) -> list[str]:
    """The dataflow pipeline; with `gradient`, `fuse-autodiff` runs early
    (after `fuse-recognize-convolutions`, so convolutions and pools are
    differentiated into convolutions; before semi-naive rewriting, which it
    does not differentiate) so the gradient program is optimized with the
    rest. Under Monte-Carlo projection it runs after `fuse-monte-carlo`
    instead: it differentiates the estimate with its drawn positions held
    fixed, rather than estimating every gradient sum independently."""
    registered = all_passes()
    sampled = config.projection == "monte_carlo"
    passes: list[str] = []
    if config.opt_level >= 1:
        passes.append("fuse-recognize-convolutions")
    if gradient is not None and not sampled:
        passes.append(gradient.pass_spec())
    if config.opt_level >= 1:
        if config.fixpoint_strategy != "naive" and "fuse-semi-naive" in registered:
            passes.append(f"fuse-semi-naive{{strategy={config.fixpoint_strategy}}}")
        passes += ["cse", "dce"]
    if config.projection == "monte_carlo":
        # Before the paths, so the sampled einsums get one. No seed: 0.
        seed = config.seed if config.seed is not None else 0
        passes.append(f"fuse-monte-carlo{{samples={config.samples} seed={seed}}}")
        if gradient is not None:
            passes.append(gradient.pass_spec())
    if config.opt_level >= 2 and "fuse-einsum-path" in registered:
        passes.append("fuse-einsum-path{strategy=auto}")
    return passes


def pipeline_text(passes: list[str] | tuple[str, ...]) -> str:
    """MLIR `--pass-pipeline` syntax."""
    return f"builtin.module({','.join(passes)})"


def full_pipeline(config: ExecutionConfig, gradient: GradientRequest | None = None) -> list[str]:
    return [*DECLARATIVE_PASSES, *dataflow_passes(config, gradient)]


@cyclic_gc_paused()
def run_passes(module: ModuleOp, passes: list[str] | tuple[str, ...]) -> None:
    """Runs passes named in xDSL spec syntax (`name{opt=v}`) on `module`."""
    if not passes:
        return
    pipeline = PassPipeline.parse_spec(available_passes(), ",".join(passes))
    pipeline.apply(Context(allow_unregistered=True), module)
