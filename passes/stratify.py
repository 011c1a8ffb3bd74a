"""`fuse-stratify`: declarative level -> dataflow level.

Builds the dependency graph of the program's tensors, splits it into
strongly connected components and emits them in dependency order into
`func.func @main`:

* sources and runtime inputs become arguments (`{fuse.name, fuse.source}`);
* a non-recursive tensor is computed once: its rules' values combined (sum,
  or max for `max=`), then `step` if it is Boolean;
* a recursive component becomes a naive `fuse.fixpoint` whose body maps the
  component's current values to their next values;
* exports become results `{fuse.name}`; sinks become results
  `{fuse.sink, fuse.dims}` that the host writes after a run. A program with
  no export and no sink exports every tensor an equation defines.

Run it after `fuse-canonicalize-projections` (and `fuse-infer-shapes` where
sizes are known).

```mlir
// before
fuse.program {
  fuse.tensor @E[x, y] input : tensor<4x4xf32>
  fuse.tensor @P[x, y] boolean : tensor<4x4xf32>
  fuse.rule @P[x, y] sum { ... @E ... @P ... }
  fuse.export @P
}
// after
func.func @main(%E: tensor<4x4xf32> {fuse.name = "E"}) -> (tensor<4x4xf32> {fuse.name = "P"}) {
  %P = fuse.fixpoint naive {tensors = ["P"]} : tensor<4x4xf32> { ... }
  func.return %P : tensor<4x4xf32>
}
```
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.ir.affine import AffineExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import (
    CallOp,
    ConcatOp,
    ExportOp,
    FixpointOp,
    IndexFnOp,
    LoadOp,
    ProgramOp,
    QueryOp,
    RuleOp,
    ScanOp,
    SinkOp,
    TakeOp,
    TensorOp,
    UnaryOp,
    WindowOp,
    YieldOp,
)
from fuse.dialects.fuse.affine import AffineIndex, IndexPosition
from fuse.dialects.fuse.attributes import f32_tensor
from fuse.dialects.fuse.declarative import programs
from fuse.dialects.fuse.scan import sliced_type

from .dataflow_emitter import BodyEmitter, Indexed
from .dependencies import dependency_graph, is_recursive, strongly_connected_components
from .expr_tree import body_ops, names_of, yielded_value
from .index_ranges import (
    EmptyRange,
    Range,
    is_affine_rule,
    is_ranged,
    ranged_tensors,
    rule_ranges,
)
from .infer_shapes import location_prefix
from .recognize_recurrences import (
    FIXPOINT_REASON,
    SCAN_AXIS,
    WITHIN_STEP,
    Member,
    Recurrence,
    analyze,
)


def body_emitter(
    block: Block,
    tensor_value: Callable[[str], SSAValue],
    op: RuleOp | SinkOp,
    program: ProgramOp,
    declarations: Mapping[str, TensorOp],
    ranged: set[str],
) -> BodyEmitter:
    """The emitter of one rule or sink, knowing its indices' ranges."""
    if not is_ranged(op, ranged):
        return BodyEmitter(block, tensor_value, rule_sizes(op, declarations), op)
    try:
        ranges = rule_ranges(op, program)
    except EmptyRange as error:
        raise DiagnosticException(f"{location_prefix(op)}{error}") from None
    unknown = [n for n in _variables(op) if n not in ranges]
    if unknown:
        raise DiagnosticException(
            f"{location_prefix(op)}the range of index '{unknown[0]}' is unknown: under index "
            "arithmetic an index needs an access that bounds it (docs/index_arithmetic.md)"
        )
    sizes = {name: r.size for name, r in ranges.items()}
    starts = {name: r.start for name, r in ranges.items()}
    return BodyEmitter(block, tensor_value, sizes, op, starts)


def _variables(op: RuleOp | SinkOp) -> list[str]:
    names = list(op.indices.names()) if isinstance(op, RuleOp) else []
    for inner in body_ops(op.body):
        if isinstance(inner, LoadOp):
            names += inner.indices.names()
    return list(dict.fromkeys(names))


