"""`convert-fuse-to-stablehlo`: the dataflow level as StableHLO (xdsl-jax).

Every `func.func` whose body is at the dataflow level is rewritten op by op
into the `stablehlo` dialect, keeping its signature and its argument and
result attributes (`fuse.name`, `fuse.source`, `fuse.sink`, `fuse.dims`).
Shapes must be static: a dynamic dimension is an error naming the value.

Lowering of each op kind (the semantics are the ops' docstrings):

* `fuse.einsum`: `dot_general` pairwise (batching and contracting
  dimensions), `reduce` for projected letters, an iota mask for repeated
  letters; `max` multiplies everything out and reduces once (see
  `fuse.lowering.jax.einsum`). Never the deprecated `stablehlo.einsum`.
* `fuse.binary`/`fuse.select`: operands are laid out along the result's
  letters (`transpose` + `broadcast_in_dim`, the plan from
  `fuse.lowering.subscripts`), then one elementwise op; select tests
  `condition > 0` with `compare`.
* `fuse.unary`: `relu` = max(x, 0); `gelu` = x/2 (1 + erf(x/sqrt 2)) with
  `chlo.erf`; `sig` = `logistic(x / T)` (`T = 0`: step); `step` = compare +
  select; the rest map to one op each.
* `fuse.normalize`: stable softmax (max, exp, sum, divide; masked positions
  are zero and a fully masked row is zeros) and layer norm with population
  variance. The mask is materialized (`HloBuilder.materialize`) before it is
  tested, once for the max and once for the weights: both tests must see
  the same bits.
* `fuse.constant`/`fuse.index_fn`: `constant`; `iota` + `compare` + select.
* `fuse.take`: `slice` + `reshape`; `fuse.concat`: `concatenate`.
* `fuse.topk`: a stable descending `stablehlo.sort` of (value, position)
  ranks the entries, ties to the lower position; sorting (position, rank,
  value) back by position gives each entry its rank, and the entries of
  rank < k are kept, with the values the sort carried. The choice depends
  on positions only, never on comparing values again: XLA may fuse the
  computation of the operand into several consumers and round it
  differently in each (FMA contraction), so `x == kth value` can fail for
  the very entry the sort put at rank k-1 and zero a whole row.
* `fuse.sample`: inverse-CDF sampling. `stablehlo.rng_bit_generator`
  (THREE_FRY, constant state `[seed, 0]`) gives S 32-bit words; their top
  24 bits scaled by 2^-24 are uniforms u in [0, 1). The CDF of the weights
  is a prefix sum (log2 J shifted adds, in f32), materialized so that its
  last entry, the total, is the very value the samples compare against;
  sample s is the count of CDF entries <= u_s * total, clamped to J - 1
  (all weights 0): an S x J compare and a reduce.
* `fuse.gather`: `gather` of one-position slices along the dimension.
* `fuse.conv`: one `stablehlo.convolution` with the op's layout as its
  dimension numbers; `fuse.pool`: `stablehlo.reduce_window`
  (`fuse.lowering.jax.convolution`).
* `fuse.window`: a strided `slice`, else a `gather` through a table of
  positions; `fuse.place`: a zero padding where it only shifts, else a
  `gather` and a `reduce` (with the option `probe_sizes`, the positions
  are computed in the graph and a place `scatter`s;
  `fuse.lowering.jax.windows`).
* `fuse.fixpoint`: a `stablehlo.while` (below).
* `fuse.scan`: a `stablehlo.while` over the step counter k carrying
  `(k: i32, states..., [stacked results...,] scanned inputs..., captured
  values...)`; `cond` is `k < steps`. The body reads step k's slice of each
  scanned input with `dynamic_slice` (position `steps - 1 - k` when
  reversed), applies the step, and a stored scan writes the new states
  into its stacked results (one row per step) with `dynamic_update_slice`
  and joins the initial states on after the loop; a virtual scan carries
  only the current states.

Fixpoints. The loop carries `(iterations: i32, converged: i1, change: f32,
current values..., [deltas...,] captured values...)`; values the body reads
from outside the fixpoint travel through the carry unchanged, so the loop
regions refer only to their own arguments. `cond` is `!converged &&
iterations < max_iters`. A naive body computes `next = body(current)`,
`change = max |next - current|`; a semi-naive one starts from `init()` and
its deltas against zeros, computes `next = body(current, delta)` and the new
deltas (`difference`: next - current; `changed`: next where it differs,
else 0), `change = max |delta|`. The next values are materialized first, so
the change and the deltas are computed from the values the loop carries. `converged` is `change <= tolerance`.
`max_iters` and `tolerance` come from the op, else from the pass options.

Progress. With the option `progress`, the body of each fixpoint's and
each scan's `while` ends with a placeholder
`stablehlo.custom_call @fuse.progress(...)` (side-effecting, its
`backend_config` the loop's label, e.g. `fixpoint Path`) carrying the
iteration count and, for a fixpoint, the change and the converged flag; a
scan's also carries `fuse.steps`, its number of steps. Its one result, a
`tensor<i32>`, is unused: xdsl-jax's verifier rejects a custom_call
without results, which StableHLO allows. XLA knows no such
target: the jax backend replaces each placeholder by a host callback that
draws the loop's progress bar (fuse.lowering.jax.xla_call), or drops it
with `strip_progress_reports`, which leaves exactly the module lowered
without the option. Without the option nothing is emitted.

After the loop the function exposes, per fixpoint, one extra trailing
result `tensor<3xf32>` = [converged (1 or 0), iterations, last change],
with the result attribute `fuse.fixpoint_status = ["TensorA", ...]` naming
the component. The host raises `FixpointDivergence` where converged is 0.

Precision. The option `precision` (`fp32`, `bf16`, `fp16`) is the element
type of all computation: arguments are converted on entry and results back
to their declared types on return, constants are converted after creation.
Sums accumulate in f32 (`dot_general` produces f32, `reduce` adds in f32).
The option `dot_precision` (`highest`, the default, or `default`) is what
fp32 dots and convolutions ask of XLA: `highest` keeps GPUs from silently
using TF32 (or TPUs bf16 passes); `default` leaves the attribute off, which
the jax backend does when it compiles for CPU, where XLA computes f32 dots
in f32 at every precision setting (the results are bit for bit the same)
and the attribute only makes XLA's program differ from what `jnp.dot`
gives it.

```mlir
// before
func.func @main(%A: tensor<4x8xf32> {fuse.name = "A"}, %B: tensor<8x3xf32> {fuse.name = "B"})
    -> (tensor<4x3xf32> {fuse.name = "Y"}) {
  %0 = fuse.einsum "ik,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  %1 = fuse.unary relu %0 : tensor<4x3xf32>
  func.return %1 : tensor<4x3xf32>
}
// after
func.func @main(%A: tensor<4x8xf32> {fuse.name = "A"}, %B: tensor<8x3xf32> {fuse.name = "B"})
    -> (tensor<4x3xf32> {fuse.name = "Y"}) {
  %0 = stablehlo.dot_general %A, %B, contracting_dims = [1] x [0],
         precision = [HIGHEST, HIGHEST] : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  %1 = stablehlo.constant dense<0.000000e+00> : tensor<f32>
  %2 = stablehlo.broadcast_in_dim %1, dims = [] : (tensor<f32>) -> tensor<4x3xf32>
  %3 = stablehlo.maximum %0, %2 : tensor<4x3xf32>
  func.return %3 : tensor<4x3xf32>
}
```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    BFloat16Type,
    BoolAttr,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    Float16Type,
    Float32Type,
    FunctionType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    Signedness,
    StringAttr,
    TensorType,
    i1,
    i32,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException
from xdsl_jax.dialects import stablehlo as hlo

from fuse.dialects.fuse import (
    BinaryOp,
    ConcatOp,
    ConstantOp,
    EinsumOp,
    FixpointOp,
    GatherOp,
    IndexFnOp,
    NormalizeOp,
    PlaceOp,
    SampleOp,
    SelectOp,
    TakeOp,
    TopKOp,
    UnaryOp,
    WindowOp,
)
from fuse.dialects.fuse.declarative import YieldOp
from fuse.dialects.fuse.fixpoint import DeltaKind
from fuse.dialects.fuse.scan import ScanOp
from fuse.dialects.fuse.subscripts import parse_subscripts
from fuse.dialects.fuse.window import ConvOp, PoolOp
from fuse.lowering.affine_access import (
    forms_of,
)
from fuse.lowering.jax.convolution import lower_conv, lower_pool
from fuse.lowering.jax.einsum import align_to, lower_einsum, take_diagonals
from fuse.lowering.jax.extra_ops import ErfOp, RngAlgorithm, RngBitGeneratorOp
from fuse.lowering.jax.hlo_builder import F32, HloBuilder, element_type_of, shape_of
from fuse.lowering.jax.windows import lower_place, lower_window
from fuse.passes.infer_shapes import location_prefix

PRECISIONS: dict[str, Callable[[], Attribute]] = {
    "fp32": Float32Type,
    "bf16": BFloat16Type,
    "fp16": Float16Type,
}

# `dot_precision`: whether fp32 dots and convolutions ask for HIGHEST.
DOT_PRECISIONS = ("highest", "default")

STATUS_ATTR = "fuse.fixpoint_status"
STATUS_TYPE = TensorType(F32, [3])

PROGRESS_TARGET = "fuse.progress"
PROGRESS_STEPS_ATTR = "fuse.steps"

_UNARY_OPS: dict[str, type[Operation]] = {
    "exp": hlo.ExponentialOp,
    "log": hlo.LogOp,
    "sqrt": hlo.SqrtOp,
    "abs": hlo.AbsOp,
    "tanh": hlo.TanhOp,
    "sin": hlo.SineOp,
    "cos": hlo.CosineOp,
    "neg": hlo.NegateOp,
}

_BINARY_OPS: dict[str, type[Operation]] = {
    "add": hlo.AddOp,
    "sub": hlo.SubtractOp,
    "mul": hlo.MultiplyOp,
    "div": hlo.DivideOp,
    "pow": hlo.PowerOp,
    "max": hlo.MaximumOp,
    "min": hlo.MinimumOp,
}


@dataclass(frozen=True)
class ConvertFuseToStablehloPass(ModulePass):
    """Dataflow level -> stablehlo + func (see the module docstring)."""

    name = "convert-fuse-to-stablehlo"

    precision: str = "fp32"
    max_iters: int = 1000
    tolerance: float = 1e-6
    dot_precision: str = "highest"
    progress: bool = False  # placeholders reporting each loop step (module docstring)
    # The shapes are probe sizes standing for symbolic sizes (fuse.runtime.symbolic):
    # index tables are computed in the graph (module docstring).
    probe_sizes: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.precision not in PRECISIONS:
            raise PassFailedException(
                f"convert-fuse-to-stablehlo: precision '{self.precision}' is not one of "
                f"{', '.join(PRECISIONS)}"
            )
        if self.dot_precision not in DOT_PRECISIONS:
            raise PassFailedException(
                f"convert-fuse-to-stablehlo: dot_precision '{self.dot_precision}' is not one of "
                f"{', '.join(DOT_PRECISIONS)}"
            )
        for func_op in [o for o in op.ops if isinstance(o, func.FuncOp)]:
            if not func_op.is_declaration:
                _FunctionLowering(self, PRECISIONS[self.precision]()).lower(func_op)


def _fail(message: str, op: Operation | None = None) -> PassFailedException:
    """The pass's error, located at `op` where the IR gives it a location."""
    where = location_prefix(op) if op is not None else ""
    return PassFailedException(f"{where}convert-fuse-to-stablehlo: {message}")


