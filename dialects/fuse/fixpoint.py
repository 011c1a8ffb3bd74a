"""`fuse.fixpoint`: recursion as the least fixpoint of a component.

A strongly connected component of mutually recursive tensors (`Path` from
`Edge` and itself) becomes one op whose region maps the component's
current values to their next ones; `fuse-semi-naive` rewrites the ones it
can into delta iteration (DESIGN.md section 3b).
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import ArrayAttr, FloatAttr, IntegerAttr, StringAttr, TensorType
from xdsl.ir import Attribute, Region
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    opt_prop_def,
    opt_region_def,
    prop_def,
    region_def,
    traits_def,
    var_result_def,
)
from xdsl.traits import RecursiveMemoryEffect
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from .attributes import FixpointStrategy, check_keyword
from .declarative import YieldOp
from .directives import Keyword


class DeltaKind(StrEnum):
    """How a semi-naive fixpoint derives a tensor's delta from one step."""

    DIFFERENCE = "difference"  # next - current: linear recursion under sum
    CHANGED = "changed"  # next where it differs from current, else 0: OR, max


@irdl_op_definition
class FixpointOp(IRDLOperation):
    """The least fixpoint of a recursive component, for the tensors named in
    `tensors` (in result order). Unset `max_iters`/`tolerance` come from the
    execution config. Iteration stops when no element of any result changes
    by more than the tolerance (0: exactly); reaching `max_iters` is an
    error naming the tensors and the last change.

    `naive`: one region `body`. Starting from zeros, `next = body(current)`.

    `semi_naive` (from `fuse-semi-naive`): `init` computes the first values
    from zeros (no arguments); then `next = body(current..., delta...)`,
    where each delta is derived from the last step as `deltas` says
    (`difference`: next - current; `changed`: next where it differs from
    current, else 0). A fixpoint the pass leaves naive records why in
    `naive_reason`.

    ```mlir
    %p = fuse.fixpoint naive {tensors = ["Path"]} : tensor<5x5xf32> {
    ^bb0(%path: tensor<5x5xf32>):
      %0 = fuse.einsum "xy,yz->xz" sum (%path, %E) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
      %1 = fuse.unary step %0 : tensor<5x5xf32>
      fuse.yield %1 : tensor<5x5xf32>
    }
    ```
    """

    name = "fuse.fixpoint"

    strategy = prop_def(StringAttr)
    tensors = prop_def(ArrayAttr[StringAttr])
    deltas = opt_prop_def(ArrayAttr[StringAttr])
    max_iters = opt_prop_def(IntegerAttr)
    tolerance = opt_prop_def(FloatAttr)
    naive_reason = opt_prop_def(StringAttr)
    results_ = var_result_def(TensorType)
    body = region_def("single_block")
    init = opt_region_def("single_block")

    traits = traits_def(RecursiveMemoryEffect())
    irdl_options = (ParsePropInAttrDict(),)
    custom_directives = (Keyword,)
    assembly_format = (
        "custom<Keyword>($strategy) attr-dict `:` type($results_) (`init` $init^)? $body"
    )

    def __init__(
        self,
        strategy: FixpointStrategy | str,
        tensors: Sequence[str],
        result_types: Sequence[Attribute],
        body: Region,
        init: Region | None = None,
    ):
        super().__init__(
            properties={
                "strategy": StringAttr(str(strategy)),
                "tensors": ArrayAttr([StringAttr(t) for t in tensors]),
            },
            result_types=[result_types],
            regions=[body, [init] if init is not None else []],
        )

    @property
    def tensor_names(self) -> list[str]:
        return [t.data for t in self.tensors.data]

    @property
    def is_semi_naive(self) -> bool:
        return self.strategy.data == FixpointStrategy.SEMI_NAIVE

    @property
    def delta_kinds(self) -> list[DeltaKind]:
        return [DeltaKind(d.data) for d in self.deltas.data] if self.deltas else []

    def verify_(self) -> None:
        check_keyword(self.strategy.data, FixpointStrategy, "fixpoint strategy")
        count = len(self.results_)
        if len(self.tensors.data) != count:
            raise VerifyException(
                f"fuse.fixpoint names {len(self.tensors.data)} tensors but has {count} results"
            )
        result_types = [r.type for r in self.results_]
        arg_types = [a.type for a in self.body.block.args]
        expected_args = result_types * (2 if self.is_semi_naive else 1)
        if arg_types != expected_args:
            raise VerifyException(
                f"a {self.strategy.data} fuse.fixpoint body takes {len(expected_args)} "
                f"arguments of the result types ({', '.join(map(str, expected_args))}), "
                f"got ({', '.join(map(str, arg_types))})"
            )
        regions = [self.body] + ([self.init] if self.init is not None else [])
        for region in regions:
            terminator = region.block.last_op
            if (
                not isinstance(terminator, YieldOp)
                or [v.type for v in terminator.values] != result_types
            ):
                raise VerifyException("fuse.fixpoint regions must yield one value per result")
        if self.is_semi_naive:
            if self.init is None or self.init.block.args:
                raise VerifyException(
                    "a semi_naive fuse.fixpoint needs an init region without arguments"
                )
            if self.deltas is None or len(self.deltas.data) != count:
                raise VerifyException("a semi_naive fuse.fixpoint needs one delta kind per result")
            for kind in self.deltas.data:
                check_keyword(kind.data, DeltaKind, "delta kind")
        elif self.init is not None or self.deltas is not None:
            raise VerifyException("a naive fuse.fixpoint has no init region and no deltas")
