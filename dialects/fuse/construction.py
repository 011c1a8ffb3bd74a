"""Creating the ops every program has thousands of, at half the cost.

`IRDLOperation.__init__` re-derives, on every call, how the arguments map
onto the op definition's operand, result and region groups, and checks
their number; with the attribute interning in `attributes.py`, that was
most of the time to create an op, and creating ops was most of the compile
time of a large program. The ops below are built by their own typed
constructors, which give each group in definition order, so `init_op`
skips the re-derivation; the verifier still checks every op it builds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

from xdsl.ir import Attribute, Operation, Region, SSAValue

T = TypeVar("T")


def _flat(groups: Sequence[T | Sequence[T] | None]) -> list[T]:
    """One entry per group: an item, a sequence (a variadic group) or None
    (an absent optional group)."""
    flat: list[T] = []
    for group in groups:
        if group is None:
            continue
        if isinstance(group, list | tuple):
            flat.extend(group)
        else:
            flat.append(group)  # type: ignore[arg-type]
    return flat


def init_op(
    op: Operation,
    *,
    operands: Sequence[SSAValue | Sequence[SSAValue] | None] = (),
    result_types: Sequence[Attribute | Sequence[Attribute] | None] = (),
    properties: Mapping[str, Attribute | None] | None = None,
    regions: Sequence[Region] = (),
) -> None:
    """What `IRDLOperation.__init__(op, ...)` does with these arguments (an
    absent optional property is None and left out), for ops without
    segment-size attributes."""
    Operation.__init__(
        op,
        operands=_flat(operands),
        result_types=_flat(result_types),
        properties={k: v for k, v in (properties or {}).items() if v is not None},
        regions=regions,
    )
