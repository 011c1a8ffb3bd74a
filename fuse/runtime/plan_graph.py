"""Pictures of plans: the dataflow graph of a compiled program as SVG.

`runner.explain().to_svg()` and `fuse explain PROGRAM --graph plan.svg`
draw `@main` at the dataflow level: inputs, every op (einsums with their
subscripts, contraction path and FLOPs, elementwise and normalization ops,
per-op time when the run was profiled), fixpoints as labelled clusters
holding their body, and the exports and sinks; edges carry the shapes of
the tensors that flow along them.

The graph is a `networkx.DiGraph` (`plan_graph`), laid out in layers by
topological generation, and drawn with matplotlib; both are pure Python, so
pictures need no system tool. Text stays text in the SVG (searchable,
selectable), not glyph outlines.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, ModuleOp, StringAttr, TensorType
from xdsl.ir import Block, Operation, SSAValue

from fuse.dialects.fuse import FixpointOp

_TENSOR_ATTRS = ("fuse.name", "fuse.sink")


def shape_text(value: SSAValue) -> str:
    if isinstance(value.type, TensorType):
        shape = value.type.get_shape()
        return "x".join(str(s) if s >= 0 else "?" for s in shape) or "scalar"
    return str(value.type)


def op_label(op: Operation) -> str:
    """One node's text: the op and what it does, one fact per line."""
    name = op.name.removeprefix("fuse.")
    facts = []
    for key, attr in op.properties.items():
        if isinstance(attr, StringAttr):
            facts.append(attr.data)
        elif isinstance(attr, IntegerAttr):
            facts.append(f"{key}={attr.value.data}")
    lines = [" ".join([name, *facts])]
    if isinstance(path := op.attributes.get("fuse.contraction_path"), ArrayAttr):
        steps = [[int(i.value.data) for i in step.data] for step in path.data]
        lines.append(f"path {steps}")
    return "\n".join(lines)


def plan_graph(module: ModuleOp, profile: Sequence[tuple[str, float]] = ()) -> Any:
    """`@main` as a DiGraph. Nodes have `label`, `kind` (input, op, state,
    output) and `cluster` (the fixpoint they belong to, or None); edges have
    `shape`. `profile` is the last profiled run's (step, seconds) list: an
    op whose step it names gets its time."""
    import networkx as nx

    main = next(o for o in module.ops if isinstance(o, func.FuncOp) and o.sym_name.data == "main")
    graph = nx.DiGraph()
    producers: dict[SSAValue, str] = {}
    names = _names(main)
    for n, arg in enumerate(main.body.block.args):
        node = f"in{n}"
        graph.add_node(
            node,
            label=f"{names.args.get(n, f'arg{n}')}\n{shape_text(arg)}",
            kind="input",
            cluster=None,
        )
        producers[arg] = node
    times = _Times(profile)
    _add_block(graph, main.body.block, producers, cluster=None, times=times)
    terminator = main.body.block.last_op
    assert terminator is not None
    for n, value in enumerate(terminator.operands):
        node = f"out{n}"
        graph.add_node(node, label=names.results.get(n, f"result {n}"), kind="output", cluster=None)
        _edge(graph, producers, value, node)
    return graph


class _Times:
    """Step times by the label the numpy backend's profiler gives each op,
    consumed in order (the same op text can repeat)."""

    def __init__(self, profile: Sequence[tuple[str, float]]):
        self.pending: dict[str, list[float]] = {}
        for step, seconds in profile:
            self.pending.setdefault(step, []).append(seconds)

    def of(self, op: Operation, depth: int) -> float | None:
        from fuse.lowering.numpy.plan import describe_step

        found = self.pending.get(describe_step(op, depth))
        return found.pop(0) if found else None


class _Names:
    def __init__(self) -> None:
        self.args: dict[int, str] = {}
        self.results: dict[int, str] = {}


def _names(main: func.FuncOp) -> _Names:
    names = _Names()
    for target, attrs in ((names.args, main.arg_attrs), (names.results, main.res_attrs)):
        for n, entry in enumerate(attrs.data if attrs is not None else ()):
            for key in _TENSOR_ATTRS:
                if isinstance(value := entry.data.get(key), StringAttr):
                    prefix = "export " if target is names.results and key == "fuse.name" else ""
                    prefix = "sink " if key == "fuse.sink" else prefix
                    target[n] = f"{prefix}{value.data}"
                    break
    return names


def _edge(graph: Any, producers: Mapping[SSAValue, str], value: SSAValue, node: str) -> None:
    source = producers.get(value)
    if source is not None:
        graph.add_edge(source, node, shape=shape_text(value))


def _add_block(
    graph: Any,
    block: Block,
    producers: dict[SSAValue, str],
    cluster: str | None,
    times: _Times,
    depth: int = 0,
) -> None:
    for op in block.ops:
        if op is block.last_op and not op.results and cluster is not None:
            continue  # a region's yield: its operands are the fixpoint's next values
        if isinstance(op, func.ReturnOp):
            continue
        if isinstance(op, FixpointOp):
            _add_fixpoint(graph, op, producers, times, depth)
            continue
        node = f"op{id(op)}"
        seconds = times.of(op, depth)
        label = op_label(op)
        if seconds is not None:
            label += f"\n{seconds * 1e3:.3f} ms"
        graph.add_node(node, label=label, kind="op", cluster=cluster)
        for operand in op.operands:
            _edge(graph, producers, operand, node)
        for result in op.results:
            producers[result] = node


