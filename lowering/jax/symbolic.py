"""Probe sizes to dynamic dimensions: `@main` of a plan compiled at probe
sizes (fuse.runtime.symbolic) made shape-polymorphic StableHLO.

`convert-fuse-to-stablehlo` emits static shapes. For a plan with symbolic
sizes it runs at probe sizes, one prime per symbol, and `generalize` then
reads every size back as an expression of the symbols (`SizeReader`):

* every type's symbolic dimensions become dynamic (`tensor<?x40xf32>`);
* ops whose result shape is an attribute get it at run time, from the
  sizes of values they can see (`get_dimension_size` of a block argument
  or an earlier result with that symbol, combined by integer `add`,
  `subtract`, `multiply` and `divide` for sizes such as `i + j` or
  `floordiv(i - k + 2, 2)`): `broadcast_in_dim` becomes
  `dynamic_broadcast_in_dim`, `iota` `dynamic_iota`, `reshape`
  `dynamic_reshape`, a `slice` up to a symbolic limit `real_dynamic_slice`,
  a splat `constant` of symbolic shape a broadcast scalar;
* a `dynamic_slice` of symbolic slice sizes (a scan step reading its row
  of a scanned input) becomes `real_dynamic_slice` from its starts, clamped
  as `dynamic_slice` clamps them, to the starts plus the sizes; a scan's
  loop carries its buffers with dynamic dimensions, `dynamic_update_slice`
  has no size attribute, and its step count is a scalar constant equal to
  a symbolic size (below);
* a scalar constant whose value is a symbolic size (the `n` a layer norm
  divides by) becomes that size, converted; one that is its inverse square
  root (attention's default scale `1/sqrt(|d|)`) that size's `rsqrt`.

What is left static must not depend on the symbols: an op attribute that
still holds a symbolic size is an error naming the op. Of the ops the
lowering emits with sizes in attributes, a `gather`'s slice sizes (the
whole extent of every dimension it does not index) can: a Monte Carlo
projection gathering its sampled positions from a tensor with another
symbolic dimension is refused. A constant of symbolic shape holding more
than one value is refused too: its values would be probe numbers. The
lowering emits none where it knows the plan is at probe sizes
(`ConvertFuseToStablehloPass.probe_sizes`): the index tables of windows
and placements (`fuse.lowering.affine_access`) are computed there from
`iota`s, which become `dynamic_iota`s here, a window gathering single
elements (slice sizes 1) and a placement scattering them; a gather's
positions are then no constants, and the slice it reads from, up to its
highest position, carries the minimum sizes. A
`reduce_window`'s or `convolution`'s windows, strides, dilations and
padding (`min(window, stride) - 1`) come from the program's own
constants. The caller compiles the plan at a second probe and compares the
generalized modules, which catches sizes that follow the symbols in a way
no `Size` captures.

Sizes the program needs to be large enough become constraints of the
signature (`SymbolicSignature.constraints`, `jax.export` syntax): a slice's
limit (`d0 >= 5` for `V[2:5]`), a constant position a gather reads (`d0 >=
6`), and every size that is no product of symbols, not negative.

The result is what `jax.export` makes of shape-polymorphic code: XLA
compiles it once the sizes are bound, after StableHLO's shape refinement
(`jax.export` runs it when an artifact is called).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FunctionType,
    IntegerAttr,
    IntegerType,
    TensorType,
    i64,
)
from xdsl.ir import Block, Operation, SSAValue
from xdsl.rewriter import Rewriter
from xdsl_jax.dialects import stablehlo as hlo

from fuse.errors import FuseError
from fuse.lowering.symbolic_sizes import Size, SizeArithmetic, SizeReader, size_in_constant

from .extra_ops import DynamicIotaOp, DynamicReshapeOp, GetDimensionSizeOp, RealDynamicSliceOp
from .hlo_builder import element_type_of, shape_of

Sizes = tuple[Size, ...]


@dataclass(frozen=True)
class SymbolicSignature:
    """The sizes of `@main`'s arguments and results (status rows included)."""

    arguments: tuple[Sizes, ...]
    results: tuple[Sizes, ...]
    # What the program needs of the sizes, as `jax.export` constraints
    # (`d0 >= 5`, `d0 - dx + 1 >= 0`), so that a call with inputs too small
    # is refused instead of reading clamped indices.
    constraints: tuple[str, ...] = ()