def rule_sizes(op: RuleOp | SinkOp, declarations: Mapping[str, TensorOp]) -> dict[str, int]:
    """Index sizes within a rule, from the declared shapes it touches."""
    sizes: dict[str, int] = {}
    accesses: list[tuple[str, tuple]] = []
    if isinstance(op, RuleOp):
        accesses.append((op.tensor_name, op.indices.data))
    for inner in body_ops(op.body):
        if isinstance(inner, LoadOp):
            accesses.append((inner.tensor_name, inner.indices.data))
    for tensor, indices in accesses:
        shape = declarations[tensor].tensor_type.get_shape()
        for index, size in zip(indices, shape, strict=True):
            if isinstance(index, str) and size >= 0:
                sizes.setdefault(index, size)
    return sizes


class _Stratifier:
    def __init__(self, program: ProgramOp):
        self.program = program
        self.graph = dependency_graph(program)
        self.declarations = {
            op.tensor_name: op for op in program.body.block.ops if isinstance(op, TensorOp)
        }
        self.rules: dict[str, list[RuleOp]] = {}
        for op in program.body.block.ops:
            if isinstance(op, RuleOp):
                self.rules.setdefault(op.tensor_name, []).append(op)
        self.values: dict[str, SSAValue] = {}
        self.ranged = ranged_tensors(program)

    def build(self) -> func.FuncOp:
        inputs = [d for d in self.declarations.values() if d.tensor_name not in self.rules]
        block = Block(arg_types=[d.tensor_type for d in inputs])
        arg_attrs = []
        for declaration, arg in zip(inputs, block.args, strict=True):
            arg.name_hint = _ssa_name(declaration.tensor_name)
            self.values[declaration.tensor_name] = arg
            if declaration.boolean is not None:
                # A relation given as data (`Parent(x, y) = "parent.tsv"`,
                # or at run time) is Boolean like one given by rules: its
                # numbers go through `step` once, here.
                stepped = UnaryOp("step", arg)
                block.add_op(stepped)
                self.values[declaration.tensor_name] = stepped.result
            attrs: dict[str, Attribute] = {"fuse.name": StringAttr(declaration.tensor_name)}
            if declaration.source is not None:
                attrs["fuse.source"] = declaration.source
            arg_attrs.append(DictionaryAttr(attrs))
        for component in strongly_connected_components(self.graph):
            if component[0] not in self.rules:
                continue
            recurrence = self.recurrence(component)
            self.check_virtual(component, recurrence)
            if recurrence is not None:
                self.emit_scan(block, recurrence)
            elif is_recursive(component, self.graph):
                self.emit_fixpoint(block, component)
            else:
                name = component[0]
                self.values[name] = self.emit_tensor(block, name, self.values.__getitem__)
        results, res_attrs = self.outputs(block)
        block.add_op(func.ReturnOp(*results))
        function = func.FuncOp(
            "main",
            ([a.type for a in block.args], [r.type for r in results]),
            Region(block),
            arg_attrs=ArrayAttr(arg_attrs),
            res_attrs=ArrayAttr(res_attrs),
        )
        return function

    def emit_tensor(
        self,
        block: Block,
        name: str,
        tensor_value: Callable[[str], SSAValue],
        rules: Sequence[RuleOp] | None = None,
    ) -> SSAValue:
        """The combined value of a tensor's rules (or of `rules`), `step`ped
        if Boolean."""
        declaration = self.declarations[name]
        names = tuple(str(n) for n in declaration.indices.data)
        combined: Indexed | None = None
        emitter: BodyEmitter | None = None
        for rule in self.rules[name] if rules is None else rules:
            emitter = body_emitter(
                block, tensor_value, rule, self.program, self.declarations, self.ranged
            )
            for n, size in zip(names, declaration.tensor_type.get_shape(), strict=True):
                if size >= 0:
                    emitter.sizes.setdefault(n, size)
            value = self.rule_value(emitter, rule, names)
            if combined is None:
                combined = value
            else:
                fn = "max" if rule.projection_kind == "max" else "add"
                # Rule values span the whole tensor, whatever range a rule
                # with index arithmetic gave its own indices.
                emitter.sizes.update(
                    (n, size)
                    for n, size in zip(names, declaration.tensor_type.get_shape(), strict=True)
                    if size >= 0
                )
                combined = emitter.binary(fn, combined, value)
        assert combined is not None and emitter is not None
        if declaration.boolean is not None:
            combined = emitter.unary("step", combined)
        combined.value.name_hint = _ssa_name(name)
        return combined.value

    def rule_value(
        self,
        emitter: BodyEmitter,
        rule: RuleOp,
        names: tuple[str, ...],
        dropped: int | None = None,
    ) -> Indexed:
        """One rule's value over the tensor's declared indices (`names`, from
        which the dimension `dropped` is left out, where the rule writes an
        integer and without index arithmetic: a scan's initial state):
        integer left-hand-side positions place it with a one-hot factor,
        index arithmetic with a `fuse.place`, and indices it does not
        mention broadcast."""
        if dropped is None and is_ranged(rule, self.ranged):
            return self.affine_rule_value(emitter, rule, names)
        positions = [p for d, p in enumerate(rule.indices.data) if d != dropped]
        unprojected = [n for n in names_of(yielded_value(rule.body)) if n not in names]
        if unprojected or [p for p in positions if isinstance(p, str)] != [
            n for n, p in zip(names, positions, strict=True) if isinstance(p, str)
        ]:
            raise emitter.error(
                f"rule @{rule.tensor_name} is not canonical (indices {unprojected} are not "
                "projected, or its indices are not the declared ones): run "
                "fuse-canonicalize-projections before fuse-stratify"
            )
        value = emitter.lower(yielded_value(rule.body))
        _require_dimension_sizes(emitter, rule, positions, names, value)
        onehots: list[Indexed] = []
        for position, name in zip(positions, names, strict=True):
            if isinstance(position, int):
                size = emitter.static_size(name, "an integer left-hand-side index")
                if position >= size:  # the one-hot would be all zeros: a lost write
                    dim = names.index(name) + 1
                    raise emitter.error(
                        f"index {position} is out of range for dimension {dim} of "
                        f"@{rule.tensor_name}, of size {size}"
                    )
                onehot = IndexFnOp("onehot", f32_tensor((size,)), position)
                onehots.append(Indexed(emitter.emit(onehot), (name,)))
        if onehots:
            present = set(value.names) | {o.names[0] for o in onehots}
            value = emitter.einsum([value, *onehots], [n for n in names if n in present])
        return emitter.broadcast_to(value, names)

    def affine_rule_value(
        self, emitter: BodyEmitter, rule: RuleOp, names: tuple[str, ...]
    ) -> Indexed:
        variables = rule.indices.names()
        unprojected = [n for n in names_of(yielded_value(rule.body)) if n not in variables]
        if unprojected:
            raise emitter.error(
                f"rule @{rule.tensor_name} is not canonical (indices {unprojected} are not "
                "projected): run fuse-canonicalize-projections before fuse-stratify"
            )
        shape = self.declarations[rule.tensor_name].tensor_type.get_shape()
        if DYNAMIC_INDEX in shape:
            raise emitter.error(
                f"the shape of @{rule.tensor_name} is unknown: run fuse-infer-shapes first"
            )
        value = emitter.lower(yielded_value(rule.body))
        kind = rule.projection_kind
        return Indexed(emitter.place(value, rule.indices.data, kind, shape), names)

    def check_virtual(self, component: list[str], recurrence: Recurrence | None) -> None:
        """A virtual index (`X[i, *t + 1]`) is only ever the index of a
        virtual scan, and nothing outside the scan reads its tensors: only
        their last step exists."""
        if recurrence is not None and recurrence.virtual:
            for member in recurrence.members:
                name = member.tensor
                readers = [
                    op
                    for op in self.program.body.block.ops
                    if isinstance(op, RuleOp | SinkOp)
                    and getattr(op, "tensor_name", None) not in component
                    and any(
                        isinstance(o, LoadOp) and o.tensor_name == name for o in body_ops(op.body)
                    )
                ]
                if readers:
                    raise DiagnosticException(
                        f"{location_prefix(readers[0])}this reads @{name}, whose index "
                        f"'{member.index}' is virtual: only its last step exists, "
                        f"which is what exporting @{name} gives"
                    )
            return
        for name in component:
            for rule in self.rules[name]:
                # A virtual position is index arithmetic: only a ranged
                # tensor's rules can hold one, and the rest need no walk.
                if not is_ranged(rule, self.ranged) or not _has_virtual(rule):
                    continue
                if not is_recursive(component, self.graph):
                    problem = f"@{name} does not read itself"
                else:
                    reason = self.declarations[name].attributes.get(FIXPOINT_REASON)
                    why = (
                        reason.data
                        if isinstance(reason, StringAttr)
                        else "run fuse-recognize-recurrences before fuse-stratify"
                    )
                    problem = f"@{name} stays a fixpoint: {why}"
                raise DiagnosticException(
                    f"{location_prefix(rule)}a virtual index steps a recurrence that runs as "
                    f"a scan, but {problem}"
                )

    def recurrence(self, component: list[str]) -> Recurrence | None:
        """The recurrence `fuse-recognize-recurrences` found for a component
        (None: it stays a fixpoint)."""
        if any(SCAN_AXIS not in self.declarations[name].attributes for name in component):
            return None
        found = analyze(self.program, component, self.rules)
        return found if isinstance(found, Recurrence) else None

    def emit_scan(self, block: Block, recurrence: Recurrence) -> None:
        """A recurrence as one `fuse.scan`: each member's other equations
        give its initial state (and the positions the scan does not cover);
        its recursive one, with the index fixed, is its part of the step.
        The scan carries a state for each member whose previous step the
        step reads or that anything after the scan reads; the others (the
        transformer's Query, Key, ... within a block) live within a step.
        A virtual scan's members that `at_last_state` names are not carried
        either: they are computed once more after the scan, from its final
        states (a training loop's exported loss is the trained W's)."""
        first = recurrence.members[0]
        emitter = BodyEmitter(block, self.values.__getitem__, {}, first.rule)
        needed = self.read_after(recurrence.tensors)
        after = self.at_last_state(recurrence, needed)
        kept = [
            m
            for m in recurrence.members
            if m.carried or (m.tensor in needed and m.tensor not in after)
        ]
        inits: list[SSAValue] = []
        bases: list[SSAValue | None] = []
        state_types: list[TensorType] = []
        for member in kept:
            init, base, state_type = self.scan_state(block, emitter, recurrence, member)
            inits.append(init)
            bases.append(base)
            state_types.append(state_type)
        xs, slice_names, replaced = self.scanned_inputs(emitter, recurrence)
        slice_types = [sliced_type(x.type, a) for x, a in xs]
        body = self.step_block(recurrence, kept, state_types, slice_types, slice_names, replaced)
        scan = ScanOp(
            [member.tensor for member in kept],
            inits,
            [x for x, _ in xs],
            [a for _, a in xs],
            recurrence.steps,
            Region(body),
            axis=None if recurrence.virtual else first.axis,
            virtual=recurrence.virtual,
            reverse=recurrence.reverse,
        )
        scan.location = first.rule.location
        within = [m.tensor for m in recurrence.members if m not in kept]
        if within:  # what explain() reports as part of the scan
            scan.attributes[WITHIN_STEP] = ArrayAttr([StringAttr(t) for t in within])
        block.add_op(scan)
        for member, result, base in zip(kept, scan.results, bases, strict=True):
            value: SSAValue = result
            if not recurrence.virtual:
                value = self.around_scan(emitter, recurrence, member, result, base)
            value.name_hint = _ssa_name(member.tensor)
            self.values[member.tensor] = value
        for member in kept:
            further = recurrence.further_steps(member)
            if further is not None:
                value = self.further_steps(block, member, further)
                value.name_hint = _ssa_name(member.tensor)
                self.values[member.tensor] = value
        if after:
            final = {f"{m.tensor}@state": self.values[m.tensor] for m in kept}
            members = [m for m in recurrence.members if m.tensor in after]
            self.emit_step(block, recurrence, members, final, self.step_loads(recurrence))
            for member in members:
                self.values[member.tensor] = final[f"{member.tensor}@step"]

    @staticmethod
    def at_last_state(recurrence: Recurrence, needed: set[str]) -> set[str]:
        """The members of a virtual recurrence that hold their value at its
        last state after the run: those read after the scan that it does not
        carry, with the members they read at the same step, where all of
        these read only earlier states (of carried members), each other and
        no input slice. `Loss[*s]` and `G[i, *s] = grad(Loss[*s], W[i, *s])`
        of a training loop are defined at the trained W too; a gate that
        reads an input's slice at `t` exists only for the steps taken (then
        the scan carries it: its last step). Empty: every member read after
        the scan is carried."""
        if not recurrence.virtual:
            return set()
        members = {m.tensor: m for m in recurrence.members}
        wanted = [t for t in needed if not members[t].carried]
        closure: set[str] = set()
        while wanted:
            member = members[wanted.pop()]
            if member.carried or member.scanned or member.step_values:
                return set()
            if member.tensor in closure:
                continue
            closure.add(member.tensor)
            wanted += [
                load.tensor_name
                for load in body_ops(member.rule.body)
                if isinstance(load, LoadOp)
                and load.tensor_name in members
                and load not in recurrence.previous
            ]
        return closure

    def further_steps(self, block: Block, member: Member, further: Range) -> SSAValue:
        """A member's tensor with its equation's values past the scan's steps
        added (`further`: those values of its index), computed from the
        tensors the scan finished. Nothing reads the member's previous step
        (`fuse-recognize-recurrences` makes sure), so every tensor these
        steps read is final: the members they read at the same step come
        earlier in the recurrence's order."""
        ranges = {**member.ranges, member.index: further}
        emitter = BodyEmitter(
            block,
            self.values.__getitem__,
            {n: r.size for n, r in ranges.items()},
            member.rule,
            {n: r.start for n, r in ranges.items()},
        )
        declaration = self.declarations[member.tensor]
        names = tuple(str(n) for n in declaration.indices.data)
        value = self.affine_rule_value(emitter, member.rule, names)
        if declaration.boolean is not None:
            value = emitter.unary("step", value)
        emitter.sizes.update(zip(names, declaration.tensor_type.get_shape(), strict=True))
        return emitter.binary("add", Indexed(self.values[member.tensor], names), value).value

    def read_after(self, tensors: Sequence[str]) -> set[str]:
        """Which of `tensors` (a recursive component) the program exports,
        queries, or reads outside their own equations."""
        ops = list(self.program.body.block.ops)
        if not any(isinstance(op, ExportOp | SinkOp) for op in ops):
            return set(tensors)  # a program without exports exports every tensor
        used = {op.tensor.root_reference.data for op in ops if isinstance(op, ExportOp)}
        used |= {op.tensor_name for op in ops if isinstance(op, QueryOp)}
        for op in ops:
            if isinstance(op, RuleOp | SinkOp) and getattr(op, "tensor_name", None) not in tensors:
                used |= {o.tensor_name for o in body_ops(op.body) if isinstance(o, LoadOp)}
        return used.intersection(tensors)

    def scan_state(
        self, block: Block, emitter: BodyEmitter, recurrence: Recurrence, member: Member
    ) -> tuple[SSAValue, SSAValue | None, TensorType]:
        """A member's initial state, the value of its other equations over
        the whole tensor where the scan needs it (None: zero where the scan
        does not write), and its state's type. A member whose previous step
        nothing reads starts from zeros that no step reads."""
        name, axis = member.tensor, member.axis
        shape = list(self.declarations[name].tensor_type.get_shape())
        if DYNAMIC_INDEX in shape:
            raise DiagnosticException(
                f"{location_prefix(member.rule)}the shape of @{name} is unknown: run "
                "fuse-infer-shapes first"
            )
        state_type = f32_tensor((*shape[:axis], *shape[axis + 1 :]))
        stored = recurrence.stored_positions(member)
        covered = stored.start == 0 and stored.stop == shape[axis]
        base_rules = member.base_rules
        init_position = recurrence.init_position(member)
        if not base_rules:
            return emitter.constant(np.zeros(state_type.get_shape())), None, state_type
        if (
            member.carried
            and covered
            and all(
                not is_affine_rule(r) and r.indices.data[axis] == init_position for r in base_rules
            )
        ):
            # every other equation writes the initial position: computed
            # there alone, never over the whole tensor
            return self.initial_state(block, member), None, state_type
        base = self.emit_tensor(block, name, self.values.__getitem__, base_rules)
        if not member.carried:
            return emitter.constant(np.zeros(state_type.get_shape())), base, state_type
        init = emitter.emit(TakeOp(base, axis, init_position, state_type))
        return init, base, state_type

    def step_block(
        self,
        recurrence: Recurrence,
        kept: Sequence[Member],
        state_types: list[TensorType],
        slice_types: list[Attribute],
        slice_names: list[str],
        replaced: dict[Operation, LoadOp],
    ) -> Block:
        """The scan's body: each member's recursive equation for one value of
        its index, in the recurrence's order, reading the states for the
        members' previous steps, the values computed before for their
        current ones and the named slices for the scanned inputs; it yields
        the next states of the `kept` members."""
        body = Block(arg_types=[*state_types, *slice_types])
        step_values: dict[str, SSAValue] = dict(
            zip(slice_names, body.args[len(state_types) :], strict=True)
        )
        for member, arg in zip(kept, body.args, strict=False):
            arg.name_hint = _ssa_name(member.tensor)
            step_values[f"{member.tensor}@state"] = arg
        replaced.update(self.step_loads(recurrence))
        self.emit_step(body, recurrence, recurrence.members, step_values, replaced)
        body.add_op(YieldOp(*(step_values[f"{member.tensor}@step"] for member in kept)))
        return body

    @staticmethod
    def step_loads(recurrence: Recurrence) -> dict[LoadOp, LoadOp]:
        """The members' reads of each other, each -> the load of the state
        (`X@state`, a previous step) or of the value this step computed
        (`X@step`) that stands for it."""
        axes = {member.tensor: member.axis for member in recurrence.members}
        return {
            load: LoadOp(
                f"{load.tensor_name}@{'state' if load in recurrence.previous else 'step'}",
                _without(load.indices.data, axes[load.tensor_name]),
            )
            for member in recurrence.members
            for load in body_ops(member.rule.body)
            if isinstance(load, LoadOp) and load.tensor_name in axes
        }

    def emit_step(
        self,
        block: Block,
        recurrence: Recurrence,
        members: Sequence[Member],
        step_values: dict[str, SSAValue],
        replaced: dict[Operation, LoadOp],
    ) -> None:
        """Emits `members`' recursive equations (in the recurrence's order)
        for one value of the index into `block`, reading `step_values` for
        the loads `replaced` names (states, slices) and adding each member's
        value there as `X@step`."""
        for member in members:
            ranges = {n: r for n, r in member.ranges.items() if n != member.index}
            step = _StepEmitter(
                block,
                lambda n: step_values[n] if n in step_values else self.values[n],
                {n: r.size for n, r in ranges.items()},
                member.rule,
                {n: r.start for n, r in ranges.items()},
                replaced,
                member.index,
            )
            value = step.lower(yielded_value(member.rule.body))
            state_names = [
                str(p) for d, p in enumerate(member.rule.indices.data) if d != member.axis
            ]
            value = step.broadcast_to(value, state_names)
            if self.declarations[member.tensor].boolean is not None:
                value = step.unary("step", value)
            value.value.name_hint = _ssa_name(member.tensor)
            step_values[f"{member.tensor}@step"] = value.value

    def initial_state(self, block: Block, member: Member) -> SSAValue:
        """The sum of the equations that write a member's initial position,
        over the tensor's other dimensions (`step`ped if Boolean)."""
        declaration = self.declarations[member.tensor]
        axis = member.axis
        names = tuple(str(n) for d, n in enumerate(declaration.indices.data) if d != axis)
        shape = [s for d, s in enumerate(declaration.tensor_type.get_shape()) if d != axis]
        combined: Indexed | None = None
        emitter: BodyEmitter | None = None
        for rule in member.base_rules:
            emitter = body_emitter(
                block, self.values.__getitem__, rule, self.program, self.declarations, self.ranged
            )
            for n, size in zip(names, shape, strict=True):
                emitter.sizes.setdefault(n, size)
            value = self.rule_value(emitter, rule, names, dropped=axis)
            combined = value if combined is None else emitter.binary("add", combined, value)
        assert combined is not None and emitter is not None
        if declaration.boolean is not None:
            combined = emitter.unary("step", combined)
        return combined.value

    def scanned_inputs(
        self, emitter: BodyEmitter, recurrence: Recurrence
    ) -> tuple[list[tuple[SSAValue, int]], list[str], dict[Operation, LoadOp]]:
        """The scanned inputs (each with its scan axis), the names the step
        reads their slices by, and the ops of the step that read a slice
        instead: loads of a whole tensor, and `iota(t)` calls of the step
        number (a scanned constant of the step index's values)."""
        inputs: dict[tuple[str, int, int], str] = {}
        xs: list[tuple[SSAValue, int]] = []
        replaced: dict[Operation, LoadOp] = {}
        for member in recurrence.members:
            start = recurrence.first_step(member)
            for read in member.scanned:
                key = (read.load.tensor_name, read.dim, start + read.offset)
                if key not in inputs:
                    inputs[key] = f"{read.load.tensor_name}@{len(inputs)}"
                    tensor = self.values[read.load.tensor_name]
                    window = _along(emitter, tensor, read.dim, key[2], recurrence.steps)
                    xs.append((window, read.dim))
                replaced[read.load] = LoadOp(
                    inputs[key], _without(read.load.indices.data, read.dim)
                )
            if member.step_values:
                # The step number: a scanned constant of the index's values
                # over the scan's steps, sliced as an input `Step[t]` would be.
                key = ("step number", 0, start)
                if key not in inputs:
                    inputs[key] = f"{member.index}@{len(inputs)}"
                    numbers = np.arange(start, start + recurrence.steps, dtype=np.float32)
                    xs.append((emitter.constant(numbers), 0))
                for call in member.step_values:
                    replaced[call] = LoadOp(inputs[key], [])
        return xs, list(inputs.values()), replaced

    def around_scan(
        self,
        emitter: BodyEmitter,
        recurrence: Recurrence,
        member: Member,
        stacked: SSAValue,
        base: SSAValue | None,
    ) -> SSAValue:
        """A member's whole tensor from a stored scan's states: the positions
        along the axis before and after them come from its other equations
        (zero where none writes). A member whose previous step nothing reads
        drops the state the scan started it from."""
        axis, steps = member.axis, recurrence.steps
        shape = list(self.declarations[member.tensor].tensor_type.get_shape())
        if not member.carried:
            stacked = _along(emitter, stacked, axis, 1 - int(recurrence.reverse), steps)
        stored = recurrence.stored_positions(member)
        pieces: list[SSAValue | None] = []
        for begin, end in ((0, stored.start), (stored.stop, shape[axis])):
            if begin >= end:
                pieces.append(None)
            elif base is None:
                piece_shape = [*shape[:axis], end - begin, *shape[axis + 1 :]]
                pieces.append(emitter.constant(np.zeros(piece_shape)))
            else:
                pieces.append(_along(emitter, base, axis, begin, end - begin))
        parts = [p for p in (pieces[0], stacked, pieces[1]) if p is not None]
        if len(parts) == 1:
            return stacked
        return emitter.emit(ConcatOp(axis, parts, f32_tensor(tuple(shape))))

    def emit_fixpoint(self, block: Block, component: list[str]) -> None:
        types = [self.declarations[n].tensor_type for n in component]
        inputs_known = all(
            d.tensor_type.has_static_shape()
            for name, d in self.declarations.items()
            if name not in self.rules
        )  # else an input not given yet may be what is missing (a runner reports it)
        for name, tensor_type in zip(component, types, strict=True):
            unknown = [n for n, size in enumerate(tensor_type.get_shape()) if size == DYNAMIC_INDEX]
            if unknown and inputs_known:  # `A[x, z] = A[x, y] P[y, z]`: only A could give |x|
                raise DiagnosticException(
                    f"{location_prefix(self.rules[name][0])}dimension {unknown[0] + 1} of "
                    f"@{name} has no known size: only its own recursion uses it, and no "
                    "input, source or other equation gives it"
                )
        body = Block(arg_types=types)
        current = dict(zip(component, body.args, strict=True))
        for name, arg in current.items():
            arg.name_hint = _ssa_name(name)

        def tensor_value(name: str) -> SSAValue:
            return current[name] if name in current else self.values[name]

        next_values = [self.emit_tensor(body, name, tensor_value) for name in component]
        body.add_op(YieldOp(*next_values))
        fixpoint = FixpointOp("naive", component, types, Region(body))
        fixpoint.location = self.rules[component[0]][0].location  # for diagnostics
        reason = self.declarations[component[0]].attributes.get(FIXPOINT_REASON)
        if reason is not None:
            fixpoint.attributes[FIXPOINT_REASON] = reason
        block.add_op(fixpoint)
        for name, result in zip(component, fixpoint.results, strict=True):
            result.name_hint = _ssa_name(name)
            self.values[name] = result

    def outputs(self, block: Block) -> tuple[list[SSAValue], list[DictionaryAttr]]:
        results: list[SSAValue] = []
        attrs: list[DictionaryAttr] = []
        ops = list(self.program.body.block.ops)
        exports = [op.tensor.root_reference.data for op in ops if isinstance(op, ExportOp)]
        sinks = [op for op in ops if isinstance(op, SinkOp)]
        if not exports and not sinks:
            exports = list(self.rules)
        for name in dict.fromkeys(exports):
            if name not in self.values:
                raise DiagnosticException(f"export of @{name}, which nothing defines")
            results.append(self.values[name])
            attrs.append(DictionaryAttr({"fuse.name": StringAttr(name)}))
        for sink in sinks:
            emitter = body_emitter(
                block, self.values.__getitem__, sink, self.program, self.declarations, self.ranged
            )
            root = yielded_value(sink.body)
            value = emitter.lower(root)
            results.append(value.value)
            dims = ArrayAttr([StringAttr(n) for n in names_of(root)])
            attrs.append(DictionaryAttr({"fuse.sink": sink.path, "fuse.dims": dims}))
        return results, attrs


