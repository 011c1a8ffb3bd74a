"""Einsum subscripts: how dataflow ops say which dimensions of their
operands meet.

`"ik,kj->ij"` names one letter per dimension of each operand and of the
result; equal letters are the same index. `fuse.einsum`, `fuse.binary` and
`fuse.select` spell operand alignment this way, and every backend aligns
operands with one shared helper (`lowering/subscripts.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.ir import SSAValue
from xdsl.utils.exceptions import VerifyException

from .checks import ranked_tensor


def parse_subscripts(subscripts: str) -> tuple[list[str], str]:
    """`"ik,kj->ij"` -> (["ik", "kj"], "ij"); raises VerifyException."""
    if subscripts.count("->") != 1:
        raise VerifyException(f"subscripts '{subscripts}' must contain one '->'")
    inputs, output = subscripts.split("->")
    operands = inputs.split(",") if inputs else []
    for part in [*operands, output]:
        if not all(c.isalpha() and c.isascii() for c in part):
            raise VerifyException(f"subscripts '{subscripts}' may only use letters a-z, A-Z")
    return operands, output


def verify_subscripts(
    op_name: str,
    subscripts: str,
    operands: Sequence[SSAValue],
    result: SSAValue,
    *,
    allow_projection: bool,
) -> None:
    """Checks operand/result ranks against subscripts and that every letter
    has one static size; without `allow_projection` (elementwise ops) the
    output must keep every operand letter."""
    inputs, output = parse_subscripts(subscripts)
    if len(inputs) != len(operands):
        raise VerifyException(
            f"{op_name} subscripts '{subscripts}' name {len(inputs)} operands, "
            f"but it has {len(operands)}"
        )
    if len(set(output)) != len(output):
        raise VerifyException(f"{op_name} output subscripts '{output}' repeat a letter")
    sizes: dict[str, int] = {}
    typed = [
        *(
            (letters, ranked_tensor(v, f"{op_name} operand #{n}"))
            for n, (letters, v) in enumerate(zip(inputs, operands, strict=True))
        ),
        (output, ranked_tensor(result, f"{op_name} result")),
    ]
    for letters, tensor_type in typed:
        shape = tensor_type.get_shape()
        if len(shape) != len(letters):
            raise VerifyException(
                f"{op_name} subscripts '{letters}' have rank {len(letters)}, "
                f"but the type {tensor_type} has rank {len(shape)}"
            )
        for letter, size in zip(letters, shape, strict=True):
            if size < 0:
                continue
            if sizes.setdefault(letter, size) != size:
                raise VerifyException(
                    f"{op_name} dimension '{letter}' has sizes {sizes[letter]} and {size}"
                )
    input_letters = set("".join(inputs))
    missing = [c for c in output if c not in input_letters]
    if missing and inputs:
        raise VerifyException(f"{op_name} output index '{missing[0]}' is in no operand")
    if not allow_projection:
        projected = sorted(input_letters - set(output))
        if projected:
            raise VerifyException(
                f"{op_name} cannot project away '{projected[0]}': its output must keep "
                "every operand index"
            )
