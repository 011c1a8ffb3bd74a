"""Ops that `convert-fuse-to-stablehlo` emits but xdsl-jax 0.6 does not define.

Each op is defined minimally: operands, results, properties and a region where
the op has one, no custom syntax (xDSL prints them in generic form, which is
also the form the backend hands to XLA).

* `stablehlo.sort`: `fuse.topk` needs a stable sort carrying positions along;
  xdsl-jax has no sort op.
* `chlo.erf`: `gelu` is defined with the exact error function. StableHLO has
  no `erf`; JAX itself lowers `jax.lax.erf` to `chlo.erf`, and XLA expands it
  to its own accurate polynomial, so the result matches JAX bit for bit.
* `stablehlo.rng_bit_generator` (and its `rng_algorithm` attribute):
  `fuse.sample` draws its uniforms from it, with a constant state built
  from the op's seed.
* `stablehlo.convolution` (and its `#stablehlo.conv<...>` dimension
  numbers) and `stablehlo.reduce_window`: `fuse.conv` and `fuse.pool`
  (`fuse.lowering.jax.convolution`).
* `stablehlo.dynamic_update_slice`: a stored `fuse.scan` writes each step's
  state into its stacked result at the loop counter.
* `stablehlo.get_dimension_size`, `stablehlo.dynamic_iota`,
  `stablehlo.dynamic_reshape`, `stablehlo.real_dynamic_slice`: a program
  with symbolic sizes (`fuse.lowering.jax.symbolic`) computes the shapes of
  its broadcasts, iotas, reshapes and slices at run time.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    ArrayAttr,
    BoolAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    IntegerAttr,
    TensorType,
    i32,
    i64,
)
from xdsl.dialects.utils import EnumAttribute, StrEnum
from xdsl.ir import Attribute, Data, Region, SpacedOpaqueSyntaxAttribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    SameVariadicOperandSize,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import Pure, RecursiveMemoryEffect


@irdl_op_definition
class SortOp(IRDLOperation):
    """Sorts `inputs` together along `dimension`; `comparator` receives two
    scalars per input (`lhs_0, rhs_0, lhs_1, rhs_1, ...` in StableHLO order)
    and returns `tensor<i1>`: whether lhs goes first."""

    name = "stablehlo.sort"

    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    dimension = prop_def(IntegerAttr)
    is_stable = prop_def(BoolAttr)
    comparator = region_def("single_block")

    traits = traits_def(RecursiveMemoryEffect())

    def __init__(
        self, inputs: Sequence[SSAValue], dimension: int, comparator: Region, *, stable: bool
    ):
        super().__init__(
            operands=[inputs],
            result_types=[[v.type for v in inputs]],
            properties={
                "dimension": IntegerAttr(dimension, i64),
                "is_stable": BoolAttr.from_bool(stable),
            },
            regions=[comparator],
        )


@irdl_op_definition
class DynamicUpdateSliceOp(IRDLOperation):
    """`operand` with `update` written at `start_indices` (one scalar
    integer tensor per dimension)."""

    name = "stablehlo.dynamic_update_slice"

    operand = operand_def(TensorType)
    update = operand_def(TensorType)
    start_indices = var_operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    def __init__(self, operand: SSAValue, update: SSAValue, start_indices: Sequence[SSAValue]):
        super().__init__(
            operands=[operand, update, list(start_indices)], result_types=[operand.type]
        )


@irdl_op_definition
class ErfOp(IRDLOperation):
    """The Gauss error function, elementwise (`chlo.erf`)."""

    name = "chlo.erf"

    operand = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    def __init__(self, operand: SSAValue, result_type: Attribute | None = None):
        super().__init__(operands=[operand], result_types=[result_type or operand.type])


class RngAlgorithm(StrEnum):
    DEFAULT = "DEFAULT"
    THREE_FRY = "THREE_FRY"
    PHILOX = "PHILOX"


@irdl_attr_definition
class RngAlgorithmAttr(EnumAttribute[RngAlgorithm], SpacedOpaqueSyntaxAttribute):
    """`#stablehlo<rng_algorithm THREE_FRY>`."""

    name = "stablehlo.rng_algorithm"


@irdl_op_definition
class RngBitGeneratorOp(IRDLOperation):
    """Random bits of `output_type` from `initial_state` (for THREE_FRY,
    `tensor<2xui64>`: key and counter); also returns the next state."""

    name = "stablehlo.rng_bit_generator"

    initial_state = operand_def(TensorType)
    output_state = result_def(TensorType)
    output = result_def(TensorType)
    rng_algorithm = prop_def(RngAlgorithmAttr)

    traits = traits_def(Pure())

    def __init__(self, initial_state: SSAValue, algorithm: RngAlgorithm, output_type: Attribute):
        super().__init__(
            operands=[initial_state],
            result_types=[initial_state.type, output_type],
            properties={"rng_algorithm": RngAlgorithmAttr(algorithm)},
        )


@irdl_attr_definition
class ConvDimensionNumbersAttr(Data[tuple[str, str, str]]):
    """`#stablehlo.conv<[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]>`: per
    operand, one character per dimension (`b`/`f` batch and feature of the
    input and output, `i`/`o` of the kernel, digits spatial), as in
    `fuse.conv` layouts, but with every letter present."""

    name = "stablehlo.conv"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple[str, str, str]:
        def dims() -> str:
            items = parser.parse_comma_separated_list(
                parser.Delimiter.SQUARE,
                lambda: str(parser.parse_optional_integer() or parser.parse_identifier()),
            )
            return "".join(items)

        with parser.in_angle_brackets():
            lhs = dims()
            parser.parse_keyword("x")
            rhs = dims()
            parser.parse_punctuation("->")
            return lhs, rhs, dims()

    def print_parameter(self, printer: Printer) -> None:
        lhs, rhs, out = (f"[{', '.join(part)}]" for part in self.data)
        printer.print_string(f"<{lhs}x{rhs}->{out}>")


@irdl_op_definition
class ConvolutionOp(IRDLOperation):
    """`lhs` convolved with the kernel `rhs` (no padding, no feature
    groups): `dimension_numbers` place the dimensions, `window_strides` and
    `rhs_dilation` per spatial dimension."""

    name = "stablehlo.convolution"

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    dimension_numbers = prop_def(ConvDimensionNumbersAttr)
    window_strides = prop_def(DenseArrayBase)
    rhs_dilation = prop_def(DenseArrayBase)
    feature_group_count = prop_def(IntegerAttr)
    batch_group_count = prop_def(IntegerAttr)
    precision_config = opt_prop_def(ArrayAttr)

    traits = traits_def(Pure())


@irdl_op_definition
class ReduceWindowOp(IRDLOperation):
    """Reduces windows of `inputs` with `body` from `init_values`;
    `padding` is a `tensor<rank x 2 x i64>` of (low, high) pads filled with
    the init value."""

    name = "stablehlo.reduce_window"

    inputs = var_operand_def(TensorType)
    init_values = var_operand_def(TensorType)
    results_ = var_result_def(TensorType)
    window_dimensions = prop_def(DenseArrayBase)
    window_strides = prop_def(DenseArrayBase)
    padding = opt_prop_def(DenseIntOrFPElementsAttr)
    body = region_def("single_block")

    irdl_options = (SameVariadicOperandSize(),)

    traits = traits_def(RecursiveMemoryEffect())


@irdl_op_definition
class GetDimensionSizeOp(IRDLOperation):
    """The size of `operand`'s dimension `dimension`, as `tensor<i32>`."""

    name = "stablehlo.get_dimension_size"

    operand = operand_def(TensorType)
    result = result_def(TensorType)
    dimension = prop_def(IntegerAttr)

    traits = traits_def(Pure())

    def __init__(self, operand: SSAValue, dimension: int):
        super().__init__(
            operands=[operand],
            result_types=[TensorType(i32, [])],
            properties={"dimension": IntegerAttr(dimension, i64)},
        )


