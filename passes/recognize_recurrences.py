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
  (its per-step slice), and nothing else in R depends on t;
* the other equations of X write constant positions along the axis, none
  that R writes: they give the initial state and whatever lies outside R's
  range.

A `*t` index on the left-hand side (`X[i, *t+1]`) makes the scan virtual:
only the last state is kept.

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

from collections.abc import Sequence
from dataclasses import dataclass, replace

from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.passes import ModulePass

from fuse.dialects.fuse import CallOp, LoadOp, ProgramOp, RuleOp, TensorOp
from fuse.dialects.fuse.affine import AffineIndex, IndexPosition, as_affine, position_variables
from fuse.dialects.fuse.scan import STEPS

from .dependencies import dependency_graph, is_recursive, strongly_connected_components
from .index_ranges import EmptyRange, Range, is_affine_rule, rule_ranges
from .infer_shapes import location_prefix

SCAN_AXIS = "fuse.scan_axis"
FIXPOINT_REASON = "fuse.fixpoint_reason"


@dataclass(frozen=True)
class ScannedRead:
    """A read of another tensor at `t + offset` in dimension `dim`: the
    scan takes its slice at each step."""

    load: LoadOp
    dim: int
    offset: int


@dataclass(frozen=True)
class Recurrence:
    """A recursive tensor that `fuse-stratify` emits as a `fuse.scan`."""

    tensor: str
    rule: RuleOp  # the recursive equation
    base_rules: tuple[RuleOp, ...]  # the others: constant positions along the axis
    axis: int
    index: str  # t
    write_offset: int  # R writes t + w ...
    read_offset: int  # ... from t + r
    ranges: dict[str, Range]  # R's index ranges
    scanned: tuple[ScannedRead, ...]
    virtual: bool
    # A virtual recurrence's per-step tensors (a training loop: the loss
    # and gradient at the current step, `G[i, *s] = grad(Loss[*s], W[i,
    # *s])`), each with the dimension its `*s` is at, in evaluation order:
    # the step computes them from the state before the next state.
    per_step: tuple[tuple[str, int], ...] = ()

    @property
    def reverse(self) -> bool:
        return self.write_offset < self.read_offset

    @property
    def steps(self) -> int:
        return self.ranges[self.index].size

    @property
    def first_write(self) -> int:
        """The lowest position along the axis that R writes."""
        return self.ranges[self.index].start + self.write_offset

    @property
    def init_position(self) -> int:
        """Where the state before the first step sits along the axis: just
        before the positions R writes (just after them, reversed)."""
        if self.reverse:
            return self.first_write + self.steps
        return self.first_write - 1


def _loads(rule: RuleOp) -> list[LoadOp]:
    return [op for op in rule.body.walk() if isinstance(op, LoadOp)]


def _another(rule: RuleOp) -> str:
    """`another equation of X (at file:line:col)`."""
    where = location_prefix(rule).removesuffix(": ")
    return f"another equation of {rule.tensor_name}" + (f" (at {where})" if where else "")


def analyze(program: ProgramOp, tensor: str, rules: list[RuleOp]) -> Recurrence | str:
    """The recurrence `tensor`'s equations make, or why they make none
    (the tensor is recursive on its own: some rule reads it)."""
    declaration = program.lookup_tensor(tensor)
    assert declaration is not None
    shape = tuple(declaration.tensor_type.get_shape())
    recursive = [r for r in rules if any(load.tensor_name == tensor for load in _loads(r))]
    if len(recursive) != 1:
        return f"{len(recursive)} equations of {tensor} read it; a scan steps one equation"
    rule = recursive[0]
    kinds = sorted({r.projection_kind.value for r in rules} - {"sum"})
    if kinds:
        return f"an equation of {tensor} projects with {kinds[0]}, not a sum"
    if not is_affine_rule(rule):
        return f"{tensor} reads itself with no index shifted by one: a fixpoint"
    write = tuple(rule.indices.data)
    found = {
        _scan_axis(tensor, write, tuple(load.indices.data))
        for load in _loads(rule)
        if load.tensor_name == tensor
    }
    reasons = sorted(f for f in found if isinstance(f, str))
    if reasons:
        return reasons[0]
    steps = [f for f in found if not isinstance(f, str)]
    if len(steps) != 1:
        return f"{tensor} reads itself at different steps of its index; a scan reads one"
    axis, index, write_offset, read_offset, virtual = steps[0]
    try:
        ranges = rule_ranges(rule, program)
    except EmptyRange as error:
        return str(error)
    if index not in ranges:
        return f"the range of index '{index}' is unknown"
    counts = rule.attributes.get(STEPS)
    count = counts.data.get(index) if isinstance(counts, DictionaryAttr) else None
    if isinstance(count, IntegerAttr) and count.value.data != ranges[index].size:
        return (
            f"'{index.upper()} = {count.value.data}' gives '*{index}' {count.value.data} steps, "
            f"but the tensors it indexes allow {ranges[index].size}"
        )
    for dim, (position, size) in enumerate(zip(write, shape, strict=True)):
        if dim == axis:
            continue
        if not isinstance(position, str):
            return f"{tensor}'s recursive equation writes dimension {dim} at '{position}'"
        if ranges.get(position) != Range(0, size):
            return (
                f"{tensor}'s recursive equation does not cover dimension {dim} whole "
                f"(index '{position}'), so one step does not make a whole state"
            )
    scanned = _scanned_reads(tensor, rule, index)
    if isinstance(scanned, str):
        return scanned
    recurrence = Recurrence(
        tensor,
        rule,
        tuple(r for r in rules if r is not rule),
        axis,
        index,
        write_offset,
        read_offset,
        ranges,
        scanned,
        virtual,
    )
    written = range(recurrence.first_write, recurrence.first_write + recurrence.steps)
    for base in recurrence.base_rules:
        position = base.indices.data[axis]
        if not isinstance(position, int):
            return (
                f"{_another(base)} writes every position along dimension {axis}, not only "
                "an initial one"
            )
        if position in written:
            return (
                f"{_another(base)} writes position {position} of dimension {axis}, which "
                "the recurrence writes too"
            )
    return recurrence


