"""The IR walk: a dataflow-level block -> a `torch.fx.GraphModule`.

Every op is visited once. Its static facts (subscripts, axes, shapes, read
by `fuse.lowering.op_facts` as for the NumPy backend) pick a kernel
(`kernels.py`; einsums planned by `fuse.lowering.einsum_plan`), and the
kernel is called on `torch.fx.Proxy` values, which records its torch calls
as graph nodes. Constants and index functions become buffers of the
module (`get_attr` nodes), so they move with `.to(device)` and cost nothing
per run; where a size is symbolic (`Settings.sizes`) they are computed in
the graph instead, so that they follow the sizes. A fixpoint becomes a
`FixpointModule` submodule whose body and init regions are GraphModules
built the same way; it is called with the outer values its regions read.

`@main`'s graph takes the arguments in their declared fp32 type and returns
fp32 results, casting to and from the compute type (bf16/fp16) inside, so
the module alone (exported or compiled) has the program's signature. When
the program has fixpoints, the graph returns one more output: the status
rows of every fixpoint (`fixpoint.py`), which the executable checks.
"""

from __future__ import annotations

import builtins
import functools
import keyword
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.fx import Graph, GraphModule, Node, Proxy
from torch.fx.proxy import GraphAppendingTracer
from xdsl.dialects.builtin import TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Operation, SSAValue

from fuse.dialects.fuse import (
    ConstantOp,
    FixpointOp,
    IndexFnOp,
    NormalizeOp,
    UnaryOp,
)
from fuse.dialects.fuse.declarative import YieldOp
from fuse.dialects.fuse.scan import ScanOp
from fuse.errors import FuseError
from fuse.lowering import backend
from fuse.lowering.affine_access import Forms, flat_positions, placement_offsets
from fuse.lowering.backend import declared_names
from fuse.lowering.op_facts import (
    constant_array,
    fixpoint_bounds,
    has_kernel,
    kernel_arguments,
    temperature,
)
from fuse.lowering.symbolic_sizes import SizeReader, size_in_constant

from . import convolution, kernels
from .fixpoint import FixpointModule, FixpointSpec
from .kernels import Kernel, Shape
from .scan import ScanModule, ScanSpec
from .symbolic import PROBE_SHAPE, refuse_symbolic_buffer


@dataclass(frozen=True)
class Settings:
    """What the whole lowering shares: the compute type and the fixpoint
    bounds that ops without their own take from the config."""

    dtype: torch.dtype
    tolerance: float
    max_iters: int
    block_size: int | None = None
    progress: bool = False
    # A plan at probe sizes (fuse.lowering.torch.symbolic): constants and
    # index tables of symbolic shape are made in the graph. `sizes` reads
    # its sizes back; None in a lowering made only for its text, before
    # they are read (fuse.runtime.export), where every size may be symbolic.
    probe: bool = False
    sizes: SizeReader | None = None


@dataclass(frozen=True)
class StatusRow:
    """Which fixpoint one row of the status output describes."""

    tensors: tuple[str, ...]
    max_iters: int


@dataclass
class Lowered:
    """A block as a GraphModule, and the fixpoints its status rows describe."""

    module: GraphModule
    rows: list[StatusRow]


def lower_main(main: FuncOp, settings: Settings) -> Lowered:
    builder = _Builder(settings)
    for arg, name in zip(main.body.block.args, arg_names(main), strict=True):
        static_shape(arg)
        builder.values[arg] = builder.cast(builder.placeholder(name), settings.dtype)
    results = builder.block(main.body.block)
    # Results never hand out a buffer: a caller may write into them.
    outputs = [builder.cast(builder.values[v], torch.float32) for v in results]
    return builder.finish(outputs, private=("get_attr",))


def arg_names(main: FuncOp) -> list[str]:
    """Declared names, else the argument's name hint or `arg<n>`."""
    return [
        declared if declared is not None else arg.name_hint or f"arg{n}"
        for n, (arg, declared) in enumerate(
            zip(main.body.block.args, declared_names(main), strict=True)
        )
    ]


def static_shape(value: SSAValue) -> Shape:
    return backend.static_shape(value, "torch")


