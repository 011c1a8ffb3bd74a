"""`fuse.conv` and `fuse.pool` as StableHLO (`convert-fuse-to-stablehlo`).

A convolution is one `stablehlo.convolution` whose dimension numbers are
the op's own layout, so no operand is transposed: XLA picks the memory
layout. A grouped one (`g`) folds the groups into the features, groups
first (`feature_group_count`), transposing where `g` is not next to them. StableHLO needs batch and feature dimensions on every operand;
where the layout lacks one, a reshape appends a size-1 dimension (which
moves no data) and the result drops it again.

A pool is one `stablehlo.reduce_window` (max, or add in f32 for sum and
mean) whose high padding, filled with the identity, completes a last window
that the end of the operand cuts off. A mean divides by each window's
element count: the same `reduce_window` over a splat of ones, which XLA
folds to a constant.
"""

from __future__ import annotations

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    IntegerAttr,
    TensorType,
    i64,
)
from xdsl.ir import Block, Region, SSAValue
from xdsl_jax.dialects import stablehlo as hlo
from xdsl_jax.dialects.stablehlo.attributes import Precision, PrecisionAttr

from fuse.dialects.fuse.window import ConvLayout, conv_output_size
from fuse.lowering.convolution import PoolPlan

from .extra_ops import ConvDimensionNumbersAttr, ConvolutionOp, ReduceWindowOp
from .hlo_builder import F32, HloBuilder, element_type_of, shape_of


def _i64_array(values: tuple[int, ...] | list[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, list(values))


def _completed(b: HloBuilder, value: SSAValue, dims: str, needed: str) -> tuple[SSAValue, str]:
    """`value` with a trailing size-1 dimension for each of `needed` that
    `dims` lacks, and its dimension characters."""
    missing = "".join(c for c in needed if c not in dims)
    if not missing:
        return value, dims
    return b.reshape(value, [*shape_of(value), *[1] * len(missing)]), dims + missing


def lower_conv(
    b: HloBuilder,
    layout: str,
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    x: SSAValue,
    w: SSAValue,
) -> SSAValue:
    parsed = ConvLayout.parse(layout)
    lhs, lhs_dims = _completed(b, x, parsed.input, "bf")
    rhs, rhs_dims = _completed(b, w, parsed.filter, "io")
    groups = dict(zip(parsed.input, shape_of(x), strict=True)).get("g", 1)
    if "g" in parsed.input:
        lhs, lhs_dims = _grouped(b, lhs, lhs_dims, "f")
        rhs, rhs_dims = _grouped(b, rhs, rhs_dims, "o")
    wanted = parsed.output.replace("g", "")
    out_dims = wanted + "".join(c for c in "bf" if c not in wanted)
    sizes = dict(zip(lhs_dims, shape_of(lhs), strict=True))
    kernel_sizes = dict(zip(rhs_dims, shape_of(rhs), strict=True))
    spatial = [str(k) for k in range(parsed.spatial_rank)]
    out_sizes = {
        "b": sizes["b"],
        "f": kernel_sizes["o"],
        **{
            d: conv_output_size(sizes[d], kernel_sizes[d], s, r)
            for d, s, r in zip(spatial, strides, dilations, strict=True)
        },
    }
    properties = {
        "dimension_numbers": ConvDimensionNumbersAttr((lhs_dims, rhs_dims, out_dims)),
        "window_strides": _i64_array(strides),
        "rhs_dilation": _i64_array(dilations),
        "feature_group_count": IntegerAttr(groups, i64),
        "batch_group_count": IntegerAttr(1, i64),
    }
    if b.exact_dots:
        properties["precision_config"] = ArrayAttr([PrecisionAttr(Precision.HIGHEST)] * 2)
    result_type = TensorType(element_type_of(lhs), [out_sizes[c] for c in out_dims])
    out = b.emit(
        ConvolutionOp.build(operands=[lhs, rhs], result_types=[result_type], properties=properties)
    )
    if "g" in parsed.output:
        # the output features hold the groups first: split them off again
        out_sizes |= {"g": groups, "f": out_sizes["f"] // groups}
        out_dims = out_dims.replace("f", "gf")
        out = b.reshape(out, [out_sizes[c] for c in out_dims])
        ordered = parsed.output + "".join(c for c in out_dims if c not in parsed.output)
        if ordered != out_dims:
            out = b.transpose(out, [out_dims.index(c) for c in ordered])
            out_dims = ordered
    if out_dims == parsed.output:
        return out
    return b.reshape(out, [out_sizes[c] for c in parsed.output])


def _grouped(b: HloBuilder, value: SSAValue, dims: str, feature: str) -> tuple[SSAValue, str]:
    """`value` with its group dimension `g` folded into `feature`, groups
    first, as `feature_group_count` takes them: transposed so that `g` comes
    just before `feature`, then reshaped."""
    sizes = dict(zip(dims, shape_of(value), strict=True))
    order = [c for c in dims if c != "g"]
    order.insert(order.index(feature), "g")
    if order != list(dims):
        value = b.transpose(value, [dims.index(c) for c in order])
    merged = "".join(c for c in order if c != "g")
    shape = [sizes[c] * (sizes["g"] if c == feature else 1) for c in merged]
    return b.reshape(value, shape), merged


def lower_pool(
    b: HloBuilder, kind: str, window: tuple[int, ...], strides: tuple[int, ...], x: SSAValue
) -> SSAValue:
    shape = shape_of(x)
    plan = PoolPlan.of(shape, window, strides)
    if not plan.pooled:
        return x
    element_type = element_type_of(x)
    if kind == "max":
        return _reduce_window(b, x, window, strides, plan, "max")
    total = _reduce_window(b, b.convert(x, F32), window, strides, plan, "add")
    if kind == "mean":
        ones = b.full(1.0, shape, F32)
        total = b.binary(hlo.DivideOp, total, _reduce_window(b, ones, window, strides, plan, "add"))
    return b.convert(total, element_type)


def _reduce_window(
    b: HloBuilder,
    x: SSAValue,
    window: tuple[int, ...],
    strides: tuple[int, ...],
    plan: PoolPlan,
    combine: str,
) -> SSAValue:
    shape = shape_of(x)
    element_type = element_type_of(x)
    # High padding min(W, S) - 1 gives every operand size its count of
    # windows (`pool_output_size`), so it does not depend on the size: a
    # plan with symbolic sizes (fuse.lowering.jax.symbolic) keeps it as it is.
    pooled = plan.permutation[len(plan.kept) :]
    padding = [[0, min(window[k], strides[k]) - 1 if k in pooled else 0] for k in range(len(shape))]
    out_shape = [
        (n + pad - w) // s + 1
        for n, (_, pad), w, s in zip(shape, padding, window, strides, strict=True)
    ]
    scalar = TensorType(element_type, [])
    body = Block(arg_types=[scalar, scalar])
    step = (hlo.MaximumOp if combine == "max" else hlo.AddOp)(body.args[0], body.args[1])
    body.add_ops([step, hlo.ReturnOp([step.result])])
    init = b.scalar(float("-inf") if combine == "max" else 0.0, element_type)
    padding_type = TensorType(i64, [len(shape), 2])
    return b.emit(
        ReduceWindowOp.build(
            operands=[[x], [init]],
            result_types=[[TensorType(element_type, out_shape)]],
            properties={
                "window_dimensions": _i64_array(window),
                "window_strides": _i64_array(strides),
                "padding": DenseIntOrFPElementsAttr.from_list(
                    padding_type, [v for pair in padding for v in pair]
                ),
            },
            regions=[Region(body)],
        )
    )
