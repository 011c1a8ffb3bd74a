"""The IR walk: `func.func @main` at the dataflow level -> a `PlanRecipe`.

Every op is visited once. Its static facts (subscripts, axes, shapes, read
by `fuse.lowering.op_facts` as for the torch backend) become a kernel
recipe (`recipe.py`; `build.py` makes each a closure of `kernels.py`, with
einsums planned by `fuse.lowering.einsum_plan`), bound to its operand and
result slots as one step. Constants and index functions are evaluated at
compile time and stored in the value table's template, so they cost
nothing per run.

Representations are decided here too (`relations.py`): every slot is known
to be dense or "maybe sparse". An op whose operands are all dense gets its
dense kernel unchanged, with no run-time checks; an op with a maybe-sparse
operand gets a kernel of `sparse.py` or, where there is none, the dense
kernel behind a densifying wrapper. Results of `@main`, and fixpoint values
held dense, are made dense where they may not be.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from xdsl.dialects.builtin import (
    ArrayAttr,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, Operation, SSAValue

from fuse.config import ExecutionConfig
from fuse.dialects.fuse import (
    BinaryOp,
    ConstantOp,
    EinsumOp,
    FixpointOp,
    IndexFnOp,
    TakeOp,
)
from fuse.dialects.fuse.declarative import YieldOp
from fuse.dialects.fuse.scan import ScanOp
from fuse.dialects.fuse.subscripts import parse_subscripts
from fuse.errors import FuseError
from fuse.lowering.backend import declared_names, main_function, static_shape
from fuse.lowering.op_facts import constant_array, fixpoint_bounds, has_kernel, kernel_arguments

from . import build
from .kernels import Shape
from .recipe import (
    FixpointRecipe,
    KernelRecipe,
    PlanRecipe,
    RegionRecipe,
    ScanRecipe,
    StepRecipe,
)
from .relations import Relations, plan_relations


def plan_recipe(module: ModuleOp, config: ExecutionConfig) -> PlanRecipe:
    main = main_function(module)
    relations = plan_relations(main, config)
    planner = _Planner(config, relations)
    for n in relations.inputs:
        planner.sparse[planner.slot(main.body.block.args[n])] = True
    results = [False] * len(main.function_type.outputs.data)  # returned dense
    region = planner.region(main.body.block, depth=0, sparse_yields=results)
    return PlanRecipe(
        slot_count=len(planner.shapes),
        constants=tuple((slot, *value) for slot, value in planner.constants.items()),
        region=region,
        arg_names=tuple(_arg_names(main)),
        arg_shapes=tuple(planner.shapes[slot] for slot in region.arg_slots),
        relation_inputs=relations.inputs,
    )


def _arg_names(main: FuncOp) -> list[str]:
    """Declared names, and `#n` for an argument without one."""
    return [name if name is not None else f"#{n}" for n, name in enumerate(declared_names(main))]


class _Planner:
    """Assigns value-table slots and turns ops into step recipes.
    `sparse[slot]`: the slot may hold a scipy.sparse matrix."""

    def __init__(self, config: ExecutionConfig, relations: Relations):
        self.config = config
        self.relations = relations
        self.slots: dict[SSAValue, int] = {}
        self.shapes: list[Shape] = []
        self.sparse: list[bool] = []
        self.constants: dict[int, tuple[Shape, bytes]] = {}  # slot -> fp32 value

    def slot(self, value: SSAValue) -> int:
        if value not in self.slots:
            self.slots[value] = self.new_slot(static_shape(value, "numpy"))
        return self.slots[value]

    def new_slot(self, shape: Shape) -> int:
        self.shapes.append(shape)
        self.sparse.append(False)
        return len(self.shapes) - 1

    def shape(self, value: SSAValue) -> Shape:
        return self.shapes[self.slot(value)]

    def region(self, block: Block, depth: int, sparse_yields: Sequence[bool]) -> RegionRecipe:
        """The compiled block; a yielded value that may be sparse where
        `sparse_yields` says dense is made dense by one more step."""
        arg_slots = tuple(self.slot(arg) for arg in block.args)
        terminator = block.last_op
        if not isinstance(terminator, ReturnOp | YieldOp):
            raise FuseError("the numpy backend expects blocks to end in func.return or fuse.yield")
        dead_after = _dead_after(block, terminator)
        steps: list[StepRecipe] = []
        releases: list[tuple[int, ...]] = []
        for op in block.ops:
            step = self.op(op, depth) if op is not terminator else None
            if step is not None:
                steps.append(step)
                slots = (self.slot(v) for v in dead_after.get(op, ()))
                releases.append(tuple(n for n in slots if n not in self.constants))
        yield_slots = []
        for value, keep_sparse in zip(terminator.operands, sparse_yields, strict=True):
            slot = self.slot(value)
            if self.sparse[slot] and not keep_sparse:
                dense = self.new_slot(self.shapes[slot])
                steps.append(StepRecipe(KernelRecipe("sparse.to_dense"), (slot,), dense))
                releases.append(())
                slot = dense
            yield_slots.append(slot)
        return RegionRecipe(tuple(steps), tuple(releases), arg_slots, tuple(yield_slots))

    def op(self, op: Operation, depth: int) -> StepRecipe | None:
        """The step of one op, or None for a constant (stored in the template)."""
        if isinstance(op, ConstantOp | IndexFnOp):
            array = constant_array(op, self.shape(op.results[0]))
            self.constants[self.slot(op.results[0])] = (array.shape, array.tobytes())
            return None
        if not isinstance(op, FixpointOp | ScanOp) and not has_kernel(op):
            raise FuseError(f"the numpy backend does not support '{op.name}'")
        label = describe_step(op, depth) if self.config.profile else None
        if isinstance(op, FixpointOp):
            return StepRecipe(self.fixpoint(op, depth), label=label)
        if isinstance(op, ScanOp):
            return StepRecipe(self.scan(op, depth), label=label)
        operands = tuple(self.slot(v) for v in op.operands)
        result = self.slot(op.results[0])
        recipe, self.sparse[result] = self.kernel(op, [self.sparse[n] for n in operands])
        return StepRecipe(recipe, operands, result, label)

    def kernel(self, op: Operation, maybe_sparse: list[bool]) -> tuple[KernelRecipe, bool]:
        """The kernel of `op` given which operands may be sparse, and whether
        its result may be (only a rank-2 one can)."""
        if op.results[0] in self.relations.steps:
            return KernelRecipe("sparse.step"), True
        dense = KernelRecipe(*kernel_arguments(op, self.shape, self.config.block_size))
        if not any(maybe_sparse):
            return dense, False
        describe = _SPARSE_KERNELS.get(type(op))
        relational = describe(op, self, maybe_sparse) if describe else None
        # A sparse builder decides for itself whether these operands have a
        # sparse form; asking it means building the kernel once here.
        if relational is not None and build.kernel(relational) is not None:
            return relational, len(self.shape(op.results[0])) == 2
        return KernelRecipe("densified", (dense, tuple(maybe_sparse))), False

    def scan(self, op: ScanOp, depth: int) -> ScanRecipe:
        """States and slices are dense: a scan's body is a vectorized step."""
        stacked = None
        if not op.is_virtual:
            axis = op.stacking_axis
            stacked = tuple(
                (shape[axis], *shape[:axis], *shape[axis + 1 :])
                for shape in (self.shape(r) for r in op.results_)
            )
        return ScanRecipe(
            tensors=op.tensor_names,
            body=self.region(op.body.block, depth + 1, (False,) * len(op.init)),
            steps=op.step_count,
            reverse=op.is_reverse,
            init_slots=tuple(self.slot(v) for v in op.init),
            xs_slots=tuple(self.slot(v) for v in op.xs),
            in_axes=op.scanned_axes,
            axis=None if op.is_virtual else op.stacking_axis,
            stacked_shapes=stacked,
            result_slots=tuple(self.slot(r) for r in op.results_),
        )

    def fixpoint(self, op: FixpointOp, depth: int) -> FixpointRecipe:
        held = self.relations.fixpoint(op)
        # the body's arguments: iterates, then (semi-naive) their deltas
        for arg, is_sparse in zip(op.body.block.args, held * 2, strict=False):
            self.sparse[self.slot(arg)] = is_sparse
        for result, is_sparse in zip(op.results_, held, strict=True):
            self.sparse[self.slot(result)] = is_sparse
        init = self.region(op.init.block, depth + 1, held) if op.init is not None else None
        tolerance, max_iters = fixpoint_bounds(op, self.config.tolerance, self.config.max_iters)
        return FixpointRecipe(
            tensors=tuple(op.tensor_names),
            body=self.region(op.body.block, depth + 1, held),
            init=init,
            deltas=tuple(kind.value for kind in op.delta_kinds) or (None,) * len(held),  # naive
            held_sparse=held,
            shapes=tuple(self.shape(r) for r in op.results_),
            tolerance=tolerance,
            max_iters=max_iters,
            result_slots=tuple(self.slot(r) for r in op.results_),
        )