class _FunctionLowering:
    """Rewrites one function: a new entry block built op by op, with `env`
    mapping each old SSA value to its lowered value."""

    def __init__(self, options: ConvertFuseToStablehloPass, element_type: Attribute):
        self.options = options
        self.element_type = element_type
        self.statuses: list[tuple[list[str], SSAValue]] = []
        self.in_fixpoint = False

    def lower(self, func_op: func.FuncOp) -> None:
        _check_static_shapes(func_op)
        old_block = func_op.body.block
        block = Block(arg_types=old_block.arg_types)
        for old, new in zip(old_block.args, block.args, strict=True):
            new.name_hint = old.name_hint
        exact_dots = (
            isinstance(self.element_type, Float32Type) and self.options.dot_precision == "highest"
        )
        b = HloBuilder(block, self.element_type, exact_dots=exact_dots)
        env: dict[SSAValue, SSAValue] = {
            old: b.convert(new, self.element_type)
            for old, new in zip(old_block.args, block.args, strict=True)
        }
        returned = self.lower_block(b, old_block, env)
        declared = func_op.function_type.outputs.data
        results = [
            b.convert(v, t.element_type) if isinstance(t, TensorType) else v
            for v, t in zip(returned, declared, strict=True)
        ]
        block.add_op(func.ReturnOp(*results, *(status for _, status in self.statuses)))
        func_op.body.detach_block(old_block)
        old_block.erase(safe_erase=False)
        func_op.body.add_block(block)
        self._declare_statuses(func_op)

    def _declare_statuses(self, func_op: func.FuncOp) -> None:
        if not self.statuses:
            return
        outputs = func_op.function_type.outputs.data
        func_op.function_type = FunctionType.from_lists(
            func_op.function_type.inputs.data, [*outputs, *[STATUS_TYPE] * len(self.statuses)]
        )
        old_attrs = (
            list(func_op.res_attrs.data)
            if func_op.res_attrs
            else [DictionaryAttr({})] * len(outputs)
        )
        status_attrs = [
            DictionaryAttr({STATUS_ATTR: ArrayAttr([StringAttr(n) for n in names])})
            for names, _ in self.statuses
        ]
        func_op.res_attrs = ArrayAttr([*old_attrs, *status_attrs])

    def lower_block(
        self, b: HloBuilder, block: Block, env: dict[SSAValue, SSAValue]
    ) -> list[SSAValue]:
        """Lowers the ops of `block` and returns the lowered values its
        terminator (`func.return` or `fuse.yield`) passes on."""
        for op in block.ops:
            if isinstance(op, func.ReturnOp | YieldOp):
                return [env[v] for v in op.operands]
            lowered = self.lower_op(b, op, [env[v] for v in op.operands], env)
            env.update(zip(op.results, lowered, strict=True))
        raise _fail("a block ends without func.return or fuse.yield")

    def lower_op(
        self, b: HloBuilder, op: Operation, args: list[SSAValue], env: dict[SSAValue, SSAValue]
    ) -> list[SSAValue]:
        match op:
            case EinsumOp():
                path = (
                    [[i.value.data for i in step.data] for step in op.path.data]
                    if op.path
                    else None
                )
                return [lower_einsum(b, op.subscripts.data, op.kind.data, args, path)]
            case BinaryOp():
                lhs, rhs = _aligned(b, op.subscripts.data, args, op.result)
                return [b.binary(_BINARY_OPS[op.fn.data], lhs, rhs)]
            case SelectOp():
                condition, on_true, on_false = _aligned(b, op.subscripts.data, args, op.result)
                return [b.select(b.compare_scalar("GT", condition, 0.0), on_true, on_false)]
            case UnaryOp():
                temperature = op.temperature.value.data if op.temperature is not None else 1.0
                return [_unary(b, op.fn.data, args[0], temperature)]
            case NormalizeOp():
                eps = op.epsilon
                mask = args[1] if len(args) > 1 else None
                if mask is not None and not isinstance(op.operands[1].owner, IndexFnOp):
                    # Computed from floats: XLA could round it differently in
                    # each fusion that reads it, and the reads must agree. An
                    # index function (`causal_mask`) compares integers.
                    [mask] = b.materialize([mask])
                return [_normalize(b, op.kind.data, op.axis.value.data, args[0], mask, eps)]
            case ConstantOp():
                return [b.convert(b.constant(op.value), self.element_type)]
            case IndexFnOp():
                position = op.position.value.data if op.position is not None else 0
                return [_index_fn(b, op.fn.data, shape_of(op.result), position)]
            case TakeOp():
                return [_take(b, args[0], op.dim.value.data, op.position.value.data)]
            case ConcatOp():
                return [b.concatenate(args, op.axis.value.data)]
            case TopKOp():
                return [_topk(b, args[0], op.k.value.data, op.axis.value.data)]
            case SampleOp():
                return [_sample(b, args[0], op.samples.value.data, op.seed.value.data)]
            case GatherOp():
                return [b.gather(args[0], op.dim.value.data, args[1])]
            case ConvOp():
                strides, dilations = op.stride_values, op.dilation_values
                return [lower_conv(b, op.layout.data, strides, dilations, *args)]
            case PoolOp():
                window, strides = op.window_values, op.stride_values
                return [lower_pool(b, op.kind.data.value, window, strides, args[0])]
            case WindowOp():
                forms, shape = forms_of(op.map), shape_of(op.result)
                return [lower_window(b, args[0], forms, shape, self.options.probe_sizes)]
            case PlaceOp():
                forms, shape = forms_of(op.map), shape_of(op.result)
                kind = op.kind.data
                return [lower_place(b, args[0], forms, kind, shape, self.options.probe_sizes)]
            case FixpointOp():
                return self._fixpoint(b, op, env)
            case ScanOp():
                return self._scan(b, op, env)
        raise _fail(f"cannot lower '{op.name}' (is the function at the dataflow level?)", op)

    # --- scans -----------------------------------------------------------------------

    def _scan(self, b: HloBuilder, op: ScanOp, env: dict[SSAValue, SSAValue]) -> list[SSAValue]:
        captured = _captured_values(op.body)
        count = len(op.init)
        # Steps are the leading dimension inside the loop, so each step reads
        # and writes one contiguous slab; one transpose on each side moves
        # the scan axis where the op has it.
        # A stored scan stacks the states its steps make in a buffer of one
        # row per step, zeros at first, and joins the initial states on
        # after the loop, as `jax.lax.scan` code does: XLA then compiles the
        # same program as for that code (a buffer that started as the
        # initial states padded with zeros compiled to a `pad` fill and a
        # steps + 1 row loop buffer, which timed 0-15% slower on CPU).
        stacked = (
            [] if op.is_virtual else [b.full(0.0, (op.step_count, *shape_of(v))) for v in op.init]
        )
        scanned = [
            b.transpose(env[v], [a, *(d for d in range(len(shape_of(v))) if d != a)])
            for v, a in zip(op.xs, op.scanned_axes, strict=True)
        ]
        state = [
            b.scalar(0, i32),
            *(env[v] for v in op.init),
            *stacked,
            *scanned,
            *(env[v] for v in captured),
        ]
        types = [v.type for v in state]
        body = b.nested(Block(arg_types=types))
        counter, *rest = body.block.args
        states, outs = rest[:count], rest[count : count + len(stacked)]
        xs = rest[count + len(stacked) : count + len(stacked) + len(op.xs)]
        steps = op.step_count
        position = (
            body.binary(hlo.SubtractOp, body.scalar(steps - 1, i32), counter)
            if op.is_reverse
            else counter
        )
        slices = [body.dynamic_take(x, 0, position) for x in xs]
        inner = dict(zip(op.body.block.args, [*states, *slices], strict=True))
        inner.update(zip(captured, rest[len(rest) - len(captured) :], strict=True))
        next_states = self.lower_block(body, op.body.block, inner)
        if not op.is_virtual:  # the states after step k are row `position` of the buffers
            outs = [
                body.dynamic_put(o, s, 0, position) for o, s in zip(outs, next_states, strict=True)
            ]
        step = body.binary(hlo.AddOp, counter, body.scalar(1, i32))
        if self.options.progress:
            _report_progress(body, f"scan {', '.join(op.tensor_names)}", [step], steps)
        carried = rest[count + len(stacked) :]
        body.block.add_op(hlo.ReturnOp([step, *next_states, *outs, *carried]))
        cond = b.nested(Block(arg_types=types))
        below = cond.compare("LT", cond.block.args[0], cond.scalar(steps, i32))
        cond.block.add_op(hlo.ReturnOp([below]))
        loop = hlo.WhileOp.build(
            operands=[state],
            result_types=[types],
            regions=[Region(cond.block), Region(body.block)],
        )
        b.block.add_op(loop)
        if op.is_virtual:
            return list(loop.results[1 : 1 + count])
        axis = op.stacking_axis
        results = []
        for initial, rows in zip(op.init, loop.results[1 + count : 1 + 2 * count], strict=True):
            # the initial states are index 0 forward, index `steps` reversed
            first = b.reshape(env[initial], (1, *shape_of(initial)))
            out = b.concatenate([rows, first] if op.is_reverse else [first, rows], 0)
            order = [*range(1, axis + 1), 0, *range(axis + 1, len(shape_of(out)))]
            results.append(b.transpose(out, order))
        return results

    # --- fixpoints ------------------------------------------------------------------

    def _fixpoint(
        self, b: HloBuilder, op: FixpointOp, env: dict[SSAValue, SSAValue]
    ) -> list[SSAValue]:
        if self.in_fixpoint:
            raise _fail("a fuse.fixpoint nested in another one is not supported", op)
        max_iters = op.max_iters.value.data if op.max_iters is not None else self.options.max_iters
        tolerance = op.tolerance.value.data if op.tolerance is not None else self.options.tolerance
        captured = _captured_values(op.body)
        state = [*self._initial_state(b, op, env, tolerance), *[env[v] for v in captured]]
        types = [v.type for v in state]
        self.in_fixpoint = True
        body = self._loop_body(b.nested(Block(arg_types=types)), op, captured, tolerance)
        self.in_fixpoint = False
        loop = hlo.WhileOp.build(
            operands=[state],
            result_types=[types],
            regions=[Region(_loop_condition(b.nested(Block(arg_types=types)), max_iters)), body],
        )
        b.block.add_op(loop)
        iterations, converged, change = loop.results[:3]
        self.statuses.append((op.tensor_names, _status(b, iterations, converged, change)))
        return list(loop.results[3 : 3 + len(op.results_)])

    def _initial_state(
        self, b: HloBuilder, op: FixpointOp, env: dict[SSAValue, SSAValue], tolerance: float
    ) -> list[SSAValue]:
        """(iterations, converged, change, values..., deltas...) before the loop."""
        zeros = [b.full(0.0, shape_of(r)) for r in op.results_]
        if not op.is_semi_naive:
            return [b.scalar(0, i32), b.scalar(0, i1), b.scalar(0.0, F32), *zeros]
        assert op.init is not None
        current = b.materialize(self.lower_block(b, op.init.block, env))
        deltas = [
            _delta(b, k, c, z) for k, c, z in zip(op.delta_kinds, current, zeros, strict=True)
        ]
        change = _max_abs(b, deltas)
        converged = b.compare("LE", change, b.scalar(tolerance, F32))
        return [b.scalar(0, i32), converged, change, *current, *deltas]

    def _loop_body(
        self, b: HloBuilder, op: FixpointOp, captured: list[SSAValue], tolerance: float
    ) -> Region:
        """One application of the fixpoint body, its change and the new state."""
        count = len(op.results_)
        iterations, _, _, *rest = b.block.args
        current = list(rest[:count])
        deltas = list(rest[count : len(rest) - len(captured)])
        captured_args = list(rest[len(rest) - len(captured) :])
        env = dict(zip(op.body.block.args, current + deltas, strict=True))
        env.update(zip(captured, captured_args, strict=True))
        next_values = b.materialize(self.lower_block(b, op.body.block, env))
        pairs = list(zip(next_values, current, strict=True))
        if op.is_semi_naive:
            new_deltas = [
                _delta(b, k, n, c) for k, (n, c) in zip(op.delta_kinds, pairs, strict=True)
            ]
            change = _max_abs(b, new_deltas)
        else:
            new_deltas = []
            change = _max_abs(b, [b.binary(hlo.SubtractOp, n, c) for n, c in pairs])
        converged = b.compare("LE", change, b.scalar(tolerance, F32))
        next_iteration = b.binary(hlo.AddOp, iterations, b.scalar(1, i32))
        if self.options.progress:
            label = f"fixpoint {', '.join(op.tensor_names)}"
            _report_progress(b, label, [next_iteration, change, converged])
        state = [next_iteration, converged, change, *next_values, *new_deltas, *captured_args]
        b.block.add_op(hlo.ReturnOp(state))
        return Region(b.block)