@irdl_op_definition
class DynamicIotaOp(IRDLOperation):
    """`iota` of the shape `output_shape` (a rank-1 integer tensor)."""

    name = "stablehlo.dynamic_iota"

    output_shape = operand_def(TensorType)
    result = result_def(TensorType)
    iota_dimension = prop_def(IntegerAttr)

    traits = traits_def(Pure())

    def __init__(self, output_shape: SSAValue, dimension: int, result_type: Attribute):
        super().__init__(
            operands=[output_shape],
            result_types=[result_type],
            properties={"iota_dimension": IntegerAttr(dimension, i64)},
        )


@irdl_op_definition
class DynamicReshapeOp(IRDLOperation):
    """`operand` reshaped to `output_shape` (a rank-1 integer tensor)."""

    name = "stablehlo.dynamic_reshape"

    operand = operand_def(TensorType)
    output_shape = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    def __init__(self, operand: SSAValue, output_shape: SSAValue, result_type: Attribute):
        super().__init__(operands=[operand, output_shape], result_types=[result_type])


@irdl_op_definition
class RealDynamicSliceOp(IRDLOperation):
    """`slice` whose start, limit and stride indices are rank-1 tensors."""

    name = "stablehlo.real_dynamic_slice"

    operand = operand_def(TensorType)
    start_indices = operand_def(TensorType)
    limit_indices = operand_def(TensorType)
    strides = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    def __init__(
        self,
        operand: SSAValue,
        bounds: tuple[SSAValue, SSAValue, SSAValue],
        result_type: Attribute,
    ):
        super().__init__(operands=[operand, *bounds], result_types=[result_type])
