"""`fuse.scan`: a recurrence along one index, one step per value.

A recursion whose only self-reference reads an index shifted by one in one
direction (`X[i, t + 1] = sig(W[i, j] X[j, t] + U[i, t])`) is well-founded
along that index, so it runs as a loop over its values with every other
index vectorized, never as a fixpoint recomputing the whole tensor
(`fuse-recognize-recurrences`, DESIGN.md section 3b).
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    DenseArrayBase,
    IntegerAttr,
    StringAttr,
    TensorType,
    UnitAttr,
    i64,
)
from xdsl.ir import Attribute, Region, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import RecursiveMemoryEffect
from xdsl.utils.exceptions import VerifyException

from .declarative import YieldOp

# On a `fuse.rule`, the step counts that named constants give its virtual
# indices (`{fuse.steps = {s = 100 : i64}}` for `S = 100` and `W[i, *s + 1]`):
# the range of an index that no tensor bounds, such as an optimizer loop's.
STEPS = "fuse.steps"


def stacked_type(state: TensorType, axis: int, steps: int) -> TensorType:
    """The type of a stored scan's result: its `steps + 1` states (the
    initial one included) of type `state` stacked along `axis`."""
    shape = list(state.get_shape())
    shape.insert(axis, steps + 1)
    return TensorType(state.element_type, shape)


def sliced_type(scanned: TensorType, axis: int) -> TensorType:
    """The type of one step's slice of a scanned input: `axis` dropped."""
    shape = list(scanned.get_shape())
    del shape[axis]
    return TensorType(scanned.element_type, shape)