# --- op lowerings ----------------------------------------------------------------------


def _loop_condition(b: HloBuilder, max_iters: int) -> Block:
    """`!converged && iterations < max_iters`."""
    iterations, converged = b.block.args[:2]
    running = b.compare("EQ", converged, b.scalar(0, i1))
    below_bound = b.compare("LT", iterations, b.scalar(max_iters, i32))
    b.block.add_op(hlo.ReturnOp([b.binary(hlo.AndOp, running, below_bound)]))
    return b.block


def _report_progress(
    b: HloBuilder, label: str, operands: Sequence[SSAValue], steps: int | None = None
) -> None:
    """The `@fuse.progress` placeholder of a loop step (module docstring)."""
    report = hlo.CustomCallOp.create(
        operands=operands,
        result_types=[TensorType(i32, [])],  # unused (module docstring)
        properties={
            "call_target_name": StringAttr(PROGRESS_TARGET),
            "has_side_effect": BoolAttr.from_bool(True),
            "backend_config": StringAttr(label),
        },
    )
    if steps is not None:
        report.attributes[PROGRESS_STEPS_ATTR] = IntegerAttr(steps, i64)
    b.block.add_op(report)


def strip_progress_reports(module: ModuleOp) -> None:
    """Erases the `@fuse.progress` placeholders (nothing uses their
    results): what remains is the module lowered without `progress`."""
    reports = [
        op
        for op in module.walk()
        if isinstance(op, hlo.CustomCallOp) and op.call_target_name.data == PROGRESS_TARGET
    ]
    for op in reports:
        op.detach()
        op.erase()