def _free_values(blocks: Sequence[Block]) -> list[SSAValue]:
    """Values the blocks (nested regions included) read but do not define,
    in order of first use: what a region graph takes besides its arguments."""
    defined: set[SSAValue] = set()
    for block in blocks:
        defined.update(block.args)
        for op in block.walk():
            defined.update(op.results)
            defined.update(arg for region in op.regions for b in region.blocks for arg in b.args)
    free: dict[SSAValue, None] = {}
    for block in blocks:
        for op in block.walk():
            free.update((v, None) for v in op.operands if v not in defined)
    return list(free)


class _Builder:
    """Records one block's ops into one FX graph."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.graph = Graph()
        self.tracer = GraphAppendingTracer(self.graph)
        self.root = torch.nn.Module()
        self.values: dict[SSAValue, Proxy] = {}
        self.statuses: list[Proxy] = []
        self.rows: list[StatusRow] = []
        self.names: set[str] = set()  # placeholder names
        self.constants: dict[SSAValue, np.ndarray] = {}
        dtype = settings.dtype
        # Kernel builders by the names `op_facts.kernel_arguments` gives.
        self.builders: dict[str, Callable[..., Kernel]] = {
            "ones": self.ones,
            "einsum": kernels.einsum,
            "binary": kernels.binary,
            "select": kernels.select,
            "unary": functools.partial(kernels.unary, dtype=dtype),
            "softmax": functools.partial(kernels.softmax, dtype=dtype),
            "masked_softmax": functools.partial(kernels.masked_softmax, dtype=dtype),
            "lnorm": functools.partial(kernels.lnorm, dtype=dtype),
            "take": kernels.take,
            "concat": kernels.concat,
            "topk": self.topk,
            "sample": kernels.sample,
            "gather": kernels.gather,
            "conv": convolution.conv,
            "pool": convolution.pool,
            "window": self.window,
            "place": self.place,
        }

    # --- graph plumbing -----------------------------------------------------------

    def placeholder(self, name: str) -> Proxy:
        return Proxy(self.graph.placeholder(_identifier(name, self.names)), self.tracer)

    def cast(self, proxy: Proxy, dtype: torch.dtype) -> Proxy:
        """Between fp32 (the program's declared type) and the compute type."""
        return proxy if self.settings.dtype == torch.float32 else proxy.to(dtype)

    def buffer(self, array: np.ndarray, hint: str) -> Proxy:
        """A compile-time array as a buffer of the module: Boolean arrays
        stay Boolean, numbers take the compute type."""
        name = f"{hint}{len(self.root._buffers)}"
        tensor = torch.from_numpy(np.array(array))
        if tensor.dtype != torch.bool:
            tensor = tensor.to(self.settings.dtype)
        self.root.register_buffer(name, tensor)
        return self.tracer.create_proxy("get_attr", name, (), {})

    def index_table(
        self, forms: Forms, box: Shape, tensor_shape: Shape, hint: str, flat: bool = False
    ) -> Proxy:
        """The flat position in `tensor_shape` of every point of `box` under
        the map `forms` (`affine_access.flat_positions`), shaped like `box`
        or, with `flat`, as one dimension: a buffer of the module at static
        sizes (built once, nothing per run), made in the graph from
        `torch.arange` where a size is symbolic, so that
        `symbolic.generalize` makes its sizes the inputs' sizes (as a buffer
        it could not follow them; at probe sizes it could take gigabytes)."""
        if self.is_symbolic((*box, *tensor_shape)):
            table = kernels.flat_positions(
                forms, box, tensor_shape, lambda n: self._make(torch.arange, (n,), torch.int64)
            )
            return table.reshape(-1) if flat else table
        positions = flat_positions(forms, box, tensor_shape)
        name = f"{hint}{len(self.root._buffers)}"
        self.root.register_buffer(name, torch.from_numpy(positions.ravel() if flat else positions))
        return self.tracer.create_proxy("get_attr", name, (), {})

    def finish(self, outputs: list[Proxy], private: tuple[str, ...]) -> Lowered:
        """Completes the graph. An output that may share storage with a node
        of a kind in `private` (a buffer, an input) is cloned first."""
        outputs = [o.clone() if _storage_root(o.node).op in private else o for o in outputs]
        if len(self.statuses) == 1:
            outputs = [*outputs, self.statuses[0]]
        elif self.statuses:
            outputs = [*outputs, torch.cat(self.statuses)]
        self.graph.output(tuple(o.node for o in outputs))
        # Every node but the signature is pure; dropping unused ones drops,
        # e.g., a mask read only at compile time, and its buffer with it.
        self.graph.eliminate_dead_code(lambda node: node.op in ("placeholder", "output"))
        return Lowered(GraphModule(self.root, self.graph), self.rows)

    # --- ops ------------------------------------------------------------------------

    def block(self, block: Block) -> list[SSAValue]:
        """Lowers the ops of `block`; returns the values its terminator
        returns or yields."""
        terminator = block.last_op
        if not isinstance(terminator, ReturnOp | YieldOp):
            raise FuseError("the torch backend expects blocks to end in func.return or fuse.yield")
        for op in block.ops:
            if op is not terminator:
                self.op(op)
        return list(terminator.operands)

    def op(self, op: Operation) -> None:
        if isinstance(op, FixpointOp):
            self.fixpoint(op)
            return
        if isinstance(op, ScanOp):
            self.scan(op)
            return
        if isinstance(op, ConstantOp | IndexFnOp):
            shape = static_shape(op.result)
            found = self.size_constant(op, shape)
            if found is not None:
                self.values[op.result] = found
                return
            if self.is_symbolic(shape):
                self.values[op.result] = self.symbolic_constant(op, shape)
            else:
                self.values[op.result] = self.constant_buffer(op, shape)
            return
        if not has_kernel(op):
            raise FuseError(f"the torch backend does not support '{op.name}'")
        for result in op.results:
            static_shape(result)
        kernel = self.kernel(op)
        self.values[op.results[0]] = kernel(*(self.values[v] for v in op.operands))

    def kernel(self, op: Operation) -> Kernel:
        """`op`'s kernel: the builder `kernel_arguments` names, called with
        the op's static arguments. A softmax whose mask is a compile-time
        constant is the one op whose kernel depends on more than those."""
        if isinstance(op, NormalizeOp) and op.kind.data != "lnorm" and op.mask in self.constants:
            return self.constant_mask_softmax(op.axis.value.data, self.constants[op.mask])
        name, args = kernel_arguments(op, static_shape, self.settings.block_size)
        return self.builders[name](*args)

    # --- kernels that need the module (buffers) ------------------------------------

    def ones(self, shape: Shape) -> Kernel:
        """The empty product: a buffer of ones."""
        if self.is_symbolic(shape):
            ones = self.filled(shape, 1.0)
        else:
            ones = self.buffer(np.ones(shape, dtype=np.float32), "ones")
        return lambda: ones

    def topk(self, k: int, axis: int, shape: Shape) -> Kernel:
        """`kernels.topk`, by rank where the size along `axis` is symbolic."""
        return kernels.topk(k, axis, shape, by_rank=self.is_symbolic((shape[axis],)))

    # --- constants of symbolic shape (a plan at probe sizes) -----------------------

    def is_symbolic(self, shape: Shape) -> bool:
        """Whether `shape` may follow the symbols: in a plan at probe sizes,
        where a size reads as symbolic, or before the sizes are read."""
        sizes = self.settings.sizes
        if not self.settings.probe:
            return False
        return sizes is None or any(not sizes(n).is_static for n in shape)

    def constant_buffer(self, op: ConstantOp | IndexFnOp, shape: Shape) -> Proxy:
        """A constant or index function computed at compile time, as a buffer."""
        array = constant_array(op, shape)
        self.constants[op.result] = array
        return self.buffer(array, op.name.removeprefix("fuse."))

    def filled(self, shape: Shape, value: float) -> Proxy:
        """A tensor of `value` made in the graph, not a buffer, so that
        `symbolic.generalize` makes its probe sizes the inputs' sizes."""
        return self._make(torch.full, (tuple(shape), value))

    def _make(
        self,
        factory: Callable[..., torch.Tensor],
        args: tuple,
        dtype: torch.dtype | None = None,
    ) -> Proxy:
        """`factory(*args)` in `dtype` (by default the compute type), on the
        device of the graph's first input (if it has one)."""
        kwargs: dict[str, object] = {"dtype": dtype or self.settings.dtype}
        first = next((node for node in self.graph.nodes if node.op == "placeholder"), None)
        if first is not None:
            kwargs["device"] = Proxy(first, self.tracer).device
        return self.tracer.create_proxy("call_function", factory, args, kwargs)

    def size_constant(self, op: ConstantOp | IndexFnOp, shape: Shape) -> Proxy | None:
        """In a plan at probe sizes, a scalar constant that stands for a
        symbolic size (`size_in_constant`), computed from that size."""
        if self.settings.sizes is None or shape or not isinstance(op, ConstantOp):
            return None
        found = size_in_constant(float(op.value.get_values()[0]), self.settings.sizes)
        if found is None:
            return None
        size = self._make(torch.full, ((), found.number))
        return size.rsqrt() if found.inverse_root else size

    def symbolic_constant(self, op: ConstantOp | IndexFnOp, shape: Shape) -> Proxy:
        """A constant or index function of symbolic shape, computed in the
        graph from its sizes (`op_facts.index_tensor` computes the same at
        compile time)."""
        if isinstance(op, ConstantOp):
            values = set(op.value.get_values())
            if len(values) == 1:
                return self.filled(shape, float(values.pop()))
            if self.settings.sizes is not None:
                refuse_symbolic_buffer(self.settings.sizes, shape, "constant")
            return self.constant_buffer(op, shape)  # a `const` literal: static sizes
        fn = op.fn.data
        if fn == "causal":
            return self.filled(shape, 1.0).tril()
        positions = self._make(torch.arange, (shape[0],))
        if fn == "iota":
            return positions
        if fn in ("even", "odd"):
            hits = positions % 2 == (0 if fn == "even" else 1)
        else:  # onehot
            hits = positions == op.position.value.data
        return hits.to(self.settings.dtype)

    def constant_mask_softmax(self, axis: int, mask: np.ndarray) -> Kernel:
        """A masked softmax whose mask is known: its Boolean form, and where
        a row has no valid position, as buffers (`kernels.constant_mask_softmax`)."""
        valid = mask > 0
        rows = valid.any(axis=axis, keepdims=True)
        return kernels.constant_mask_softmax(
            axis,
            self.settings.dtype,
            self.buffer(valid, "valid"),
            None if rows.all() else self.buffer(rows, "valid_rows"),
        )

    def window(self, forms: Forms, operand_shape: Shape, shape: Shape) -> Kernel:
        return kernels.window(self.index_table(forms, shape, operand_shape, "window"), shape)

    def place(self, forms: Forms, kind: str, operand_shape: Shape, shape: Shape) -> Kernel:
        offsets = placement_offsets(forms, len(operand_shape))
        if offsets is not None:
            order, lows = offsets
            pads: list[int] = []
            for low, j, size in reversed(list(zip(lows, order, shape, strict=True))):
                pads += [low, size - low - operand_shape[j]]
            return kernels.shift(order, pads)
        targets = self.index_table(forms, operand_shape, shape, "place", flat=True)
        return kernels.place(targets, kind, math.prod(shape), shape)

    def scan(self, op: ScanOp) -> None:
        captured = _free_values([op.body.block])
        body = _region(op.body.block, captured, self.settings)
        if body.rows:
            raise FuseError("the torch backend does not run a fuse.fixpoint inside a fuse.scan")
        symbolic = self.is_symbolic((op.step_count,))
        if symbolic and not op.xs and self.settings.sizes is not None:
            raise FuseError(
                "this program cannot be exported for torch with symbolic sizes: a scan over "
                f"{', '.join(op.tensor_names)} takes a symbolic number of steps but scans no "
                "input to count them; give the sizes with --shape NAME=... (input_shapes= in "
                "Python)"
            )
        spec = ScanSpec(
            tensors=op.tensor_names,
            states=len(op.init),
            steps=op.step_count,
            in_axes=op.scanned_axes,
            axis=None if op.is_virtual else op.stacking_axis,
            reverse=op.is_reverse,
            progress=self.settings.progress,
            symbolic=symbolic and bool(op.xs),
        )
        name = f"scan{sum(1 for _ in self.root.children())}"
        self.root.add_module(name, ScanModule(spec, body.module))
        operands = [*op.init, *op.xs, *captured]
        call = self.tracer.create_proxy(
            "call_module", name, tuple(self.values[v] for v in operands), {}
        )
        for n, result in enumerate(op.results_):
            self.values[result] = call[n]

    def fixpoint(self, op: FixpointOp) -> None:
        settings = self.settings
        regions = [op.body.block] + ([op.init.block] if op.init is not None else [])
        captured = _free_values(regions)
        body = _region(op.body.block, captured, settings)
        init = _region(op.init.block, captured, settings) if op.init is not None else None
        tolerance, max_iters = fixpoint_bounds(op, settings.tolerance, settings.max_iters)
        yielded = [v for region in regions for v in region.last_op.operands]
        spec = FixpointSpec(
            tensors=tuple(op.tensor_names),
            deltas=tuple(str(kind) for kind in op.delta_kinds),
            tolerance=tolerance,
            max_iters=max_iters,
            exact=tolerance < 1 and all(_is_boolean(v) for v in yielded),
            init_rows=len(init.rows) if init else 0,
            body_rows=len(body.rows),
            progress=settings.progress,
        )
        operands = [self.values[v] for v in captured]
        shapes = [static_shape(r) for r in op.results_]
        zeros: list[torch.Tensor] | int
        if settings.probe and operands:
            # Symbolic sizes: zero states made in the graph, from sizes that
            # `symbolic.generalize` then reads off the inputs.
            zeros = len(shapes)
            operands = [
                *(operands[0].new_zeros(shape, dtype=settings.dtype) for shape in shapes),
                *operands,
            ]
        else:
            zeros = [torch.zeros(shape, dtype=settings.dtype) for shape in shapes]
        module = FixpointModule(spec, body.module, init.module if init else None, zeros)
        name = f"fixpoint{len(self.statuses)}"
        self.root.add_module(name, module)
        call = self.tracer.create_proxy("call_module", name, tuple(operands), {})
        for n, result in enumerate(op.results_):
            self.values[result] = call[n]
        self.statuses.append(call[len(op.results_)])
        own = StatusRow(spec.tensors, max_iters)
        self.rows += [own, *(init.rows if init else []), *body.rows]


def _is_boolean(value: SSAValue) -> bool:
    """Whether `value` is 0/1 by construction (a `step`)."""
    op = value.owner
    return isinstance(op, UnaryOp) and (
        op.fn.data == "step" or (op.fn.data == "sig" and temperature(op) == 0.0)
    )


def _region(block: Block, captured: Sequence[SSAValue], settings: Settings) -> Lowered:
    """A fixpoint region as its own GraphModule: its arguments, then the
    captured outer values, in; its yielded values (and nested status) out."""
    builder = _Builder(settings)
    for value in [*block.args, *captured]:
        builder.values[value] = builder.placeholder(value.name_hint or "v")
        if isinstance(value.type, TensorType):  # for `symbolic.generalize`
            builder.values[value].node.meta[PROBE_SHAPE] = static_shape(value)
    outputs = [builder.values[v] for v in builder.block(block)]
    # `while_loop` bodies must not return (views of) their inputs, and a
    # fixpoint's results must not be a region's buffers.
    return builder.finish(outputs, private=("placeholder", "get_attr"))


# Methods the kernels call that may return their operand or a view of it.
_VIEW_METHODS = {"permute", "reshape", "select", "to", "float"}


def _storage_root(node: Node) -> Node:
    """The node whose storage `node` may share, through views and no-op
    casts (a diagonal is `torch.einsum` on one operand, also a view)."""
    while True:
        if node.op == "call_method" and node.target in _VIEW_METHODS:
            node = node.args[0]
        elif node.op == "call_function" and node.target is torch.einsum:
            node = node.args[1]
        else:
            return node


_RESERVED = {*keyword.kwlist, *dir(builtins), "torch", "self"}


def _identifier(name: str, taken: set[str]) -> str:
    """A placeholder name that is a fresh Python identifier and shadows
    nothing the generated code uses (a tensor may be called `torch`).
    FX's code starts by renaming each placeholder to its snake-cased node
    name (`v = V`), so a name must differ from the others' node names too:
    else an argument `v` beside a tensor `V` reads `V` (`v_1 = v`)."""
    name = re.sub(r"\W", "_", name)
    if not name.isidentifier() or name in _RESERVED:
        name = f"t_{name}"
    unique, n = name, 1
    while unique in taken or _fx_node_name(unique) in taken:
        unique, n = f"{name}_{n}", n + 1
    taken.update((unique, _fx_node_name(unique)))
    return unique


def _fx_node_name(name: str) -> str:
    """The node name FX gives a placeholder of this name (`torch.fx`'s
    `_snake_case`: `MyTensor` -> `my_tensor`, `V` -> `v`)."""
    return re.sub(r"(?<=[a-z])([A-Z])", r"_\1", name).lower()
