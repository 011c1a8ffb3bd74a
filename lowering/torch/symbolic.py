"""Probe sizes to symbolic sizes in a program's `torch.fx.GraphModule`.

The graph builder records static sizes (a reshape's target, a divisor that
is a count). For a plan with symbolic sizes it runs at probe sizes
(fuse.runtime.symbolic); `generalize` then replaces every integer argument
of a call that reads as a symbolic size by that size computed at run time,
`X.size(d)` of an input whose dimension d is that symbol, combined with
Python's integer operators for sizes such as `2*i*j` or `i - 1`. `torch.export` with one `torch.export.Dim` per symbol
then traces it with symbolic sizes and refuses, naming the `Dim`, any size
the graph still fixes.

Fixpoints and scans run as submodules with their own region graphs,
generalized the same way from their own inputs' sizes (the graph builder
records each region input's probe shape; a scan over a symbolic number of
steps runs as torch's `scan` op). Constants, index functions, the index
tables of windows and placements, and fixpoint zero states of symbolic
shape are made in the graph (`torch.full`, `torch.arange`, `new_zeros`)
rather than held as buffers, so their sizes are generalized too; a buffer
of symbolic shape left over could not follow the sizes and is an error
naming it.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.fx import GraphModule, Node
from torch.fx.node import map_aggregate

from fuse.errors import FuseError
from fuse.lowering.symbolic_sizes import Size, SizeArithmetic, SizeReader

# `node.meta` key of a region graph's placeholder: its shape at probe sizes
# (fuse.lowering.torch.graph records it; the root graph's shapes are the
# executable's argument shapes).
PROBE_SHAPE = "fuse_probe_shape"


def generalize(
    module: GraphModule, arg_shapes: Sequence[Sequence[int]], read: SizeReader
) -> GraphModule:
    """`module` with its probe sizes symbolic (module docstring), in place:
    its graph and the region graphs of its fixpoints and scans."""
    for name, buffer in module.named_buffers():
        refuse_symbolic_buffer(read, buffer.shape, name)
    _generalize_graph(module, arg_shapes, read)
    for submodule in module.modules():
        if submodule is not module and isinstance(submodule, GraphModule):
            placeholders = [n for n in submodule.graph.nodes if n.op == "placeholder"]
            shapes = [node.meta.get(PROBE_SHAPE, ()) for node in placeholders]
            _generalize_graph(submodule, shapes, read)
    return module


def _generalize_graph(
    module: GraphModule, arg_shapes: Sequence[Sequence[int]], read: SizeReader
) -> None:
    """One graph of `generalize`: sizes read off its own placeholders."""
    graph = module.graph
    placeholders = [node for node in graph.nodes if node.op == "placeholder"]
    sources: dict[str, tuple[Node, int]] = {}
    for node, shape in zip(placeholders, arg_shapes, strict=True):
        for dim, size in enumerate(shape):
            symbol = read(size).symbol
            if symbol is not None:
                sources.setdefault(symbol, (node, dim))
    extents: dict[str, Node] = {}

    def extent(symbol: str) -> Node:
        if symbol not in sources:
            raise FuseError(
                f"this program cannot be exported for torch with symbolic sizes: a graph "
                f"of a fixpoint or scan uses the size '{symbol}' but has no input of that "
                "size; give the sizes with --shape NAME=... (input_shapes= in Python)"
            )
        if symbol not in extents:
            node, dim = sources[symbol]
            with graph.inserting_after(placeholders[-1]):
                extents[symbol] = graph.call_method("size", (node, dim))
        return extents[symbol]

    def expression(size: Size, before: Node) -> Any:
        def call(function: Any) -> Any:
            return lambda a, b: graph.call_function(function, (a, b))

        arithmetic = SizeArithmetic(
            lambda n: n,
            call(operator.add),
            call(operator.sub),
            call(operator.mul),
            call(operator.floordiv),
        )
        with graph.inserting_before(before):
            return size.evaluate(extent, arithmetic)

    for node in list(graph.nodes):
        if node.op not in ("call_function", "call_method", "call_module"):
            continue

        def symbolic(value: Any, node: Node = node) -> Any:
            if isinstance(value, bool) or not isinstance(value, int) or value <= 1:
                return value
            size = read(value)
            return value if size.is_static else expression(size, node)

        node.args = map_aggregate(node.args, symbolic)
        node.kwargs = map_aggregate(node.kwargs, symbolic)
    graph.lint()
    module.recompile()


def refuse_symbolic_buffer(read: SizeReader, shape: Sequence[int], name: str) -> None:
    """A buffer (a constant of the module, `name`) cannot have a symbolic
    `shape`: an error naming it."""
    if any(not read(n).is_static for n in shape):
        what = name.rsplit(".", 1)[-1].rstrip("0123456789") or name
        raise FuseError(
            f"this program cannot be exported for torch with symbolic sizes: a "
            f"{what.replace('_', ' ')} of symbolic shape ({name}) is a constant of the "
            "module; give the sizes with --shape NAME=... (input_shapes= in Python)"
        )


def dynamic_shapes(
    dims: Mapping[str, Sequence[int | str]], minimums: Mapping[str, int]
) -> dict[str, dict[int, Any]]:
    """`torch.export`'s `dynamic_shapes` for the artifact's one dict
    argument: one `Dim` per symbol, shared by every dimension it sizes, no
    smaller than the symbol's entry in `minimums` (a constant position
    `X[t, 3]` needs 4: the graph's `select` guards it, and the loaded
    artifact checks it on every call)."""
    symbols = {d for row in dims.values() for d in row if isinstance(d, str)}
    named = {
        symbol: torch.export.Dim(symbol, min=minimums.get(symbol)) for symbol in sorted(symbols)
    }
    return {
        name: {k: named[d] for k, d in enumerate(row) if isinstance(d, str)}
        for name, row in dims.items()
    }
