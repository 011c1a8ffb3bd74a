"""`fuse-check-memory`: refuse a plan whose arrays would not fit in memory.

Once shapes are known (after `fuse-infer-shapes` and `fuse-stratify`, and
after the optimization passes), every array a backend will allocate has a
static size: each op result in `@main` (fixpoint bodies and Monte-Carlo
samples included) and the intermediates a backend makes inside one
`fuse.einsum`:

* `sum`/`mean` with three or more operands: one array per pairwise step, in
  the op's `path`, or without one in the order the backend picks (NumPy and
  Torch: opt_einsum's path, as `lowering/einsum_plan.py` plans it; JAX: left
  to right, as `lowering/jax/einsum.py` lowers it). Each step keeps the
  letters the output or a later operand still needs;
* `max`: the broadcast product of all operands over every letter (NumPy and
  Torch cut it into `block_size` rows of the output's first letter);
* `fuse.window` and `fuse.place` (index arithmetic): the int64 index tables
  they are compiled with, one entry per window element, and per place
  result element one per operand element that may land on it;
* `fuse.conv` on NumPy: the windows laid out as rows, one per output
  position and batch element, of filter-size times input-feature values
  (the matrix its one matmul multiplies; `lowering/numpy/convolution.py`).

An array larger than `limit` bytes is an error naming the equation (its
location), the array's shape and the bytes it needs, raised before any
backend compiles or allocates, so no backend runs out of memory on a plan
this pass has seen (XLA would abort the whole process). Elements count at
least 4 bytes (backends work in fp32; for fp16/bf16 this is conservative).
Function arguments (runtime inputs, sources) are not checked: they already
exist. The check is per array, not of the peak sum of live arrays.

```mlir
// fuse-check-memory{limit=30000}
%T = fuse.einsum "a,b->ab" sum (%A, %B) : (tensor<100xf32>, tensor<100xf32>) -> tensor<100x100xf32>
// error: the equation for 'T' needs a result of shape [100x100]: 39.1 KiB (40000 bytes),
//        over the memory limit of 29.3 KiB (30000 bytes); ...
```
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import opt_einsum
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import FileLineColLoc, ModuleOp, TensorType
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import EinsumOp, PlaceOp, WindowOp
from fuse.dialects.fuse.subscripts import parse_subscripts
from fuse.dialects.fuse.window import ConvOp
from fuse.lowering.affine_access import flat_positions, forms_of
from fuse.lowering.convolution import ConvPlan

BACKENDS = ("", "numpy", "torch", "jax", "xla")
MIN_ELEMENT_BYTES = 4


class MemoryBudgetExceeded(DiagnosticException):
    """An array of the plan is larger than the limit; `location` is the
    equation's source location where the IR builder recorded one."""

    def __init__(self, message: str, location: FileLineColLoc | None):
        super().__init__(message)
        self.message = message
        self.location = location


@dataclass(frozen=True)
class ArrayNeed:
    """One array a backend would allocate for an op."""

    shape: tuple[int, ...]
    bytes: int
    what: str  # "result", "pairwise step", ...


