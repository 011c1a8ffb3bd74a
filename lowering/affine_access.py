"""Compile-time index tables for `fuse.window` and `fuse.place`, shared by
the backends (docs/index_arithmetic.md).

Both ops carry an affine map from an iteration box (the window's result,
the place's operand) to positions of a tensor (the window's operand, the
place's result). Everything a backend needs is computed here once, from
static shapes, as NumPy integers:

* `strided_view`: where every map result is undivided (no `floordiv`), a
  window is a strided view of the contiguous operand: an element offset and
  one element stride per result dimension (`as_strided`);
* `flat_positions`: the flat (C-order) position of the tensor that each
  point of the box maps to: a gather index for any window, the scatter
  target of a place;
* `highest_positions`: the largest position each tensor dimension is
  read or written at;
* `place_table`: per element of a place's result, the flat box positions
  that land on it (padded with the box's size, one past the last), and how
  many there are: a gather-then-reduce form of a place that needs no
  scatter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import AffineMapAttr

from fuse.dialects.fuse.affine import LinearForm, linear_forms

Shape = tuple[int, ...]
Forms = tuple[tuple[tuple[int, ...], int, int], ...]  # (coefficients, constant, divisor)


def forms_of(affine_map: AffineMapAttr) -> Forms:
    """A map's results as plain tuples (what backend recipes store)."""
    return tuple((f.coefficients, f.constant, f.divisor) for f in linear_forms(affine_map.data))


def _linear(forms: Forms) -> list[LinearForm]:
    return [
        LinearForm(coefficients, constant, divisor) for coefficients, constant, divisor in forms
    ]


def _element_strides(shape: Sequence[int]) -> list[int]:
    return [math.prod(shape[k + 1 :]) for k in range(len(shape))]


@dataclass(frozen=True)
class StridedView:
    offset: int
    strides: tuple[int, ...]  # in elements, one per box dimension (may be negative)


def strided_view(forms: Forms, tensor_shape: Shape) -> StridedView | None:
    """The view `tensor.flat[offset + sum(strides[j] * d[j])]` equal to the
    map, or None when a map result divides."""
    if any(divisor != 1 for _, _, divisor in forms):
        return None
    element = _element_strides(tensor_shape)
    rank = len(forms[0][0]) if forms else 0
    offset = sum(constant * s for (_, constant, _), s in zip(forms, element, strict=True))
    strides = tuple(
        sum(coefficients[j] * s for (coefficients, _, _), s in zip(forms, element, strict=True))
        for j in range(rank)
    )
    return StridedView(offset, strides)


def flat_positions(forms: Forms, box: Shape, tensor_shape: Shape) -> np.ndarray:
    """Per point of `box`, the flat position of `tensor_shape` it maps to."""
    flat = np.zeros(box, dtype=np.int64)
    for form, stride in zip(_linear(forms), _element_strides(tensor_shape), strict=True):
        flat += form.values(box) * stride
    return flat


def highest_positions(forms: Forms, box: Shape) -> list[int]:
    """Per tensor dimension, the largest position a point of the (non-empty)
    `box` maps to: each form at the corner where every term is largest
    (floor division keeps the order)."""
    return [
        (constant + sum(max(0, c * (n - 1)) for c, n in zip(coefficients, box, strict=True)))
        // divisor
        for coefficients, constant, divisor in forms
    ]


@dataclass(frozen=True)
class PlaceTable:
    sources: np.ndarray  # int64 [result size, most]: flat box positions, padded with box size
    counts: np.ndarray  # int64 [result size]: how many box points land on each element

    @property
    def injective(self) -> bool:
        return self.sources.shape[1] <= 1


def place_table(forms: Forms, box: Shape, result_shape: Shape) -> PlaceTable:
    targets = flat_positions(forms, box, result_shape).ravel()
    size = math.prod(result_shape)
    counts = np.bincount(targets, minlength=size)
    most = int(counts.max()) if counts.size else 0
    order = np.argsort(targets, kind="stable")
    ordered = targets[order]
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(ordered)) - first[ordered]
    sources = np.full((size, max(most, 1)), len(targets), dtype=np.int64)
    sources[ordered, rank] = order
    return PlaceTable(sources, counts)


@dataclass(frozen=True)
class AxisAccess:
    """One tensor dimension of an access that reads or writes along a
    single box dimension: position `start + step * d[box_dim]`; `box_dim`
    None for a constant position `start`."""

    box_dim: int | None
    start: int
    step: int = 1


def axis_accesses(forms: Forms) -> list[AxisAccess] | None:
    """The map as one `AxisAccess` per tensor dimension, or None where a
    position divides, mixes box dimensions, steps backwards, or two
    positions share a box dimension (a diagonal): then it is no slice."""
    accesses: list[AxisAccess] = []
    used: set[int] = set()
    for coefficients, constant, divisor in forms:
        moving = [(j, c) for j, c in enumerate(coefficients) if c]
        if divisor != 1 or len(moving) > 1:
            return None
        if not moving:
            accesses.append(AxisAccess(None, constant))
            continue
        ((j, step),) = moving
        if step < 0 or j in used:
            return None
        used.add(j)
        accesses.append(AxisAccess(j, constant, step))
    return accesses


def placement_offsets(forms: Forms, box_rank: int) -> tuple[list[int], list[int]] | None:
    """For a place that only shifts and permutes (every result dimension is
    one box dimension plus a constant, each box dimension used once): the
    permutation of the box into result order and the offset of each result
    dimension, so the place is a transpose and a zero padding. None
    otherwise."""
    accesses = axis_accesses(forms)
    if accesses is None or len(accesses) != box_rank:
        return None
    if any(a.box_dim is None or a.step != 1 for a in accesses):
        return None
    return [a.box_dim for a in accesses if a.box_dim is not None], [a.start for a in accesses]
