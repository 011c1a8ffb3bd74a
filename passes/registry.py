"""The one list of Fuse passes that `fuse-opt` (and the compile API) can run.

Each entry maps a kebab-case pass name to a factory that imports the pass
class only when the pass is used, so starting `fuse-opt` does not import
every pass (and a pass with a heavy dependency costs nothing until used).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from xdsl.passes import ModulePass

PassFactory = Callable[[], type[ModulePass]]


def _lazy(module: str, cls: str) -> PassFactory:
    """A factory returning `fuse.passes.<module>.<cls>`, imported on call."""

    def load() -> type[ModulePass]:
        return getattr(import_module(f"fuse.passes.{module}"), cls)

    return load


def all_passes() -> dict[str, PassFactory]:
    """Every Fuse pass by name (xDSL's own passes are added by `fuse-opt`)."""
    return {
        # --- Fuse passes: one line per pass, `"name": _lazy("module", "Class"),` ---
        "convert-fuse-to-stablehlo": _lazy(
            "convert_fuse_to_stablehlo", "ConvertFuseToStablehloPass"
        ),
        "fuse-autodiff": _lazy("autodiff", "AutodiffPass"),
        "fuse-canonicalize-projections": _lazy(
            "canonicalize_projections", "CanonicalizeProjectionsPass"
        ),
        "fuse-check-memory": _lazy("memory_budget", "CheckMemoryPass"),
        "fuse-demand": _lazy("demand", "DemandPass"),
        "fuse-einsum-path": _lazy("einsum_path", "EinsumPathPass"),
        "fuse-infer-shapes": _lazy("infer_shapes", "InferShapesPass"),
        "fuse-monte-carlo": _lazy("monte_carlo", "MonteCarloPass"),
        "fuse-recognize-convolutions": _lazy("recognize_convolutions", "RecognizeConvolutionsPass"),
        "fuse-recognize-recurrences": _lazy("recognize_recurrences", "RecognizeRecurrencesPass"),
        "fuse-resolve-symbols": _lazy("resolve_symbols", "ResolveSymbolsPass"),
        "fuse-semi-naive": _lazy("semi_naive", "SemiNaivePass"),
        "fuse-stratify": _lazy("stratify", "StratifyPass"),
    }
