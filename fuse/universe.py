"""Fuse's dialect and passes for xDSL's own tools (`xdsl-opt`, `xdsl-gui`).

xDSL discovers this through the `xdsl.universe` entry point in
pyproject.toml, so once Fuse is installed `xdsl-opt` parses Fuse IR and runs
Fuse passes next to xDSL's, the way MLIR users load a dialect plugin:

    xdsl-opt program.mlir -p fuse-canonicalize-projections,fuse-stratify

Everything stays lazy: the dialect and each pass are imported when a tool
first asks for them, so other xDSL users pay nothing for having Fuse
installed.
"""

from __future__ import annotations

from xdsl.ir import Dialect
from xdsl.universe import Universe

from fuse.passes.registry import all_passes


def fuse_dialect() -> Dialect:
    """The `fuse` dialect, imported on first use."""
    from fuse.dialects.fuse import Fuse

    return Fuse


FUSE_UNIVERSE = Universe(all_dialects={"fuse": fuse_dialect}, all_passes=all_passes())
