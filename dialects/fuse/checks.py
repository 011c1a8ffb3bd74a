"""Verifier pieces shared by the dataflow ops of the `fuse` dialect."""

from __future__ import annotations

from xdsl.dialects.builtin import TensorType
from xdsl.ir import SSAValue
from xdsl.utils.exceptions import VerifyException


def ranked_tensor(value: SSAValue, what: str) -> TensorType:
    """`value`'s type, which must be a ranked tensor; `what` names the value
    in the error ("fuse.gather indices")."""
    if not isinstance(value.type, TensorType):
        raise VerifyException(f"{what} must be a ranked tensor, got {value.type}")
    return value.type


def check_axis(op_name: str, what: str, axis: int, rank: int) -> None:
    """That `axis` (spelled `what`: "dim", "axis") names a dimension of a
    tensor of `rank` dimensions."""
    if not 0 <= axis < rank:
        raise VerifyException(f"{op_name} {what} {axis} is out of range for rank {rank}")
