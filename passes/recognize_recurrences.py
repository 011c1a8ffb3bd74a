"""`fuse-recognize-recurrences`: recursions that step along one index.

An equation whose only self-reference reads an index shifted by one in one
direction is well-founded along that index (DESIGN.md section 3b):

    X[i, 0] = X0[i]
    X[i, t+1] = sig(W[i, j] X[j, t] + U[i, t])

defines `X[:, t+1]` from `X[:, t]` alone, so it runs as a `fuse.scan`: one
step per value of `t`, every other index vectorized, instead of a fixpoint
recomputing the whole tensor until nothing changes (T iterations of T
steps each). The pass runs on the declarative level, after
`fuse-infer-shapes` (it needs the ranges of the indices) and before
`fuse-stratify`, and records its decision on the tensor's declaration:

* `fuse.scan_axis = 1` on a recurrence along dimension 1, which
  `fuse-stratify` then emits as a `fuse.scan`;
* `fuse.fixpoint_reason = "..."` on any other recursive tensor, saying why
  it stays a fixpoint (`fuse-stratify` copies it onto the `fuse.fixpoint`).

What makes a recurrence, for a tensor X with one recursive equation R:

* X is recursive on its own (not through other tensors), and every
  equation of X is a sum (`=`/`+=`), so equations add up position by
  position;
* at exactly one dimension (the axis) R writes `t + w` and every
  self-reference reads `t + r`, for one index t, with `w - r` = 1
  (forward: `X[t+1]` from `X[t]`) or -1 (reversed: `X[t]` from
  `X[t+1]`); at every other dimension R writes and reads plain indices,
  none of them t, and R's own indices cover that dimension whole;
* every other tensor R reads at t reads it at one position as `t + c`
  (its per-step slice), and nothing else in R depends on t but the step
  number, t written as a value (`iota(t)`: `fuse-stratify` scans it in as
  the slices of a constant, as it would an input `Step[t]`);
* the other equations of X write constant positions along the axis, none
  that R writes: they give the initial state and whatever lies outside R's
  range.

Tensors recursive through each other (a strongly connected component)
make one recurrence when each has one equation reading the component and
those equations step one index together: the paper's GNN,

    Emb[n, 0, d] = X[n, d]
    Z[n, l, e] = relu(W_P[l, e, d] Emb[n, l, d])
    Agg[n, l, d] = Neig(n, n') Z[n', l, d]
    Emb[n, l+1, d] = relu(W_Agg Agg[n, l, d] + W_Self Emb[n, l, d])

Each member M writes `t + w_M`; a read of member N at `t + r` takes N's
previous step where `r = w_N - 1` (`w_N + 1` reversed: one direction for
all) and the value this step computes where `r = w_N` (Z and Agg at layer
l read Emb's step before; Emb at l+1 reads this step's Agg). Reads at the
same step must be well-founded (no member reads itself there, no cycle),
which orders the members within a step (Z, Agg, Emb). The members'
equations start stepping t together (end together, reversed) and the scan
takes as many steps as the shortest; a member whose previous step nothing
reads may step further, and `fuse-stratify` computes those values from the
finished tensors after the scan. Each member is marked with its own
axis; a stored scan stacks every state along one, so the axes must agree.

A `*t` index on the left-hand side (`X[i, *t+1]`) makes the scan virtual:
only the last state is kept (of every member, all of whose indices are
virtual).

A training loop is a virtual group: `W[i, *s+1] = W[i, *s] - Eta G[i, *s]`,
`G[i, *s] = grad(Loss[*s], W[i, *s])`, `Loss[*s]` from `W[i, *s]`. Loss and
G read W's previous step and live within the step; after the run they
hold their value at W's last state, so their equations may step one
further than W's (`_at_last_state`). Momentum or Adam step more tensors in
the same group (`V[i, *s+1] = Mu V[i, *s] + G[i, *s]`, read at its own
step by `W[i, *s+1] = W[i, *s] - Eta V[i, *s+1]`): more carried members.
A named constant's step count (`{fuse.steps = {s = 100}}` on a rule, from
`S = 100`) must agree with the tensors the index reads.

```mlir
// before (shapes inferred)
fuse.tensor @X[i, d1] : tensor<4x7xf32>
fuse.rule @X[i, 0] sum { ... @X0[i] ... }
fuse.rule @X[i, t + 1] sum { ... @W[i, j] ... @X[j, t] ... @U[i, t] ... }
// after
fuse.tensor @X[i, d1] {fuse.scan_axis = 1 : i64} : tensor<4x7xf32>
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.passes import ModulePass

from fuse.dialects.fuse import CallOp, LoadOp, ProgramOp, RuleOp, TensorOp
from fuse.dialects.fuse.affine import IndexPosition, as_affine, position_variables
from fuse.dialects.fuse.declarative import programs
from fuse.dialects.fuse.scan import STEPS

from .dependencies import dependency_graph, is_recursive, strongly_connected_components
from .expr_tree import body_ops
from .index_ranges import EmptyRange, Range, rule_ranges
from .infer_shapes import location_prefix

SCAN_AXIS = "fuse.scan_axis"
FIXPOINT_REASON = "fuse.fixpoint_reason"
# On a `fuse.scan`: the tensors its step computes but carries no state of
# (nothing reads them after the scan, nor their previous step).
WITHIN_STEP = "fuse.within_step"


@dataclass(frozen=True)
class ScannedRead:
    """A read of another tensor at `t + offset` in dimension `dim`: the
    scan takes its slice at each step."""

    load: LoadOp
    dim: int
    offset: int


@dataclass(frozen=True)
class Member:
    """One tensor of a recurrence: for one value of the step index, its
    recursive equation writes one whole state of it (every dimension but
    `axis`) at `index + write_offset` along `axis`."""

    tensor: str
    rule: RuleOp  # the equation that reads the recurrence's tensors
    base_rules: tuple[RuleOp, ...]  # the others: constant positions along the axis
    axis: int
    index: str  # the step index t, as `rule` names it
    write_offset: int
    ranges: dict[str, Range]  # the rule's index ranges
    scanned: tuple[ScannedRead, ...]
    carried: bool  # some equation reads its previous step: the scan carries its state
    # The `iota(t)` calls of `rule`: it reads the step number as a value
    # (Adam's bias correction `B1^(s+1)`), which the scan gives each step as
    # the slice of a scanned constant, as it would an input `Step[t]`.
    step_values: tuple[CallOp, ...]


@dataclass(frozen=True)
class Recurrence:
    """Recursive tensors that `fuse-stratify` emits as one `fuse.scan`.
    Each step computes every member at its next position, in the order of
    `members`; a member read in `previous` takes the member's previous step
    (the state the scan carries), any other the value this step computed
    before it."""

    members: tuple[Member, ...]
    previous: frozenset[LoadOp]
    reverse: bool
    virtual: bool
    steps: int  # the fewest values any member's equation steps over

    @property
    def tensors(self) -> tuple[str, ...]:
        return tuple(member.tensor for member in self.members)

    def first_step(self, member: Member) -> int:
        """The lowest value of `member`'s index that the scan steps: the
        members' equations start together (end together, reversed)."""
        own = member.ranges[member.index]
        return own.last - self.steps + 1 if self.reverse else own.start

    def first_write(self, member: Member) -> int:
        """The lowest position along its axis that the scan writes of `member`."""
        return self.first_step(member) + member.write_offset

    def further_steps(self, member: Member) -> Range | None:
        """The values of `member`'s index past the scan's steps (after them;
        before them, reversed), which its equation computes from the
        finished tensors once the scan is done: `Agg[n, l, d] = Neig(n, n')
        Emb[n', l, d]` also reads the last layer of Emb. None: there are none."""
        own = member.ranges[member.index]
        if own.size == self.steps:
            return None
        start = own.start if self.reverse else own.start + self.steps
        return Range(start, own.size - self.steps)

    def init_position(self, member: Member) -> int:
        """Where `member`'s state before the first step sits along its axis:
        just before the positions its rule writes (just after them,
        reversed)."""
        if self.reverse:
            return self.first_write(member) + self.steps
        return self.first_write(member) - 1

    def stored_positions(self, member: Member) -> range:
        """The positions along its axis that a stored scan gives `member`:
        its initial state and its steps, or its steps alone where no
        equation reads its previous step."""
        first = self.first_write(member)
        if not member.carried:
            return range(first, first + self.steps)
        low = min(self.init_position(member), first)
        return range(low, low + self.steps + 1)