def _require_dimension_sizes(
    emitter: BodyEmitter,
    rule: RuleOp,
    positions: Sequence[IndexPosition],
    names: tuple[str, ...],
    value: Indexed,
) -> None:
    """The sizes a rule's placement needs: along a dimension where it writes
    at an integer position (`Y[i, 0] = ...`) or that its value does not
    vary over (broadcast). Reported as the tensor's dimension, since the
    declared name may be one the IR builder made up (`d1`). `positions` and
    `names` leave out a scan's stepped dimension."""
    for n, (position, name) in enumerate(zip(positions, names, strict=True)):
        if emitter.size(name) != DYNAMIC_INDEX:
            continue
        if isinstance(position, int):
            how = f"writes at position {position} along it"
        elif name not in value.names:
            how = "repeats its value along it"
        else:
            continue
        raise emitter.error(
            f"dimension {n + 1} of @{rule.tensor_name} has no known size: the equation "
            f"{how}, and no input, source or other equation gives its size"
        )


class _StepEmitter(BodyEmitter):
    """Emits a recurrence's equation for one value of its index: loads of
    the tensor itself read the state, loads of scanned inputs and `iota` of
    the index (the step number) their slices (`replaced`: each op -> the
    load that stands for it), and no value varies over the index."""

    def __init__(
        self,
        block: Block,
        tensor_value: Callable[[str], SSAValue],
        sizes: dict[str, int],
        located: RuleOp,
        starts: dict[str, int],
        replaced: dict[Operation, LoadOp],
        index: str,
    ):
        super().__init__(block, tensor_value, sizes, located, starts)
        self.replaced = replaced
        self.index = index

    def source_load(self, op: LoadOp) -> LoadOp:
        return self.replaced.get(op, op)

    def lower_load(self, op: LoadOp) -> Indexed:
        return super().lower_load(self.source_load(op))

    def lower_call(self, op: CallOp) -> Indexed:
        """`iota(t)` of the step index reads the step number's slice."""
        if op in self.replaced:
            return super().lower_load(self.replaced[op])
        return super().lower_call(op)

    def index_names(self, value: SSAValue) -> tuple[str, ...]:
        return tuple(n for n in names_of(value) if n != self.index)