def _scan_axis(
    tensor: str, write: tuple[IndexPosition, ...], read: tuple[IndexPosition, ...]
) -> tuple[int, str, int, int, bool] | str:
    """(axis, index, write offset, read offset, virtual) of a self-reference,
    or why it does not step along one index."""
    found: tuple[int, str, int, int, bool] | None = None
    for dim, (written, was_read) in enumerate(zip(write, read, strict=True)):
        if isinstance(written, str) and isinstance(was_read, str):
            continue
        w, r = as_affine(written), as_affine(was_read)
        step = _single_index(w), _single_index(r)
        if step[0] is None or step[0] != step[1] or found is not None:
            return (
                f"{tensor} reads itself at [{', '.join(map(str, read))}] for "
                f"[{', '.join(map(str, write))}]: not one index shifted in one dimension"
            )
        if (w.virtual is None) != (r.virtual is None):
            return (
                f"{tensor} reads itself at [{', '.join(map(str, read))}] for "
                f"[{', '.join(map(str, write))}]: a virtual index is virtual on both sides"
            )
        shift = w.constant - r.constant
        if abs(shift) != 1:
            return (
                f"{tensor} reads itself {abs(shift)} steps away along '{step[0]}'; "
                "a scan steps by one"
            )
        found = (dim, step[0], w.constant, r.constant, w.virtual is not None)
    if found is None:
        return f"{tensor} reads itself with no index shifted by one: a fixpoint"
    index = found[1]
    for dim, (written, was_read) in enumerate(zip(write, read, strict=True)):
        if dim != found[0] and index in (
            *position_variables(written),
            *position_variables(was_read),
        ):
            return f"{tensor} uses '{index}' in more than one dimension of itself"
    return found


def _single_index(position: AffineIndex) -> str | None:
    """`t` for a position `t + c` (or `*t + c`), else None."""
    if len(position.terms) == 1 and position.terms[0][1] == 1 and position.divisor == 1:
        return position.terms[0][0]
    return None


def _scanned_reads(tensor: str, rule: RuleOp, index: str) -> tuple[ScannedRead, ...] | str:
    scanned = []
    for load in _loads(rule):
        if load.tensor_name == tensor:
            continue
        dims = [d for d, p in enumerate(load.indices.data) if index in position_variables(p)]
        if not dims:
            continue
        position = as_affine(load.indices.data[dims[0]])
        if len(dims) > 1 or _single_index(position) != index:
            return (
                f"{load.tensor_name}[{', '.join(map(str, load.indices.data))}] reads "
                f"'{index}' other than as one position '{index} + c'"
            )
        scanned.append(ScannedRead(load, dims[0], position.constant))
    for op in rule.body.walk():
        arguments = op.index_args.data if isinstance(op, CallOp) and op.index_args else ()
        if index in [str(n) for n in arguments]:
            return f"{op.callee.data} uses the value of '{index}' itself"
    return tuple(scanned)


def _virtual_dim(positions: Sequence[IndexPosition], index: str) -> int | str:
    """The one dimension an access holds `*index` at (plain, unshifted),
    or why it holds it otherwise."""
    dims = [d for d, p in enumerate(positions) if index in position_variables(p)]
    if len(dims) != 1:
        return f"does not hold '*{index}' in exactly one position"
    position = as_affine(positions[dims[0]])
    if position.virtual != index or position.constant != 0 or len(position.terms) != 1:
        return f"is not at the current step '*{index}'"
    return dims[0]