def _status(b: HloBuilder, iterations: SSAValue, converged: SSAValue, change: SSAValue) -> SSAValue:
    """[converged (1 or 0), iterations, last change] as tensor<3xf32>."""
    parts = [b.convert(b.indicator(converged), F32), b.convert(iterations, F32), change]
    return b.concatenate([b.reshape(p, [1]) for p in parts], 0)


def _check_static_shapes(func_op: func.FuncOp) -> None:
    values = [*func_op.body.block.args]
    for op in func_op.body.walk():
        values.extend(op.results)
    for value in values:
        if isinstance(value.type, TensorType) and not value.type.has_static_shape():
            if isinstance(value.owner, Operation):
                where = f"the result of '{value.owner.name}'"
            else:
                where = f"argument %{value.name_hint}" if value.name_hint else "an argument"
            raise _fail(
                f"StableHLO needs static shapes, but {where} of @{func_op.sym_name.data} "
                f"has type {value.type}; fix the tensor sizes before lowering"
            )


def _aligned(
    b: HloBuilder, subscripts: str, args: Sequence[SSAValue], result: SSAValue
) -> list[SSAValue]:
    """Operands laid out along the result's letters, broadcast to its shape."""
    inputs, output = parse_subscripts(subscripts)
    shape = shape_of(result)
    return [
        align_to(b, take_diagonals(b, letters, value), output, shape)
        for letters, value in zip(inputs, args, strict=True)
    ]


