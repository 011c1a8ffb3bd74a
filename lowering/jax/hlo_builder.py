"""A small builder that appends StableHLO ops to a block.

Most xdsl-jax ops have no convenience constructor and need their result type
spelled out; this builder infers result types from operand shapes so the
lowering in `convert-fuse-to-stablehlo` reads as the math it implements.
Every helper appends one op (or a few) at the end of `block` and returns the
new value.

Sums accumulate in f32 whatever the compute type (`reduce_sum`,
`dot_general`): a bf16 or fp16 sum over thousands of elements loses digits
that the precision setting never promised to give up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    Float32Type,
    IntegerAttr,
    IntegerType,
    TensorType,
    i1,
    i32,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl_jax.dialects import stablehlo as hlo
from xdsl_jax.dialects.stablehlo.attributes import (
    ComparisonDirection,
    ComparisonDirectionAttr,
    DotAttr,
    GatherDimensionNumbers,
    Precision,
    PrecisionAttr,
    ScatterDimensionNumbers,
)

from .extra_ops import DynamicUpdateSliceOp, SortOp

F32 = Float32Type()


def shape_of(value: SSAValue) -> tuple[int, ...]:
    assert isinstance(value.type, TensorType)
    return tuple(value.type.get_shape())


def element_type_of(value: SSAValue) -> Attribute:
    assert isinstance(value.type, TensorType)
    return value.type.element_type


def _dims(values: Iterable[int]) -> ArrayAttr[IntegerAttr]:
    """Dimension numbers as the gather and scatter attributes hold them."""
    return ArrayAttr([IntegerAttr(d, i64) for d in values])


def _i64_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, list(values))


class HloBuilder:
    """Appends StableHLO ops to `block`; `element_type` is the compute type
    that `full`/`scalar` use by default."""

    def __init__(self, block: Block, element_type: Attribute, *, exact_dots: bool):
        self.block = block
        self.element_type = element_type
        # fp32 runs ask XLA for full-precision dots (no TF32 on GPUs).
        self.exact_dots = exact_dots
        # Splat constants already in `block`, reused rather than re-emitted.
        self._splats: dict[tuple[float, tuple[int, ...], Attribute], SSAValue] = {}

    def nested(self, block: Block) -> HloBuilder:
        """A builder for a region's block, with the same settings."""
        return HloBuilder(block, self.element_type, exact_dots=self.exact_dots)

    def emit(self, op: Operation) -> SSAValue:
        self.block.add_op(op)
        return op.results[0]

    # --- constants and types ---------------------------------------------------

    def scalar(self, value: float, element_type: Attribute | None = None) -> SSAValue:
        """A rank-0 constant."""
        return self.full(value, (), element_type)

    def full(
        self, value: float, shape: Sequence[int], element_type: Attribute | None = None
    ) -> SSAValue:
        """A constant tensor with every element `value` (a broadcast scalar)."""
        element_type = element_type or self.element_type
        key = (value, tuple(shape), element_type)
        if key not in self._splats:
            if shape:
                splat = self.broadcast(self.scalar(value, element_type), shape, [])
            else:
                scalar_type = TensorType(element_type, [])
                number = int(value) if isinstance(element_type, IntegerType) else float(value)
                attr = DenseIntOrFPElementsAttr.from_list(scalar_type, [number])
                splat = self.emit(hlo.ConstantOp(attr))
            self._splats[key] = splat
        return self._splats[key]

    def constant(self, value: DenseIntOrFPElementsAttr) -> SSAValue:
        return self.emit(hlo.ConstantOp(value))

    def convert(self, value: SSAValue, element_type: Attribute) -> SSAValue:
        if element_type_of(value) == element_type:
            return value
        return self.emit(hlo.ConvertOp(value, TensorType(element_type, shape_of(value))))

    # --- elementwise ---------------------------------------------------------------

    def binary(self, op_class: type[Operation], lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        return self.emit(op_class(lhs, rhs))  # type: ignore[call-arg]

    def unary(self, op_class: type[Operation], operand: SSAValue) -> SSAValue:
        return self.emit(op_class(operand))  # type: ignore[call-arg]

    def compare(self, direction: str, lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        """`lhs <direction> rhs` as a tensor of i1 (EQ, NE, LT, LE, GT, GE)."""
        return self.emit(
            hlo.CompareOp.build(
                operands=[lhs, rhs],
                result_types=[TensorType(i1, shape_of(lhs))],
                properties={
                    "comparison_direction": ComparisonDirectionAttr(ComparisonDirection(direction))
                },
            )
        )

    def compare_scalar(self, direction: str, value: SSAValue, scalar: float) -> SSAValue:
        """`value <direction> scalar`, the scalar broadcast to `value`'s shape."""
        other = self.full(scalar, shape_of(value), element_type_of(value))
        return self.compare(direction, value, other)

    def select(self, predicate: SSAValue, on_true: SSAValue, on_false: SSAValue) -> SSAValue:
        return self.emit(
            hlo.SelectOp.build(operands=[predicate, on_true, on_false], result_types=[on_true.type])
        )

    def indicator(self, predicate: SSAValue) -> SSAValue:
        """1 where `predicate` holds, else 0, in the compute type."""
        shape = shape_of(predicate)
        return self.select(predicate, self.full(1.0, shape), self.full(0.0, shape))

    # --- shapes --------------------------------------------------------------------

    def broadcast(self, value: SSAValue, shape: Sequence[int], dims: Sequence[int]) -> SSAValue:
        """`broadcast_in_dim`: operand dimension d becomes result dimension dims[d]."""
        if list(dims) == list(range(len(shape))) and shape_of(value) == tuple(shape):
            return value
        return self.emit(
            hlo.BroadcastInDimOp.build(
                operands=[value],
                result_types=[TensorType(element_type_of(value), shape)],
                properties={"broadcast_dimensions": _i64_array(dims)},
            )
        )

    def transpose(self, value: SSAValue, permutation: Sequence[int]) -> SSAValue:
        if list(permutation) == list(range(len(permutation))):
            return value
        shape = shape_of(value)
        result_type = TensorType(element_type_of(value), [shape[d] for d in permutation])
        return self.emit(hlo.TransposeOp(value, _i64_array(permutation), result_type))

    def reshape(self, value: SSAValue, shape: Sequence[int]) -> SSAValue:
        if shape_of(value) == tuple(shape):
            return value
        return self.emit(
            hlo.ReshapeOp.build(
                operands=[value], result_types=[TensorType(element_type_of(value), shape)]
            )
        )

    def slice(
        self,
        value: SSAValue,
        start: Sequence[int],
        limit: Sequence[int],
        strides: Sequence[int] | None = None,
    ) -> SSAValue:
        strides = strides or [1] * len(start)
        shape = [-(-(hi - lo) // step) for lo, hi, step in zip(start, limit, strides, strict=True)]
        # A slice that reads to the end of a dimension ends at its size
        # (`X[2*i]` of 7 elements: limit 7, not 5), which a plan with
        # symbolic sizes reads as that size (fuse.lowering.jax.symbolic).
        limit = [
            size if -(-(size - lo) // step) == count else hi
            for lo, hi, step, count, size in zip(
                start, limit, strides, shape, shape_of(value), strict=True
            )
        ]
        return self.emit(
            hlo.SliceOp.build(
                operands=[value],
                result_types=[TensorType(element_type_of(value), shape)],
                properties={
                    "start_indices": _i64_array(start),
                    "limit_indices": _i64_array(limit),
                    "strides": _i64_array(strides),
                },
            )
        )

    def dynamic_take(self, value: SSAValue, dim: int, index: SSAValue) -> SSAValue:
        """`value` at position `index` (a rank-0 i32) of `dim`, `dim` dropped."""
        shape = list(shape_of(value))
        starts = [index if d == dim else self.scalar(0, i32) for d in range(len(shape))]
        sizes = [1 if d == dim else size for d, size in enumerate(shape)]
        sliced = self.emit(
            hlo.DynamicSliceOp.build(
                operands=[value, starts],
                result_types=[TensorType(element_type_of(value), sizes)],
                properties={"slice_sizes": _i64_array(sizes)},
            )
        )
        return self.reshape(sliced, shape[:dim] + shape[dim + 1 :])

    def dynamic_put(self, target: SSAValue, value: SSAValue, dim: int, index: SSAValue) -> SSAValue:
        """`target` with `value` (its shape without `dim`) written at
        position `index` (a rank-0 i32) of `dim`."""
        shape = list(shape_of(value))
        update = self.reshape(value, [*shape[:dim], 1, *shape[dim:]])
        starts = [index if d == dim else self.scalar(0, i32) for d in range(len(shape) + 1)]
        return self.emit(DynamicUpdateSliceOp(target, update, starts))

    def pad(self, value: SSAValue, low: Sequence[int], high: Sequence[int]) -> SSAValue:
        """`value` with `low`/`high` zeros before/after each dimension, as
        concatenations with zeros (xdsl-jax's `stablehlo.pad` verifier
        demands an i32 padding value whatever the operand's type)."""
        for dim, (before, after) in enumerate(zip(low, high, strict=True)):
            if before == after == 0:
                continue
            shape = list(shape_of(value))
            pieces = []
            for count in (before, after):
                shape[dim] = count
                pieces.append(self.full(0.0, shape, element_type_of(value)) if count else None)
            parts = [p for p in (pieces[0], value, pieces[1]) if p is not None]
            value = self.concatenate(parts, dim)
        return value

    def concatenate(self, values: Sequence[SSAValue], dim: int) -> SSAValue:
        shape = list(shape_of(values[0]))
        shape[dim] = sum(shape_of(v)[dim] for v in values)
        return self.emit(
            hlo.ConcatenateOp.build(
                operands=[values],
                result_types=[TensorType(element_type_of(values[0]), shape)],
                properties={"dimension": IntegerAttr(dim, i64)},
            )
        )

    def gather(self, value: SSAValue, dim: int, indices: SSAValue) -> SSAValue:
        """The positions `indices` (rank-1, integer) of dimension `dim`: a
        `gather` of one-position slices, each index starting one slice."""
        shape = list(shape_of(value))
        count = shape_of(indices)[0]
        rank = len(shape)

        def dims(values: Sequence[int]) -> ArrayAttr[IntegerAttr]:
            return ArrayAttr([IntegerAttr(d, i64) for d in values])

        numbers = GatherDimensionNumbers(
            dims([d for d in range(rank) if d != dim]),  # offset_dims: all but `dim`
            dims([dim]),  # collapsed_slice_dims
            dims([]),
            dims([]),
            dims([dim]),  # start_index_map
            IntegerAttr(1, i64),  # index_vector_dim: indices are [count, 1]
        )
        return self.emit(
            hlo.GatherOp.build(
                operands=[value, self.reshape(indices, [count, 1])],
                result_types=[
                    TensorType(element_type_of(value), [*shape[:dim], count, *shape[dim + 1 :]])
                ],
                properties={
                    "dimension_numbers": numbers,
                    "slice_sizes": _i64_array([1 if d == dim else n for d, n in enumerate(shape)]),
                },
            )
        )

    def gather_points(self, value: SSAValue, positions: SSAValue) -> SSAValue:
        """One element of `value` per point of a box: `positions` (integer,
        shape box + [rank of value]) holds each point's position in every
        dimension of `value`; the result has the box's shape."""
        rank = len(shape_of(value))
        box = shape_of(positions)[:-1]
        every = _dims(range(rank))
        numbers = GatherDimensionNumbers(
            _dims([]), every, _dims([]), _dims([]), every, IntegerAttr(len(box), i64)
        )
        return self.emit(
            hlo.GatherOp.build(
                operands=[value, positions],
                result_types=[TensorType(element_type_of(value), box)],
                properties={"dimension_numbers": numbers, "slice_sizes": _i64_array([1] * rank)},
            )
        )

    def scatter_points(
        self, target: SSAValue, positions: SSAValue, updates: SSAValue, kind: str
    ) -> SSAValue:
        """`target` with each element of `updates` combined ("add" or "max")
        into the element at its position: `positions` as `gather_points`
        takes them, over the box that is `updates`' shape."""
        rank = len(shape_of(target))
        scalar_type = TensorType(element_type_of(target), [])
        body = Block(arg_types=[scalar_type, scalar_type])
        combine = hlo.AddOp if kind == "add" else hlo.MaximumOp
        body.add_ops([step := combine(body.args[0], body.args[1]), hlo.ReturnOp([step.result])])
        every = _dims(range(rank))
        numbers = ScatterDimensionNumbers(
            _dims([]), every, _dims([]), _dims([]), every, IntegerAttr(len(shape_of(updates)), i64)
        )
        return self.emit(
            hlo.ScatterOp.build(
                operands=[[target], positions, [updates]],
                result_types=[[target.type]],
                properties={"scatter_dimension_numbers": numbers},
                regions=[Region(body)],
            )
        )

    def iota(self, shape: Sequence[int], dim: int) -> SSAValue:
        """Positions along `dim` (i32), broadcast over the other dimensions."""
        return self.emit(
            hlo.IotaOp.build(
                result_types=[TensorType(i32, shape)],
                properties={"iota_dimension": IntegerAttr(dim, i64)},
            )
        )

    def materialize(self, values: Sequence[SSAValue]) -> list[SSAValue]:
        """`values`, computed once and stored (`optimization_barrier`). XLA
        otherwise fuses a cheap producer into each of its consumers and may
        round it differently in each (a multiply-add contracted to an FMA in
        one fusion, not in another); consumers that must agree on a value,
        such as a mask tested twice or a prefix sum and its last entry,
        read it from here."""
        barrier = hlo.OptimizationBarrierOp.build(
            operands=[list(values)], result_types=[[v.type for v in values]]
        )
        self.block.add_op(barrier)
        return list(barrier.results)

    def sort(self, values: Sequence[SSAValue], dim: int, direction: str) -> list[SSAValue]:
        """`values` (same shape) reordered together along `dim` by the first
        one, stably: an element goes before another when `first <direction>
        other` holds (GT: descending, LT: ascending); equal keys keep their
        order."""
        scalar_types = [TensorType(element_type_of(v), []) for v in values for _ in (0, 1)]
        comparator = Block(arg_types=scalar_types)
        goes_first = self.nested(comparator).compare(direction, *comparator.args[:2])
        comparator.add_op(hlo.ReturnOp([goes_first]))
        sort = SortOp(values, dim, Region(comparator), stable=True)
        self.block.add_op(sort)
        return list(sort.outputs)

    # --- reductions ------------------------------------------------------------------

    def reduce(self, value: SSAValue, dims: Sequence[int], kind: str) -> SSAValue:
        """Reduces `dims` away with `kind` "add" or "max" in the value's type."""
        if not dims:
            return value
        element_type = element_type_of(value)
        scalar_type = TensorType(element_type, [])
        init = self.scalar(0.0 if kind == "add" else float("-inf"), element_type)
        body = Block(arg_types=[scalar_type, scalar_type])
        combine = hlo.AddOp if kind == "add" else hlo.MaximumOp
        body.add_ops([step := combine(body.args[0], body.args[1]), hlo.ReturnOp([step.result])])
        shape = [n for d, n in enumerate(shape_of(value)) if d not in dims]
        return self.emit(
            hlo.ReduceOp.build(
                operands=[[value], [init]],
                result_types=[[TensorType(element_type, shape)]],
                properties={"dimensions": _i64_array(sorted(dims))},
                regions=[Region(body)],
            )
        )

    def reduce_sum(self, value: SSAValue, dims: Sequence[int]) -> SSAValue:
        """A sum accumulated in f32, returned in the value's type."""
        element_type = element_type_of(value)
        total = self.reduce(self.convert(value, F32), dims, "add")
        return self.convert(total, element_type)

    def dot_general(
        self,
        lhs: SSAValue,
        rhs: SSAValue,
        batch: tuple[Sequence[int], Sequence[int]],
        contract: tuple[Sequence[int], Sequence[int]],
    ) -> SSAValue:
        """Result dims: batch dims, lhs free dims, rhs free dims; f32 result
        (accumulation), converted back to the operands' type."""
        lhs_shape, rhs_shape = shape_of(lhs), shape_of(rhs)
        special_lhs, special_rhs = {*batch[0], *contract[0]}, {*batch[1], *contract[1]}
        shape = (
            [lhs_shape[d] for d in batch[0]]
            + [n for d, n in enumerate(lhs_shape) if d not in special_lhs]
            + [n for d, n in enumerate(rhs_shape) if d not in special_rhs]
        )

        def dims(values: Sequence[int]) -> ArrayAttr[IntegerAttr]:
            return ArrayAttr([IntegerAttr(d, i64) for d in values])

        properties: dict[str, Attribute] = {
            "dot_dimension_numbers": DotAttr(
                dims(batch[0]), dims(batch[1]), dims(contract[0]), dims(contract[1])
            )
        }
        if self.exact_dots:
            properties["precision_config"] = ArrayAttr([PrecisionAttr(Precision.HIGHEST)] * 2)
        product = self.emit(
            hlo.DotGeneralOp.build(
                operands=[lhs, rhs],
                result_types=[[TensorType(F32, shape)]],
                properties=properties,
            )
        )
        return self.convert(product, element_type_of(lhs))
