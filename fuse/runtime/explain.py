"""`runner.explain()`: what each equation became, and what the last run did.

Equations are described from the canonical declarative level (after
`fuse-canonicalize-projections`), where each tensor has one rule whose
projections are explicit; strata come from the same dependency analysis
`fuse-stratify` uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from xdsl.dialects.builtin import FileLineColLoc, ModuleOp, StringAttr

from fuse.dialects.fuse import FixpointOp, LoadOp, ProgramOp, ProjectOp, RuleOp, ScanOp
from fuse.passes.recognize_recurrences import FIXPOINT_REASON
from fuse.passes.stratify import dependency_graph, is_recursive, strongly_connected_components


@dataclass(frozen=True)
class RuleSummary:
    tensor: str
    location: str
    einsum: str
    projections: tuple[str, ...]
    stratum: int
    recursive: bool
    # A recursive equation: the scan or the fixpoint it runs as (and why).
    runs_as: str = ""


def _einsum_of(rule: RuleOp) -> str:
    """The rule as a join: `W[i,j] X[j] -> Y[i]`."""
    loads = [
        f"{op.tensor_name}[{','.join(str(i) for i in op.indices.data)}]"
        for op in rule.body.walk()
        if isinstance(op, LoadOp)
    ]
    lhs = f"{rule.tensor_name}[{','.join(str(i) for i in rule.indices.data)}]"
    return f"{' '.join(loads) or '(literal)'} -> {lhs}"


def _location(rule: RuleOp) -> str:
    loc = rule.location
    if isinstance(loc, FileLineColLoc):
        return f"{loc.filename.data}:{loc.line.data}:{loc.column.data}"
    return "?"


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
                lines.append(f"      runs as {rule.runs_as}")
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
            replace(rule, runs_as=runs.get(rule.tensor, "")) if rule.recursive else rule
            for rule in explanation.rules
        ]
    )