def _unary(b: HloBuilder, fn: str, x: SSAValue, temperature: float) -> SSAValue:
    shape = shape_of(x)
    match fn:
        case "relu":
            return b.binary(hlo.MaximumOp, x, b.full(0.0, shape))
        case "gelu":
            scaled = b.binary(hlo.MultiplyOp, x, b.full(1 / math.sqrt(2.0), shape))
            erf = b.emit(ErfOp(scaled))
            half_x = b.binary(hlo.MultiplyOp, x, b.full(0.5, shape))
            return b.binary(hlo.MultiplyOp, half_x, b.binary(hlo.AddOp, erf, b.full(1.0, shape)))
        case "sig" if temperature != 0.0:
            if temperature != 1.0:
                x = b.binary(hlo.DivideOp, x, b.full(temperature, shape))
            return b.unary(hlo.LogisticOp, x)
        case "sig" | "step":
            return b.indicator(b.compare_scalar("GT", x, 0.0))
    return b.unary(_UNARY_OPS[fn], x)


def _normalize(
    b: HloBuilder, kind: str, axis: int, x: SSAValue, mask: SSAValue | None, eps: float
) -> SSAValue:
    shape = shape_of(x)
    others = [d for d in range(len(shape)) if d != axis]

    def spread(row: SSAValue) -> SSAValue:
        return b.broadcast(row, shape, others)

    if kind == "lnorm":
        size = b.full(float(shape[axis]), shape)
        centered = b.binary(
            hlo.SubtractOp, x, b.binary(hlo.DivideOp, spread(b.reduce_sum(x, [axis])), size)
        )
        squares = b.binary(hlo.MultiplyOp, centered, centered)
        variance = b.binary(hlo.DivideOp, spread(b.reduce_sum(squares, [axis])), size)
        scale = b.unary(hlo.SqrtOp, b.binary(hlo.AddOp, variance, b.full(eps, shape)))
        return b.binary(hlo.DivideOp, centered, scale)
    # Masked positions become -inf, so their exponentials are exactly 0; a
    # row with none valid has peak -inf, shifted by 0 instead, and sum 0,
    # divided by 1: all zeros (the NumPy kernel's formulation). The guards
    # act on rows, not on every element.
    scores = x
    if mask is not None:
        valid = b.compare_scalar("GT", mask, 0.0)
        scores = b.select(valid, x, b.full(float("-inf"), shape))
    peak = b.reduce(scores, [axis], "max")
    if mask is not None:
        empty = b.compare_scalar("EQ", peak, float("-inf"))
        peak = b.select(empty, b.full(0.0, shape_of(peak)), peak)
    weights = b.unary(hlo.ExponentialOp, b.binary(hlo.SubtractOp, scores, spread(peak)))
    total = b.reduce_sum(weights, [axis])
    if mask is not None:
        total = b.select(b.compare_scalar("GT", total, 0.0), total, b.full(1.0, shape_of(total)))
    return b.binary(hlo.DivideOp, weights, spread(total))


