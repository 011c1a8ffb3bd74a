"""Sizes as expressions of symbols, shared by the backends' symbolic
lowerings (fuse.lowering.jax.symbolic, fuse.lowering.torch.symbolic) and
the runtime that chooses the symbols (fuse.runtime.symbolic).

A plan with symbolic sizes is compiled at probe sizes, one prime per
symbol; `SizeReader` reads a size of that plan back as a `Size`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


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