def _dead_after(block: Block, terminator: Operation) -> dict[Operation, list[SSAValue]]:
    """For each op of `block`, the values of the block (arguments and results)
    that nothing reads after it. A use inside a nested region counts as a use
    by the op that holds the region: the region may run again. Releasing dead
    values as soon as possible lets NumPy reuse their memory within a run,
    as in hand-written code; holding every intermediate until the end of a
    run makes each large allocation fault in fresh pages."""
    last: dict[SSAValue, Operation | None] = dict.fromkeys(block.args)
    for op in block.ops:
        if op is terminator:
            break
        for nested in op.walk():
            for operand in nested.operands:
                if operand in last:
                    last[operand] = op
        last.update(dict.fromkeys(op.results, op))
    kept = set(terminator.operands)
    dead_after: dict[Operation, list[SSAValue]] = {}
    for value, op in last.items():
        if op is not None and value not in kept:
            dead_after.setdefault(op, []).append(value)
    return dead_after


def describe_step(op: Operation, depth: int) -> str:
    """`fuse.einsum ik,kj->ij sum path=[[0, 1]] -> 4x3`, indented by depth."""
    parts = [op.name]
    for key, attr in op.properties.items():
        text = _format(attr)
        parts.append(text if isinstance(attr, StringAttr) else f"{key}={text}")
    shapes = ", ".join("x".join(map(str, r.type.get_shape())) for r in op.results)
    return "  " * depth + " ".join(parts) + f" -> {shapes}"


