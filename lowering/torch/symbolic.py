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
from collections.abc import Collection, Mapping, Sequence
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
    _check_multiples(module, arg_shapes, read)
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
    # Each symbolic size of an input dimension (`i`, or `2*d_half` where only
    # twice a symbol is one): the first input dimension of that size.
    sources: dict[Size, tuple[Node, int]] = {}
    for node, shape in zip(placeholders, arg_shapes, strict=True):
        for dim, number in enumerate(shape):
            size = read(number)
            if not size.is_static:
                sources.setdefault(size, (node, dim))
    extents: dict[Size, Node] = {}

    def extent(size: Size) -> Node:
        if size not in sources:
            raise FuseError(
                f"this program cannot be exported for torch with symbolic sizes: a graph "
                f"of a fixpoint or scan uses the size '{size}' but has no input of that "
                "size; give the sizes with --shape NAME=... (input_shapes= in Python)"
            )
        if size not in extents:
            node, dim = sources[size]
            with graph.inserting_after(placeholders[-1]):
                extents[size] = graph.call_method("size", (node, dim))
        return extents[size]

    def expression(size: Size, before: Node) -> Any:
        if size in sources:
            return extent(size)

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
            return size.evaluate(lambda symbol: extent(Size.of(symbol)), arithmetic)

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


def _check_multiples(
    module: GraphModule, arg_shapes: Sequence[Sequence[int]], read: SizeReader
) -> None:
    """An assertion in the graph for each input dimension that is a multiple
    of a symbol (`2*d_half`, rope's feature axis), that its size is that
    multiple. torch.export's own check of a derived `Dim` would let an odd
    size through (it solves `2*d_half == 7` to `d_half = 3`)."""
    graph = module.graph
    placeholders = [node for node in graph.nodes if node.op == "placeholder"]
    first = next(node for node in graph.nodes if node.op != "placeholder")
    with graph.inserting_before(first):
        for node, shape in zip(placeholders, arg_shapes, strict=True):
            for dim, number in enumerate(shape):
                size = read(number)
                if size.is_static or size.factor == 1:
                    continue
                extent = graph.call_method("size", (node, dim))
                remainder = graph.call_function(operator.mod, (extent, size.factor))
                flag = graph.call_function(torch.scalar_tensor, (remainder,))
                message = (
                    f"dimension {dim} of input {node.target} is {size}: its size must be a "
                    f"multiple of {size.factor}"
                )
                graph.call_function(
                    torch._assert_async, (graph.call_function(operator.eq, (flag, 0)), message)
                )
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
    dims: Mapping[str, Sequence[int | str]],
    minimums: Mapping[str, int],
    even: Collection[str] = (),
) -> dict[str, dict[int, Any]]:
    """`torch.export`'s `dynamic_shapes` for the artifact's one dict
    argument: one `Dim` per symbol, shared by every dimension it sizes, no
    smaller than the symbol's entry in `minimums` (a constant position
    `X[t, 3]` needs 4: the graph's `select` guards it, and the loaded
    artifact checks it on every call); a symbol in `even` sizes its
    dimensions as the derived `2 * Dim` (whose oddness the graph itself
    refuses: `_check_multiples`)."""
    symbols = {d for row in dims.values() for d in row if isinstance(d, str)}
    named = {
        symbol: torch.export.Dim(symbol, min=minimums.get(symbol)) for symbol in sorted(symbols)
    }
    sized = {symbol: 2 * dim if symbol in even else dim for symbol, dim in named.items()}
    return {
        name: {k: sized[d] for k, d in enumerate(row) if isinstance(d, str)}
        for name, row in dims.items()
    }