def _index_fn(b: HloBuilder, fn: str, shape: tuple[int, ...], position: int) -> SSAValue:
    positions = b.iota(shape, 0)
    match fn:
        case "even" | "odd":
            parity = b.binary(hlo.RemainderOp, positions, b.full(2, shape, i32))
            return b.indicator(b.compare_scalar("EQ", parity, 0 if fn == "even" else 1))
        case "causal":  # [r, c] = 1 where c <= r
            return b.indicator(b.compare("LE", b.iota(shape, 1), positions))
        case "iota":
            return b.convert(positions, b.element_type)
    return b.indicator(b.compare_scalar("EQ", positions, position))


def _take(b: HloBuilder, x: SSAValue, dim: int, position: int) -> SSAValue:
    shape = list(shape_of(x))
    start, limit = [0] * len(shape), list(shape)
    start[dim], limit[dim] = position, position + 1
    return b.reshape(b.slice(x, start, limit), shape[:dim] + shape[dim + 1 :])


def _topk(b: HloBuilder, x: SSAValue, k: int, axis: int) -> SSAValue:
    """The k largest entries of `x` along `axis` (ties: lower position), the
    rest 0, selected by rank (module docstring)."""
    shape = list(shape_of(x))
    if k >= shape[axis]:
        return x
    sorted_values, sorted_positions = b.sort([x, b.iota(shape, axis)], axis, "GT")
    ranks = b.iota(shape, axis)  # the r-th entry of the sorted order has rank r
    _, rank, value = b.sort([sorted_positions, ranks, sorted_values], axis, "LT")
    kept = b.compare("LT", rank, b.full(k, shape, i32))
    return b.select(kept, value, b.full(0.0, shape, element_type_of(x)))