def _loads(rule: RuleOp) -> list[LoadOp]:
    return [op for op in body_ops(rule.body) if isinstance(op, LoadOp)]


def _another(rule: RuleOp) -> str:
    """`another equation of X (at file:line:col)`."""
    where = location_prefix(rule).removesuffix(": ")
    return f"another equation of {rule.tensor_name}" + (f" (at {where})" if where else "")


def _spelled(tensor: str, positions: Sequence[IndexPosition]) -> str:
    return f"{tensor}[{', '.join(map(str, positions))}]"


def analyze(
    program: ProgramOp, component: Sequence[str], rules: Mapping[str, list[RuleOp]]
) -> Recurrence | str:
    """The recurrence a recursive component's equations make, or why they
    make none. A component is one tensor that reads itself or tensors that
    read each other (the paper's GNN: `Agg[n, l, d]` from `Emb[n, l, d]`,
    `Emb[n, l+1, d]` from `Agg[n, l, d]` and `Emb[n, l, d]`)."""
    group = frozenset(component)
    recursive: dict[str, RuleOp] = {}
    for tensor in component:
        reading = [r for r in rules[tensor] if any(ld.tensor_name in group for ld in _loads(r))]
        if len(reading) != 1:
            what = "it" if len(component) == 1 else ", ".join(component)
            return f"{len(reading)} equations of {tensor} read {what}; a scan steps one equation"
        kinds = sorted({r.projection_kind.value for r in rules[tensor]} - {"sum"})
        if kinds:
            return f"an equation of {tensor} projects with {kinds[0]}, not a sum"
        recursive[tensor] = reading[0]
    steps = _step_indices(component, recursive)
    if isinstance(steps, str):
        return steps
    axes, indices = steps
    offsets: dict[str, int] = {}
    virtual: dict[str, bool] = {}
    ranges: dict[str, dict[str, Range]] = {}
    for tensor in component:
        written = _written_step(program, tensor, recursive[tensor], axes[tensor], indices[tensor])
        if isinstance(written, str):
            return written
        offsets[tensor], virtual[tensor], ranges[tensor] = written
    if len(set(virtual.values())) > 1:
        return (
            f"{', '.join(t for t in component if virtual[t])} step a virtual index and "
            f"{', '.join(t for t in component if not virtual[t])} a stored one; a scan "
            "keeps all its tensors' steps or none"
        )
    if not virtual[component[0]] and len(set(axes.values())) > 1:
        return (
            f"{', '.join(component)} step along different dimensions "
            f"({', '.join(f'{t}: {axes[t]}' for t in component)}); a scan stacks every "
            "state along one"
        )
    reads = _member_reads(component, recursive, axes, indices, offsets, virtual)
    if isinstance(reads, str):
        return reads
    previous, same_step, directions = reads
    if len(directions) > 1:
        return (
            f"{', '.join(component)} read earlier steps of their index in both directions; "
            "a scan runs one way"
        )
    order = _step_order(component, same_step)
    if isinstance(order, str):
        return order
    carried = {load.tensor_name for load in previous}
    members: list[Member] = []
    for tensor in order:
        rule, index = recursive[tensor], indices[tensor]
        scanned = _scanned_reads(group, rule, index)
        if isinstance(scanned, str):
            return scanned
        step_values = _step_values(rule, index)
        if isinstance(step_values, str):
            return step_values
        members.append(
            Member(
                tensor,
                rule,
                tuple(r for r in rules[tensor] if r is not rule),
                axes[tensor],
                index,
                offsets[tensor],
                ranges[tensor],
                scanned,
                tensor in carried,
                step_values,
            )
        )
    recurrence = Recurrence(
        tuple(members),
        frozenset(previous),
        directions == {1},
        virtual[component[0]],
        min(member.ranges[member.index].size for member in members),
    )
    return _check_ranges(recurrence)


