"""`fuse-canonicalize-projections`: one rule per tensor, every projection
explicit.

At the declarative level it

1. renames each rule's indices positionally to its tensor's declared names
   (`Path(x, z) += ...` on a tensor declared `@Path[x, y]` becomes a rule on
   `[x, y]`), renaming body-local indices out of the way;
2. makes the projection rule of DESIGN.md §3 explicit (`fuse.project`,
   with the rule's projection): every index the right-hand side has and the
   left-hand side lacks is projected where it is joined, over the smallest
   product, power, call argument or right-hand side holding all its
   occurrences; an index whose occurrences meet only in a sum is projected
   over the innermost power whose base holds the sum, else per term
   (`max=`: over the whole sum). Parentheses only group: products and sums are flattened, so
   `1 (A[i, j] + B[i])` sums `j` over `A` alone, like `A[i, j] + B[i]`;
3. folds trivial projections (no axes; a projection directly of a
   projection of the same kind);
4. merges all rules of one tensor into one whose body adds (or, for `max=`,
   maxes) their values. Rules with integer left-hand-side indices are kept
   apart, since they define slices, and so are rules with index arithmetic,
   whose indices range over what their own accesses allow;
5. gives every projection's indices names of their own within the rule
   (alpha-renaming): an index projected inside one term is local to that
   term, so `Y[i] = A[i, j] B[j] + C[i, j] D[j]` becomes `... sum [j] ...
   + ... sum [j_1] ...`, and `j` may have size 4 in the first term and 2
   in the second (DESIGN.md §3, case 4). The same holds for the equations
   of one tensor that step 4 merges (`L = t1` plus `L += t2`).

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
// after: j is summed over the product W X, the first term inside relu
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
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import (
    ArithOp,
    CallOp,
    LoadOp,
    NegateOp,
    ProgramOp,
    ProjectOp,
    RuleOp,
    YieldOp,
)
from fuse.dialects.fuse.affine import IndexPosition, rename_position
from fuse.dialects.fuse.attributes import ProjectionKind
from fuse.dialects.fuse.declarative import programs

from .expr_tree import BodyRebuilder, body_ops, names_of, yielded_value
from .index_ranges import ranged_tensors
from .infer_shapes import location_prefix


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


_PRODUCT_FNS = ("mul", "div")
_SUM_FNS = ("add", "sub")


class _Node:
    """One use of a value in a rule body: the body as a tree, so a value
    used twice is two nodes and every node has one parent."""

    __slots__ = ("children", "depth", "parent", "value")

    def __init__(self, value: SSAValue, parent: _Node | None):
        self.value = value
        self.parent = parent
        self.depth = 0 if parent is None else parent.depth + 1
        self.children: list[_Node] = []

    @property
    def op(self) -> Operation:
        return self.value.owner

    def is_product_part(self) -> bool:
        """A `mul`, `div` or `negate`: one link of a product of factors."""
        op = self.op
        return isinstance(op, NegateOp) or (isinstance(op, ArithOp) and op.fn.data in _PRODUCT_FNS)

    def is_sum_part(self) -> bool:
        op = self.op
        return isinstance(op, ArithOp) and op.fn.data in _SUM_FNS

    def is_power(self) -> bool:
        op = self.op
        return isinstance(op, ArithOp) and op.fn.data == "pow"

    def is_call_argument(self) -> bool:
        return self.parent is not None and isinstance(self.parent.op, CallOp)

    def is_product(self) -> bool:
        """The top of a product: parentheses only group, so `A (B C)` is one
        product of three factors."""
        return self.is_product_part() and not (self.parent and self.parent.is_product_part())

    def is_sum(self) -> bool:
        return self.is_sum_part() and not (self.parent and self.parent.is_sum_part())

    def terms(self) -> list[_Node]:
        """The terms of the sum this node tops (`A - (B + C)` has three)."""
        terms, stack = [], [self]
        while stack:
            node = stack.pop()
            if node.is_sum_part():
                stack.extend(reversed(node.children))
            else:
                terms.append(node)
        return terms


def _body_tree(root: SSAValue) -> _Node:
    top = _Node(root, None)
    stack = [top]
    while stack:
        node = stack.pop()
        node.children = [_Node(operand, node) for operand in node.op.operands]
        stack.extend(node.children)
    return top


def _occurrences(node: _Node, index: str) -> list[_Node]:
    """The leaves below `node` that mention `index` where it is still free:
    a projection over it, or a call that consumes it (`attention`), hides
    the occurrences below."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if index not in names_of(current.value):
            continue
        if current.children:
            stack.extend(current.children)
        else:
            found.append(current)
    return found