def _sample(b: HloBuilder, weights: SSAValue, samples: int, seed: int) -> SSAValue:
    """`samples` positions drawn from `weights` by inverse CDF (module docstring)."""
    size = shape_of(weights)[0]
    [cdf] = b.materialize([_prefix_sums(b, b.convert(weights, F32))])
    total = b.reshape(b.slice(cdf, [size - 1], [size]), [])
    state_type = TensorType(IntegerType(64, Signedness.UNSIGNED), [2])
    state = b.constant(DenseIntOrFPElementsAttr.from_list(state_type, [seed, 0]))
    words_type = IntegerType(32, Signedness.UNSIGNED)
    rng = RngBitGeneratorOp(state, RngAlgorithm.THREE_FRY, TensorType(words_type, [samples]))
    b.block.add_op(rng)
    top_bits = b.binary(hlo.ShiftRightLogicalOp, rng.output, b.full(8, [samples], words_type))
    uniforms = b.binary(hlo.MultiplyOp, b.convert(top_bits, F32), b.full(2.0**-24, [samples], F32))
    targets = b.binary(hlo.MultiplyOp, uniforms, b.broadcast(total, [samples], []))
    grid = [samples, size]
    below = b.compare("LE", b.broadcast(cdf, grid, [1]), b.broadcast(targets, grid, [0]))
    counts = b.reduce(b.select(below, b.full(1, grid, i32), b.full(0, grid, i32)), [1], "add")
    return b.binary(hlo.MinimumOp, counts, b.full(size - 1, [samples], i32))