def _step_indices(
    component: Sequence[str], recursive: Mapping[str, RuleOp]
) -> tuple[dict[str, int], dict[str, str]] | str:
    """The dimension each member steps along and the step index each
    recursive equation names: seeded by the positions written or read as
    `t + c`, then carried across the reads (`Agg[n, l, d]` reads
    `Emb[n', l, d]`, whose dimension 1 steps: Agg's `l` is the step index,
    so its dimension 1 steps too)."""
    group = frozenset(component)
    accesses = {tensor: _group_accesses(recursive[tensor], group) for tensor in component}
    axes: dict[str, int] = {}
    indices: dict[str, str] = {}
    for tensor in component:
        for target, positions in accesses[tensor]:
            shifted = [d for d, p in enumerate(positions) if not isinstance(p, str | int)]
            if len(shifted) == 1:
                index = as_affine(positions[shifted[0]]).shifted_variable
                if index is not None:
                    axes.setdefault(target, shifted[0])
                    indices.setdefault(tensor, index)
    changed = True
    while changed:
        changed = False
        for tensor in component:
            for target, positions in accesses[tensor]:
                if target in axes and tensor not in indices:
                    index = as_affine(positions[axes[target]]).shifted_variable
                    if index is not None:
                        indices[tensor] = index
                        changed = True
                if tensor in indices and target not in axes:
                    dims = [
                        d
                        for d, p in enumerate(positions)
                        if indices[tensor] in position_variables(p)
                    ]
                    if len(dims) == 1:
                        axes[target] = dims[0]
                        changed = True
    for tensor in component:
        if tensor not in axes or tensor not in indices:
            if len(component) == 1:
                return f"{tensor} reads itself with no index shifted by one: a fixpoint"
            return (
                f"{', '.join(component)} read each other, but {tensor} steps no index that "
                "its reads shift by one: a fixpoint"
            )
    return axes, indices


