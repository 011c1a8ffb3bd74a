"""`fuse-demand`: answers each `fuse.query`, computing only what it reaches.

Backward chaining as a rewrite of the declarative level, run after
`fuse-canonicalize-projections` (one rule per tensor, every projection
explicit) and before `fuse-stratify`. For a query `fuse.query @Path[3, y]`:

1. **Adornment.** The query needs `Path` with position 0 bound to the
   constant 3 and position 1 free. Walking the rules from there, every
   tensor a rule reads is needed with some *binding* per position: a
   constant, *bound* (b: restricted to a demanded set) or free (f). Each
   tensor needed with a binding other than all-free gets a copy named by
   its adornment (`Path_cf`: c for a constant, then b and f) holding only
   what that binding asks for.
2. **Constants** are substituted: `Path_cf[y]` is `Path[3, y]`, its rule the
   rule of `Path` with `x := 3`, and the constant dimension is gone. Where
   recursion passes the constant on (left-linear rules, `Path(x, z) +=
   Path(x, y) Edge(y, z)`), the copy reads itself with the same constant and
   the whole fixpoint runs over one row of `Path` instead of the matrix:
   this is the magic-set rewrite with its seed folded in, since the magic
   set of such a position never grows past the query's constant.
3. **Magic sets.** Within one product, a factor outside the recursive
   component that shares an index with a constant or a bound index binds
   all of its indices sideways (`Edge(x, y)` in `Path(x, z) += Edge(x, y)
   Path(y, z)` binds `y` once `x` is). A recursive read at such a position
   needs a copy bound there (`Path_bf`), computed only where its magic
   tensor `Magic_Path_bf` says: its rule is guarded, `Magic_Path_bf[x] *
   body`. The magic tensor is Boolean and grows by one rule per sideways
   pass, `Magic_Path_bf(y) = Magic_Path_bf(x) |Edge(x, y)|`, seeded where the
   query's constants enter, `Magic_Path_bf(y) = |Edge(3, y)|` (factors that
   are not Boolean go through `abs`, so signs cannot cancel a demand).
4. **Answer and pruning.** `Query_Path[y] = Path_cf[y]` holds the answer and
   is exported next to the program's own exports and sinks, which are kept
   (a query does not change what else the program outputs); every rule and
   tensor that neither an answer nor a kept output reaches is removed.

The answer equals forward evaluation sliced at the constants, for Boolean
and numeric tensors and every projection: a product whose sideways factor
is zero does not depend on the other factors, so no rule reads a row that
a guard zeroed where it matters, and the copies iterate like the original
on the rows they keep.

A tensor needed with a binding it cannot be specialized for (it has a
rule on a slice, `Alpha[0, x] = ...`; a builtin other than an elementwise
one, or a literal tensor, varies over a constant index) is read from the
original tensor, computed in full: forward evaluation for that part, and
for the whole query when it is the queried tensor (step 4 alone). The
answer rule's `forward_reason` attribute says why. A program without
queries is left unchanged.

```mlir
// before
fuse.rule @Path[x, y] sum {          // Path(x, z) = Edge(x, z) + Path(x, y) Edge(y, z)
  ...
}
fuse.query @Path[3, y]
// after
fuse.tensor @Path_cf[y] boolean : tensor<?xf32>
fuse.tensor @Query_Path[y] : tensor<?xf32>
fuse.rule @Path_cf[y] sum {
  %0 = fuse.load @Edge[3, y] : !fuse.expr<y>
  %1 = fuse.load @Path_cf[y_1] : !fuse.expr<y_1>
  ...
}
fuse.rule @Query_Path[y] sum {
  %0 = fuse.load @Path_cf[y] : !fuse.expr<y>
  fuse.yield %0 : !fuse.expr<y>
}
fuse.export @Query_Path
```
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType, f32
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from fuse.dialects.fuse import (
    ArithOp,
    CallOp,
    ExportOp,
    LiteralOp,
    LoadOp,
    ProgramOp,
    ProjectOp,
    QueryOp,
    RuleOp,
    SinkOp,
    TensorOp,
    YieldOp,
)
from fuse.dialects.fuse.attributes import IndexPosition, ProjectionKind
from fuse.dialects.fuse.declarative import programs
from fuse.frontend.builtins import BuiltinKind, lookup

from .canonicalize_projections import canonicalize_rule, merge_rules
from .expr_tree import BodyRebuilder, body_ops, names_of, yielded_value
from .index_ranges import is_affine_rule
from .stratify import dependency_graph, strongly_connected_components

BOUND = "b"
FREE = "f"
Binding = tuple[int | str, ...]  # per position: a constant, BOUND or FREE
Key = tuple[str, Binding]  # a tensor as some rule needs it


def _adornment(binding: Binding) -> str:
    return "".join("c" if isinstance(b, int) else b for b in binding)


def _kept(values: Sequence[IndexPosition], binding: Binding, keep: Collection[str]) -> list:
    """The `values` at the positions whose binding is in `keep`; a constant
    counts as "c"."""
    return [
        v
        for v, b in zip(values, binding, strict=True)
        if ("c" if isinstance(b, int) else b) in keep
    ]


@dataclass
class _Adorned:
    """A tensor as the query needs it. `name` holds it: a copy, guarded by
    `magic` where some position is bound, or the tensor itself for an
    all-free binding and where `reason` says it cannot be specialized.
    `rule` is the original rule to rewrite (None: the tensor is read as it
    is); `reads` gives the key of every load of a rule-defined tensor in
    it, `passes` the sideways passes that feed magic tensors: a recursive
    load with bound positions and the loads binding them."""

    tensor: str
    binding: Binding
    name: str
    magic: str | None = None
    rule: RuleOp | None = None
    reads: dict[LoadOp, Key] = field(default_factory=dict)
    passes: list[tuple[LoadOp, list[LoadOp]]] = field(default_factory=list)
    reason: str | None = None  # why it is read from the original tensor

    @property
    def constants(self) -> dict[str, int]:
        assert self.rule is not None
        return _constants(self.rule, self.binding)

    @property
    def bound_names(self) -> list[str]:
        assert self.rule is not None
        return [str(n) for n in _kept(self.rule.indices.data, self.binding, (BOUND,))]


def _constants(rule: RuleOp, binding: Binding) -> dict[str, int]:
    """Index name -> constant, for the rule's constant positions."""
    head = rule.indices.data
    return {str(n): b for n, b in zip(head, binding, strict=True) if isinstance(b, int)}