@irdl_op_definition
class ScanOp(IRDLOperation):
    """A loop of `steps` steps carrying one state per tensor in `tensors`.

    The body's arguments are the states at step k (one per `init` operand)
    followed by step k's slices of the scanned inputs `xs` (the input with
    its axis `in_axes[n]` fixed at k, so that axis is dropped); it yields
    the states at step k + 1. `reverse` runs k from `steps - 1` down to 0.

    Stored (the default): each result stacks all `steps + 1` states along
    `axis` in index order: forward, position 0 holds the initial state and
    position k + 1 the state after step k; reversed, position `steps` holds
    the initial state and position k the state after step k. So
    `X[i, t + 1] = f(X[i, t])` with `X[i, 0] = X0[i]` is the whole of `X`.
    `virtual`: each result is the state after the last step only, and
    nothing grows with `steps` (a `*t` index). Values the body reads from
    outside are loop-invariant.

    ```mlir
    %h = fuse.scan steps 6 axis 1 in_axes [1] tensors ["X"] (%x0 : tensor<4xf32>)
        over (%U : tensor<4x6xf32>) -> tensor<4x7xf32> {
    ^bb0(%x: tensor<4xf32>, %u: tensor<4xf32>):
      %0 = fuse.einsum "ab,b->a" sum (%W, %x) : (tensor<4x4xf32>, tensor<4xf32>) -> tensor<4xf32>
      %1 = fuse.binary add "a,a->a" (%0, %u) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
      %2 = fuse.unary sig %1 : tensor<4xf32>
      fuse.yield %2 : tensor<4xf32>
    }
    ```
    """

    name = "fuse.scan"

    steps = prop_def(IntegerAttr[I64])
    axis = opt_prop_def(IntegerAttr[I64])
    in_axes = prop_def(DenseArrayBase.constr(i64))
    tensors = prop_def(ArrayAttr[StringAttr])
    virtual = opt_prop_def(UnitAttr)
    reverse = opt_prop_def(UnitAttr)
    init = var_operand_def(TensorType)
    xs = var_operand_def(TensorType)
    results_ = var_result_def(TensorType)
    body = region_def("single_block")

    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(RecursiveMemoryEffect())

    assembly_format = (
        "(`virtual` $virtual^)? (`reverse` $reverse^)? `steps` $steps (`axis` $axis^)? "
        "`in_axes` $in_axes `tensors` $tensors ` ` `(` $init `:` type($init) `)` "
        "(`over` ` ` `(` $xs^ `:` type($xs) `)`)? attr-dict `->` type($results_) $body"
    )

    def __init__(
        self,
        tensors: Sequence[str],
        init: Sequence[SSAValue],
        xs: Sequence[SSAValue],
        in_axes: Sequence[int],
        steps: int,
        body: Region,
        *,
        axis: int | None = None,
        virtual: bool = False,
        reverse: bool = False,
    ):
        states = [v.type for v in init]
        assert all(isinstance(t, TensorType) for t in states)
        if virtual:
            result_types: list[Attribute] = list(states)
        else:
            assert axis is not None, "a stored fuse.scan stacks its states along an axis"
            result_types = [stacked_type(t, axis, steps) for t in states]  # type: ignore[arg-type]
        # In the order the syntax spells them (as the parser builds them), so
        # a built op and its printed-and-parsed form print alike.
        properties: dict[str, Attribute] = {}
        if virtual:
            properties["virtual"] = UnitAttr()
        if reverse:
            properties["reverse"] = UnitAttr()
        properties["steps"] = IntegerAttr(steps, i64)
        if axis is not None and not virtual:
            properties["axis"] = IntegerAttr(axis, i64)
        properties["in_axes"] = DenseArrayBase.from_list(i64, list(in_axes))
        properties["tensors"] = ArrayAttr([StringAttr(t) for t in tensors])
        super().__init__(
            operands=[list(init), list(xs)],
            result_types=[result_types],
            properties=properties,
            regions=[body],
        )

    @property
    def is_virtual(self) -> bool:
        return self.virtual is not None

    @property
    def is_reverse(self) -> bool:
        return self.reverse is not None

    @property
    def step_count(self) -> int:
        return self.steps.value.data

    @property
    def scanned_axes(self) -> tuple[int, ...]:
        return tuple(int(a) for a in self.in_axes.get_values())

    @property
    def stacking_axis(self) -> int:
        """The axis of a stored result along which its states are stacked."""
        assert self.axis is not None
        return self.axis.value.data

    @property
    def tensor_names(self) -> list[str]:
        return [t.data for t in self.tensors.data]

    def verify_(self) -> None:
        steps = self.step_count
        if steps < 1:
            raise VerifyException(f"fuse.scan needs at least one step, got {steps}")
        if len(self.tensors.data) != len(self.init):
            raise VerifyException(
                f"fuse.scan names {len(self.tensors.data)} tensors but carries "
                f"{len(self.init)} states"
            )
        axes = self.scanned_axes
        if len(axes) != len(self.xs):
            raise VerifyException(
                f"fuse.scan has {len(self.xs)} scanned inputs but {len(axes)} in_axes"
            )
        slices: list[Attribute] = []
        for n, (value, axis) in enumerate(zip(self.xs, axes, strict=True)):
            scanned = value.type
            assert isinstance(scanned, TensorType)
            if not 0 <= axis < scanned.get_num_dims():
                raise VerifyException(
                    f"fuse.scan scanned input {n} has rank {scanned.get_num_dims()}, "
                    f"so in_axes {axis} is out of range"
                )
            if scanned.get_shape()[axis] != steps:
                raise VerifyException(
                    f"fuse.scan scanned input {n} has {scanned.get_shape()[axis]} values "
                    f"along axis {axis}, but the scan takes {steps} steps"
                )
            slices.append(sliced_type(scanned, axis))
        states = [v.type for v in self.init]
        args = [a.type for a in self.body.block.args]
        if args != [*states, *slices]:
            raise VerifyException(
                "fuse.scan body takes the states then one slice per scanned input "
                f"({', '.join(map(str, [*states, *slices]))}), got ({', '.join(map(str, args))})"
            )
        terminator = self.body.block.last_op
        if not isinstance(terminator, YieldOp) or [v.type for v in terminator.values] != states:
            raise VerifyException(
                "fuse.scan body must yield the next value of each state, of the state's type"
            )
        if self.is_virtual:
            if self.axis is not None:
                raise VerifyException("a virtual fuse.scan keeps no steps, so it has no axis")
            expected, what = states, "the last states"
        else:
            if self.axis is None:
                raise VerifyException("a stored fuse.scan needs the axis to stack its states on")
            axis = self.stacking_axis
            expected = []
            for state in states:
                assert isinstance(state, TensorType)
                if not 0 <= axis <= state.get_num_dims():
                    raise VerifyException(
                        f"fuse.scan axis {axis} is out of range for states of rank "
                        f"{state.get_num_dims()}"
                    )
                expected.append(stacked_type(state, axis, steps))
            what = f"the states stacked along {axis}"
        got = [r.type for r in self.results_]
        if got != expected:
            raise VerifyException(
                f"fuse.scan results must be {what} ({', '.join(map(str, expected))}), "
                f"got ({', '.join(map(str, got))})"
            )
