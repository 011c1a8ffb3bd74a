"""`fuse-canonicalize-projections`: one rule per tensor, every projection
explicit.

At the declarative level it

1. renames each rule's indices positionally to its tensor's declared names
   (`Path(x, z) += ...` on a tensor declared `@Path[x, y]` becomes a rule on
   `[x, y]`), renaming body-local indices out of the way;
2. makes the projection rule of DESIGN.md §3 explicit: for every index the
   right-hand side has and the left-hand side lacks, take the innermost call
   argument containing all of its occurrences (else the whole right-hand
   side) and project every term of it that mentions the index, with the
   rule's projection (`fuse.project`);
3. folds trivial projections (no axes; a projection directly of a
   projection of the same kind);
4. merges all rules of one tensor into one whose body adds (or, for `max=`,
   maxes) their values. Rules with integer left-hand-side indices are kept
   apart, since they define slices.

```mlir
// before
fuse.rule @Y[i] sum {
  %0 = fuse.load @W[i, j] : !fuse.expr<i, j>
  %1 = fuse.load @X[j] : !fuse.expr<j>
  %2 = fuse.arith mul %0, %1 : !fuse.expr<i, j>, !fuse.expr<j>
  %3 = fuse.load @B[i] : !fuse.expr<i>
  %4 = fuse.arith add %2, %3 : !fuse.expr<i, j>, !fuse.expr<i>
  %5 = fuse.call relu(%4) : (!fuse.expr<i, j>) -> !fuse.expr<i, j>
  fuse.yield %5 : !fuse.expr<i, j>
}
// after: j is summed over the first term only, inside relu
fuse.rule @Y[i] sum {
  ...
  %2 = fuse.arith mul %0, %1 : !fuse.expr<i, j>, !fuse.expr<j>
  %3 = fuse.project sum [j] %2 : !fuse.expr<i, j>
  %4 = fuse.load @B[i] : !fuse.expr<i>
  %5 = fuse.arith add %3, %4 : !fuse.expr<i>, !fuse.expr<i>
  %6 = fuse.call relu(%5) : (!fuse.expr<i>) -> !fuse.expr<i>
  fuse.yield %6 : !fuse.expr<i>
}
```
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import ArithOp, CallOp, ProgramOp, ProjectOp, RuleOp, YieldOp
from fuse.dialects.fuse.attributes import ProjectionKind

from .expr_tree import BodyRebuilder, names_of, yielded_value

ScopeKey = tuple[int, int] | None  # (id of a fuse.call, operand number), None: the whole body


def _body_index_names(root: SSAValue) -> set[str]:
    names: set[str] = set()
    stack = [root]
    while stack:
        value = stack.pop()
        names.update(names_of(value))
        stack.extend(value.owner.operands)
        if isinstance(value.owner, ProjectOp):
            names.update(str(a) for a in value.owner.axes.data)
    return names


def _fresh(name: str, taken: set[str]) -> str:
    n = 1
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


def positional_renaming(rule: RuleOp, declared: tuple[str, ...]) -> dict[str, str]:
    """Maps the rule's left-hand-side names to the declared names by
    position, and body-local names that would collide to fresh ones."""
    rename: dict[str, str] = {}
    for position, target in zip(rule.indices.data, declared, strict=True):
        if isinstance(position, str):
            rename.setdefault(position, target)
    body_names = _body_index_names(yielded_value(rule.body))
    taken = body_names | set(declared)
    targets = set(rename.values())
    for local in sorted(body_names - set(rename)):
        if local in targets:
            fresh = _fresh(local, taken)
            taken.add(fresh)
            rename[local] = fresh
    return rename


def _live_leaves(root: SSAValue, index: str) -> dict[int, frozenset[int]]:
    """For every value in the tree, the ids of the leaves below it that
    mention `index` and are not already projected over it."""
    leaves: dict[int, frozenset[int]] = {}

    def visit(value: SSAValue) -> frozenset[int]:
        op = value.owner
        if isinstance(op, ProjectOp) and index in op.axes.data:
            found: frozenset[int] = frozenset()
            visit(op.operand)
        elif not op.operands:
            found = frozenset({id(op)}) if index in names_of(value) else frozenset()
        else:
            found = frozenset().union(*(visit(o) for o in op.operands))
        leaves[id(value)] = found
        return found

    visit(root)
    return leaves


def projection_scopes(root: SSAValue, kept: tuple[str, ...]) -> dict[ScopeKey, list[str]]:
    """Where each projected index is projected: the innermost call argument
    that holds all of its occurrences, or the whole body (`None`)."""
    calls = [v.owner for v in _tree_values(root) if isinstance(v.owner, CallOp)]
    scopes: dict[ScopeKey, list[str]] = defaultdict(list)
    for index in names_of(root):
        if index in kept:
            continue
        leaves = _live_leaves(root, index)
        everything = leaves[id(root)]
        best: ScopeKey = None
        best_size = len(_tree_values(root))
        for call in calls:
            for number, arg in enumerate(call.args):
                if id(arg) in leaves and leaves[id(arg)] >= everything:
                    size = len(_tree_values(arg))
                    if size < best_size:
                        best, best_size = (id(call), number), size
        scopes[best].append(index)
    return scopes


def _tree_values(root: SSAValue) -> list[SSAValue]:
    values, stack = [], [root]
    while stack:
        value = stack.pop()
        values.append(value)
        stack.extend(value.owner.operands)
    return values


class _ProjectingRebuilder(BodyRebuilder):
    """Rebuilds a body with renamed indices and explicit projections."""

    def __init__(
        self,
        rename: dict[str, str],
        scopes: dict[ScopeKey, list[str]],
        kind: ProjectionKind,
    ):
        super().__init__(rename)
        self.scopes = scopes
        self.kind = kind

    def into_region(self, root: SSAValue) -> Region:
        self.block.add_op(YieldOp(self.rebuild_scope(root, self.scopes.get(None, []))))
        return Region(self.block)

    def rebuild(self, value: SSAValue) -> SSAValue:
        op = value.owner
        if isinstance(op, ProjectOp):
            return self.rebuild_projection(op)
        if isinstance(op, CallOp) and op.args:
            args = [
                self.rebuild_scope(arg, self.scopes.get((id(op), n), []))
                for n, arg in enumerate(op.args)
            ]
            return self.emit(self.rebuild_call(op, args))
        return self.rebuild_node(value)

    def rebuild_projection(self, op: ProjectOp) -> SSAValue:
        """Folds empty projections and same-kind projections of projections."""
        axes = [str(a) for a in op.axes.data]
        operand = op.operand
        inner = operand.owner
        while isinstance(inner, ProjectOp) and inner.kind == op.kind:
            axes += [str(a) for a in inner.axes.data]
            operand = inner.operand
            inner = operand.owner
        rebuilt = self.rebuild(operand)
        if not axes:
            return rebuilt
        return self.emit(ProjectOp(op.kind.data, [str(self.name(a)) for a in axes], rebuilt))

    def rebuild_scope(self, value: SSAValue, axes: list[str]) -> SSAValue:
        """Projects each term of a sum that mentions one of `axes`."""
        op = value.owner
        if axes and isinstance(op, ArithOp) and op.fn.data in ("add", "sub"):
            return self.emit(
                ArithOp(
                    op.fn.data, self.rebuild_scope(op.lhs, axes), self.rebuild_scope(op.rhs, axes)
                )
            )
        term = self.rebuild(value)
        renamed = [str(self.name(a)) for a in axes]
        mentioned = [a for a in renamed if a in names_of(term)]
        if not mentioned:
            return term
        return self.emit(ProjectOp(self.kind, mentioned, term))


def canonicalize_rule(rule: RuleOp, declared: tuple[str, ...]) -> None:
    rename = positional_renaming(rule, declared)
    root = yielded_value(rule.body)
    lhs_names = tuple(p for p in rule.indices.data if isinstance(p, str))
    scopes = projection_scopes(root, lhs_names)
    body = _ProjectingRebuilder(rename, scopes, rule.projection_kind).into_region(root)
    canonical = RuleOp(
        rule.tensor_name,
        [declared[n] if isinstance(p, str) else p for n, p in enumerate(rule.indices.data)],
        rule.projection_kind,
        body,
    )
    canonical.location = rule.location
    canonical.attributes |= rule.attributes
    block = rule.parent_block()
    assert block is not None
    block.insert_op_before(canonical, rule)
    block.erase_op(rule)


def _combine_kind(rules: list[RuleOp]) -> ProjectionKind:
    kinds = {r.projection_kind for r in rules}
    if ProjectionKind.MAX in kinds:
        if len(kinds) > 1:
            raise DiagnosticException(
                f"tensor @{rules[0].tensor_name} mixes max= with other operators"
            )
        return ProjectionKind.MAX
    return ProjectionKind.SUM


def merge_rules(rules: list[RuleOp]) -> None:
    """Replaces the rules of one tensor (same left-hand side) by one rule."""
    kind = _combine_kind(rules)
    block = Block()
    combined: SSAValue | None = None
    for rule in rules:
        value = yielded_value(rule.body)
        for op in list(rule.body.block.ops)[:-1]:
            op.detach()
            op.location = rule.location  # each equation's own, for diagnostics
            block.add_op(op)
        if combined is None:
            combined = value
        else:
            fn = "max" if kind is ProjectionKind.MAX else "add"
            arith = ArithOp(fn, combined, value)
            block.add_op(arith)
            combined = arith.result
    assert combined is not None
    block.add_op(YieldOp(combined))
    first = rules[0]
    merged = RuleOp(first.tensor_name, first.indices.data, kind, Region(block))
    merged.location = first.location
    parent = first.parent_block()
    assert parent is not None
    parent.insert_op_before(merged, first)
    for rule in rules:
        parent.erase_op(rule)


def canonicalize_program(program: ProgramOp) -> None:
    by_tensor: dict[str, list[RuleOp]] = defaultdict(list)
    for rule in [op for op in program.body.block.ops if isinstance(op, RuleOp)]:
        declaration = program.lookup_tensor(rule.tensor_name)
        assert declaration is not None, "the verifier checks declarations"
        canonicalize_rule(rule, tuple(str(n) for n in declaration.indices.data))
    for op in program.body.block.ops:
        if isinstance(op, RuleOp) and all(isinstance(p, str) for p in op.indices.data):
            by_tensor[op.tensor_name].append(op)
    for rules in by_tensor.values():
        if len(rules) > 1:
            merge_rules(rules)


@dataclass(frozen=True)
class CanonicalizeProjectionsPass(ModulePass):
    """See the module docstring."""

    name = "fuse-canonicalize-projections"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in [o for o in op.walk() if isinstance(o, ProgramOp)]:
            canonicalize_program(program)
