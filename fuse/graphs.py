"""Reachability over tensor dependency graphs (`tensor -> tensors it
reads`), as the front end's training-loop rewrite and the REPL's kept
values walk them; the IR-level graph and its strata are in
`fuse.passes.dependencies`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def reachable(starts: Iterable[str], graph: Mapping[str, Iterable[str]]) -> set[str]:
    """`starts` and every node reached from them along `graph`'s edges."""
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack += graph.get(node, ())
    return seen


def reversed_graph(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """Each node's predecessors: the readers of each tensor."""
    readers: dict[str, set[str]] = {}
    for node, successors in graph.items():
        for successor in successors:
            readers.setdefault(successor, set()).add(node)
    return readers
