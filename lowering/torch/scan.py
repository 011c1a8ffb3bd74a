"""`fuse.scan` as a torch module around its compiled step graph.

A `ScanModule` holds the scan's body as a `GraphModule`; the parent graph
calls it like any submodule, with the states, the scanned inputs and the
outer values the body reads. It runs the steps as a Python loop of eager
body calls, so autograd records every step and gradients flow back through
time; a stored scan stacks its states with one `torch.stack`, a virtual one
keeps only the current states. The body is called through `forward`,
skipping `nn.Module.__call__`'s hook dispatch, which would otherwise cost
as much per step as a small step's kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.fx import GraphModule

from fuse.lowering.progress import LoopProgress

Tensor = torch.Tensor


@dataclass(frozen=True)
class ScanSpec:
    """What is static about one scan (`fuse.scan`'s attributes)."""

    tensors: tuple[str, ...]
    states: int
    steps: int
    in_axes: tuple[int, ...]
    axis: int | None  # None: virtual
    reverse: bool
    progress: bool  # a bar on a terminal for a long scan (fuse.lowering.progress)


class ScanModule(torch.nn.Module):
    """Called with the initial states, the scanned inputs, then the
    captured outer values; returns the stacked (or last) states."""

    def __init__(self, spec: ScanSpec, body: GraphModule):
        super().__init__()
        self.spec = spec
        self.body = body

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        spec = self.spec
        count, scanned = spec.states, len(spec.in_axes)
        states = list(args[:count])
        xs = [
            x.movedim(axis, 0)
            for x, axis in zip(args[count : count + scanned], spec.in_axes, strict=True)
        ]
        captured = args[count + scanned :]
        step = self.body.forward
        history: list[list[Tensor]] = [[state] for state in states]
        order = range(spec.steps - 1, -1, -1) if spec.reverse else range(spec.steps)
        label = f"scan {', '.join(spec.tensors)}"
        with LoopProgress(label, spec.progress, total=spec.steps) as bar:
            for count, k in enumerate(order, start=1):
                states = list(step(*states, *(x[k] for x in xs), *captured))
                if spec.axis is not None:
                    for kept, state in zip(history, states, strict=True):
                        kept.append(state)
                bar.step(count)
        if spec.axis is None:
            return tuple(states)
        if spec.reverse:  # index order: the initial state last
            history = [kept[::-1] for kept in history]
        return tuple(torch.stack(kept, dim=spec.axis) for kept in history)