def element_bytes(tensor_type: TensorType) -> int:
    width = getattr(tensor_type.element_type, "bitwidth", 32)
    return max(MIN_ELEMENT_BYTES, -(-width // 8))


def format_bytes(count: int) -> str:
    """`count` bytes with a binary unit, for messages (`3.6 TiB`)."""
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def einsum_intermediates(
    inputs: Sequence[str],
    output: str,
    sizes: dict[str, int],
    kind: str,
    path: Sequence[Sequence[int]] | None,
    backend: str,
) -> Iterator[str]:
    """The letters of each array a backend materializes inside one einsum
    besides its result. `backend` "" yields those of every backend."""
    inputs = ["".join(dict.fromkeys(letters)) for letters in inputs]  # diagonals first
    if kind == "max":  # output letters first: `op_needs` cuts blocks of the first
        yield output + "".join(c for c in dict.fromkeys("".join(inputs)) if c not in output)
        return
    if len(inputs) < 3:
        return
    if path is not None:
        yield from _along(inputs, output, path, appended=True)
        return
    if backend in ("", "numpy", "torch"):
        shapes = [tuple(sizes[c] for c in letters) for letters in inputs]
        chosen, _ = opt_einsum.contract_path(f"{','.join(inputs)}->{output}", *shapes, shapes=True)
        yield from _along(inputs, output, chosen, appended=True)
    if backend in ("", "jax", "xla"):
        yield from _along(inputs, output, [(0, 1)] * (len(inputs) - 1), appended=False)


def _along(
    inputs: Sequence[str], output: str, path: Sequence[Sequence[int]], *, appended: bool
) -> Iterator[str]:
    """Letters of each pairwise step's result along `path`: a step keeps
    what the output or another remaining operand needs. Its result goes to
    the end of the list (opt_einsum's convention) or, `appended=False`, to
    the front (JAX's left-to-right order without a path)."""
    live = list(inputs)
    for group in path:
        members = [live[n] for n in group]
        rest = [live[n] for n in range(len(live)) if n not in group]
        while len(members) > 1:
            needed = set(output).union(*members[2:], *rest)
            joined = "".join(dict.fromkeys(members[0] + members[1]))
            kept = "".join(c for c in joined if c in needed)
            yield kept
            members = [kept, *members[2:]]
        live = [*rest, members[0]] if appended else [members[0], *rest]


def op_needs(op: Operation, backend: str, block_size: int | None) -> Iterator[ArrayNeed]:
    """Every array `op` makes: its results and an einsum's intermediates."""
    for result in op.results:
        if isinstance(result.type, TensorType) and result.type.has_static_shape():
            shape = tuple(result.type.get_shape())
            yield ArrayNeed(shape, math.prod(shape) * element_bytes(result.type), "result")
    if isinstance(op, WindowOp | PlaceOp):
        yield from _index_table_needs(op)
    if isinstance(op, ConvOp) and backend in ("", "numpy"):
        yield from _conv_rows_need(op)
    if not isinstance(op, EinsumOp) or not all(
        isinstance(v.type, TensorType) and v.type.has_static_shape() for v in op.inputs
    ):
        return
    inputs, output = parse_subscripts(op.subscripts.data)
    sizes = {
        c: n
        for letters, value in zip(inputs, op.inputs, strict=True)
        for c, n in zip(letters, value.type.get_shape(), strict=True)
    }
    path = [[p.value.data for p in step.data] for step in op.path.data] if op.path else None
    kind = op.kind.data
    for letters in einsum_intermediates(inputs, output, sizes, kind, path, backend):
        shape = tuple(sizes[c] for c in letters)
        what = "broadcast product" if kind == "max" else "pairwise contraction"
        if kind == "max" and block_size and backend in ("numpy", "torch") and output:
            shape = (min(shape[0], block_size), *shape[1:])
            what = "block of the broadcast product"
        yield ArrayNeed(shape, math.prod(shape) * MIN_ELEMENT_BYTES, what)


INDEX_BYTES = 8
# Up to this many operand elements, a place's widest gather row is counted
# exactly; beyond, the operand's size bounds it.
EXACT_PLACE_COUNT = 1 << 22


def _index_table_needs(op: WindowOp | PlaceOp) -> Iterator[ArrayNeed]:
    """The int64 index tables a window or place is compiled with
    (`lowering/affine_access.py`): one position per window element; per
    place result element, one slot per operand element that lands on it."""
    box = op.result.type if isinstance(op, WindowOp) else op.operand.type
    if not (box.has_static_shape() and op.result.type.has_static_shape()):
        return
    shape = tuple(box.get_shape())
    yield ArrayNeed(shape, math.prod(shape) * INDEX_BYTES, "position table")
    if isinstance(op, PlaceOp):
        result_shape = tuple(op.result.type.get_shape())
        most = math.prod(shape)  # a bound that costs nothing to know
        if most <= EXACT_PLACE_COUNT:
            targets = flat_positions(forms_of(op.map), shape, result_shape)
            most = int(np.bincount(targets.ravel()).max()) if targets.size else 0
        table = (*result_shape, most)
        yield ArrayNeed(table, math.prod(table) * INDEX_BYTES, "gather table of the place")


def _conv_rows_need(op: ConvOp) -> Iterator[ArrayNeed]:
    """The matrices of windows the NumPy convolution multiplies by the filter
    (one per group)."""
    shapes = [v.type for v in (op.input, op.filter)]
    if not all(isinstance(t, TensorType) and t.has_static_shape() for t in shapes):
        return
    plan = ConvPlan.of(
        op.layout.data,
        tuple(shapes[0].get_shape()),
        tuple(shapes[1].get_shape()),
        op.stride_values,
        op.dilation_values,
        "channels_last",
    )
    rows = plan.input.shape[0] * math.prod(plan.output_spatial)
    shape: tuple[int, ...] = (rows, math.prod(plan.window) * plan.input.shape[-1])
    if plan.groups > 1:  # one matrix per group
        shape = (plan.groups, *shape)
    yield ArrayNeed(shape, math.prod(shape) * MIN_ELEMENT_BYTES, "matrix of windows (im2col)")


def _downstream(op: Operation) -> Iterator[Operation]:
    """`op`, then the ops its results feed, nearest first."""
    seen: set[int] = set()
    frontier = [op]
    while frontier:
        current = frontier.pop(0)
        if id(current) not in seen:
            seen.add(id(current))
            yield current
            frontier += [use.operation for result in current.results for use in result.uses]


def equation_location(op: Operation) -> FileLineColLoc | None:
    """The source location of the equation `op` belongs to: its own, else
    that of the nearest located op it feeds (passes that split or add ops
    do not always copy locations), else that of an enclosing op."""
    for current in _downstream(op):
        if isinstance(current.location, FileLineColLoc):
            return current.location
    parent = op.parent_op()
    return equation_location(parent) if parent is not None else None


def equation_name(op: Operation) -> str | None:
    """The tensor `op` computes, or the nearest one it feeds, else that of
    an enclosing op (a fixpoint computes its tensors)."""
    for current in _downstream(op):
        for result in current.results:
            if result.name_hint:
                return result.name_hint
    parent = op.parent_op()
    return equation_name(parent) if parent is not None else None


def check_memory(
    module: ModuleOp, limit: int, backend: str = "", block_size: int | None = None
) -> None:
    """Raises `MemoryBudgetExceeded` for the first array of `@main` larger
    than `limit` bytes (`limit` <= 0: no check)."""
    if limit <= 0:
        return
    for main in module.walk():
        if not isinstance(main, func.FuncOp) or main.sym_name.data != "main":
            continue
        for op in main.body.walk():
            for need in op_needs(op, backend, block_size):
                if need.bytes > limit:
                    raise _exceeded(op, need, limit)


def _exceeded(op: Operation, need: ArrayNeed, limit: int) -> MemoryBudgetExceeded:
    location = equation_location(op)
    named = equation_name(op)
    equation = f"the equation for '{named}'" if named else "an equation"
    shape = "x".join(str(n) for n in need.shape) or "scalar"
    message = (
        f"{equation} needs a {need.what} of shape [{shape}]: {format_bytes(need.bytes)} "
        f"({need.bytes} bytes), over the memory limit of {format_bytes(limit)} "
        f"({limit} bytes); raise ExecutionConfig.max_memory or shrink the program's sizes"
    )
    return MemoryBudgetExceeded(message, location)


@dataclass(frozen=True)
class CheckMemoryPass(ModulePass):
    """Fails on any array of the plan larger than `limit` bytes (0: none).
    `backend` ("" for all) selects whose einsum plans count; `block_size`
    is `ExecutionConfig.block_size` (0: none)."""

    name = "fuse-check-memory"

    limit: int = 0
    backend: str = ""
    block_size: int = 0

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.backend not in BACKENDS:
            raise DiagnosticException(
                f"fuse-check-memory: backend={self.backend!r}: allowed values are "
                "'', 'numpy', 'torch', 'jax'"
            )
        try:
            check_memory(op, self.limit, self.backend, self.block_size or None)
        except MemoryBudgetExceeded as error:
            location = error.location
            if location is None:
                raise
            raise MemoryBudgetExceeded(
                f"{location.filename.data}:{location.line.data}:{location.column.data}: "
                f"{error.message}",
                location,
            ) from None
