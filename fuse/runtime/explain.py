"""`runner.explain()`: what each equation became, and what the last run did.

Equations are described from the canonical declarative level (after
`fuse-canonicalize-projections`), where each tensor has one rule whose
projections are explicit; strata come from the same dependency analysis
`fuse-stratify` uses.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xdsl.dialects.builtin import ArrayAttr, FileLineColLoc, ModuleOp, StringAttr
from xdsl.ir import Operation

from fuse.dialects.fuse import (
    ConvOp,
    FixpointOp,
    LoadOp,
    PoolOp,
    ProgramOp,
    ProjectOp,
    RuleOp,
    ScanOp,
)
from fuse.passes.recognize_recurrences import FIXPOINT_REASON, WITHIN_STEP
from fuse.passes.stratify import dependency_graph, is_recursive, strongly_connected_components


@dataclass(frozen=True)
class RuleSummary:
    tensor: str
    location: str
    einsum: str
    projections: tuple[str, ...]
    stratum: int
    recursive: bool
    # How the dataflow level runs the equation: native ops
    # (`fuse-recognize-convolutions`: "fuse.conv 2-d ...", "fuse.pool max
    # 2x2"), or for a recursive equation the scan or fixpoint (and why).
    runs_as: tuple[str, ...] = ()


def _einsum_of(rule: RuleOp) -> str:
    """The rule as a join: `W[i,j] X[j] -> Y[i]`."""
    loads = [
        f"{op.tensor_name}[{','.join(str(i) for i in op.indices.data)}]"
        for op in rule.body.walk()
        if isinstance(op, LoadOp)
    ]
    lhs = f"{rule.tensor_name}[{','.join(str(i) for i in rule.indices.data)}]"
    return f"{' '.join(loads) or '(literal)'} -> {lhs}"


def _location(op: Operation) -> str:
    loc = op.location
    if isinstance(loc, FileLineColLoc):
        return f"{loc.filename.data}:{loc.line.data}:{loc.column.data}"
    return "?"


class ExplainReport(str):
    """What `runner.explain()` returns: the text (it is a `str`, so printing
    and comparing work as before) and the plan it describes, drawn on
    request: `to_svg()`, or inline in a notebook (`_repr_svg_`)."""

    module: Any
    profile: tuple[tuple[str, float], ...]

    def __new__(
        cls, text: str, module: Any, profile: Sequence[tuple[str, float]] = ()
    ) -> ExplainReport:
        report = super().__new__(cls, text)
        report.module = module
        report.profile = tuple(profile)
        return report

    def graph(self) -> Any:
        """The dataflow graph as a `networkx.DiGraph` (fuse.runtime.plan_graph)."""
        from fuse.runtime.plan_graph import plan_graph

        return plan_graph(self.module, self.profile)

    def to_svg(self, path: str | os.PathLike[str] | None = None) -> str:
        """The dataflow graph as SVG text, also written to `path` if given."""
        from fuse.runtime.plan_graph import to_svg

        svg = to_svg(self.graph())
        if path is not None:
            from fuse.runtime.io import atomic_write

            atomic_write(Path(path), lambda stream: stream.write(svg.encode()))
        return svg

    def _repr_svg_(self) -> str:
        return self.to_svg()


@dataclass
class Explanation:
    rules: list[RuleSummary]

    def render(
        self,
        backend: str,
        compile_seconds: float,
        run_seconds: float | None,
        executable: object,
    ) -> str:
        lines = [f"backend: {backend}   compile: {compile_seconds * 1e3:.1f} ms"]
        if run_seconds is not None:
            lines.append(f"last run: {run_seconds * 1e3:.3f} ms")
        lines.append("")
        lines.append("equations (stratum, location, canonical einsum, projections):")
        for rule in self.rules:
            tag = " recursive" if rule.recursive else ""
            projections = "; ".join(rule.projections) or "none"
            lines.append(
                f"  [{rule.stratum}{tag}] {rule.location}  {rule.einsum}   projected: {projections}"
            )
            if rule.runs_as:
                lines.append(f"      runs as {'; '.join(rule.runs_as)}")
        iterations = getattr(executable, "fixpoint_iterations", None) or {}
        if iterations:
            lines.append("")
            lines.append("fixpoints (iterations in the last run):")
            lines += [f"  {names}: {count}" for names, count in iterations.items()]
        profile = getattr(executable, "last_profile", None) or []
        if profile:
            lines.append("")
            lines.append("steps of the last run:")
            lines += [f"  {seconds * 1e3:9.3f} ms  {step}" for step, seconds in profile]
        return "\n".join(lines)


def _native(op: ConvOp | PoolOp) -> str:
    if isinstance(op, ConvOp):
        strides = "x".join(map(str, op.stride_values))
        dilations = "x".join(map(str, op.dilation_values))
        rank = len(op.stride_values)
        return f"fuse.conv {rank}-d {op.layout.data} (strides {strides}, dilations {dilations})"
    window = "x".join(map(str, op.window_values))
    return f"fuse.pool {op.kind.data.value} (window {window})"


def with_native_ops(explanation: Explanation, module: ModuleOp) -> Explanation:
    """`explanation` with each equation's convolutions and pools in
    `module` (the dataflow level after its passes), matched by location."""
    found: dict[str, list[str]] = {}
    for op in module.walk():
        if isinstance(op, ConvOp | PoolOp):
            found.setdefault(_location(op), []).append(_native(op))
    rules = [
        replace(rule, runs_as=tuple(found.get(rule.location, ()))) for rule in explanation.rules
    ]
    return Explanation(rules)


def describe_rules(program: ProgramOp) -> Explanation:
    graph = dependency_graph(program)
    strata: dict[str, tuple[int, bool]] = {}
    for number, component in enumerate(strongly_connected_components(graph)):
        for name in component:
            strata[name] = (number, is_recursive(component, graph))
    summaries = []
    for rule in program.body.block.ops:
        if not isinstance(rule, RuleOp):
            continue
        projections = tuple(
            f"{op.kind.data} over {','.join(str(a) for a in op.axes.data)}"
            for op in rule.body.walk()
            if isinstance(op, ProjectOp)
        )
        stratum, recursive = strata[rule.tensor_name]
        summaries.append(
            RuleSummary(
                rule.tensor_name, _location(rule), _einsum_of(rule), projections, stratum, recursive
            )
        )
    summaries.sort(key=lambda s: s.stratum)
    return Explanation(summaries)


def how_recursions_run(module: ModuleOp) -> dict[str, str]:
    """Each recursive tensor of the dataflow level: the scan it became or
    the fixpoint it stays (with `fuse-recognize-recurrences`' reason)."""
    found: dict[str, str] = {}
    for op in module.walk():
        if isinstance(op, ScanOp):
            kind = "virtual" if op.is_virtual else f"stored along dimension {op.stacking_axis}"
            direction = ", reversed" if op.is_reverse else ""
            text = f"a scan: {op.step_count} steps, {kind}{direction}"
            found.update(dict.fromkeys(op.tensor_names, text))
            within = op.attributes.get(WITHIN_STEP)
            for name in within.data if isinstance(within, ArrayAttr) else ():
                found[name.data] = (
                    f"{text}, within each step of the scan of {', '.join(op.tensor_names)}"
                )
        elif isinstance(op, FixpointOp):
            reason = op.attributes.get(FIXPOINT_REASON)
            text = f"a fixpoint: {reason.data}" if isinstance(reason, StringAttr) else "a fixpoint"
            found.update(dict.fromkeys(op.tensor_names, text))
    return found


def with_recursions(explanation: Explanation, module: ModuleOp) -> Explanation:
    """`explanation` saying how each recursive equation runs in `module`."""
    runs = how_recursions_run(module)
    return Explanation(
        [
            replace(rule, runs_as=(*rule.runs_as, runs[rule.tensor]))
            if rule.recursive and rule.tensor in runs
            else rule
            for rule in explanation.rules
        ]
    )