def _add_fixpoint(
    graph: Any, op: FixpointOp, producers: dict[SSAValue, str], times: _Times, depth: int
) -> None:
    """A fixpoint's regions inside one cluster: each body argument (a
    current value, or its change) is a state node; the fixpoint's results
    come from the ops its body yields."""
    names = [str(n) for n in op.tensor_names]
    cluster = f"fixpoint {', '.join(names)} ({op.strategy.data})"
    times.of(op, depth)  # the fixpoint's own step: its time is its body's
    if op.init is not None and op.init.blocks:
        _add_block(graph, op.init.block, producers, cluster, times, depth + 1)
    block = op.body.block
    for n, arg in enumerate(block.args):
        node = f"state{id(arg)}"
        role = names[n] if n < len(names) else f"change of {names[n - len(names)]}"
        graph.add_node(node, label=f"{role}\n{shape_text(arg)}", kind="state", cluster=cluster)
        producers[arg] = node
    _add_block(graph, block, producers, cluster, times, depth + 1)
    assert block.last_op is not None
    for result, value in zip(op.results, block.last_op.operands, strict=False):
        if value in producers:
            producers[result] = producers[value]


def to_svg(graph: Any, title: str = "") -> str:
    """The graph drawn as SVG text."""
    return render(graph, "svg", title).decode()


def render(graph: Any, format: str, title: str = "") -> bytes:
    """The graph drawn in a matplotlib output format (svg, png, pdf)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import networkx as nx
    from matplotlib.patches import FancyBboxPatch

    layers = list(nx.topological_generations(graph)) if graph else []
    position = _layout(graph, layers)
    width = max((x for x, _ in position.values()), default=0.0) + 1
    figure, axes = plt.subplots(figsize=(max(4.0, 3.2 * width), max(3.0, 1.6 * len(layers))))
    # Text stays text; ids and metadata do not change between runs, so the
    # same plan gives the same file.
    with plt.rc_context({"svg.fonttype": "none", "svg.hashsalt": "fuse"}):
        _draw_clusters(axes, graph, position, FancyBboxPatch)
        colors = {"input": "#dbeafe", "output": "#dcfce7", "state": "#fef3c7", "op": "#f3f4f6"}
        for source, target, data in graph.edges(data=True):
            axes.annotate(
                "",
                xy=position[target],
                xytext=position[source],
                arrowprops={"arrowstyle": "->", "color": "#555555", "shrinkA": 18, "shrinkB": 18},
            )
            (x1, y1), (x2, y2) = position[source], position[target]
            axes.text(
                (x1 + x2) / 2,
                (y1 + y2) / 2,
                data["shape"],
                fontsize=7,
                color="#555555",
                ha="center",
                va="center",
            )
        for node, (x, y) in position.items():
            data = graph.nodes[node]
            axes.text(
                x,
                y,
                data["label"],
                ha="center",
                va="center",
                fontsize=8,
                bbox={
                    "boxstyle": "round,pad=0.4",
                    "facecolor": colors[data["kind"]],
                    "edgecolor": "#333333",
                },
            )
        axes.set_xlim(-0.7, width - 0.3)
        axes.set_ylim(-len(layers) + 0.4, 0.6)
        axes.axis("off")
        if title:
            axes.set_title(title, fontsize=10)
        buffer = io.BytesIO()
        metadata = {"Date": None} if format == "svg" else None
        figure.savefig(buffer, format=format, bbox_inches="tight", metadata=metadata)
    plt.close(figure)
    return buffer.getvalue()


def _layout(graph: Any, layers: list[list[str]]) -> dict[str, tuple[float, float]]:
    """Layers top to bottom by topological generation; the nodes outside
    fixpoints in the left columns, each fixpoint's nodes in columns of its
    own to the right, so a cluster's box holds only its members."""
    groups: dict[str | None, int] = {None: 0}
    for node in graph:
        groups.setdefault(graph.nodes[node]["cluster"], 0)
    for layer in layers:
        counts: dict[str | None, int] = {}
        for node in layer:
            cluster = graph.nodes[node]["cluster"]
            counts[cluster] = counts.get(cluster, 0) + 1
        for cluster, count in counts.items():
            groups[cluster] = max(groups[cluster], count)
    start, offset = {}, 0.0
    for cluster, columns in groups.items():
        start[cluster] = offset
        offset += columns + (0.5 if columns else 0.0)
    position = {}
    for depth, layer in enumerate(layers):
        members: dict[str | None, list[str]] = {}
        for node in sorted(layer):
            members.setdefault(graph.nodes[node]["cluster"], []).append(node)
        for cluster, nodes in members.items():
            left = start[cluster] + (groups[cluster] - len(nodes)) / 2  # centred in its columns
            for column, node in enumerate(nodes):
                position[node] = (left + column, -float(depth))
    return position


def _draw_clusters(
    axes: Any, graph: Any, position: Mapping[str, tuple[float, float]], patch: Any
) -> None:
    clusters: dict[str, list[tuple[float, float]]] = {}
    for node, data in graph.nodes(data=True):
        if data["cluster"] is not None:
            clusters.setdefault(data["cluster"], []).append(position[node])
    for name, points in clusters.items():
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        left, bottom = min(xs) - 0.45, min(ys) - 0.4
        axes.add_patch(
            patch(
                (left, bottom),
                max(xs) - min(xs) + 0.9,
                max(ys) - min(ys) + 0.85,
                boxstyle="round,pad=0.05",
                facecolor="#fffbeb",
                edgecolor="#b45309",
                linestyle="--",
            )
        )
        axes.text(left + 0.02, max(ys) + 0.38, name, fontsize=8, color="#b45309", va="top")
