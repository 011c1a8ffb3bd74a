"""Plots a user asks for: how each fixpoint converged (`fuse run --plot`).

Drawn with matplotlib, one line per fixpoint: the number of elements each
iteration changed, on a log scale (a Boolean closure's new facts per round,
a float fixpoint's elements still moving). Written atomically, in the
format the file's suffix names (.png, .svg, .pdf).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from fuse.errors import FuseError

FORMATS = (".png", ".svg", ".pdf")


def plot_convergence(history: Mapping[str, Sequence[int]], path: str | Path) -> None:
    """Writes the convergence plot of `history` (fixpoint -> changed
    elements per iteration) to `path`."""
    target = Path(path)
    if target.suffix not in FORMATS:
        raise FuseError(f"--plot {path}: the plot is written as {', '.join(FORMATS)}")
    if not history:
        raise FuseError(f"--plot {path}: the program has no fixpoint to plot")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from fuse.runtime.io import atomic_write

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, counts in history.items():
        axes.plot(range(1, len(counts) + 1), [max(c, 0.5) for c in counts], marker="o", label=name)
    axes.set_yscale("log")
    axes.set_xlabel("iteration")
    axes.set_ylabel("elements changed")
    axes.set_title("fixpoint convergence")
    axes.legend()
    buffer = io.BytesIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fuse"}):
        metadata = {"Date": None} if target.suffix == ".svg" else None
        figure.savefig(buffer, format=target.suffix[1:], bbox_inches="tight", metadata=metadata)
    plt.close(figure)
    atomic_write(target, lambda stream: stream.write(buffer.getvalue()))
