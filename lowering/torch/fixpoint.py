"""`fuse.fixpoint` as a torch module around compiled body graphs.

Each fixpoint is a `FixpointModule` holding its body (and, for
semi-naive, its init region) as separate `GraphModule`s; the parent graph
calls it like any submodule, passing the outer values the regions read.
It iterates as the NumPy backend does (`fuse.lowering.numpy.fixpoint`):

    prev, cur = zeros, init()            # naive: body(zeros)
    while not max |cur - prev| <= tolerance:      (a NaN change never converges)
        delta_i = cur_i - prev_i                      (difference)
                | where(cur_i != prev_i, cur_i, 0)    (changed)
        prev, cur = cur, body(cur..., delta...)       # naive: body(cur...)

with the loop driven one of two ways (the measurements behind the choice
are in docs/torch_backend.md):

* eagerly, a Python loop that reads the change back once per iteration.
  Per-iteration cost is one small sync; autograd records the unrolled
  iterations, so gradients flow through a fixpoint;
* under `torch.compile` or `torch.export` (`torch.compiler.is_compiling()`),
  torch's `while_loop` higher-order op, so the whole program stays one graph
  with no data-dependent Python branch (which would break a compiled graph
  and cannot be exported). Inductor cannot compile the backward of
  `while_loop`, so a compiled run that differentiates through a fixpoint
  runs that fixpoint's host loop eagerly (`torch.compiler.disable`) and
  compiles the rest of the program.

Divergence is reported, not raised, inside the module: it returns its
results followed by a status tensor with one row `[hit bound, iterations,
last change]` for itself and then one per fixpoint nested in it (init
region first, then body; nested iterations add up over the outer steps, as
on NumPy). The graph passes statuses out as its last output and the
executable raises `FixpointDivergence` from them, so eager, compiled and
exported runs all report divergence the same way. An outer loop stops at
once when a nested fixpoint hits its bound.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch._higher_order_ops import while_loop

from fuse.lowering.fixpoint_loop import converge

Tensor = torch.Tensor
Rows = Tensor | None  # status rows of nested fixpoints, if any
STATUS_COLUMNS = 3  # hit bound, iterations, last change


@dataclass(frozen=True)
class FixpointSpec:
    """What is static about one fixpoint."""

    tensors: tuple[str, ...]
    deltas: tuple[str, ...]  # one DeltaKind per result; empty: naive
    tolerance: float
    max_iters: int
    exact: bool  # Boolean results, tolerance < 1: converged means equal
    init_rows: int  # status rows of fixpoints nested in the init region
    body_rows: int  # ... and in the body
    progress: bool  # a progress bar on a terminal after a second (eager loop)


def _split(outputs: Sequence[Tensor], count: int, rows: int) -> tuple[list[Tensor], Rows]:
    """A region graph's outputs: its yielded values, then its status rows
    when it holds fixpoints (else None)."""
    return list(outputs[:count]), (outputs[count] if rows else None)


def _accumulate(old: Tensor, new: Tensor) -> Tensor:
    """Nested status rows across outer steps: the latest bound flag and
    change, iterations added up. Always a new tensor (`while_loop` bodies
    must not return their inputs)."""
    return torch.cat([new[:, :1], old[:, 1:2] + new[:, 1:2], new[:, 2:]], dim=1)


def _change(cur: Sequence[Tensor], prev: Sequence[Tensor]) -> Tensor:
    """max |cur - prev| over every element of every result, in fp32 (NaN
    propagates); 0 when every result is empty. Detached: it steers the loop
    and is no part of any result."""
    maxima = [
        torch.linalg.vector_norm(c.detach().float() - p.detach().float(), ord=math.inf)
        for c, p in zip(cur, prev, strict=True)
        if c.numel()
    ]
    if not maxima:
        return torch.zeros((), device=cur[0].device)
    return torch.stack(maxima).amax()


def _deltas(kinds: Sequence[str], cur: Sequence[Tensor], prev: Sequence[Tensor]) -> list[Tensor]:
    """One delta per result of a semi-naive fixpoint (naive: no kinds, none)."""
    return [
        c - p if kind == "difference" else torch.where(c != p, c, 0.0)
        for kind, c, p in zip(kinds, cur, prev, strict=False)
    ]


class FixpointModule(torch.nn.Module):
    """One `fuse.fixpoint`: `forward(*captured) -> (*results, status)`, or
    `forward(*zeros, *captured)` where the caller passes the zero states."""

    def __init__(
        self,
        spec: FixpointSpec,
        body: torch.fx.GraphModule,
        init: torch.fx.GraphModule | None,
        zeros: Sequence[Tensor] | int,
    ):
        """`zeros`: the results' zero states as buffers, or how many of them
        the caller passes first (a graph with symbolic sizes makes them
        from its inputs' sizes, fuse.lowering.torch.symbolic)."""
        super().__init__()
        self.spec = spec
        self.body = body
        self.init = init
        self.passed = isinstance(zeros, int)
        self.results = zeros if isinstance(zeros, int) else len(zeros)
        for n, zero in enumerate(() if isinstance(zeros, int) else zeros):
            self.register_buffer(f"zero{n}", zero)

    def split(self, arguments: Sequence[Tensor]) -> tuple[list[Tensor], Sequence[Tensor]]:
        """`forward`'s arguments as (zero states, captured values)."""
        if self.passed:
            return list(arguments[: self.results]), arguments[self.results :]
        return [getattr(self, f"zero{n}") for n in range(self.results)], arguments

    def forward(self, *arguments: Tensor) -> tuple[Tensor, ...]:
        zeros, captured = self.split(arguments)
        if not torch.compiler.is_compiling():
            return self.host_loop(zeros, captured)
        differentiating = torch.is_grad_enabled() and any(t.requires_grad for t in captured)
        if differentiating and not torch.compiler.is_exporting():
            # Inductor cannot compile `while_loop`'s backward: run this
            # fixpoint eagerly (autograd records it) and compile the rest.
            return _eager_host_loop(self, zeros, captured)
        return self.compiled_loop(zeros, captured)

    def _start(
        self, zeros: Sequence[Tensor], captured: Sequence[Tensor]
    ) -> tuple[list[Tensor], Rows, Rows]:
        """First values (init, or the body applied to zeros) and the status
        rows of nested fixpoints in the init region and in the body (None
        where there are none)."""
        spec = self.spec
        if self.init is None:
            first, body_rows = _split(self.body(*zeros, *captured), self.results, spec.body_rows)
            return first, None, body_rows
        first, init_rows = _split(self.init(*captured), self.results, spec.init_rows)
        body_rows = None
        if spec.body_rows:
            body_rows = torch.zeros((spec.body_rows, STATUS_COLUMNS), device=zeros[0].device)
        return first, init_rows, body_rows

    def host_loop(self, zeros: Sequence[Tensor], captured: Sequence[Tensor]) -> tuple[Tensor, ...]:
        """The loop in Python around the region graphs (eager runs), stopped
        by `fixpoint_loop.converge` as on NumPy."""
        spec = self.spec
        first, init_rows, body_rows = self._start(zeros, captured)
        prev = list(zeros)

        def steps() -> Iterator[tuple[float, list[Tensor]]]:
            nonlocal prev, body_rows
            cur = first
            while True:
                yield self._host_change(cur, prev), cur
                deltas = _deltas(spec.deltas, cur, prev)
                prev = cur  # the previous values die before the body allocates
                outputs = self.body(*cur, *deltas, *captured)
                cur, rows = _split(outputs, self.results, spec.body_rows)
                if rows is not None:
                    body_rows = _accumulate(body_rows, rows)

        outcome = converge(
            steps(),
            spec.tensors,
            spec.tolerance,
            spec.max_iters,
            spec.progress,
            halted=lambda: _nested_hit_bound(init_rows, body_rows),
        )
        cur = outcome.values
        # On divergence, the change's size for the report (not just "changed").
        change = float(_change(cur, prev)) if outcome.diverged else outcome.change
        own = torch.tensor(
            [[float(outcome.diverged), outcome.iterations, change]], device=prev[0].device
        )
        nested = [rows for rows in (init_rows, body_rows) if rows is not None]
        return (*cur, torch.cat([own, *nested]) if nested else own)

    def _host_change(self, cur: Sequence[Tensor], prev: Sequence[Tensor]) -> float:
        """The change as a number. For Boolean results `torch.equal` decides
        (one pass that stops at the first difference, as a hand-written
        loop would check): 0, or infinity for a change of unknown size."""
        if not self.spec.exact:
            return float(_change(cur, prev))
        return 0.0 if all(torch.equal(c, p) for c, p in zip(cur, prev, strict=True)) else math.inf

    def compiled_loop(
        self, zeros: Sequence[Tensor], captured: Sequence[Tensor]
    ) -> tuple[Tensor, ...]:
        """The loop as torch's `while_loop` (compiled and exported runs).
        Absent status rows become empty tensors: loop-carried values must be
        tensors, and in a compiled graph they cost nothing."""
        spec, results = self.spec, self.results
        cur, init_rows, body_rows = self._start(zeros, captured)
        device = zeros[0].device
        init_rows = _rows_or_empty(init_rows, device)
        body_rows = _rows_or_empty(body_rows, device)
        init_ok = ~(init_rows[:, 0] > 0).any()

        def proceed(count: Tensor, change: Tensor, rows: Tensor, *state: Tensor) -> Tensor:
            nested_ok = init_ok & ~(rows[:, 0] > 0).any()
            return ~(change <= spec.tolerance) & (count < spec.max_iters) & nested_ok

        def step(count: Tensor, change: Tensor, rows: Tensor, *state: Tensor) -> tuple:
            cur, deltas = state[:results], state[results:]
            nxt, new_rows = _split(self.body(*cur, *deltas, *captured), results, spec.body_rows)
            return (
                count + 1,
                _change(nxt, cur),
                _accumulate(rows, _rows_or_empty(new_rows, device)),
                *nxt,
                *_deltas(spec.deltas, nxt, cur),
            )

        count = torch.ones((), dtype=torch.int64, device=device)
        start = (count, _change(cur, zeros), body_rows, *cur, *_deltas(spec.deltas, cur, zeros))
        count, change, body_rows, *state = while_loop(proceed, step, start)
        hit_bound = ~(change <= spec.tolerance) & init_ok & ~(body_rows[:, 0] > 0).any()
        own = torch.stack([hit_bound.float(), count.float(), change]).unsqueeze(0)
        return (*state[:results], torch.cat([own, init_rows, body_rows]))


@torch.compiler.disable
def _eager_host_loop(
    module: FixpointModule, zeros: Sequence[Tensor], captured: Sequence[Tensor]
) -> tuple[Tensor, ...]:
    return module.host_loop(zeros, captured)


def _rows_or_empty(rows: Rows, device: torch.device) -> Tensor:
    return torch.zeros((0, STATUS_COLUMNS), device=device) if rows is None else rows


def _nested_hit_bound(init_rows: Rows, body_rows: Rows) -> bool:
    """Whether a nested fixpoint hit its bound (no sync without nesting)."""
    return any(bool((rows[:, 0] > 0).any()) for rows in (init_rows, body_rows) if rows is not None)
