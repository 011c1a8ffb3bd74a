"""Tensors that read no operand: literals (`fuse.constant`) and tensors
computed from index positions alone (`fuse.index_fn`)."""

from __future__ import annotations

from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
)
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from .attributes import check_keyword
from .construction import init_op
from .directives import DenseValue, Keyword


@irdl_op_definition
class ConstantOp(IRDLOperation):
    """A literal tensor; its type is its value's.

    ```mlir
    %0 = fuse.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
    ```
    """

    name = "fuse.constant"

    value = prop_def(DenseIntOrFPElementsAttr)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    custom_directives = (DenseValue,)
    assembly_format = "custom<DenseValue>($value, type($result)) attr-dict"

    def __init__(self, value: DenseIntOrFPElementsAttr):
        init_op(self, properties={"value": value}, result_types=[value.get_type()])

    def verify_(self) -> None:
        if self.value.get_type() != self.result.type:
            raise VerifyException("fuse.constant result type must match its value's type")


class IndexFunction(StrEnum):
    EVEN = "even"
    ODD = "odd"
    CAUSAL = "causal"
    ONEHOT = "onehot"
    IOTA = "iota"


_INDEX_FUNCTION_RANK = {"even": 1, "odd": 1, "causal": 2, "onehot": 1, "iota": 1}


@irdl_op_definition
class IndexFnOp(IRDLOperation):
    """A tensor computed from index positions: `even`/`odd` (1 where the
    position's parity matches, else 0), `causal` (1 where column <= row),
    `onehot` (1 at `position`; used for integer indices on a left-hand
    side), `iota` (the position itself, 0, 1, 2, ...: an index variable used
    as a number).

    ```mlir
    %0 = fuse.index_fn causal : tensor<8x8xf32>
    %1 = fuse.index_fn onehot {position = 0 : i64} : tensor<5xf32>
    %2 = fuse.index_fn iota : tensor<5xf32>
    ```
    """

    name = "fuse.index_fn"

    fn = prop_def(StringAttr)
    position = opt_prop_def(IntegerAttr)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    custom_directives = (Keyword,)
    assembly_format = "custom<Keyword>($fn) attr-dict `:` type($result)"

    def __init__(
        self, fn: IndexFunction | str, result_type: TensorType, position: int | None = None
    ):
        super().__init__(
            properties={
                "fn": StringAttr(str(fn)),
                "position": IntegerAttr(position, 64) if position is not None else None,
            },
            result_types=[result_type],
        )

    def verify_(self) -> None:
        check_keyword(self.fn.data, IndexFunction, "index function")
        rank = self.result.type.get_num_dims()
        if rank != _INDEX_FUNCTION_RANK[self.fn.data]:
            raise VerifyException(
                f"index function '{self.fn.data}' has rank "
                f"{_INDEX_FUNCTION_RANK[self.fn.data]}, but the result has rank {rank}"
            )
        if (self.position is not None) != (self.fn.data == IndexFunction.ONEHOT):
            raise VerifyException("'onehot', and only 'onehot', takes a position")
