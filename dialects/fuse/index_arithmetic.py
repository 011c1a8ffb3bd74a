"""Index arithmetic on the dataflow level: `fuse.window` reads a tensor
through an affine map, `fuse.place` writes one through an affine map.

An access with index arithmetic (`Image[x + dx]`) or a left-hand side with
it (`Pooled[x floordiv 2]`) lowers to one of these over its index variables;
the einsums around them combine plain accesses as usual
(docs/index_arithmetic.md). `fuse-recognize-convolutions` turns the
patterns it can prove equal into `fuse.conv` and `fuse.pool` (`window.py`).
"""

from __future__ import annotations

from xdsl.dialects.builtin import DYNAMIC_INDEX, AffineMapAttr, StringAttr, TensorType
from xdsl.ir import SSAValue
from xdsl.ir.affine import AffineMap
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from .affine import UnsupportedAffineExpr, linear_forms
from .attributes import ProjectionKind, check_keyword
from .directives import AffineMapProp, Keyword


def _verify_affine_access(
    op: IRDLOperation,
    affine_map: AffineMapAttr,
    space: TensorType,
    tensor: TensorType,
    what: str,
) -> None:
    """Checks that `affine_map` maps the iteration space `space` (its shape:
    one dimension per map input) into the bounds of `tensor`."""
    amap = affine_map.data
    if amap.num_dims != space.get_num_dims():
        raise VerifyException(
            f"{op.name} map takes {amap.num_dims} dimensions, but the {what} has rank "
            f"{space.get_num_dims()}"
        )
    if len(amap.results) != tensor.get_num_dims():
        raise VerifyException(
            f"{op.name} map gives {len(amap.results)} positions, but the indexed tensor has "
            f"rank {tensor.get_num_dims()}"
        )
    try:
        forms = linear_forms(amap)
    except UnsupportedAffineExpr as error:
        raise VerifyException(f"{op.name} map is not supported: {error}") from None
    box = space.get_shape()
    if any(size == DYNAMIC_INDEX for size in (*box, *tensor.get_shape())) or 0 in box:
        return
    for dim, (form, size) in enumerate(zip(forms, tensor.get_shape(), strict=True)):
        low, high = form.bounds(box)
        if low < 0 or high >= size:
            raise VerifyException(
                f"{op.name} map reaches positions {low}..{high} of dimension {dim}, "
                f"which has size {size}"
            )


@irdl_op_definition
class WindowOp(IRDLOperation):
    """Reads a tensor through an affine map: `result[d] = operand[map(d)]`
    for every `d` in the result's shape. An access with index arithmetic
    (`Image[x + dx]`) becomes a window over its index variables, which the
    einsums that follow combine like any plain access
    (docs/index_arithmetic.md).

    ```mlir
    %w = fuse.window %image affine_map<(d0, d1) -> (d0 + d1)> : tensor<8xf32> -> tensor<6x3xf32>
    ```
    """

    name = "fuse.window"

    map = prop_def(AffineMapAttr)
    operand = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    custom_directives = (AffineMapProp,)
    assembly_format = (
        "$operand custom<AffineMapProp>($map) attr-dict `:` type($operand) `->` type($result)"
    )

    def __init__(self, operand: SSAValue, affine_map: AffineMap, result_type: TensorType):
        super().__init__(
            properties={"map": AffineMapAttr(affine_map)},
            operands=[operand],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        _verify_affine_access(self, self.map, self.result.type, self.operand.type, "result")


@irdl_op_definition
class PlaceOp(IRDLOperation):
    """Writes a tensor through an affine map: the result starts at zero and
    each `operand[d]` is combined by `kind` (sum, max, mean) into
    `result[map(d)]`; elements no `d` reaches stay zero. A left-hand side
    with index arithmetic (`X[i, t + 1]`, `Pooled[x floordiv 2]`) places the
    value computed over its index variables.

    ```mlir
    %p = fuse.place %v affine_map<(d0) -> (d0 floordiv 2)> max : tensor<8xf32> -> tensor<4xf32>
    ```
    """

    name = "fuse.place"

    map = prop_def(AffineMapAttr)
    kind = prop_def(StringAttr)
    operand = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    custom_directives = (AffineMapProp, Keyword)
    assembly_format = (
        "$operand custom<AffineMapProp>($map) custom<Keyword>($kind) attr-dict "
        "`:` type($operand) `->` type($result)"
    )

    def __init__(
        self,
        operand: SSAValue,
        affine_map: AffineMap,
        kind: ProjectionKind | str,
        result_type: TensorType,
    ):
        super().__init__(
            properties={"map": AffineMapAttr(affine_map), "kind": StringAttr(str(kind))},
            operands=[operand],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        check_keyword(self.kind.data, ProjectionKind, "fuse.place kind")
        _verify_affine_access(self, self.map, self.operand.type, self.result.type, "operand")
