"""`fuse.einsum`: join and projection, the one contraction of tensor logic.

Every tensor equation of the paper, `A[i, j] = B[i, k] C[k, j]`, is an
einsum: the operands aligned by subscript letter (`subscripts.py`),
multiplied, and the letters absent from the output projected out.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, StringAttr, TensorType
from xdsl.ir import SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from .attributes import ProjectionKind, check_keyword, keyword
from .construction import init_op
from .directives import Keyword
from .subscripts import verify_subscripts


@irdl_op_definition
class EinsumOp(IRDLOperation):
    """An n-ary join and projection: the product of the operands aligned by
    subscript letter, with letters absent from the output projected by
    `kind` (sum, max or mean). An optional `path` (opt_einsum's format,
    over this op's own operands) fixes the order in which backends contract
    its operands pairwise. `fuse-einsum-path` splits n-ary einsums into
    binary ones, recording each step's estimated `flops` and, on the last,
    the whole tree as `fuse.contraction_path` over the original operands.

    ```mlir
    %0 = fuse.einsum "ik,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
    %1 = fuse.einsum "ij,jk,kl->il" sum (%A, %B, %C) {path = [[0, 1], [0, 1]]}
        : (tensor<4x8xf32>, tensor<8x3xf32>, tensor<3x2xf32>) -> tensor<4x2xf32>
    ```
    """

    name = "fuse.einsum"

    subscripts = prop_def(StringAttr)
    kind = prop_def(StringAttr)
    path = opt_prop_def(ArrayAttr[ArrayAttr[IntegerAttr]])
    flops = opt_prop_def(IntegerAttr)
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)
    custom_directives = (Keyword,)
    assembly_format = (
        "$subscripts custom<Keyword>($kind) ` ` `(` $inputs `)` attr-dict "
        "`:` `(` type($inputs) `)` `->` type($result)"
    )

    def __init__(
        self,
        subscripts: str,
        kind: ProjectionKind | str,
        inputs: Sequence[SSAValue],
        result_type: TensorType,
    ):
        init_op(
            self,
            properties={"subscripts": keyword(subscripts), "kind": keyword(str(kind))},
            operands=[inputs],
            result_types=[result_type],
        )

    @property
    def projection_kind(self) -> ProjectionKind:
        return ProjectionKind(self.kind.data)

    def verify_(self) -> None:
        check_keyword(self.kind.data, ProjectionKind, "projection")
        verify_subscripts(
            self.name, self.subscripts.data, self.inputs, self.result, allow_projection=True
        )
        if self.path is not None:
            self._verify_path(self.path)

    def _verify_path(self, path: ArrayAttr[ArrayAttr[IntegerAttr]]) -> None:
        """opt_einsum's format: each step contracts a group of distinct
        operands among those still left (its result is appended), until one
        is left."""
        remaining = len(self.inputs)
        for step in path.data:
            group = [p.value.data for p in step.data]
            if (
                not group
                or len(set(group)) != len(group)
                or not all(0 <= p < remaining for p in group)
            ):
                raise VerifyException(
                    f"fuse.einsum path step {group} does not name distinct operands among "
                    f"the {remaining} left at that step"
                )
            remaining -= len(group) - 1
        if remaining != 1:
            raise VerifyException(
                f"fuse.einsum path leaves {remaining} operands; it must contract all of them"
            )