def _has_virtual(rule: RuleOp) -> bool:
    """Whether a rule writes or reads a `*t` position."""
    accesses = [rule.indices, *(o.indices for o in body_ops(rule.body) if isinstance(o, LoadOp))]
    return any(
        isinstance(p, AffineIndex) and p.virtual is not None for a in accesses for p in a.data
    )


def _without(positions: Sequence[IndexPosition], dim: int) -> list[IndexPosition]:
    return [p for d, p in enumerate(positions) if d != dim]


def _along(emitter: BodyEmitter, tensor: SSAValue, dim: int, start: int, size: int) -> SSAValue:
    """Positions `start .. start + size - 1` of `tensor` along `dim` (the
    tensor itself where that is all of it)."""
    shape = list(tensor.type.get_shape())
    if start == 0 and size == shape[dim]:
        return tensor
    rank = len(shape)
    results = tuple(
        AffineExpr.dimension(d) + start if d == dim else AffineExpr.dimension(d)
        for d in range(rank)
    )
    shape[dim] = size
    return emitter.emit(WindowOp(tensor, AffineMap(rank, 0, results), f32_tensor(tuple(shape))))


def _ssa_name(tensor: str) -> str | None:
    """A tensor name usable as an SSA name hint (`p'` is not)."""
    return tensor if tensor.replace("_", "a").isalnum() else None


def stratify_program(program: ProgramOp) -> func.FuncOp:
    return _Stratifier(program).build()


@dataclass(frozen=True)
class StratifyPass(ModulePass):
    """See the module docstring."""

    name = "fuse-stratify"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for program in programs(op):
            function = stratify_program(program)
            parent = program.parent_block()
            assert parent is not None
            parent.insert_op_before(function, program)
            # Detached, not erased: nothing outside the program uses its
            # values, and erasing unlinks every use in every body, which
            # cost a tenth of the pass; the collector frees it.
            parent.detach_op(program)
