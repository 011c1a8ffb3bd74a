"""The tensors a program declares, read from its AST.

A runner needs every tensor's rank and which tensors are inputs or file
sources before it compiles anything; building the declarative module for
that cost more than the rest of a warm (cached) compile. The IR builder's
first pass computes exactly this, so it is reused here: the runner's view
and the IR's `fuse.tensor` declarations cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from fuse.frontend import ast
from fuse.lowering.ir_builder import collect_tensors

__all__ = ["TensorDeclaration", "tensor_declarations"]


@dataclass(frozen=True)
class TensorDeclaration:
    """One tensor: `input` when the program neither defines nor reads it
    (a runtime input), `source` the file it is read from, if any, `facts`
    the program's facts that give its value, if any."""

    name: str
    rank: int
    source: str | None
    input: bool
    facts: ast.FactTable | None = None


def tensor_declarations(program: ast.Program) -> list[TensorDeclaration]:
    """Every tensor `program` mentions, in the order of its `fuse.tensor` ops."""
    return [
        TensorDeclaration(info.name, info.rank, info.source, info.is_input, info.facts)
        for info in collect_tensors(program)
    ]