def _prefix_sums(b: HloBuilder, x: SSAValue) -> SSAValue:
    """Inclusive prefix sums of a rank-1 `x`: log2(n) steps of adding a copy
    shifted right by 1, 2, 4, ... (zeros shifted in)."""
    size = shape_of(x)[0]
    shift = 1
    while shift < size:
        zeros = b.full(0.0, [shift], element_type_of(x))
        shifted = b.concatenate([zeros, b.slice(x, [0], [size - shift])], 0)
        x = b.binary(hlo.AddOp, x, shifted)
        shift *= 2
    return x


def _delta(b: HloBuilder, kind: str, new: SSAValue, old: SSAValue) -> SSAValue:
    if kind == DeltaKind.DIFFERENCE:
        return b.binary(hlo.SubtractOp, new, old)
    return b.select(b.compare("NE", new, old), new, b.full(0.0, shape_of(new)))


def _max_abs(b: HloBuilder, values: Sequence[SSAValue]) -> SSAValue:
    """max |v| over every element of every value, as an f32 scalar."""
    largest = None
    for value in values:
        magnitude = b.unary(hlo.AbsOp, value)
        peak = b.convert(b.reduce(magnitude, list(range(len(shape_of(value)))), "max"), F32)
        largest = peak if largest is None else b.binary(hlo.MaximumOp, largest, peak)
    assert largest is not None
    return largest


def _captured_values(region: Region) -> list[SSAValue]:
    """Values the region reads but does not define, in first-use order."""
    defined: set[SSAValue] = set()
    used: dict[SSAValue, None] = {}
    for block in region.blocks:
        defined.update(block.args)
    for op in region.walk():
        defined.update(op.results)
        for inner in op.regions:
            for block in inner.blocks:
                defined.update(block.args)
        used.update(dict.fromkeys(op.operands))
    return [v for v in used if v not in defined]