def _group_accesses(
    rule: RuleOp, group: frozenset[str]
) -> list[tuple[str, Sequence[IndexPosition]]]:
    """The tensor and positions of a recursive equation's left-hand side and
    of each of its reads of the group."""
    return [(rule.tensor_name, rule.indices.data)] + [
        (load.tensor_name, load.indices.data) for load in _loads(rule) if load.tensor_name in group
    ]


def _written_step(
    program: ProgramOp, tensor: str, rule: RuleOp, axis: int, index: str
) -> tuple[int, bool, dict[str, Range]] | str:
    """(write offset, virtual, index ranges) of a recursive equation that
    writes `index + c` along `axis` and plain indices elsewhere covering the
    tensor, or why it does not."""
    write = tuple(rule.indices.data)
    position = as_affine(write[axis])
    if position.shifted_variable != index:
        return (
            f"{tensor}'s recursive equation writes '{write[axis]}' along dimension {axis}, "
            f"not '{index} + c': not one index shifted in one dimension"
        )
    declaration = program.lookup_tensor(tensor)
    assert declaration is not None
    shape = tuple(declaration.tensor_type.get_shape())
    for dim, written in enumerate(write):
        if dim == axis:
            continue
        if written == index:
            return f"{tensor} uses '{index}' in more than one dimension of itself"
        if not isinstance(written, str):
            return f"{tensor}'s recursive equation writes dimension {dim} at '{written}'"
    try:
        ranges = rule_ranges(rule, program)
    except EmptyRange as error:
        return str(error)
    for dim, (written, size) in enumerate(zip(write, shape, strict=True)):
        if dim != axis and ranges.get(str(written)) != Range(0, size):
            return (
                f"{tensor}'s recursive equation does not cover dimension {dim} whole "
                f"(index '{written}'), so one step does not make a whole state"
            )
    if index not in ranges:
        return f"the range of index '{index}' is unknown"
    counts = rule.attributes.get(STEPS)
    count = counts.data.get(index) if isinstance(counts, DictionaryAttr) else None
    if isinstance(count, IntegerAttr) and count.value.data != ranges[index].size:
        return (
            f"'{index.upper()} = {count.value.data}' gives '*{index}' {count.value.data} steps, "
            f"but the tensors it indexes allow {ranges[index].size}"
        )
    return position.constant, position.virtual is not None, ranges