def static_signature(
    arguments: Sequence[Sequence[int]], results: Sequence[Sequence[int]]
) -> SymbolicSignature:
    """The signature of a `main` with static shapes."""
    return SymbolicSignature(
        tuple(tuple(Size(n) for n in shape) for shape in arguments),
        tuple(tuple(Size(n) for n in shape) for shape in results),
    )


def generalize(main: func.FuncOp, read: SizeReader) -> SymbolicSignature:
    """Rewrites `main` in place (module docstring); returns its sizes."""
    arguments = tuple(tuple(read(n) for n in shape_of(a)) for a in main.body.block.args)
    ret = main.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    results = tuple(tuple(read(n) for n in shape_of(v)) for v in ret.operands)
    generalizer = _Generalizer(read)
    generalizer.block(main.body.block, _Scope())
    main.function_type = FunctionType.from_lists(
        [a.type for a in main.body.block.args], [v.type for v in ret.operands]
    )
    return SymbolicSignature(arguments, results, tuple(generalizer.constraints))


@dataclass
class _Scope:
    """Where a block finds a symbolic size: a value and a dimension of
    exactly that size (`i`, or `2*d_half` where only twice a symbol is a
    dimension), from its own arguments and earlier results, else from the
    enclosing blocks."""

    parent: _Scope | None = None
    sources: dict[Size, tuple[SSAValue, int]] = field(default_factory=dict)

    def add(self, value: SSAValue, sizes: Sizes) -> None:
        for dim, size in enumerate(sizes):
            if not size.is_static:
                self.sources.setdefault(size, (value, dim))

    def find(self, size: Size) -> tuple[SSAValue, int] | None:
        if size in self.sources:
            return self.sources[size]
        return self.parent.find(size) if self.parent is not None else None


