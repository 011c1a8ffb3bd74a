"""Shared pieces of the benchmarks: a result row, a timer and a table.

Each benchmark module exposes `run() -> list[Row]` and prints
`print_table(run())` when run as `python -m bench.<name>` from the
repository root.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """Fuse against one competitor on one workload.

    `ratio` is fuse_seconds / competitor_seconds (below 1: Fuse is faster);
    `target` is the largest ratio the issue accepts (0.01: 100x faster).
    A row with `unit` "bytes" compares peak memory instead of time (the
    `*_seconds` fields then hold bytes).
    """

    name: str
    fuse_seconds: float
    competitor: str
    competitor_seconds: float
    ratio: float
    target: float
    unit: str = "seconds"

    @property
    def met(self) -> bool:
        return self.ratio <= self.target


def row(
    name: str,
    fuse_seconds: float,
    competitor: str,
    competitor_seconds: float,
    target: float,
    unit: str = "seconds",
) -> Row:
    """A row with its ratio computed."""
    return Row(
        name,
        fuse_seconds,
        competitor,
        competitor_seconds,
        fuse_seconds / competitor_seconds,
        target,
        unit,
    )


def best_of(fn: Callable[[], object], repeat: int = 5, number: int = 1) -> float:
    """Seconds per call: the best of `repeat` rounds of `number` calls each
    (the minimum is the least noisy estimate of what the code itself costs)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def _seconds(value: float, unit: str = "seconds") -> str:
    if unit == "bytes":
        return f"{value / 2**10:.1f} KiB" if value < 2**20 else f"{value / 2**20:.2f} MiB"
    return f"{value * 1e3:.3f} ms" if value < 1 else f"{value:.2f} s"


def print_table(rows: Sequence[Row]) -> None:
    headers = (
        "benchmark",
        "competitor",
        "fuse",
        "competitor time",
        "fuse/competitor",
        "target",
        "",
    )
    cells = [
        (
            r.name,
            r.competitor,
            _seconds(r.fuse_seconds, r.unit),
            _seconds(r.competitor_seconds, r.unit),
            f"{r.ratio:.4g}",
            f"<= {r.target:g}",
            "ok" if r.met else "MISSED",
        )
        for r in rows
    ]
    widths = [max(len(line[n]) for line in (headers, *cells)) for n in range(len(headers))]
    for line in (headers, *cells):
        print("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)))


def race(
    first: Callable[[], object], second: Callable[[], object], repeat: int, number: int = 1
) -> tuple[float, float]:
    """Best seconds per call of each, measured in alternating rounds, so a
    busy spell on a shared machine slows both rather than one."""
    times = [float("inf"), float("inf")]
    for _ in range(repeat):
        for n, fn in enumerate((first, second)):
            times[n] = min(times[n], best_of(fn, 1, number))
    return times[0], times[1]
