"""Subscript bookkeeping shared by the backends.

Dataflow ops spell operand alignment with einsum subscripts. Every backend
needs the same plan to bring an operand with letters `"jk"` into the layout
of an output `"ijk"`: permute its dimensions into output order, then insert
size-1 dimensions where it lacks a letter, so ordinary broadcasting does the
rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from fuse.dialects.fuse.subscripts import parse_subscripts


@dataclass(frozen=True)
class Alignment:
    """How to lay an operand out along the output's dimensions."""

    permutation: tuple[int, ...]  # operand dims, in output order
    shape_template: tuple[int | None, ...]  # None: an operand dim; 1: inserted

    @property
    def is_identity(self) -> bool:
        return self.permutation == tuple(range(len(self.permutation))) and all(
            d is None for d in self.shape_template
        )

    def expanded_shape(self, permuted_shape: tuple[int, ...]) -> tuple[int, ...]:
        dims = iter(permuted_shape)
        return tuple(next(dims) if d is None else 1 for d in self.shape_template)


def align(operand: str, output: str) -> Alignment:
    """Plan for an operand whose letters all occur in `output`."""
    missing = [c for c in operand if c not in output]
    if missing:
        raise ValueError(f"operand subscripts '{operand}' have '{missing[0]}' not in '{output}'")
    permutation = tuple(sorted(range(len(operand)), key=lambda d: output.index(operand[d])))
    template = tuple(None if c in operand else 1 for c in output)
    return Alignment(permutation, template)


def alignments(subscripts: str) -> tuple[list[Alignment], str]:
    """One alignment per operand of an elementwise op, and the output."""
    inputs, output = parse_subscripts(subscripts)
    return [align(letters, output) for letters in inputs], output
