"""Lowering of the `rope` builtin (rotary position embedding) to dataflow
ops, for `BodyEmitter` (fuse.passes.dataflow_emitter).

Pairs of features (2m, 2m+1) rotate by the angle p * base^(-2m/D):
`x cos + (x R) sin`, with R turning each pair (x_2m, x_2m+1) into
(-x_2m+1, x_2m). The tables cos, sin and R are constants computed in
float64 (`constant_tables`), except in a program at probe sizes, which
stand for symbolic sizes (fuse.runtime.symbolic): there they must follow
the sizes, so they are computed in the graph (`tables_in_graph`).

```mlir
// Y[p, d] = rope(X[p, d]) with X : tensor<3x4xf32>, after fuse-stratify:
%cos = fuse.constant dense<...> : tensor<3x4xf32>
%sin = fuse.constant dense<...> : tensor<3x4xf32>
%rotation = fuse.constant dense<[[0.0, 1.0, 0.0, 0.0], [-1.0, ...]]> : tensor<4x4xf32>
// then x cos + (x R) sin as fuse.einsum and fuse.binary ops
```
(lit_tests/passes/stratify-rope-probe-sizes.mlir shows both forms.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from xdsl.dialects.builtin import StringAttr

from fuse.dialects.fuse import CallOp, IndexFnOp

from .dataflow_emitter import Indexed

if TYPE_CHECKING:
    from .dataflow_emitter import BodyEmitter

Tables = tuple[Indexed, Indexed, Indexed]


def rope_indices(op: CallOp, names: Sequence[str]) -> tuple[str, str]:
    """The position and the feature index of a `rope` call whose argument
    varies over `names`: `pos=` and `axis=`, by default the first and the
    last of `names`."""
    position, feature = op.keyword("pos"), op.keyword("axis")
    return (
        position.data if isinstance(position, StringAttr) else names[0],
        feature.data if isinstance(feature, StringAttr) else names[-1],
    )


def lower_rope(emitter: BodyEmitter, op: CallOp, x: Indexed) -> Indexed:
    """`rope(x, pos=, axis=, base=)` (module docstring)."""
    if len(x.names) < 2:
        raise emitter.error("rope needs a position and a feature index")
    position, feature = rope_indices(op, x.names)
    if position == feature:  # a default (first / last index) met the other keyword
        raise emitter.error(
            f"rope's position and feature axis are both '{feature}': give pos= and axis= "
            "different indices (the defaults are the first and the last index)"
        )
    emitter.static_size(position, "rope")
    features = emitter.static_size(feature, "rope")
    if features % 2:
        raise emitter.error(f"rope needs an even feature size, '{feature}' has {features}")
    base = emitter.float_keyword(op, "base", 10000.0)
    partner = f"{feature}_rope"
    emitter.sizes[partner] = features
    tables = tables_in_graph if emitter.at_probe_sizes else constant_tables
    cos, sin, rotation = tables(emitter, position, feature, partner, base)
    rotated = emitter.einsum([emitter.rename(x, feature, partner), rotation], x.names)
    return emitter.binary(
        "add", emitter.einsum([x, cos], x.names), emitter.einsum([rotated, sin], x.names)
    )


def constant_tables(
    emitter: BodyEmitter, position: str, feature: str, partner: str, base: float
) -> Tables:
    """rope's cos[p, d], sin[p, d] (of the angle p * base^(-2m/D) of
    feature d = 2m or 2m + 1) and R[d', d] (1 where d' = 2m and d =
    2m + 1, -1 where d' = 2m + 1 and d = 2m), as constants computed in
    float64."""
    features = emitter.sizes[feature]
    feature_positions = np.arange(features)
    pair_start = feature_positions - feature_positions % 2  # 2m, of features 2m and 2m + 1
    even = 1 - feature_positions % 2
    angles = np.outer(np.arange(emitter.sizes[position]), base ** (-pair_start / features))
    same_pair = pair_start[:, None] == pair_start[None, :]
    rotation = same_pair * (even[:, None] - even[None, :])
    return (
        Indexed(emitter.constant(np.cos(angles)), (position, feature)),
        Indexed(emitter.constant(np.sin(angles)), (position, feature)),
        Indexed(emitter.constant(rotation), (partner, feature)),
    )


def tables_in_graph(
    emitter: BodyEmitter, position: str, feature: str, partner: str, base: float
) -> Tables:
    """`constant_tables` computed in the graph (in float32) from index
    functions, so the tables' shapes follow the sizes: the angle's
    exponent divides by the feature size D as a constant, which the
    symbolic lowerings read as that size at run time
    (fuse.lowering.symbolic_sizes.size_in_constant)."""
    features = emitter.sizes[feature]

    def index_function(fn: str, index: str) -> Indexed:
        return Indexed(emitter.emit(IndexFnOp(fn, emitter.type_of((index,)))), (index,))

    def scalar(value: float) -> Indexed:
        return Indexed(emitter.constant(np.float32(value)), ())

    pair_start = emitter.binary(
        "sub", index_function("iota", feature), index_function("odd", feature)
    )
    exponent = emitter.unary("neg", emitter.binary("div", pair_start, scalar(features)))
    frequency = emitter.binary("pow", scalar(base), exponent)
    angles = emitter.binary("mul", index_function("iota", position), frequency)
    # |2m' - 2m| < 1 exactly where d' and d are one pair: step(1 - |2m' - 2m|)
    distance = emitter.unary(
        "abs", emitter.binary("sub", emitter.rename(pair_start, feature, partner), pair_start)
    )
    same_pair = emitter.unary("step", emitter.binary("sub", scalar(1.0), distance))
    even = index_function("even", feature)
    turn = emitter.binary("sub", emitter.rename(even, feature, partner), even)
    return (
        emitter.unary("cos", angles),
        emitter.unary("sin", angles),
        emitter.binary("mul", same_pair, turn),
    )