def _spelled(tensor: str, positions: Sequence[IndexPosition]) -> str:
    return f"{tensor}[{', '.join(map(str, positions))}]"


def analyze_loop(
    program: ProgramOp,
    component: list[str],
    rules: dict[str, list[RuleOp]],
    graph: dict[str, list[str]],
) -> Recurrence | str:
    """A virtual recurrence whose step reads tensors that read its current
    state (`W[i, *s+1] = W[i, *s] - Eta G[i, *s]` with `G[i, *s] =
    grad(Loss[*s], W[i, *s])`): one scan whose step computes the per-step
    tensors, or why the component is none."""
    mutual = f"{', '.join(component)} are mutually recursive; a scan steps one tensor"
    stepped = [n for n in component if n in graph[n] and n in rules]
    if len(stepped) != 1 or any(n not in rules for n in component):
        return mutual
    found = analyze(program, stepped[0], rules[stepped[0]])
    if isinstance(found, str):
        return f"{mutual}, and {found}"
    if not found.virtual:
        return f"{mutual}; only a virtual recurrence (*{found.index}) computes others per step"
    members = set(component)
    for base in found.base_rules:
        if any(load.tensor_name in members for load in _loads(base)):
            return f"{_another(base)} reads the loop's tensors: an initial state comes before it"
    per_step = [n for n in component if n != found.tensor]
    dims: dict[str, int] = {}
    for name in per_step:
        for rule in rules[name]:
            dim = _virtual_dim(rule.indices.data, found.index)
            if isinstance(dim, str):
                return (
                    f"the loop of {found.tensor} computes {name} at each step, but "
                    f"{_spelled(name, rule.indices.data)} {dim}"
                )
            dims[name] = dim
            for load in _loads(rule):
                if not any(found.index in position_variables(p) for p in load.indices.data):
                    continue
                read = _virtual_dim(load.indices.data, found.index)
                if load.tensor_name not in members:
                    read = f"reads '*{found.index}', which only the loop's own tensors have"
                if isinstance(read, str):
                    access = _spelled(load.tensor_name, load.indices.data)
                    return f"in the loop of {found.tensor}, {access} {read}"
    for read in found.scanned:
        if read.load.tensor_name in members and read.offset != 0:
            return (
                f"{found.tensor} reads {read.load.tensor_name} at '*{found.index} + "
                f"{read.offset}': a step reads the loop's tensors at the current step"
            )
    order = _evaluation_order(per_step, graph)
    if order is None:
        return f"{', '.join(per_step)} read each other within a step: a step computes them in order"
    return replace(
        found,
        scanned=tuple(r for r in found.scanned if r.load.tensor_name not in members),
        per_step=tuple((n, dims[n]) for n in order),
    )


def _evaluation_order(names: list[str], graph: dict[str, list[str]]) -> list[str] | None:
    """`names` with each after the ones of them it reads; None on a cycle."""
    order: list[str] = []
    remaining = list(names)
    while remaining:
        ready = [n for n in remaining if not any(r in remaining for r in graph[n])]
        if not ready:
            return None
        order += ready
        remaining = [n for n in remaining if n not in ready]
    return order


def recurrences(program: ProgramOp) -> dict[str, Recurrence | str]:
    """Each tensor recursive on its own: its recurrence or why it has none;
    tensors in a larger recursive component, why they have none."""
    graph = dependency_graph(program)
    rules: dict[str, list[RuleOp]] = {}
    for op in program.body.block.ops:
        if isinstance(op, RuleOp):
            rules.setdefault(op.tensor_name, []).append(op)
    found: dict[str, Recurrence | str] = {}
    for component in strongly_connected_components(graph):
        if not is_recursive(component, graph) or component[0] not in rules:
            continue
        if len(component) > 1:
            loop = analyze_loop(program, component, rules, graph)
            found.update(dict.fromkeys(component, loop))
        else:
            found[component[0]] = analyze(program, component[0], rules[component[0]])
    return found


@dataclass(frozen=True)
class RecognizeRecurrencesPass(ModulePass):
    """See the module docstring."""

    name = "fuse-recognize-recurrences"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in [o for o in op.walk() if isinstance(o, ProgramOp)]:
            for tensor, found in recurrences(program).items():
                declaration = program.lookup_tensor(tensor)
                assert isinstance(declaration, TensorOp)
                if isinstance(found, Recurrence):
                    declaration.attributes.pop(FIXPOINT_REASON, None)
                    if tensor == found.tensor:  # not its loop's per-step tensors
                        declaration.attributes[SCAN_AXIS] = IntegerAttr(found.axis, i64)
                else:
                    declaration.attributes[FIXPOINT_REASON] = StringAttr(found)
                    declaration.attributes.pop(SCAN_AXIS, None)