class _Generalizer:
    def __init__(self, read: SizeReader):
        self.read = read
        # the sizes of each value retyped so far (its type no longer says)
        self.known: dict[SSAValue, Sizes] = {}
        self.constraints: dict[str, None] = {}

    def need(self, larger: Size, smaller: Size) -> None:
        """Constrains the sizes to `larger >= smaller`, unless it is plain.
        `floordiv(L, q) >= 0` is `L >= 0`: a constraint with a division
        makes `jax.export` compute it with helper functions that
        StableHLO's shape refinement (`stablehlo-refine-shapes`) refuses, so
        a division is multiplied out (`floordiv(L, q) >= b` is `L >= q b`,
        `a >= floordiv(L, q)` is `q a + q - 1 >= L`)."""
        if larger.divisor > 1 and smaller.divisor > 1:
            return  # no such size needs another yet
        if larger.divisor > 1:
            larger, smaller = _dividend(larger), _scaled(smaller, larger.divisor, 0)
        elif smaller.divisor > 1:
            larger, smaller = (
                _scaled(larger, smaller.divisor, smaller.divisor - 1),
                _dividend(smaller),
            )
        # every symbol is at least 1: so is a product, and a sum of products
        positive = all(c > 0 for c, _ in larger.terms)
        least = (sum(c for c, _ in larger.terms) + larger.constant) // larger.divisor
        plain = smaller.is_static and (larger.is_static or positive) and least >= smaller.value
        if larger != smaller and not plain:
            self.constraints.setdefault(f"{larger} >= {smaller}")

    def operand_sizes(self, value: SSAValue) -> Sizes | None:
        return self.known.get(value)

    def sizes(self, value: SSAValue) -> Sizes:
        return tuple(self.read(n) for n in shape_of(value))

    def retype(self, value: SSAValue, scope: _Scope) -> None:
        """`value` with its symbolic dimensions dynamic, made known to `scope`."""
        if not isinstance(value.type, TensorType):
            return
        sizes = self.sizes(value)
        if not all(size.is_static for size in sizes):
            shape = [size.value if size.is_static else DYNAMIC_INDEX for size in sizes]
            value = Rewriter.replace_value_with_new_type(
                value, TensorType(element_type_of(value), shape)
            )
            for size in sizes:  # a difference of sizes must not be negative
                self.need(size, Size(0))
        self.known[value] = sizes
        scope.add(value, sizes)

    def block(self, block: Block, parent: _Scope) -> None:
        scope = _Scope(parent)
        for argument in list(block.args):
            self.retype(argument, scope)
        for op in list(block.ops):
            for region in op.regions:
                for inner in region.blocks:
                    self.block(inner, scope)
            # Sizes are read from the probe-size types, before retyping.
            results = [self.sizes(r) if isinstance(r.type, TensorType) else () for r in op.results]
            replacement = self.rewrite(op, results, scope)
            for result in replacement.results:
                self.retype(result, scope)

    def rewrite(self, op: Operation, results: list[Sizes], scope: _Scope) -> Operation:
        """`op`, or the dynamic op that replaces it, for these result sizes."""
        symbolic = any(not s.is_static for sizes in results for s in sizes)
        builder = _ShapeBuilder(op, scope, self.read)
        replacement: Operation | None = None
        if isinstance(op, hlo.BroadcastInDimOp) and symbolic:
            replacement = hlo.DynamicBroadcastInDimOp.build(
                operands=[op.operand, builder.shape(results[0])],
                result_types=[op.result.type],
                properties={"broadcast_dimensions": op.broadcast_dimensions},
            )
        elif isinstance(op, hlo.IotaOp) and symbolic:
            dimension = op.iota_dimension.value.data
            replacement = DynamicIotaOp(builder.shape(results[0]), dimension, op.output.type)
        elif isinstance(op, hlo.ReshapeOp) and symbolic:
            replacement = DynamicReshapeOp(op.operand, builder.shape(results[0]), op.result.type)
        elif isinstance(op, hlo.SliceOp):
            replacement = self.slice(op, builder)
        elif isinstance(op, hlo.DynamicSliceOp) and symbolic:
            replacement = self.dynamic_slice(op, results[0], builder)
        elif isinstance(op, hlo.GatherOp):
            self.gather(op)
        elif isinstance(op, hlo.ConstantOp):
            replacement = self.constant(op, results[0], builder)
        if replacement is None:
            self.check_attributes(op)
            return op
        Rewriter.replace_op(op, replacement)
        return replacement

    def slice(self, op: hlo.SliceOp, builder: _ShapeBuilder) -> Operation | None:
        bounds = [
            [self.read(n) for n in attr.get_values()]
            for attr in (op.start_indices, op.limit_indices, op.strides)
        ]
        operand = self.operand_sizes(op.operand)
        for size, limit in zip(operand or (), bounds[1], strict=False):
            self.need(size, limit)
        if all(size.is_static for row in bounds for size in row):
            return None
        tensors = builder.shape(bounds[0]), builder.shape(bounds[1]), builder.shape(bounds[2])
        return RealDynamicSliceOp(op.operand, tensors, op.result.type)

    def dynamic_slice(
        self, op: hlo.DynamicSliceOp, sizes: Sizes, builder: _ShapeBuilder
    ) -> Operation:
        """A `dynamic_slice` of symbolic slice sizes (`sizes`, its result's):
        a `real_dynamic_slice` from the starts to the starts plus the sizes.
        `dynamic_slice` clamps each start into `[0, dimension - size]` and
        `real_dynamic_slice` does not, so the starts are clamped here (as
        `jax.lax.dynamic_slice` lowers with symbolic sizes): the slice reads
        what it read at static sizes wherever its starts are."""
        sizes_tensor = builder.shape(sizes)
        starts = builder.vector(
            [builder.emit(hlo.ConvertOp(s, TensorType(i64, []))) for s in op.start_indices]
        )
        highest = builder.emit(hlo.SubtractOp(builder.dimensions(op.operand), sizes_tensor))
        zeros = builder.constants([0] * len(sizes))
        clamped = builder.emit(
            hlo.ClampOp.build(operands=[zeros, starts, highest], result_types=[starts.type])
        )
        limits = builder.emit(hlo.AddOp(clamped, sizes_tensor))
        strides = builder.constants([1] * len(sizes))
        return RealDynamicSliceOp(op.operand, (clamped, limits, strides), op.result.type)

    def gather(self, op: hlo.GatherOp) -> None:
        """A gather at constant positions (`V[N-1-t]`) needs the operand to
        hold the last of them."""
        operand = self.operand_sizes(op.operand)
        index_map = op.dimension_numbers.start_index_map.data
        indices = op.start_indices.owner
        while isinstance(indices, hlo.ReshapeOp):
            indices = indices.operand.owner
        if operand is None or len(index_map) != 1 or not isinstance(indices, hlo.ConstantOp):
            return  # positions computed at run time, or into several dimensions
        values = indices.value
        if not isinstance(values, DenseIntOrFPElementsAttr) or not values.get_values():
            return
        dim = index_map[0].value.data
        last = int(max(values.get_values())) + op.slice_sizes.get_values()[dim]
        self.need(operand[dim], Size(last))

    def constant(
        self, op: hlo.ConstantOp, sizes: Sizes, builder: _ShapeBuilder
    ) -> Operation | None:
        """A splat of symbolic shape: the scalar, broadcast; a scalar whose
        value is a symbolic size (or its inverse square root): that size at
        run time (`size_in_constant`)."""
        value = op.value
        assert isinstance(value, DenseIntOrFPElementsAttr)
        values = value.get_values()
        result = op.output
        if all(s.is_static for s in sizes):
            found = size_in_constant(values[0], self.read) if len(values) == 1 else None
            if sizes or found is None:
                return None
            converted = hlo.ConvertOp(builder.size(found.size), value.get_type())
            return hlo.RsqrtOp(builder.emit(converted)) if found.inverse_root else converted
        if len(set(values)) != 1:
            raise _not_symbolic(op, "a constant of symbolic shape that is not one value")
        scalar_type = TensorType(element_type_of(result), [])
        scalar = builder.emit(
            hlo.ConstantOp(DenseIntOrFPElementsAttr.from_list(scalar_type, [values[0]]))
        )
        return hlo.DynamicBroadcastInDimOp.build(
            operands=[scalar, builder.shape(sizes)],
            result_types=[result.type],
            properties={"broadcast_dimensions": DenseArrayBase.from_list(i64, [])},
        )

    def check_attributes(self, op: Operation) -> None:
        """An op left as it is may not keep a symbolic size in an attribute."""
        for name, attr in op.properties.items():
            if not isinstance(attr, DenseArrayBase) or not isinstance(attr.elt_type, IntegerType):
                continue
            if any(not self.read(n).is_static for n in attr.get_values() if n > 0):
                raise _not_symbolic(op, f"its attribute {name} holds a symbolic size")