def _factors(value: SSAValue) -> list[SSAValue]:
    """The factors of a tree of `mul`s (the value itself if it is none)."""
    factors: list[SSAValue] = []
    stack = [value]
    while stack:
        current = stack.pop()
        if _is_mul(current.owner):
            stack += current.owner.operands
        else:
            factors.append(current)
    return factors


def _add(block: Block, op: Operation) -> SSAValue:
    block.add_op(op)
    return op.results[0]


def _is_mul(op: Operation) -> bool:
    return isinstance(op, ArithOp) and op.fn.data == "mul"


def _product_groups(root: SSAValue) -> list[list[LoadOp]]:
    """The loads of each product in a body: the factors of every maximal
    tree of `mul`s; a load anywhere else is a product alone."""
    groups: list[list[LoadOp]] = []
    stack = [root]
    while stack:
        factors = _factors(stack.pop())
        groups.append([f.owner for f in factors if isinstance(f.owner, LoadOp)])
        for factor in factors:
            if not isinstance(factor.owner, LoadOp):
                stack += factor.owner.operands
    return [group for group in groups if group]


def _sideways(
    binders: list[LoadOp], bound: set[str], constants: Collection[str]
) -> tuple[set[str], list[LoadOp]]:
    """Sideways information passing within one product: a binder that
    shares an index with a constant or a bound index binds all of its
    indices. Returns the bound indices and the binders that bound them."""
    bound = set(bound)
    used: list[LoadOp] = []
    pending = list(binders)
    progress = True
    while progress:
        progress = False
        for load in list(pending):
            positions = load.indices.data
            if any(isinstance(p, int) or p in constants or p in bound for p in positions):
                bound.update(p for p in positions if isinstance(p, str) and p not in constants)
                used.append(load)
                pending.remove(load)
                progress = True
    return bound, used


def _binding(positions: Sequence[IndexPosition], bound: Collection[str]) -> Binding:
    """Constants stay constants; the first occurrence of a bound index is
    bound; everything else is free."""
    binding: list[int | str] = []
    for n, position in enumerate(positions):
        if isinstance(position, int):
            binding.append(position)
        elif position in bound and position not in positions[:n]:
            binding.append(BOUND)
        else:
            binding.append(FREE)
    return tuple(binding)


