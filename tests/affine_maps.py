"""A hypothesis strategy of affine maps from a box to a tensor's positions,
for the tests that check index tables made in a graph (torch, StableHLO)
against the compile-time ones (fuse.lowering.affine_access)."""

from __future__ import annotations

from hypothesis import strategies as st

from fuse.lowering.affine_access import Forms


@st.composite
def affine_maps(draw: st.DrawFn) -> tuple[Forms, tuple[int, ...], tuple[int, ...]]:
    """An affine map (shifts, strides, reversals, floor divisions of
    negative values too), with the box's and the tensor's shapes."""
    box = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    tensor = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    forms = tuple(
        (
            tuple(draw(st.integers(-2, 2)) for _ in box),
            draw(st.integers(-3, 3)),
            draw(st.integers(1, 3)),
        )
        for _ in tensor
    )
    return forms, box, tensor