def _smallest_common(nodes: list[_Node]) -> _Node:
    """The smallest subtree holding all of `nodes`."""
    common = nodes[0]
    for node in nodes[1:]:
        while node.depth > common.depth:
            node = node.parent  # type: ignore[assignment]
        while common.depth > node.depth:
            common = common.parent  # type: ignore[assignment]
        while node is not common:
            node, common = node.parent, common.parent  # type: ignore[assignment]
    return common


def place_projection(
    index: str, scope: _Node, kind: ProjectionKind, placements: dict[int, list[str]]
) -> None:
    """Records in `placements` (node id -> indices) where `index` is
    projected within `scope` (the whole body, or one term of a sum), by the
    projection rule of DESIGN.md §3:

    1. take the smallest subexpression holding all its occurrences that is
       a product, a power, a sum, a call argument or the scope itself;
    2. a product, power, call argument or scope that is not a sum: project
       over it;
    3. a sum below a power's base (before the nearest call argument or the
       scope): project over the innermost such power. (The rule's other
       case, a product joining the index, cannot arise here: all
       occurrences lie in the sum, so within one factor of any product
       above it.)
    4. otherwise, under `max=` project over the sum as a whole; under a sum
       or mean, apply the rule to each term that mentions the index, as if
       the term were the whole right-hand side (so `L = t1 + t2` means
       `L = t1` plus `L += t2`)."""
    occurrences = _occurrences(scope, index)
    if not occurrences:
        return
    node = _smallest_common(occurrences)
    while not (
        node is scope
        or node.is_product()
        or node.is_sum()
        or node.is_power()
        or node.is_call_argument()
    ):
        node = node.parent  # type: ignore[assignment]
    if not node.is_sum():
        placements[id(node)].append(index)
        return
    power = _enclosing_power(node, scope)
    if power is not None:
        placements[id(power)].append(index)
    elif kind is ProjectionKind.MAX:
        placements[id(node)].append(index)
    else:
        for term in node.terms():
            place_projection(index, term, kind, placements)


def _enclosing_power(node: _Node, scope: _Node) -> _Node | None:
    """The innermost power whose base holds `node`, looking no further out
    than the nearest call argument or `scope`."""
    while node is not scope and not node.is_call_argument():
        parent = node.parent
        assert parent is not None
        if parent.is_power() and parent.children[0] is node:
            return parent
        node = parent
    return None


