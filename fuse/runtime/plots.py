"""Plots a user asks for: how each fixpoint converged (`fuse run --plot`)
and the training loss (`fuse train --plot`).

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
    if not history:
        raise FuseError(f"--plot {path}: the program has no fixpoint to plot")
    lines = {name: [max(c, 0.5) for c in counts] for name, counts in history.items()}
    _plot(lines, path, "iteration", "elements changed", "fixpoint convergence")


def plot_losses(losses: Sequence[float], path: str | Path) -> None:
    """Writes the training loss per step to `path` (`fuse train --plot`)."""
    _plot({"loss": list(losses)}, path, "step", "loss", "training loss")


def _plot(
    lines: Mapping[str, Sequence[float]], path: str | Path, xlabel: str, ylabel: str, title: str
) -> None:
    """One line per entry on a log scale, written atomically in the format
    the file's suffix names."""
    target = Path(path)
    if target.suffix not in FORMATS:
        raise FuseError(f"--plot {path}: the plot is written as {', '.join(FORMATS)}")
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from fuse.runtime.io import atomic_write

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, values in lines.items():
        marker = "o" if len(values) <= 50 else None
        axes.plot(range(1, len(values) + 1), values, marker=marker, label=name)
    axes.set_yscale("log")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend()
    buffer = io.BytesIO()
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fuse"}):
        metadata = {"Date": None} if target.suffix == ".svg" else None
        figure.savefig(buffer, format=target.suffix[1:], bbox_inches="tight", metadata=metadata)
    plt.close(figure)
    atomic_write(target, lambda stream: stream.write(buffer.getvalue()))
