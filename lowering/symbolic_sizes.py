"""Sizes as expressions of symbols, shared by the backends' symbolic
lowerings (fuse.lowering.jax.symbolic, fuse.lowering.torch.symbolic) and
the runtime that chooses the symbols (fuse.runtime.symbolic).

A plan with symbolic sizes is compiled at probe sizes, one prime per
symbol; `SizeReader` reads a size of that plan back as a `Size`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class Size:
    """`factor * product(symbols)`; static where `symbols` is empty."""

    factor: int
    symbols: tuple[str, ...] = ()

    @property
    def is_static(self) -> bool:
        return not self.symbols

    @property
    def symbol(self) -> str | None:
        """The symbol this size is exactly, if it is one."""
        return self.symbols[0] if self.factor == 1 and len(self.symbols) == 1 else None

    def __str__(self) -> str:
        factor = [str(self.factor)] if self.factor != 1 or not self.symbols else []
        return "*".join([*factor, *self.symbols])


SizeReader = Callable[[int], Size]


class SizeConstant(NamedTuple):
    """A scalar constant of a plan at probe sizes that stands for a size."""

    number: int  # the size at the probe
    size: Size
    inverse_root: bool  # the constant is 1/sqrt(size), else the size


def size_in_constant(value: float, read: SizeReader) -> SizeConstant | None:
    """The symbolic size a scalar constant of a plan at probe sizes stands
    for: the size itself (a layer norm's `n`) or its inverse square root
    (attention's default scale `1/sqrt(|d|)`); None for a constant that is
    neither. A number that only
    happens to look like one is caught by comparing two probes' lowerings
    (fuse.runtime.export): at the second probe it reads differently."""
    if not math.isfinite(value) or value <= 0:
        return None
    for number, inverse_root in ((value, False), (1 / (value * value), True)):
        rounded = round(number)
        # fp32 keeps about 7 digits: the scale of a size up to ~10^6 rounds back to it
        if rounded > 1 and abs(number - rounded) <= rounded * 1e-6:
            size = read(rounded)
            if not size.is_static:
                return SizeConstant(rounded, size, inverse_root)
    return None
