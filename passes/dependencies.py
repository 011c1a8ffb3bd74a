"""The dependency graph of a program's tensors and its strongly connected
components: what `fuse-stratify` orders, what `fuse-recognize-recurrences`
and `fuse-demand` inspect, and what `explain()` reports as strata."""

from __future__ import annotations

from fuse.dialects.fuse import LoadOp, ProgramOp, RuleOp, TensorOp

from .expr_tree import body_ops


def dependency_graph(program: ProgramOp) -> dict[str, list[str]]:
    """Tensor -> the tensors its rules read, in first-read order."""
    graph: dict[str, list[str]] = {
        op.tensor_name: [] for op in program.body.block.ops if isinstance(op, TensorOp)
    }
    for rule in program.body.block.ops:
        if isinstance(rule, RuleOp):
            reads = graph[rule.tensor_name]
            for op in body_ops(rule.body):
                if isinstance(op, LoadOp) and op.tensor_name not in reads:
                    reads.append(op.tensor_name)
    return graph


def strongly_connected_components(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively. Components come out dependencies
    first, which is the evaluation order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    order = {name: position for position, name in enumerate(graph)}
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(graph[succ])))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component, key=order.__getitem__))
    return components


def is_recursive(component: list[str], graph: dict[str, list[str]]) -> bool:
    return len(component) > 1 or component[0] in graph[component[0]]