def _constant_use(rule: RuleOp, constants: Collection[str]) -> str | None:
    """Why the rule's body cannot take constants for these indices: only
    loads and elementwise operations may vary over them."""
    for op in body_ops(rule.body):
        if isinstance(op, CallOp | LiteralOp):
            varying = [n for n in names_of(op.results[0]) if n in constants]
            if not varying:
                continue
            if isinstance(op, LiteralOp):
                return f"@{rule.tensor_name} has a literal tensor over bound index '{varying[0]}'"
            builtin = lookup(op.callee.data)
            if builtin is None or builtin.kind is not BuiltinKind.UNARY:
                return (
                    f"@{rule.tensor_name} applies '{op.callee.data}' over bound index "
                    f"'{varying[0]}'"
                )
    return None


class _Redirect(BodyRebuilder):
    """Rebuilds a body with every load replaced as `read` says."""

    def __init__(self, read: dict[LoadOp, LoadOp]):
        super().__init__()
        self.read = read

    def rebuild(self, value: SSAValue) -> SSAValue:
        op = value.owner
        if isinstance(op, LoadOp):
            target = self.read[op]
            return self.emit(LoadOp(target.tensor_name, target.indices.data))
        return self.rebuild_node(value)


class _Demand:
    """Answers the queries of one program, one after the other, then prunes."""

    def __init__(self, program: ProgramOp):
        self.program = program
        self.block = program.body.block
        self.adorned: dict[Key, _Adorned] = {}
        self.answers: list[str] = []
        self.taken = {op.tensor_name for op in self.block.ops if isinstance(op, TensorOp)}

    def run(self) -> None:
        queries = [op for op in self.block.ops if isinstance(op, QueryOp)]
        if not queries:
            return
        for query in queries:
            self.answer(query)
        self.prune()

    # --- planning ---------------------------------------------------------------

    def answer(self, query: QueryOp) -> None:
        positions = query.indices.data
        key: Key = (query.tensor_name, tuple(p if isinstance(p, int) else FREE for p in positions))
        reasons = self.specialize(key)
        load = self.read(key, positions) if key in self.adorned else LoadOp(key[0], positions)
        names = list(dict.fromkeys(p for p in positions if isinstance(p, str)))
        read = load.indices.data
        shape = self.shape(load.tensor_name, [read.index(n) for n in names])
        answer = self.fresh(f"Query_{query.tensor_name}")
        self.declare(answer, names, shape, boolean=False)
        rule = RuleOp(
            answer, names, ProjectionKind.SUM, Region(Block([load, YieldOp(load.result)]))
        )
        rule.location = query.location
        if reasons:
            rule.attributes["forward_reason"] = StringAttr("; ".join(dict.fromkeys(reasons)))
        self.block.add_op(rule)
        self.answers.append(answer)

    def rules(self) -> dict[str, list[RuleOp]]:
        rules: dict[str, list[RuleOp]] = defaultdict(list)
        for op in self.block.ops:
            if isinstance(op, RuleOp):
                rules[op.tensor_name].append(op)
        return rules

    def specialize(self, root: Key) -> list[str]:
        """Plans every adorned tensor the root needs, then rewrites the
        program. Returns why some are read from the original tensors."""
        graph = dependency_graph(self.program)
        components = {n: frozenset(c) for c in strongly_connected_components(graph) for n in c}
        rules = self.rules()
        if root[0] not in rules:
            return []  # a source: read as it is
        planned: list[_Adorned] = []
        reasons: list[str] = []
        work = [root]
        while work:
            key = work.pop()
            if key not in self.adorned:
                self.adorned[key] = self.plan(key, rules[key[0]])
                planned.append(self.adorned[key])
                if self.adorned[key].rule is not None:
                    self.analyze(self.adorned[key], components[key[0]], rules)
                    work += self.adorned[key].reads.values()
            reason = self.adorned[key].reason
            if reason is not None:
                reasons.append(reason)
        self.rewrite(planned)
        return reasons

    def plan(self, key: Key, rules: list[RuleOp]) -> _Adorned:
        tensor, binding = key
        simple = len(rules) == 1 and all(isinstance(p, str) for p in rules[0].indices.data)
        if all(b == FREE for b in binding):
            return _Adorned(tensor, binding, tensor, rule=rules[0] if simple else None)
        if not simple:
            reason = f"@{tensor} has a rule on a slice (an integer left-hand-side index)"
            if not rules[0].indices.is_plain:
                reason = f"@{tensor} has a rule with index arithmetic on its left-hand side"
            return _Adorned(tensor, binding, tensor, reason=reason)
        if is_affine_rule(rules[0]):
            reason = f"@{tensor} reads through index arithmetic"
            return _Adorned(tensor, binding, tensor, reason=reason)
        reason = _constant_use(rules[0], _constants(rules[0], binding))
        if reason is not None:
            return _Adorned(tensor, binding, tensor, reason=reason)
        name = self.fresh(f"{tensor}_{_adornment(binding)}")
        magic = self.fresh(f"Magic_{tensor}_{_adornment(binding)}") if BOUND in binding else None
        return _Adorned(tensor, binding, name, magic, rules[0])

    def analyze(
        self, adorned: _Adorned, component: frozenset[str], rules: dict[str, list[RuleOp]]
    ) -> None:
        """Fills in what each load of the rule needs, product by product."""
        assert adorned.rule is not None
        constants = adorned.constants
        for group in _product_groups(yielded_value(adorned.rule.body)):
            binders = [load for load in group if load.tensor_name not in component]
            bound, used = _sideways(binders, set(adorned.bound_names), constants)
            for load in group:
                if load.tensor_name not in rules:
                    continue  # an input or a source: read as it is
                positions = [constants.get(str(p), p) for p in load.indices.data]
                recursive = load.tensor_name in component
                binding = _binding(positions, bound if recursive else ())
                adorned.reads[load] = (load.tensor_name, binding)
                if BOUND in binding:
                    adorned.passes.append((load, used))

    def fresh(self, name: str) -> str:
        candidate, n = name, 0
        while candidate in self.taken:
            n += 1
            candidate = f"{name}_{n}"
        self.taken.add(candidate)
        return candidate

    # --- rewriting --------------------------------------------------------------

    def rewrite(self, planned: list[_Adorned]) -> None:
        """Declares the copies and magic tensors, adds the magic rules (one
        per tensor), then rewrites the rules (in place for all-free ones)."""
        for adorned in planned:
            if adorned.name != adorned.tensor:
                self.declare_copies(adorned)
        grown: set[str] = set()
        for adorned in planned:
            for load, binders in adorned.passes:
                if self.adorned[adorned.reads[load]].magic is not None:
                    grown.add(self.add_magic_rule(adorned, load, binders))
        for magic in sorted(grown):
            rules = self.rules_of(magic)
            if len(rules) > 1:
                merge_rules(rules)
        for adorned in planned:
            if adorned.rule is not None:
                self.rewrite_rule(adorned)

    def declare_copies(self, adorned: _Adorned) -> None:
        original = self.program.lookup_tensor(adorned.tensor)
        assert original is not None
        indices = [str(n) for n in original.indices.data]
        shape = list(original.tensor_type.get_shape())
        self.declare(
            adorned.name,
            _kept(indices, adorned.binding, (BOUND, FREE)),
            _kept(shape, adorned.binding, (BOUND, FREE)),
            boolean=original.boolean is not None,
        )
        if adorned.magic is not None:
            self.declare(
                adorned.magic,
                _kept(indices, adorned.binding, (BOUND,)),
                _kept(shape, adorned.binding, (BOUND,)),
                boolean=True,
            )

    def rewritten(self, adorned: _Adorned, load: LoadOp) -> LoadOp:
        """The load the rewritten rule of `adorned` makes for `load`:
        constants substituted, and the tensor replaced as its binding needs."""
        constants = adorned.constants
        positions = [constants.get(str(p), p) for p in load.indices.data]
        key = adorned.reads.get(load)
        if key is None:  # an input or a source
            return LoadOp(load.tensor_name, positions)
        return self.read(key, positions)

    def read(self, key: Key, positions: Sequence[IndexPosition]) -> LoadOp:
        """A load of `key`'s tensor at `positions`: from its copy, which has
        no constant positions, or from the tensor itself."""
        target = self.adorned[key]
        if target.name == target.tensor:
            return LoadOp(target.tensor, positions)
        return LoadOp(target.name, _kept(positions, key[1], (BOUND, FREE)))

    def rewrite_rule(self, adorned: _Adorned) -> None:
        rule = adorned.rule
        assert rule is not None
        loads = [op for op in body_ops(rule.body) if isinstance(op, LoadOp)]
        reads = {load: self.rewritten(adorned, load) for load in loads}
        copy = adorned.name != adorned.tensor
        unchanged = all(
            new.tensor_name == old.tensor_name and new.indices == old.indices
            for old, new in reads.items()
        )
        if not copy and unchanged:
            return
        rebuilder = _Redirect(reads)
        value = rebuilder.rebuild(yielded_value(rule.body))
        if adorned.magic is not None:
            guard = rebuilder.emit(LoadOp(adorned.magic, adorned.bound_names))
            value = rebuilder.emit(ArithOp("mul", guard, value))
        rebuilder.block.add_op(YieldOp(value))
        indices = _kept(rule.indices.data, adorned.binding, (BOUND, FREE))
        rewritten = RuleOp(adorned.name, indices, rule.projection_kind, Region(rebuilder.block))
        rewritten.location = rule.location
        rewritten.attributes |= rule.attributes
        if copy:
            self.block.add_op(rewritten)
        else:
            self.block.insert_op_before(rewritten, rule)
            self.block.erase_op(rule)

    def add_magic_rule(self, adorned: _Adorned, load: LoadOp, binders: list[LoadOp]) -> str:
        """Adds `Magic_R(y) = Magic_Q(x) |B(x, y)|` for the recursive load
        `R(y, ...)` in `adorned`'s rule, bound by the binders `B`: the
        product projected onto the load's bound positions. Returns the
        magic tensor's name."""
        rule = adorned.rule
        target = self.adorned[adorned.reads[load]]
        assert rule is not None and target.magic is not None
        block = Block()
        factors: list[SSAValue] = []
        if adorned.magic is not None:
            factors.append(_add(block, LoadOp(adorned.magic, adorned.bound_names)))
        for binder in binders:
            read = self.rewritten(adorned, binder)
            value = _add(block, read)
            declaration = self.program.lookup_tensor(read.tensor_name)
            if declaration is None or declaration.boolean is None:
                value = _add(block, CallOp("abs", [value], read.result.type))
            factors.append(value)
        product = factors[0]
        for factor in factors[1:]:
            product = _add(block, ArithOp("mul", product, factor))
        constants = adorned.constants
        positions = [constants.get(str(p), p) for p in load.indices.data]
        lhs = [str(p) for p in _kept(positions, target.binding, (BOUND,))]
        axes = [n for n in names_of(product) if n not in lhs]
        if axes:
            product = _add(block, ProjectOp(ProjectionKind.SUM, axes, product))
        block.add_op(YieldOp(product))
        magic_rule = RuleOp(target.magic, lhs, ProjectionKind.SUM, Region(block))
        magic_rule.location = rule.location
        self.block.add_op(magic_rule)
        magic = self.program.lookup_tensor(target.magic)
        assert magic is not None
        canonicalize_rule(magic_rule, tuple(str(n) for n in magic.indices.data))
        return target.magic

    # --- declarations and pruning ----------------------------------------------

    def declare(
        self,
        name: str,
        indices: Sequence[str],
        shape: Sequence[int],
        *,
        boolean: bool,
    ) -> None:
        """Declares a tensor after the last declaration."""
        declaration = TensorOp(name, indices, TensorType(f32, shape), boolean=boolean)
        last = [op for op in self.block.ops if isinstance(op, TensorOp)][-1]
        self.block.insert_op_after(declaration, last)

    def shape(self, tensor: str, positions: Sequence[int]) -> list[int]:
        declaration = self.program.lookup_tensor(tensor)
        assert declaration is not None
        shape = declaration.tensor_type.get_shape()
        return [shape[p] for p in positions]

    def rules_of(self, tensor: str) -> list[RuleOp]:
        return [op for op in self.block.ops if isinstance(op, RuleOp) and op.tensor_name == tensor]

    def prune(self) -> None:
        """Keeps what the answers and the program's own exports and sinks
        reach; the answers are exported after the program's exports."""
        graph = dependency_graph(self.program)
        stack = list(self.answers)
        for op in self.block.ops:
            if isinstance(op, ExportOp):
                stack.append(op.tensor.root_reference.data)
            elif isinstance(op, SinkOp):
                stack += (
                    load.tensor_name for load in body_ops(op.body) if isinstance(load, LoadOp)
                )
        needed: set[str] = set()
        while stack:
            name = stack.pop()
            if name not in needed:
                needed.add(name)
                stack += graph[name]
        for op in list(self.block.ops):
            unused = isinstance(op, RuleOp | TensorOp) and op.tensor_name not in needed
            if isinstance(op, QueryOp) or unused:
                self.block.erase_op(op)
        for answer in self.answers:
            self.block.add_op(ExportOp(answer))


@dataclass(frozen=True)
class DemandPass(ModulePass):
    """See the module docstring."""

    name = "fuse-demand"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in programs(op):
            _Demand(program).run()
