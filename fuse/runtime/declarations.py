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
from fuse.frontend.sema import tensor_accesses
from fuse.lowering.ir_builder import collect_tensors

__all__ = ["TensorDeclaration", "tensor_declarations"]


@dataclass(frozen=True)
class TensorDeclaration:
    """One tensor: `input` when the program neither defines nor reads it
    (a runtime input), `source` the file it is read from, if any,
    `indices` the index names of its `fuse.tensor` declaration, and `facts`
    the program's facts that give its value, if any."""

    name: str
    rank: int
    source: str | None
    input: bool
    indices: tuple[str, ...] = ()
    # Where the program names it: a source's statement, else its first
    # access; errors about its value (a wrong rank) point there.
    span: ast.Span | None = None
    facts: ast.FactTable | None = None


def tensor_declarations(program: ast.Program) -> list[TensorDeclaration]:
    """Every tensor `program` mentions, in the order of its `fuse.tensor` ops."""
    spans = _first_mentions(program)
    return [
        TensorDeclaration(
            info.name,
            info.rank,
            info.source,
            info.is_input,
            info.indices,
            spans.get(info.name),
            info.facts,
        )
        for info in collect_tensors(program)
    ]


def _first_mentions(program: ast.Program) -> dict[str, ast.Span]:
    spans: dict[str, ast.Span] = {}
    for statement in program.statements:
        if isinstance(statement, ast.Source):
            spans[statement.lhs.name] = statement.span
        elif isinstance(statement, ast.Equation | ast.Sink):
            for ref in tensor_accesses(statement.rhs):
                spans.setdefault(ref.name, ref.span)
    return spans