def _member_reads(
    component: Sequence[str],
    recursive: Mapping[str, RuleOp],
    axes: Mapping[str, int],
    indices: Mapping[str, str],
    offsets: Mapping[str, int],
    virtual: Mapping[str, bool],
) -> tuple[set[LoadOp], dict[str, set[str]], set[int]] | str:
    """Sorts the members' reads of each other: those of a previous step,
    the members each member reads at its own step, and the directions
    (-1: forward, +1: reversed) the previous-step reads look in."""
    group = frozenset(component)
    previous: set[LoadOp] = set()
    same_step: dict[str, set[str]] = {tensor: set() for tensor in component}
    directions: set[int] = set()
    for tensor in component:
        rule, index = recursive[tensor], indices[tensor]
        write = tuple(rule.indices.data)
        for load in _loads(rule):
            target = load.tensor_name
            if target not in group:
                continue
            read = tuple(load.indices.data)
            whom = "itself" if target == tensor else target
            axis = axes[target]
            position = as_affine(read[axis])
            others = [p for d, p in enumerate(read) if d != axis]
            if position.shifted_variable != index or any(
                not isinstance(p, str | int) or p == index for p in others
            ):
                return (
                    f"{tensor} reads {whom} at [{', '.join(map(str, read))}] for "
                    f"[{', '.join(map(str, write))}]: not one index shifted in one dimension"
                )
            if (position.virtual is not None) != virtual[target]:
                return (
                    f"{tensor} reads {whom} at [{', '.join(map(str, read))}] for "
                    f"[{', '.join(map(str, write))}]: a virtual index is virtual on both sides"
                )
            shift = position.constant - offsets[target]
            if shift == 0 and target == tensor:
                return f"{tensor} reads itself at the step it writes along '{index}': a fixpoint"
            if shift == 0:
                same_step[tensor].add(target)
            elif abs(shift) == 1:
                previous.add(load)
                directions.add(shift)
            else:
                return (
                    f"{tensor} reads {whom} {abs(shift)} steps away along '{index}'; "
                    "a scan steps by one"
                )
    return previous, same_step, directions


def _step_order(component: Sequence[str], same_step: Mapping[str, set[str]]) -> list[str] | str:
    """The members in an order where each comes after those it reads at
    its own step (in the component's order where that leaves a choice), or
    why there is none."""
    order: list[str] = []
    waiting = list(component)
    while waiting:
        ready = [t for t in waiting if same_step[t] <= set(order)]
        if not ready:
            return (
                f"{', '.join(waiting)} read each other at the same step of their index: a fixpoint"
            )
        order.append(ready[0])
        waiting.remove(ready[0])
    return order


def _check_ranges(recurrence: Recurrence) -> Recurrence | str:
    """The recurrence, if its members' equations start stepping their index
    together (end together, reversed), only members whose previous step
    nothing reads step further than the others (in a virtual scan, one
    step further: see `_at_last_state`), and the members' other equations
    write positions their recursive ones do not."""
    shortest = min(recurrence.members, key=lambda m: m.ranges[m.index].size)
    steps = shortest.ranges[shortest.index]
    for member in recurrence.members:
        own = member.ranges[member.index]
        starts_together = own.last == steps.last if recurrence.reverse else own.start == steps.start
        if own == steps or (starts_together and not member.carried and not recurrence.virtual):
            continue
        at_last_state = _at_last_state(recurrence, member) if starts_together else None
        if at_last_state == "":
            continue
        why = (
            "and only a tensor whose previous step nothing reads takes its further steps "
            "after the scan"
            if starts_together and not recurrence.virtual
            else "and these do not start together"
            if not starts_together
            else f"and a virtual scan keeps no steps to take further ones from ({at_last_state})"
        )
        return (
            f"{member.tensor}'s equation steps '{member.index}' over {own.start}..{own.last} "
            f"but {shortest.tensor}'s over {steps.start}..{steps.last}; a scan steps them "
            f"together, {why}"
        )
    for member in recurrence.members:
        own = member.ranges[member.index]
        written = range(own.start + member.write_offset, own.last + member.write_offset + 1)
        for base in member.base_rules:
            position = base.indices.data[member.axis]
            if not isinstance(position, int):
                return (
                    f"{_another(base)} writes every position along dimension {member.axis}, "
                    "not only an initial one"
                )
            if position in written:
                return (
                    f"{_another(base)} writes position {position} of dimension {member.axis}, "
                    "which the recurrence writes too"
                )
    return recurrence


