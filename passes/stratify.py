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

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
)
from xdsl.ir import Attribute, Block, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import (
    ExportOp,
    FixpointOp,
    IndexFnOp,
    LoadOp,
    ProgramOp,
    RuleOp,
    SinkOp,
    TensorOp,
    YieldOp,
)
from fuse.dialects.fuse.attributes import f32_tensor

from .dataflow_emitter import BodyEmitter, Indexed
from .expr_tree import names_of, yielded_value
from .index_ranges import EmptyRange, is_ranged, ranged_tensors, rule_ranges
from .infer_shapes import location_prefix


def dependency_graph(program: ProgramOp) -> dict[str, list[str]]:
    """Tensor -> the tensors its rules read, in first-read order."""
    graph: dict[str, list[str]] = {
        op.tensor_name: [] for op in program.body.block.ops if isinstance(op, TensorOp)
    }
    for rule in program.body.block.ops:
        if isinstance(rule, RuleOp):
            reads = graph[rule.tensor_name]
            for op in rule.body.walk():
                if isinstance(op, LoadOp) and op.tensor_name not in reads:
                    reads.append(op.tensor_name)
    return graph


def strongly_connected_components(graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively. Components come out dependencies
    first, which is the evaluation order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    order = {name: position for position, name in enumerate(graph)}
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(graph[succ])))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component, key=order.__getitem__))
    return components


def is_recursive(component: list[str], graph: dict[str, list[str]]) -> bool:
    return len(component) > 1 or component[0] in graph[component[0]]


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
    for inner in op.body.walk():
        if isinstance(inner, LoadOp):
            names += inner.indices.names()
    return list(dict.fromkeys(names))


def rule_sizes(op: RuleOp | SinkOp, declarations: Mapping[str, TensorOp]) -> dict[str, int]:
    """Index sizes within a rule, from the declared shapes it touches."""
    sizes: dict[str, int] = {}
    accesses: list[tuple[str, tuple]] = []
    if isinstance(op, RuleOp):
        accesses.append((op.tensor_name, op.indices.data))
    for inner in op.body.walk():
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
            attrs: dict[str, Attribute] = {"fuse.name": StringAttr(declaration.tensor_name)}
            if declaration.source is not None:
                attrs["fuse.source"] = declaration.source
            arg_attrs.append(DictionaryAttr(attrs))
        for component in strongly_connected_components(self.graph):
            if component[0] not in self.rules:
                continue
            if is_recursive(component, self.graph):
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
        self, block: Block, name: str, tensor_value: Callable[[str], SSAValue]
    ) -> SSAValue:
        """The combined value of a tensor's rules, `step`ped if Boolean."""
        declaration = self.declarations[name]
        names = tuple(str(n) for n in declaration.indices.data)
        combined: Indexed | None = None
        emitter: BodyEmitter | None = None
        for rule in self.rules[name]:
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

    def rule_value(self, emitter: BodyEmitter, rule: RuleOp, names: tuple[str, ...]) -> Indexed:
        """One rule's value over the tensor's declared indices: integer
        left-hand-side positions place it with a one-hot factor, index
        arithmetic with a `fuse.place`, and indices it does not mention
        broadcast."""
        if is_ranged(rule, self.ranged):
            return self.affine_rule_value(emitter, rule, names)
        unprojected = [n for n in names_of(yielded_value(rule.body)) if n not in names]
        if unprojected or [p for p in rule.indices.data if isinstance(p, str)] != [
            n for n, p in zip(names, rule.indices.data, strict=True) if isinstance(p, str)
        ]:
            raise emitter.error(
                f"rule @{rule.tensor_name} is not canonical (indices {unprojected} are not "
                "projected, or its indices are not the declared ones): run "
                "fuse-canonicalize-projections before fuse-stratify"
            )
        value = emitter.lower(yielded_value(rule.body))
        _require_dimension_sizes(emitter, rule, names, value)
        onehots: list[Indexed] = []
        for position, name in zip(rule.indices.data, names, strict=True):
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
    emitter: BodyEmitter, rule: RuleOp, names: tuple[str, ...], value: Indexed
) -> None:
    """The sizes a rule's placement needs: along a dimension where it writes
    at an integer position (`Y[i, 0] = ...`) or that its value does not
    vary over (broadcast). Reported as the tensor's dimension, since the
    declared name may be one the IR builder made up (`d1`)."""
    for n, (position, name) in enumerate(zip(rule.indices.data, names, strict=True)):
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
        for program in [o for o in op.walk() if isinstance(o, ProgramOp)]:
            function = stratify_program(program)
            parent = program.parent_block()
            assert parent is not None
            parent.insert_op_before(function, program)
            parent.erase_op(program)