def _format(attr: Attribute) -> str:
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, IntegerAttr):
        return str(attr.value.data)
    if isinstance(attr, FloatAttr):
        return f"{attr.value.data:g}"
    if isinstance(attr, ArrayAttr):
        return "[" + ", ".join(_format(a) for a in attr.data) + "]"
    return str(attr)


# --- per-op kernel builders --------------------------------------------------------


def _sparse_einsum(op: EinsumOp, planner: _Planner, maybe_sparse: list[bool]) -> KernelRecipe:
    inputs, output = parse_subscripts(op.subscripts.data)
    shapes = tuple(planner.shape(v) for v in op.inputs)
    args = (tuple(inputs), output, op.kind.data, shapes, tuple(maybe_sparse))
    return KernelRecipe("sparse.einsum", args)


def _sparse_binary(op: BinaryOp, planner: _Planner, maybe_sparse: list[bool]) -> KernelRecipe:
    shapes = (planner.shape(op.lhs), planner.shape(op.rhs))
    return KernelRecipe(
        "sparse.binary", (op.fn.data, op.subscripts.data, shapes, tuple(maybe_sparse))
    )


def _sparse_take(op: TakeOp, planner: _Planner, maybe_sparse: list[bool]) -> KernelRecipe:
    return KernelRecipe("sparse.take", (op.dim.value.data, op.position.value.data))


# Ops that may have kernels for maybe-sparse operands (`build.kernel` gives
# None where these operands have none: densify after all).
_SPARSE_KERNELS: dict[type[Operation], Callable[[Any, _Planner, list[bool]], KernelRecipe]] = {
    EinsumOp: _sparse_einsum,
    BinaryOp: _sparse_binary,
    TakeOp: _sparse_take,
}