class _ProjectingRebuilder(BodyRebuilder):
    """Rebuilds a body tree with renamed indices and explicit projections
    (`placements`: node id -> the indices projected over that node).

    An op the rebuild would re-create unchanged (same operands, no rename
    touching it, no projection placed over it) is moved into the new body
    instead: most of a program's ops are, and creating an xDSL op costs far
    more than moving one. Ops are moved or created in the same order, so the
    result is the same either way."""

    def __init__(
        self,
        rename: dict[str, str],
        placements: dict[int, list[str]],
        kind: ProjectionKind,
    ):
        super().__init__(rename)
        self.placements = placements
        self.kind = kind
        self.renames = any(old != new for old, new in rename.items())

    def into_region(self, root: _Node) -> Region:  # type: ignore[override]
        value = self.rebuild_tree(root)
        terminator = root.value.get_unique_use()
        if value is root.value and terminator is not None and _as_built(terminator.operation):
            terminator.operation.detach()
            self.block.add_op(terminator.operation)
        else:
            self.block.add_op(YieldOp(value))
        return Region(self.block)

    def rebuild_tree(self, node: _Node) -> SSAValue:
        if isinstance(node.op, ProjectOp):
            rebuilt = self.rebuild_projection(node)
        else:
            operands = [self.rebuild_tree(child) for child in node.children]
            if self.unchanged(node, operands):
                rebuilt = self.move(node.op)
            else:
                given = iter(operands)  # rebuild_node asks for each operand once, in order
                rebuilt = self.rebuild_node(node.value, lambda _: next(given))
                rebuilt.owner.location = node.op.location  # diagnostics point at the access
        axes = self.placements.get(id(node))
        if not axes:
            return rebuilt
        return self.emit(ProjectOp(self.kind, [str(self.name(a)) for a in axes], rebuilt))

    def rebuild_projection(self, node: _Node) -> SSAValue:
        """Folds empty projections and same-kind projections of projections."""
        op = node.op
        assert isinstance(op, ProjectOp)
        axes = [str(a) for a in op.axes.data]
        operand = node.children[0]
        while (
            isinstance(operand.op, ProjectOp)
            and operand.op.kind == op.kind
            and id(operand) not in self.placements
        ):
            axes += [str(a) for a in operand.op.axes.data]
            operand = operand.children[0]
        rebuilt = self.rebuild_tree(operand)
        if not axes:
            return rebuilt
        if operand is node.children[0] and self.unchanged(node, [rebuilt]):
            return self.move(op)
        return self.emit(ProjectOp(op.kind.data, [str(self.name(a)) for a in axes], rebuilt))

    def unchanged(self, node: _Node, operands: list[SSAValue]) -> bool:
        """Whether re-creating `node`'s op from `operands` would give the
        same op: its operands were moved, no rename touches it, and nothing
        the constructors drop or recompute differs (attributes,
        a second use that the tree duplicates)."""
        op = node.op
        return (
            all(new is old for new, old in zip(operands, op.operands, strict=True))
            and len(op.results) == 1
            and node.value.has_one_use()
            and _as_built(op)
            and not (self.renames and any(self.name(n) != n for n in _names_used(op)))
        )

    def move(self, op: Operation) -> SSAValue:
        op.detach()
        return self.emit(op)


def _as_built(op: Operation) -> bool:
    """Whether `op` carries no attributes its constructor would not give it.
    Its location does not count: a moved op keeps it, a re-created one is
    given it (`rebuild_tree`)."""
    return not op.attributes


def _names_used(op: Operation) -> list[str]:
    """Every index name an op's properties or type mention."""
    names = list(names_of(op.results[0]))
    if isinstance(op, ProjectOp):
        names += [str(a) for a in op.axes.data]
    elif isinstance(op, CallOp):
        names += [str(n) for n in op.index_args.data] if op.index_args else []
        names += op.merged
        if op.axis is not None:
            names.append(op.axis)
    elif isinstance(op, LoadOp):
        names += [i for i in op.indices.data if isinstance(i, str)]
    return names


def _rebuilds_as_is(
    rule: RuleOp,
    root: _Node,
    rename: dict[str, str],
    placements: dict[int, list[str]],
    indices: list[IndexPosition],
) -> bool:
    """Whether canonicalizing `rule` would give back the rule as it is:
    nothing to project, rename or fold, and a body the rebuilder would only
    move, op by op, in the order it already has (each op used once, by the
    next up the tree, and carrying no attributes). Most rules of a large
    program are canonical as written, and rebuilding them was most of the
    pass's time."""
    if placements or any(old != new for old, new in rename.items()):
        return False
    if indices != list(rule.indices.data) or set(rule.properties) != _RULE_PROPERTIES:
        return False
    in_order: list[Operation] = []  # the rebuilder's order: operands first
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            in_order.append(node.op)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.children))
    ops = body_ops(rule.body)
    terminator = ops.pop()
    return (
        ops == in_order
        and _as_built(terminator)
        and all(
            not isinstance(op, ProjectOp)
            and _as_built(op)
            and len(op.results) == 1
            and op.results[0].has_one_use()
            for op in ops
        )
    )


_RULE_PROPERTIES = {"tensor", "indices", "projection"}  # what `RuleOp(...)` gives a rule


