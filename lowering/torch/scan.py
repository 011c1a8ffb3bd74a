"""`fuse.scan` as a torch module around its compiled step graph.

A `ScanModule` holds the scan's body as a `GraphModule`; the parent graph
calls it like any submodule, with the states, the scanned inputs and the
outer values the body reads. It runs the steps as a Python loop of eager
body calls, so autograd records every step and gradients flow back through
time; a stored scan stacks its states with one `torch.stack`, a virtual one
keeps only the current states. The body is called through `forward`,
skipping `nn.Module.__call__`'s hook dispatch, which would otherwise cost
as much per step as a small step's kernels.

Where the step count is a symbolic size (a plan at probe sizes, for
export), a Python loop would be unrolled by `torch.export` at one size
instead: the steps run as torch's `scan` higher-order op, which takes its
count from the scanned inputs' length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch._higher_order_ops import scan
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
    symbolic: bool = False  # steps follow a symbolic size: torch's `scan` op


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
        if spec.symbolic:
            return self._scan_op(states, xs, captured)
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

    def _scan_op(
        self, states: list[Tensor], xs: list[Tensor], captured: tuple[Tensor, ...]
    ) -> tuple[Tensor, ...]:
        """The steps as torch's `scan` op over `xs` (stacked along their
        first dimension), so that an exported graph keeps the step count
        symbolic. The op stacks its per-step outputs itself: a stored scan
        outputs each step's new states (cloned: the op's outputs must not
        alias its carry), in index order also when reversed."""
        spec = self.spec
        step, stored = self.body.forward, spec.axis is not None

        def combine(carry: list[Tensor], x: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
            new = list(step(*carry, *x, *captured))
            return new, [state.clone() for state in new] if stored else []

        last, stacked = scan(combine, states, xs, reverse=spec.reverse)
        if spec.axis is None:
            return tuple(last)
        # index order: the initial state first, or last when reversed
        joined = [
            torch.cat([steps, first[None]] if spec.reverse else [first[None], steps])
            for first, steps in zip(states, stacked, strict=True)
        ]
        return tuple(history.movedim(0, spec.axis) for history in joined)
