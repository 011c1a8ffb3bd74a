"""Structural ops of the dataflow level: they move elements without
arithmetic. `fuse.take` and `fuse.gather` pick positions of one dimension,
`fuse.concat` joins tensors along one, `fuse.topk` keeps the largest
entries along one."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import I64, IntegerAttr, IntegerType, TensorType
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from .checks import check_axis, ranked_tensor
from .directives import SameType


@irdl_op_definition
class TakeOp(IRDLOperation):
    """Selects one position of one dimension (an integer index on a
    right-hand side, `Obs[0, o]`), dropping that dimension.

    ```mlir
    %1 = fuse.take %0 dim 0 index 3 : tensor<5x4xf32> -> tensor<4xf32>
    ```
    """

    name = "fuse.take"

    dim = prop_def(IntegerAttr[I64])
    position = prop_def(IntegerAttr[I64])
    operand = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    assembly_format = (
        "$operand `dim` $dim `index` $position attr-dict `:` type($operand) `->` type($result)"
    )

    def __init__(self, operand: SSAValue, dim: int, position: int, result_type: TensorType):
        super().__init__(
            properties={
                "dim": IntegerAttr(dim, 64),
                "position": IntegerAttr(position, 64),
            },
            operands=[operand],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        shape = list(self.operand.type.get_shape())
        dim, position = self.dim.value.data, self.position.value.data
        check_axis(self.name, "dim", dim, len(shape))
        if position < 0 or (shape[dim] >= 0 and position >= shape[dim]):
            raise VerifyException(
                f"fuse.take index {position} is out of range for dimension of size {shape[dim]}"
            )
        expected = shape[:dim] + shape[dim + 1 :]
        if list(self.result.type.get_shape()) != expected:
            raise VerifyException(f"fuse.take result must have shape {expected}")


@irdl_op_definition
class GatherOp(IRDLOperation):
    """Takes the positions `indices` (rank-1, integer) of dimension `dim`:
    `result[..., s, ...] = operand[..., indices[s], ...]`, so that
    dimension's size becomes the number of indices.

    ```mlir
    %g = fuse.gather %X dim 1 (%idx) : (tensor<4x1000xf32>, tensor<64xi32>) -> tensor<4x64xf32>
    ```
    """

    name = "fuse.gather"

    dim = prop_def(IntegerAttr[I64])
    operand = operand_def(TensorType)
    indices = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    assembly_format = (
        "$operand `dim` $dim ` ` `(` $indices `)` attr-dict "
        "`:` `(` type($operand) `,` type($indices) `)` `->` type($result)"
    )

    def __init__(
        self,
        operand: SSAValue,
        dim: int,
        indices: SSAValue,
        result_type: TensorType | None = None,
    ):
        """`result_type` defaults to the operand's type with `dim` resized."""
        if result_type is None:
            shape = list(operand.type.get_shape())
            shape[dim] = indices.type.get_shape()[0]
            result_type = TensorType(operand.type.element_type, shape)
        super().__init__(
            properties={"dim": IntegerAttr(dim, 64)},
            operands=[operand, indices],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        shape = list(self.operand.type.get_shape())
        dim = self.dim.value.data
        check_axis(self.name, "dim", dim, len(shape))
        indices = ranked_tensor(self.indices, "fuse.gather indices")
        if indices.get_num_dims() != 1 or not isinstance(indices.element_type, IntegerType):
            raise VerifyException(
                f"fuse.gather indices must be a rank-1 integer tensor, got {indices}"
            )
        shape[dim] = indices.get_shape()[0]
        expected = TensorType(self.operand.type.element_type, shape)
        if self.result.type != expected:
            raise VerifyException(f"fuse.gather result must be {expected}, got {self.result.type}")


@irdl_op_definition
class ConcatOp(IRDLOperation):
    """Concatenates along dimension `axis`.

    ```mlir
    %2 = fuse.concat axis 1 (%0, %1) : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x7xf32>
    ```
    """

    name = "fuse.concat"

    axis = prop_def(IntegerAttr[I64])
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    assembly_format = (
        "`axis` $axis ` ` `(` $inputs `)` attr-dict `:` `(` type($inputs) `)` `->` type($result)"
    )

    def __init__(self, axis: int, inputs: Sequence[SSAValue], result_type: TensorType):
        super().__init__(
            properties={"axis": IntegerAttr(axis, 64)},
            operands=[inputs],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        axis = self.axis.value.data
        rank = self.result.type.get_num_dims()
        check_axis(self.name, "axis", axis, rank)
        for n, value in enumerate(self.inputs):
            if ranked_tensor(value, "fuse.concat operand").get_num_dims() != rank:
                raise VerifyException(f"fuse.concat operand #{n} must have rank {rank}")
        # Static sizes must agree: equal off the axis, adding up along it.
        result_shape = self.result.type.get_shape()
        shapes = [value.type.get_shape() for value in self.inputs]
        for dim in range(rank):
            sizes = [shape[dim] for shape in shapes]
            if dim == axis:
                if min([*sizes, result_shape[dim]]) >= 0 and sum(sizes) != result_shape[dim]:
                    raise VerifyException(
                        f"fuse.concat result has size {result_shape[dim]} along axis {axis}, "
                        f"but its operands add up to {sum(sizes)}"
                    )
            elif len(static := {s for s in (*sizes, result_shape[dim]) if s >= 0}) > 1:
                raise VerifyException(
                    f"fuse.concat operands and result disagree on dimension {dim}: "
                    f"sizes {sorted(static)}"
                )


@irdl_op_definition
class TopKOp(IRDLOperation):
    """Keeps the `k` largest entries along dimension `axis` and sets the rest
    to zero (ties broken by lower position).

    ```mlir
    %1 = fuse.topk k 5 axis 1 %0 : tensor<4x100xf32>
    ```
    """

    name = "fuse.topk"

    k = prop_def(IntegerAttr[I64])
    axis = prop_def(IntegerAttr[I64])
    operand = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    custom_directives = (SameType,)
    assembly_format = (
        "`k` $k `axis` $axis $operand attr-dict `:` custom<SameType>(type($operand), type($result))"
    )

    def __init__(self, operand: SSAValue, k: int, axis: int):
        super().__init__(
            properties={
                "k": IntegerAttr(k, 64),
                "axis": IntegerAttr(axis, 64),
            },
            operands=[operand],
            result_types=[operand.type],
        )

    def verify_(self) -> None:
        check_axis(self.name, "axis", self.axis.value.data, self.operand.type.get_num_dims())
        if self.k.value.data < 1:
            raise VerifyException(f"fuse.topk needs k >= 1, got {self.k.value.data}")
        if self.result.type != self.operand.type:
            raise VerifyException("fuse.topk must keep its operand's type")
