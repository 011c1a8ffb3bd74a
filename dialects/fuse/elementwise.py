"""Elementwise and normalization ops of the dataflow level.

`fuse.binary` and `fuse.select` align their operands to the result by
einsum subscripts (`subscripts.py`) and broadcast along letters an operand
lacks; `fuse.unary` and `fuse.normalize` keep their operand's type.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import I64, FloatAttr, IntegerAttr, StringAttr, TensorType
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from .attributes import check_keyword, i64_attr, keyword
from .checks import check_axis, ranked_tensor
from .construction import init_op
from .directives import Keyword, SameType
from .subscripts import verify_subscripts


class BinaryFunction(StrEnum):
    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    POW = "pow"
    MAX = "max"
    MIN = "min"


@irdl_op_definition
class BinaryOp(IRDLOperation):
    """Elementwise arithmetic; operands are aligned to the result by their
    subscripts and broadcast along letters they lack.

    ```mlir
    %0 = fuse.binary add "ij,j->ij" (%X, %B) : (tensor<4x3xf32>, tensor<3xf32>) -> tensor<4x3xf32>
    ```
    """

    name = "fuse.binary"

    fn = prop_def(StringAttr)
    subscripts = prop_def(StringAttr)
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    custom_directives = (Keyword,)
    assembly_format = (
        "custom<Keyword>($fn) $subscripts ` ` `(` $lhs `,` $rhs `)` attr-dict "
        "`:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)"
    )

    def __init__(
        self,
        fn: BinaryFunction | str,
        subscripts: str,
        lhs: SSAValue,
        rhs: SSAValue,
        result_type: TensorType,
    ):
        init_op(
            self,
            properties={"fn": keyword(str(fn)), "subscripts": keyword(subscripts)},
            operands=[lhs, rhs],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        check_keyword(self.fn.data, BinaryFunction, "binary function")
        verify_subscripts(
            self.name,
            self.subscripts.data,
            [self.lhs, self.rhs],
            self.result,
            allow_projection=False,
        )


@irdl_op_definition
class SelectOp(IRDLOperation):
    """`case`: where `condition > 0` the result is `on_true`, else
    `on_false`; operands aligned by subscripts as in `fuse.binary`.

    ```mlir
    %0 = fuse.select "ij,ij,j->ij" (%C, %A, %B) : (tensor<2x3xf32>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    ```
    """

    name = "fuse.select"

    subscripts = prop_def(StringAttr)
    condition = operand_def(TensorType)
    on_true = operand_def(TensorType)
    on_false = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    assembly_format = (
        "$subscripts ` ` `(` $condition `,` $on_true `,` $on_false `)` attr-dict "
        "`:` `(` type($condition) `,` type($on_true) `,` type($on_false) `)` `->` type($result)"
    )

    def __init__(
        self,
        subscripts: str,
        condition: SSAValue,
        on_true: SSAValue,
        on_false: SSAValue,
        result_type: TensorType,
    ):
        super().__init__(
            properties={"subscripts": StringAttr(subscripts)},
            operands=[condition, on_true, on_false],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        verify_subscripts(
            self.name,
            self.subscripts.data,
            [self.condition, self.on_true, self.on_false],
            self.result,
            allow_projection=False,
        )


class UnaryFunction(StrEnum):
    RELU = "relu"
    GELU = "gelu"
    SIG = "sig"
    STEP = "step"
    EXP = "exp"
    LOG = "log"
    SQRT = "sqrt"
    ABS = "abs"
    TANH = "tanh"
    SIN = "sin"
    COS = "cos"
    NEG = "neg"


@irdl_op_definition
class UnaryOp(IRDLOperation):
    """An elementwise function. `sig` takes an optional `temperature`
    (`1/(1+exp(-x/T))`; `T = 0` is `step`). `step` is 1 where x > 0, else 0.

    ```mlir
    %1 = fuse.unary sig %0 {temperature = 5.000000e-01 : f32} : tensor<4xf32>
    ```
    """

    name = "fuse.unary"

    fn = prop_def(StringAttr)
    temperature = opt_prop_def(FloatAttr)
    operand = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    custom_directives = (Keyword, SameType)
    assembly_format = "custom<Keyword>($fn) $operand attr-dict `:` custom<SameType>(type($operand), type($result))"

    def __init__(
        self, fn: UnaryFunction | str, operand: SSAValue, temperature: float | None = None
    ):
        init_op(
            self,
            properties={
                "fn": keyword(str(fn)),
                "temperature": FloatAttr(temperature, 32) if temperature is not None else None,
            },
            operands=[operand],
            result_types=[operand.type],
        )

    def verify_(self) -> None:
        check_keyword(self.fn.data, UnaryFunction, "unary function")
        if self.temperature is not None and self.fn.data != UnaryFunction.SIG:
            raise VerifyException("only 'sig' takes a temperature")
        if self.operand.type != self.result.type:
            raise VerifyException("fuse.unary must keep its operand's type")


class NormalizeKind(StrEnum):
    SOFTMAX = "softmax"
    LNORM = "lnorm"


@irdl_op_definition
class NormalizeOp(IRDLOperation):
    """Normalizes along dimension `axis`: `softmax`, or `lnorm` (zero mean,
    unit variance with `eps`). An optional `mask` (same type as the operand)
    excludes positions where it is 0 from a softmax (`masked_softmax`);
    a fully masked row is all zeros.

    ```mlir
    %1 = fuse.normalize softmax axis 1 (%0) : (tensor<4x6xf32>) -> tensor<4x6xf32>
    %2 = fuse.normalize softmax axis 1 (%0, %M) : (tensor<4x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
    %3 = fuse.normalize lnorm axis 1 (%0) {eps = 1.000000e-03 : f32} : (tensor<4x6xf32>) -> tensor<4x6xf32>
    ```
    """

    name = "fuse.normalize"

    kind = prop_def(StringAttr)
    axis = prop_def(IntegerAttr[I64])
    eps = opt_prop_def(FloatAttr)
    operand = operand_def(TensorType)
    mask = opt_operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    custom_directives = (Keyword,)
    assembly_format = (
        "custom<Keyword>($kind) `axis` $axis ` ` `(` $operand (`,` $mask^)? `)` attr-dict "
        "`:` `(` type($operand) (`,` type($mask)^)? `)` `->` type($result)"
    )

    DEFAULT_EPS: ClassVar[float] = 1e-5

    def __init__(
        self,
        kind: NormalizeKind | str,
        axis: int,
        operand: SSAValue,
        mask: SSAValue | None = None,
        eps: float | None = None,
    ):
        super().__init__(
            properties={
                "kind": keyword(str(kind)),
                "axis": i64_attr(axis),
                "eps": FloatAttr(eps, 32) if eps is not None else None,
            },
            operands=[operand, [mask] if mask is not None else []],
            result_types=[operand.type],
        )

    @property
    def epsilon(self) -> float:
        """`eps` of an `lnorm`, or its default."""
        return self.eps.value.data if self.eps is not None else self.DEFAULT_EPS

    def verify_(self) -> None:
        check_keyword(self.kind.data, NormalizeKind, "normalization")
        rank = ranked_tensor(self.operand, "fuse.normalize operand").get_num_dims()
        check_axis(self.name, "axis", self.axis.value.data, rank)
        if self.mask is not None:
            if self.kind.data != NormalizeKind.SOFTMAX:
                raise VerifyException("only softmax takes a mask")
            if self.mask.type != self.operand.type:
                raise VerifyException("fuse.normalize mask must have the operand's type")
        if self.result.type != self.operand.type:
            raise VerifyException("fuse.normalize must keep its operand's type")