def _at_last_state(recurrence: Recurrence, member: Member) -> str:
    """Why a virtual scan's `member`, whose equation steps further than the
    scan, cannot take its value at the scan's last state ("" where it can).
    A training loop's `Loss[*s] = ... W[i, *s] ...` and `G[i, *s] =
    grad(Loss[*s], W[i, *s])` range over every state of W, one more than
    the steps `S` gives W's update: after the scan, `fuse-stratify` computes
    them once more from the last state (the loss at the trained W). That
    takes a member that steps exactly one further, whose previous step
    nothing reads, that reads no input slice and, at its own step, only
    members that step further too."""
    own = member.ranges[member.index].size
    if member.carried or own != recurrence.steps + 1:
        return f"{member.tensor} would have to step exactly one further and not be carried"
    if member.scanned:
        return f"{member.tensor} reads an input slice at each step"
    if member.step_values:
        return f"{member.tensor} reads the step number '{member.index}'"
    steps = {m.tensor: m.ranges[m.index].size for m in recurrence.members}
    for load in _loads(member.rule):
        name = load.tensor_name
        if name in steps and load not in recurrence.previous and steps[name] != own:
            return f"{member.tensor} reads {name} at its own step, which stops a step earlier"
    return ""


def _scanned_reads(
    group: frozenset[str], rule: RuleOp, index: str
) -> tuple[ScannedRead, ...] | str:
    scanned = []
    for load in _loads(rule):
        if load.tensor_name in group:
            continue
        dims = [d for d, p in enumerate(load.indices.data) if index in position_variables(p)]
        if not dims:
            continue
        position = as_affine(load.indices.data[dims[0]])
        if len(dims) > 1 or position.shifted_variable != index:
            return (
                f"{_spelled(load.tensor_name, load.indices.data)} reads "
                f"'{index}' other than as one position '{index} + c'"
            )
        scanned.append(ScannedRead(load, dims[0], position.constant))
    return tuple(scanned)


def _step_values(rule: RuleOp, index: str) -> tuple[CallOp, ...] | str:
    """The calls of a recursive equation that read the step index `t` as a
    number, `iota(t)` (the index written as a value), or why one cannot:
    another index function of `t` (`even(t)`, a mask over `t` and another
    index) would need the steps as a dimension, which a scan does not have."""
    found: list[CallOp] = []
    for op in body_ops(rule.body):
        arguments = op.index_args.data if isinstance(op, CallOp) and op.index_args else ()
        names = [str(n) for n in arguments]
        if index not in names:
            continue
        assert isinstance(op, CallOp)
        if op.callee.data != "iota" or names != [index]:
            return (
                f"{op.callee.data}({', '.join(names)}) uses the step index '{index}' as a "
                "dimension; a scan reads it only as a number (the index written as a value)"
            )
        found.append(op)
    return tuple(found)


def recurrences(program: ProgramOp) -> dict[str, Recurrence | str]:
    """Each tensor of a recursive component: the recurrence its component
    makes or why it makes none."""
    graph = dependency_graph(program)
    rules: dict[str, list[RuleOp]] = {}
    for op in program.body.block.ops:
        if isinstance(op, RuleOp):
            rules.setdefault(op.tensor_name, []).append(op)
    found: dict[str, Recurrence | str] = {}
    for component in strongly_connected_components(graph):
        if is_recursive(component, graph) and component[0] in rules:
            found.update(dict.fromkeys(component, analyze(program, component, rules)))
    return found


@dataclass(frozen=True)
class RecognizeRecurrencesPass(ModulePass):
    """See the module docstring."""

    name = "fuse-recognize-recurrences"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in programs(op):
            for tensor, found in recurrences(program).items():
                declaration = program.lookup_tensor(tensor)
                assert isinstance(declaration, TensorOp)
                if isinstance(found, Recurrence):
                    axis = next(m.axis for m in found.members if m.tensor == tensor)
                    declaration.attributes[SCAN_AXIS] = IntegerAttr(axis, i64)
                    declaration.attributes.pop(FIXPOINT_REASON, None)
                else:
                    declaration.attributes[FIXPOINT_REASON] = StringAttr(found)
                    declaration.attributes.pop(SCAN_AXIS, None)