class _ShapeBuilder:
    """Emits, before `op`, rank-1 i64 tensors of sizes computed at run time."""

    def __init__(self, op: Operation, scope: _Scope, read: SizeReader):
        self.op = op
        self.scope = scope
        self.read = read
        assert op.parent is not None
        self.block = op.parent

    def emit(self, op: Operation) -> SSAValue:
        self.block.insert_op_before(op, self.op)
        return op.results[0]

    def shape(self, sizes: Sequence[Size]) -> SSAValue:
        """`tensor<N x i64>` holding `sizes` (N >= 1)."""
        return self.vector([self.size(size) for size in sizes])

    def dimensions(self, value: SSAValue) -> SSAValue:
        """`tensor<rank x i64>` of `value`'s dimensions: the static ones as
        constants, the dynamic ones read at run time."""
        return self.vector(
            [
                self.dimension(value, dim) if n == DYNAMIC_INDEX else self.constant(n)
                for dim, n in enumerate(shape_of(value))
            ]
        )

    def vector(self, scalars: Sequence[SSAValue]) -> SSAValue:
        """`tensor<N x i64>` of the `tensor<i64>` `scalars` (N >= 1)."""
        parts = [self.reshape(scalar, [1]) for scalar in scalars]
        if len(parts) == 1:
            return parts[0]
        return self.emit(
            hlo.ConcatenateOp.build(
                operands=[parts],
                result_types=[TensorType(i64, [len(parts)])],
                properties={"dimension": IntegerAttr(0, i64)},
            )
        )

    def size(self, size: Size) -> SSAValue:
        """`tensor<i64>` holding `size`: a dimension of that size where one
        is in reach (`2*d_half` has no dimension `d_half`), else computed
        from its symbols' extents with StableHLO's integer ops (`divide`
        truncates, which is floor division for the sizes here: a size is
        never negative)."""
        whole = self.scope.find(size)
        if whole is not None:
            return self.dimension(*whole)
        arithmetic = SizeArithmetic(
            self.constant,
            lambda a, b: self.emit(hlo.AddOp(a, b)),
            lambda a, b: self.emit(hlo.SubtractOp(a, b)),
            lambda a, b: self.emit(hlo.MultiplyOp(a, b)),
            lambda a, b: self.emit(hlo.DivideOp(a, b)),
        )
        return size.evaluate(self.symbol_extent, arithmetic)

    def symbol_extent(self, symbol: str) -> SSAValue:
        """`tensor<i64>` holding the size `symbol`, read off a value in reach."""
        source = self.scope.find(Size.of(symbol))
        if source is None:
            raise _not_symbolic(self.op, f"no value in reach has the size '{symbol}'")
        return self.dimension(*source)

    def dimension(self, value: SSAValue, dim: int) -> SSAValue:
        """`tensor<i64>`: the size of `value`'s dimension `dim` at run time."""
        extent = self.emit(GetDimensionSizeOp(value, dim))
        return self.emit(hlo.ConvertOp(extent, TensorType(i64, [])))

    def constant(self, number: int) -> SSAValue:
        attr = DenseIntOrFPElementsAttr.from_list(TensorType(i64, []), [number])
        return self.emit(hlo.ConstantOp(attr))

    def constants(self, numbers: Sequence[int]) -> SSAValue:
        """`tensor<N x i64>` holding `numbers`."""
        attr = DenseIntOrFPElementsAttr.from_list(TensorType(i64, [len(numbers)]), list(numbers))
        return self.emit(hlo.ConstantOp(attr))

    def reshape(self, value: SSAValue, shape: list[int]) -> SSAValue:
        return self.emit(
            hlo.ReshapeOp.build(operands=[value], result_types=[TensorType(i64, shape)])
        )


def _dividend(size: Size) -> Size:
    """`L` of `floordiv(L, q)`."""
    return Size(size.constant, size.terms)


def _scaled(size: Size, factor: int, plus: int) -> Size:
    """`factor * size + plus` for a size without division."""
    terms = {symbols: c * factor for c, symbols in size.terms}
    return Size.affine(terms, size.constant * factor + plus)


def _not_symbolic(op: Operation, why: str) -> FuseError:
    return FuseError(
        f"this program cannot be exported with symbolic sizes: '{op.name}' needs static "
        f"sizes ({why}); give the sizes with --shape NAME=... (input_shapes= in Python)"
    )