def canonicalize_rule(rule: RuleOp, declared: tuple[str, ...]) -> None:
    rename = positional_renaming(rule, declared)
    root = _body_tree(yielded_value(rule.body))
    kept = set(rule.indices.names())  # with the variables of index arithmetic
    placements: dict[int, list[str]] = defaultdict(list)
    for index in names_of(root.value):
        if index not in kept:
            place_projection(index, root, rule.projection_kind, placements)
    indices = [
        declared[n] if isinstance(p, str) else rename_position(p, lambda v: rename.get(v, v))
        for n, p in enumerate(rule.indices.data)
    ]
    if _rebuilds_as_is(rule, root, rename, placements, indices):
        return
    body = _ProjectingRebuilder(rename, placements, rule.projection_kind).into_region(root)
    canonical = RuleOp(rule.tensor_name, indices, rule.projection_kind, body)
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
            odd = next(r for r in rules if r.projection_kind != rules[0].projection_kind)
            raise DiagnosticException(
                f"{location_prefix(odd)}tensor @{rules[0].tensor_name} mixes max= with other "
                "operators"
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


class _ScopingRebuilder(BodyRebuilder):
    """Rebuilds a body so that no two projections project the same name:
    the second and later projections of a name rename it, inside the
    expression they project, to a fresh one (`j_1`, `j_2`, ...). Outside
    that expression the name is untouched, so an enclosing projection of
    the same name keeps its own."""

    def __init__(self, taken: set[str]):
        super().__init__()
        self.taken = taken
        self.projected: set[str] = set()

    def rebuild(self, value: SSAValue) -> SSAValue:
        op = value.owner
        outer = dict(self.rename_map)
        if isinstance(op, ProjectOp):
            for axis in (str(a) for a in op.axes.data):
                if axis in self.projected:
                    fresh = _fresh(axis, self.taken)
                    self.taken.add(fresh)
                    self.rename_map[axis] = fresh
                self.projected.add(axis)
        try:
            rebuilt = self.rebuild_node(value)
        finally:
            self.rename_map = outer
        rebuilt.owner.location = op.location  # each equation's own, for diagnostics
        return rebuilt


def _projected_twice(body: Region) -> bool:
    axes = [str(a) for op in body_ops(body) if isinstance(op, ProjectOp) for a in op.axes.data]
    return len(axes) != len(set(axes))


def scope_projections(rule: RuleOp) -> None:
    """Step 5 of the module docstring; a rule whose projections already
    have names of their own is left as it is."""
    if not _projected_twice(rule.body):
        return
    root = yielded_value(rule.body)
    taken = _body_index_names(root) | {p for p in rule.indices.data if isinstance(p, str)}
    body = _ScopingRebuilder(taken).into_region(root)
    scoped = RuleOp(rule.tensor_name, rule.indices.data, rule.projection_kind, body)
    scoped.location = rule.location
    scoped.attributes |= rule.attributes
    block = rule.parent_block()
    assert block is not None
    block.insert_op_before(scoped, rule)
    block.erase_op(rule)


def canonicalize_program(program: ProgramOp) -> None:
    by_tensor: dict[str, list[RuleOp]] = defaultdict(list)
    for rule in [op for op in program.body.block.ops if isinstance(op, RuleOp)]:
        declaration = program.lookup_tensor(rule.tensor_name)
        assert declaration is not None, "the verifier checks declarations"
        canonicalize_rule(rule, tuple(str(n) for n in declaration.indices.data))
    # The rules of a tensor with index arithmetic range their indices by
    # their own accesses (passes/index_ranges.py): merged, they would narrow
    # one another.
    ranged = ranged_tensors(program)
    for op in program.body.block.ops:
        if (
            isinstance(op, RuleOp)
            and all(isinstance(p, str) for p in op.indices.data)
            and op.tensor_name not in ranged
        ):
            by_tensor[op.tensor_name].append(op)
    for rules in by_tensor.values():
        if len(rules) > 1:
            merge_rules(rules)
    for op in [op for op in program.body.block.ops if isinstance(op, RuleOp)]:
        scope_projections(op)


@dataclass(frozen=True)
class CanonicalizeProjectionsPass(ModulePass):
    """See the module docstring."""

    name = "fuse-canonicalize-projections"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in programs(op):
            canonicalize_program(program)
