"""The pass pipelines the compile API runs, in `--pass-pipeline` syntax.

The declarative pipeline takes a program to the dataflow level; the
dataflow pipeline optimizes it, more with each `opt_level`:

* 0: nothing beyond what execution needs;
* 1: semi-naive fixpoints (per `fixpoint_strategy`), `cse`, `dce`;
* 2: also einsum contraction paths (`fuse-einsum-path`).

Both are plain strings, so `fuse compile --print-pipeline` shows exactly
what runs and `fuse-opt --pass-pipeline=...` can replay it step by step.
"""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.transforms import get_all_passes

from fuse.config import ExecutionConfig
from fuse.passes.registry import all_passes

# `fuse-demand` answers queries and is a no-op on a program without any, so
# it runs in every mode: a query is itself the demand.
DECLARATIVE_PASSES = (
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


def dataflow_passes(config: ExecutionConfig) -> list[str]:
    registered = all_passes()
    passes: list[str] = []
    if config.opt_level >= 1:
        if config.fixpoint_strategy != "naive" and "fuse-semi-naive" in registered:
            passes.append(f"fuse-semi-naive{{strategy={config.fixpoint_strategy}}}")
        passes += ["cse", "dce"]
    if config.projection == "monte_carlo":
        # Before the paths, so the sampled einsums get one. No seed: 0.
        seed = config.seed if config.seed is not None else 0
        passes.append(f"fuse-monte-carlo{{samples={config.samples} seed={seed}}}")
    if config.opt_level >= 2 and "fuse-einsum-path" in registered:
        passes.append("fuse-einsum-path{strategy=auto}")
    return passes


def pipeline_text(passes: list[str] | tuple[str, ...]) -> str:
    """MLIR `--pass-pipeline` syntax."""
    return f"builtin.module({','.join(passes)})"


def full_pipeline(config: ExecutionConfig) -> list[str]:
    return [*DECLARATIVE_PASSES, *dataflow_passes(config)]


def run_passes(module: ModuleOp, passes: list[str] | tuple[str, ...]) -> None:
    """Runs passes named in xDSL spec syntax (`name{opt=v}`) on `module`."""
    if not passes:
        return
    pipeline = PassPipeline.parse_spec(available_passes(), ",".join(passes))
    pipeline.apply(Context(allow_unregistered=True), module)
