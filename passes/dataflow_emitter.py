"""Lowering of one canonical rule body to dataflow ops (used by
`fuse-stratify`).

An indexed expression `!fuse.expr<i, k>` becomes a tensor whose dimensions
are its indices in that order. Each index name of a rule gets one einsum
letter. A projection of a product becomes one n-ary `fuse.einsum` over its
factors; a projection of anything else (a power, a sum, a call) reduces
that expression's elementwise value, never distributing into it; other
arithmetic becomes subscripted `fuse.binary`; builtin calls become the
dataflow ops that implement them (composites such as `attention` and `rope`
are spelled out here, so every backend runs them natively).
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    FileLineColLoc,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.ir.affine import AffineMap
from xdsl.utils.exceptions import DiagnosticException

from fuse.dialects.fuse import (
    ArithOp,
    BinaryOp,
    CallOp,
    ConcatOp,
    ConstantOp,
    EinsumOp,
    IndexFnOp,
    LiteralOp,
    LoadOp,
    NegateOp,
    NormalizeOp,
    PlaceOp,
    ProjectOp,
    SelectOp,
    TakeOp,
    TopKOp,
    UnaryOp,
    WindowOp,
)
from fuse.dialects.fuse.affine import IndexPosition, access_map, position_variables
from fuse.dialects.fuse.attributes import ProjectionKind, f32_dense, f32_tensor
from fuse.dialects.fuse.declarative import part_of

from .autodiff import Emitter, ReverseSweep, active_values, static_shape
from .expr_tree import names_of
from .infer_shapes import location_prefix

LETTERS = string.ascii_lowercase + string.ascii_uppercase

_UNARY_BUILTINS = {"relu", "gelu", "step", "exp", "log", "sqrt", "abs", "tanh", "sin", "cos"}


class LoweringError(DiagnosticException):
    """A construct that cannot be lowered as written (with its location)."""


# The `fuse.program` attribute of a program compiled at probe sizes, which
# stand for symbolic sizes (fuse.runtime.symbolic): tables whose shape
# follows its sizes are computed in the graph rather than held as constants.
PROBE_SIZES = "fuse.probe_sizes"


def at_probe_sizes(op: Operation) -> bool:
    """Whether `op` is in a program compiled at probe sizes (`PROBE_SIZES`)."""
    ancestor = op.parent_op()
    while ancestor is not None and PROBE_SIZES not in ancestor.attributes:
        ancestor = ancestor.parent_op()
    return ancestor is not None


class Indexed:
    """A dataflow tensor together with the index names of its dimensions."""

    __slots__ = ("names", "value")

    def __init__(self, value: SSAValue, names: Sequence[str]):
        self.value = value
        self.names = tuple(names)


class BodyEmitter:
    """Emits the dataflow ops of one rule (or sink) body into `block`.

    `tensor_value(name)` gives the current value of a tensor (an argument, an
    earlier result or a fixpoint iterate); `sizes` the rule's index sizes.
    """

    def __init__(
        self,
        block: Block,
        tensor_value: Callable[[str], SSAValue],
        sizes: Mapping[str, int],
        located: Operation,
        starts: Mapping[str, int] | None = None,
    ):
        self.block = block
        self.tensor_value = tensor_value
        self.sizes = dict(sizes)
        # A rule with index arithmetic gives its indices ranges (`starts`
        # given): an index may start past 0 (`X[i - 1]`: i from 1), its
        # dimension d standing for the value d + start, or end before a
        # tensor it reads does, so every load is read through a window.
        self.ranged = starts is not None
        self.starts = dict(starts or {})
        self.located = located
        # Where the op being lowered came from: its equation's location once
        # rules are merged; emitted ops carry it for diagnostics.
        self.location = located.location
        self.letters: dict[str, str] = {}
        self.at_probe_sizes = at_probe_sizes(located)

    # --- helpers ------------------------------------------------------------

    def error(self, message: str) -> LoweringError:
        return LoweringError(f"{location_prefix(self.located)}{message}")

    def letter(self, name: str) -> str:
        if name not in self.letters:
            if len(self.letters) == len(LETTERS):
                raise self.error("a rule uses more than 52 distinct indices")
            self.letters[name] = LETTERS[len(self.letters)]
        return self.letters[name]

    def subscript(self, names: Sequence[str]) -> str:
        return "".join(self.letter(n) for n in names)

    def size(self, name: str) -> int:
        return self.sizes.get(name, DYNAMIC_INDEX)

    def static_size(self, name: str, why: str) -> int:
        size = self.size(name)
        if size == DYNAMIC_INDEX:
            raise self.error(f"{why} needs the size of index '{name}', which is unknown")
        return size

    def type_of(self, names: Sequence[str]) -> TensorType:
        return f32_tensor(tuple(self.size(n) for n in names))

    def index_names(self, value: SSAValue) -> tuple[str, ...]:
        """The indices an expression of the rule varies over, which its
        dataflow value has as dimensions."""
        return tuple(names_of(value))

    def emit(self, op: Operation) -> SSAValue:
        op.location = self.location
        self.block.add_op(op)
        return op.results[0]

    def constant(self, array: np.ndarray) -> SSAValue:
        return self.emit(ConstantOp(f32_dense(array)))

    def einsum(
        self, operands: Sequence[Indexed], out: Sequence[str], kind: ProjectionKind | str = "sum"
    ) -> Indexed:
        subscripts = ",".join(self.subscript(o.names) for o in operands)
        subscripts += "->" + self.subscript(out)
        op = EinsumOp(subscripts, kind, [o.value for o in operands], self.type_of(out))
        return Indexed(self.emit(op), out)

    def permute(self, value: Indexed, names: Sequence[str]) -> Indexed:
        if value.names == tuple(names):
            return value
        return self.einsum([value], names)

    def broadcast_to(self, value: Indexed, names: Sequence[str]) -> Indexed:
        """`value` over `names` (a superset of its indices), in that order."""
        missing = [n for n in names if n not in value.names]
        if not missing:
            return self.permute(value, names)
        ones = Indexed(
            self.constant(np.ones([self.static_size(n, "broadcasting") for n in missing])),
            missing,
        )
        return self.einsum([value, ones], names)

    def binary(self, fn: str, lhs: Indexed, rhs: Indexed) -> Indexed:
        out = tuple(dict.fromkeys(lhs.names + rhs.names))
        subscripts = (
            f"{self.subscript(lhs.names)},{self.subscript(rhs.names)}->{self.subscript(out)}"
        )
        op = BinaryOp(fn, subscripts, lhs.value, rhs.value, self.type_of(out))
        return Indexed(self.emit(op), out)

    def unary(self, fn: str, value: Indexed, temperature: float | None = None) -> Indexed:
        return Indexed(self.emit(UnaryOp(fn, value.value, temperature)), value.names)

    # --- expressions ----------------------------------------------------------

    def lower(self, value: SSAValue) -> Indexed:
        outer = self.location
        if isinstance(value.owner, Operation) and isinstance(value.owner.location, FileLineColLoc):
            self.location = value.owner.location
        try:
            return self.lower_located(value)
        finally:
            self.location = outer

    def lower_located(self, value: SSAValue) -> Indexed:
        op = value.owner
        match op:
            case LoadOp():
                return self.lower_load(op)
            case LiteralOp():
                if isinstance(op.value, FloatAttr):
                    return Indexed(self.constant(np.float32(op.value.value.data)), ())
                array = np.asarray(op.value.get_values(), dtype=np.float32)
                array = array.reshape(op.value.get_type().get_shape())
                return Indexed(self.constant(array), self.index_names(op.result))
            case ArithOp() if op.fn.data == "mul":
                return self.einsum(self.factors(value), self.index_names(value))
            case ArithOp():
                return self.binary(op.fn.data, self.lower(op.lhs), self.lower(op.rhs))
            case NegateOp():
                return self.unary("neg", self.lower(op.operand))
            case ProjectOp():
                return self.einsum(self.factors(op.operand), self.index_names(value), op.kind.data)
            case CallOp():
                return self.lower_call(op)
        raise self.error(f"cannot lower {op.name} to the dataflow level")

    def factors(self, value: SSAValue) -> list[Indexed]:
        """The operands of a product tree, so a projected join is one einsum.
        Division by a scalar stays one contraction, never a P x E x P
        product: a literal divisor is a factor of its reciprocal (`Q K / 2`),
        and any other scalar divides the smallest factor before the einsum
        sums (`Q K / T` is `(Q / T) K`). Multiplying by `1 / T` instead would
        change the value where `1 / T` is infinite: with `T = 0` at run time,
        `sum_e (x_e / 0)` is NaN for mixed signs, `(sum_e x_e) * inf` is not."""
        op = value.owner
        if isinstance(op, ArithOp) and op.fn.data == "mul":
            return self.factors(op.lhs) + self.factors(op.rhs)
        if isinstance(op, ArithOp) and op.fn.data == "div" and not self.index_names(op.rhs):
            numerator = self.factors(op.lhs)
            inverse = self.literal_reciprocal(op.rhs)
            if inverse is not None:
                return [*numerator, inverse]
            smallest = min(range(len(numerator)), key=lambda k: self.extent(numerator[k]))
            numerator[smallest] = self.binary("div", numerator[smallest], self.lower(op.rhs))
            return numerator
        return [self.lower(value)]

    def extent(self, value: Indexed) -> tuple[int, int]:
        """How large `value` is, for ordering: its unknown sizes, then the
        product of its known ones."""
        sizes = [self.size(n) for n in value.names]
        known = [s for s in sizes if s != DYNAMIC_INDEX]
        return len(sizes) - len(known), math.prod(known)

    def literal_reciprocal(self, scalar: SSAValue) -> Indexed | None:
        """`1 / scalar` as a constant factor for a literal of finite
        reciprocal; None otherwise. A literal of infinite reciprocal (0.0,
        -0.0, below 2^-128) is not folded: a product with an infinity is not
        IEEE division once einsum sums before it multiplies (`(-1 + 3) *
        -inf` is -inf, `-1 / -0.0 + 3 / -0.0` is NaN)."""
        literal = scalar.owner
        if not (isinstance(literal, LiteralOp) and isinstance(literal.value, FloatAttr)):
            return None
        with np.errstate(divide="ignore", over="ignore"):
            inverse = np.float32(1.0) / np.float32(literal.value.value.data)
        return Indexed(self.constant(inverse), ()) if np.isfinite(inverse) else None

    def lower_load(self, op: LoadOp) -> Indexed:
        if self.ranged or not op.indices.is_plain:
            return self.window(op)
        value = Indexed(self.tensor_value(op.tensor_name), ())
        dims: list[str | int] = list(op.indices.data)
        shape = list(value.value.type.get_shape())
        for dim in reversed(range(len(dims))):
            position = dims[dim]
            if isinstance(position, int):
                if shape[dim] != DYNAMIC_INDEX and not 0 <= position < shape[dim]:
                    raise self.error(
                        f"index {position} is out of range for dimension {dim + 1} of "
                        f"@{op.tensor_name}, of size {shape[dim]}"
                    )
                del shape[dim]
                taken = TakeOp(value.value, dim, position, f32_tensor(tuple(shape)))
                value = Indexed(self.emit(taken), ())
        names = [str(d) for d in dims if isinstance(d, str)]
        if len(set(names)) != len(names):  # a repeated index reads a diagonal
            return self.einsum([Indexed(value.value, names)], self.index_names(op.result))
        return Indexed(value.value, names)

    def affine_space(self, positions: Sequence[IndexPosition]) -> tuple[tuple[str, ...], AffineMap]:
        """The variables of an access with index arithmetic (its iteration
        space, one dimension each) and the map from them to its positions."""
        variables = tuple(dict.fromkeys(v for p in positions for v in position_variables(p)))
        return variables, access_map(positions, variables, self.starts)

    def window(self, op: LoadOp) -> Indexed:
        """A load through index arithmetic: a `fuse.window` over the load's
        variables (none where the access reads the whole tensor as is)."""
        tensor = self.tensor_value(op.tensor_name)
        variables, affine_map = self.affine_space(op.indices.data)
        shape = [self.static_size(v, "index arithmetic") for v in variables]
        if affine_map == AffineMap.identity(len(variables)) and shape == list(
            tensor.type.get_shape()
        ):
            return Indexed(tensor, variables)
        window = WindowOp(tensor, affine_map, f32_tensor(tuple(shape)))
        return Indexed(self.emit(window), variables)

    def place(
        self, value: Indexed, positions: Sequence[IndexPosition], kind: str, shape: Sequence[int]
    ) -> SSAValue:
        """A value over a left-hand side's variables written to its positions
        (`X[i, t + 1]`, `Pooled[x floordiv 2]`) in a tensor of `shape`."""
        variables, affine_map = self.affine_space(positions)
        value = self.broadcast_to(value, variables)
        if affine_map == AffineMap.identity(len(variables)) and [
            self.size(v) for v in variables
        ] == list(shape):
            return value.value
        return self.emit(PlaceOp(value.value, affine_map, kind, f32_tensor(tuple(shape))))

    # --- builtins ---------------------------------------------------------------

    def keyword(self, op: CallOp, name: str) -> Attribute | None:
        return op.keyword(name)

    def float_keyword(self, op: CallOp, name: str, default: float) -> float:
        attr = op.keyword(name)
        if isinstance(attr, FloatAttr):
            return float(attr.value.data)
        if isinstance(attr, IntegerAttr):
            return float(attr.value.data)
        return default

    def axis_of(self, op: CallOp, value: Indexed) -> int:
        """The dimension a normalization works along: its `axis` keyword (the
        dotted left-hand-side index), else the last dimension."""
        axis = op.keyword("axis")
        if isinstance(axis, StringAttr):
            if axis.data not in value.names:
                raise self.error(
                    f"{op.callee.data} over '{axis.data}', which its argument does not mention"
                )
            return value.names.index(axis.data)
        if not value.names:
            raise self.error(f"{op.callee.data} of a scalar")
        return len(value.names) - 1

    def lower_call(self, op: CallOp) -> Indexed:
        callee = op.callee.data
        if op.index_args is not None:
            return self.lower_index_call(callee, [str(n) for n in op.index_args.data])
        if callee == "grad":
            return self.lower_grad(op)
        args = [self.lower(a) for a in op.args]
        if callee in _UNARY_BUILTINS:
            return self.unary(callee, args[0])
        lowering = getattr(self, f"lower_{callee}", None)
        if lowering is None:
            raise self.error(f"builtin '{callee}' has no dataflow lowering")
        return lowering(op, args)

    def source_load(self, op: LoadOp) -> LoadOp:
        """The load that `op` reads through (a scan's step reads states and
        slices in place of some loads)."""
        return op

    def lower_grad(self, op: CallOp) -> Indexed:
        """`grad(Loss, W[i, j])`: fuse-autodiff's reverse sweep, from the
        loss back to W's value, over the ops this block holds so far (the
        loss is computed before its gradient: the equation reads it). In a
        training loop's step that is the loss at the current step's W. A
        loss that does not depend on W has a zero gradient."""
        loss_arg, wrt_arg = op.args
        assert isinstance(wrt_arg.owner, LoadOp), "the front end checks grad's arguments"
        wrt = self.lower(wrt_arg)
        target = self.tensor_value(self.source_load(wrt_arg.owner).tensor_name)
        if wrt.value is not target:
            raise self.error(
                f"grad differentiates by the whole of @{wrt_arg.owner.tensor_name}, and this "
                "access reads part of it"
            )
        loss = self.lower(loss_arg)
        if loss.value.type.get_num_dims() != 0:
            raise self.error(f"the loss of grad must be a scalar, it has type {loss.value.type}")
        ops = list(self.block.ops)
        if target.owner in ops:  # what computed W is no part of the gradient
            ops = ops[ops.index(target.owner) + 1 :]
        emitter = Emitter(self.block, location=self.location)
        sweep = ReverseSweep(emitter, active_values(ops, {target}))
        sweep.accumulate(loss.value, emitter.scalar(1.0))
        sweep.run(ops)
        gradient = sweep.adjoints.get(target)
        if gradient is None:
            shape = static_shape(target, op, "a zero gradient")
            gradient = emitter.constant(np.zeros(shape))
        return Indexed(gradient, wrt.names)

    def lower_index_call(self, callee: str, indices: list[str]) -> Indexed:
        """An index function over the rule's indices. Under index arithmetic
        an index may start past 0 (dimension d stands for the value d +
        start), and the function is of the value: `iota` adds the start,
        `even`/`odd` swap where it is odd."""
        sizes = [self.static_size(i, callee) for i in indices]
        starts = [self.starts.get(i, 0) for i in indices]
        fn = {"causal_mask": "causal"}.get(callee, callee)
        if fn in ("even", "odd") and starts and starts[0] % 2:
            fn = "odd" if fn == "even" else "even"
        if fn == "causal" and len(set(starts)) > 1:
            ranges = ", ".join(
                f"{i} from {start}" for i, start in zip(indices, starts, strict=True)
            )
            raise self.error(
                f"causal_mask({', '.join(indices)}) over indices that index arithmetic starts "
                f"at different values ({ranges}) is not supported"
            )
        value = Indexed(self.emit(IndexFnOp(fn, f32_tensor(tuple(sizes)))), indices)
        if fn == "iota" and starts[0]:
            value = self.binary("add", value, Indexed(self.constant(np.float32(starts[0])), ()))
        return value

    def lower_sig(self, op: CallOp, args: list[Indexed]) -> Indexed:
        if len(args) == 2:
            return self.tensor_temperature_sig(*args)
        temperature = self.float_keyword(op, "T", 1.0)
        if temperature == 0.0:
            return self.unary("step", args[0])
        return self.unary("sig", args[0], temperature if temperature != 1.0 else None)

    def tensor_temperature_sig(self, x: Indexed, temperature: Indexed) -> Indexed:
        """`sig(x, T)` with a tensor `T`: `sig(x / T)` where `T != 0` and
        `step(x)` where `T == 0`, as a literal `T=0` is. The division is by
        `T` where it is nonzero and by 1 elsewhere, so no element ever
        divides by zero (no inf, no NaN gradient through the unused side)."""
        nonzero = self.unary("abs", temperature)  # > 0 exactly where T != 0
        one = Indexed(self.constant(np.float32(1.0)), ())
        divisor = self.select(nonzero, temperature, one)
        scaled = self.unary("sig", self.binary("div", x, divisor))
        return self.select(nonzero, scaled, self.unary("step", x))

    def lower_softmax(self, op: CallOp, args: list[Indexed]) -> Indexed:
        x = args[0]
        return Indexed(self.emit(NormalizeOp("softmax", self.axis_of(op, x), x.value)), x.names)

    def lower_lnorm(self, op: CallOp, args: list[Indexed]) -> Indexed:
        x = args[0]
        # An `eps` given as `1` or `1.0` alike; none given: the op's default.
        eps = self.float_keyword(op, "eps", 0.0) if op.keyword("eps") is not None else None
        normalize = NormalizeOp("lnorm", self.axis_of(op, x), x.value, eps=eps)
        return Indexed(self.emit(normalize), x.names)

    def lower_masked_softmax(self, op: CallOp, args: list[Indexed]) -> Indexed:
        x, mask = args
        names = tuple(dict.fromkeys(x.names + mask.names))
        x, mask = self.broadcast_to(x, names), self.broadcast_to(mask, names)
        axis = self.axis_of(op, x)
        return Indexed(self.emit(NormalizeOp("softmax", axis, x.value, mask.value)), names)

    def lower_attention(self, op: CallOp, args: list[Indexed]) -> Indexed:
        """softmax(Q K / sqrt(|d|)) V over the key indices K has and Q lacks,
        with the indices Q and K share (d) contracted."""
        query, key, value = args[:3]
        shared = [n for n in query.names if n in key.names]
        attended = [n for n in key.names if n not in query.names]
        if len(attended) != 1:
            raise self.error(
                f"attention needs exactly one key index absent from the query, got {attended}"
            )
        scale = self.float_keyword(
            op,
            "scale",
            1.0 / math.sqrt(math.prod(self.static_size(n, "attention") for n in shared) or 1),
        )
        score_names = tuple(dict.fromkeys([n for n in query.names if n not in shared] + attended))
        scores = self.einsum(
            [query, key, Indexed(self.constant(np.float32(scale)), ())], score_names
        )
        axis = score_names.index(attended[0])
        if len(args) == 4:
            mask = self.broadcast_to(args[3], score_names)
            weights = NormalizeOp("softmax", axis, scores.value, mask.value)
        else:
            weights = NormalizeOp("softmax", axis, scores.value)
        probabilities = Indexed(self.emit(weights), score_names)
        return self.einsum([probabilities, value], self.index_names(op.result))

    def lower_rope(self, op: CallOp, args: list[Indexed]) -> Indexed:
        from .rope_lowering import lower_rope

        return lower_rope(self, op, args[0])

    def rename(self, value: Indexed, old: str, new: str) -> Indexed:
        return Indexed(value.value, [new if n == old else n for n in value.names])

    def lower_concat(self, op: CallOp, args: list[Indexed]) -> Indexed:
        """Each argument is laid out in the result's index order, its own part
        of the axis (`concat_part`) standing where the axis stands."""
        names = self.index_names(op.result)
        if op.merged:
            return self.lower_head_merge(op, args[0], names)
        axis_name = op.axis if op.axis is not None else args[0].names[-1]
        axis = names.index(axis_name)
        aligned = []
        for arg in args:
            part = next((n for n in arg.names if part_of(n) == axis_name), axis_name)
            order = [part if n == axis_name else n for n in names]
            if set(order) != set(arg.names):
                raise self.error("concat operands must vary over the same indices")
            aligned.append(self.permute(arg, order))
        shape = [self.size(n) for n in names]
        parts = [a.value.type.get_shape()[axis] for a in aligned]
        shape[axis] = DYNAMIC_INDEX if DYNAMIC_INDEX in parts else sum(parts)
        concat = ConcatOp(axis, [a.value for a in aligned], f32_tensor(tuple(shape)))
        return Indexed(self.emit(concat), names)

    def lower_head_merge(self, op: CallOp, x: Indexed, names: tuple[str, ...]) -> Indexed:
        """`concat(Attn[b, h, p, d_v])` into `d_m`: one contraction with the
        0/1 tensor placing (h, d_v) at d_m = h * |d_v| + d_v (head-major)."""
        merged = op.merged
        sizes = [self.static_size(n, "concat") for n in merged]
        placement = np.zeros([*sizes, math.prod(sizes)], dtype=np.float32)
        for flat, position in enumerate(np.ndindex(*sizes)):
            placement[(*position, flat)] = 1.0
        axis = names[-1]
        self.sizes[axis] = math.prod(sizes)
        return self.einsum([x, Indexed(self.constant(placement), (*merged, axis))], names)

    def lower_topk(self, op: CallOp, args: list[Indexed]) -> Indexed:
        x = args[0]
        k = op.keyword("k")
        count = int(k.value.data) if isinstance(k, IntegerAttr | FloatAttr) else 1
        return Indexed(self.emit(TopKOp(x.value, count, self.axis_of(op, x))), x.names)

    def lower_case(self, op: CallOp, args: list[Indexed]) -> Indexed:
        """`case(c1, v1, c2, v2, ..., default)`: the first value whose
        condition is > 0 (default 0 when no default is given)."""
        pairs = list(zip(args[0::2], args[1::2], strict=False))
        result = args[-1] if len(args) % 2 else Indexed(self.constant(np.float32(0)), ())
        for condition, value in reversed(pairs[: len(args) // 2]):
            result = self.select(condition, value, result)
        return result

    def select(self, condition: Indexed, value: Indexed, otherwise: Indexed) -> Indexed:
        """`value` where `condition` > 0, else `otherwise`, broadcast over
        the indices of all three."""
        out = tuple(dict.fromkeys(condition.names + value.names + otherwise.names))
        subscripts = (
            ",".join(self.subscript(a.names) for a in (condition, value, otherwise))
            + "->"
            + self.subscript(out)
        )
        select = SelectOp(
            subscripts, condition.value, value.value, otherwise.value, self.type_of(out)
        )
        return Indexed(self.emit(select), out)

    def lower_const(self, op: CallOp, args: list[Indexed]) -> Indexed:
        return args[0]
