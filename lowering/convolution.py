"""Layout plans for `fuse.conv` and `fuse.pool`, shared by the backends.

A `fuse.conv` names its operands' dimensions (`"b01f,01io->b01f"`,
`fuse.dialects.fuse.window`), and `b`, `f`, `i`, `o`, `g` may be absent. Each
backend's kernel wants one fixed order with every dimension present (torch:
`N C spatial...`; the NumPy kernel: `N spatial... C`). `Arrangement` is the
transpose plus the reshape that inserts size-1 dimensions for the absent
ones, and `Arrangement.undo` the way back for the result. Nothing here
touches data: the backends apply the plans with their own calls, each
writing its convolution as a kernel of a `ConvPlan` (`conv_builder`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fuse.dialects.fuse.window import ConvLayout, conv_output_size, pool_output_size

Shape = tuple[int, ...]
Kernel = TypeVar("Kernel")


def inverse(permutation: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation that undoes `permutation`."""
    undo = [0] * len(permutation)
    for position, dim in enumerate(permutation):
        undo[dim] = position
    return tuple(undo)


@dataclass(frozen=True)
class Arrangement:
    """How to bring a tensor of dimensions `source` (characters) into the
    order `target`: `permutation` (over the source's dimensions, to the
    target's order) and then `shape` (the target's full shape, 1 where the
    source lacks a dimension)."""

    permutation: tuple[int, ...]
    shape: Shape
    present_shape: Shape  # after the permutation, before inserting unit dims

    @staticmethod
    def of(source: str, source_shape: Shape, target: str) -> Arrangement:
        sizes = dict(zip(source, source_shape, strict=True))
        order = [c for c in target if c in sizes]
        return Arrangement(
            tuple(source.index(c) for c in order),
            tuple(sizes.get(c, 1) for c in target),
            tuple(sizes[c] for c in order),
        )

    @property
    def inverse_permutation(self) -> tuple[int, ...]:
        """The transpose that takes the target order back to the source's."""
        return inverse(self.permutation)


@dataclass(frozen=True)
class ConvPlan:
    """A `fuse.conv` in one canonical order, `order` being `"channels_last"`
    (input `b 0.. g f`, filter `0.. g i o`, output `b 0.. g f`) or
    `"channels_first"` (input `b g f 0..`, filter `g o i 0..`, output
    `b g f 0..`; a grouped convolution's groups then come first in the
    merged `g f` and `g o` channels, as torch's `groups=` takes them).
    Apply `input`/`filter`, convolve, then reshape the result to
    `output.present_shape` and transpose by `output.inverse_permutation`."""

    input: Arrangement
    filter: Arrangement
    output: Arrangement
    spatial: int
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    window: Shape  # the filter's spatial sizes
    output_spatial: Shape
    groups: int  # 1 without `g`

    @staticmethod
    def of(
        layout: str,
        input_shape: Shape,
        filter_shape: Shape,
        strides: tuple[int, ...],
        dilations: tuple[int, ...],
        order: str,
    ) -> ConvPlan:
        parsed = ConvLayout.parse(layout)
        n = parsed.spatial_rank
        digits = "".join(str(k) for k in range(n))
        targets = {
            "channels_last": ("b" + digits + "gf", digits + "gio"),
            "channels_first": ("bgf" + digits, "goi" + digits),
        }
        image_order, filter_order = targets[order]
        input_sizes = dict(zip(parsed.input, input_shape, strict=True))
        filter_sizes = dict(zip(parsed.filter, filter_shape, strict=True))
        window = tuple(filter_sizes[d] for d in digits)
        output_spatial = tuple(
            conv_output_size(input_sizes[d], k, s, r)
            for d, k, s, r in zip(digits, window, strides, dilations, strict=True)
        )
        output_sizes = dict(zip(digits, output_spatial, strict=True))
        groups = input_sizes.get("g", 1)
        output_sizes |= {"b": input_sizes.get("b", 1), "f": filter_sizes.get("o", 1), "g": groups}
        output_shape = tuple(output_sizes[c] for c in parsed.output)
        return ConvPlan(
            input=Arrangement.of(parsed.input, input_shape, image_order),
            filter=Arrangement.of(parsed.filter, filter_shape, filter_order),
            output=Arrangement.of(parsed.output, output_shape, image_order),
            spatial=n,
            strides=strides,
            dilations=dilations,
            window=window,
            output_spatial=output_spatial,
            groups=groups,
        )


@dataclass(frozen=True)
class PoolPlan:
    """A `fuse.pool` as the dimensions it pools (window or stride above 1)
    moved last: `permutation` puts the kept dimensions first, `kept` and
    `pooled` are their sizes, `window`/`strides`/`output` per pooled
    dimension, and `pad` how many elements each pooled dimension lacks for
    its last window to be whole (0: no window is cut off; negative: that
    many trailing elements no window reads, when the stride exceeds the
    window)."""

    permutation: tuple[int, ...]
    kept: Shape
    pooled: Shape
    window: Shape
    strides: Shape
    output: Shape
    pad: Shape

    @staticmethod
    def of(shape: Shape, window: Shape, strides: Shape) -> PoolPlan:
        pooled = [
            k for k, (w, s) in enumerate(zip(window, strides, strict=True)) if (w, s) != (1, 1)
        ]
        kept = [k for k in range(len(shape)) if k not in pooled]
        output = tuple(pool_output_size(shape[k], window[k], strides[k]) for k in pooled)
        pad = tuple(
            (out - 1) * strides[k] + window[k] - shape[k]
            for k, out in zip(pooled, output, strict=True)
        )
        return PoolPlan(
            permutation=(*kept, *pooled),
            kept=tuple(shape[k] for k in kept),
            pooled=tuple(shape[k] for k in pooled),
            window=tuple(window[k] for k in pooled),
            strides=tuple(strides[k] for k in pooled),
            output=output,
            pad=pad,
        )

    @property
    def kept_size(self) -> int:
        return math.prod(self.kept)

    @property
    def inverse_permutation(self) -> tuple[int, ...]:
        """The transpose that puts the dimensions back in operand order."""
        return inverse(self.permutation)

    @property
    def is_tiled(self) -> bool:
        """Whether windows tile the (padded) dimensions: window == stride."""
        return self.window == self.strides


def conv_builder(
    order: str,
) -> Callable[[Callable[[ConvPlan], Kernel]], Callable[..., Kernel]]:
    """Turns a backend's kernel of a `ConvPlan` in `order` into its `conv`
    builder, which `fuse.lowering.op_facts.kernel_arguments` calls with the
    op's layout, operand shapes, strides and dilations (`ConvPlan.of`)."""

    def wrap(kernel: Callable[[ConvPlan], Kernel]) -> Callable[..., Kernel]:
        @functools.wraps(kernel)
        def build(
            layout: str,
            input_shape: Shape,
            filter_shape: Shape,
            strides: tuple[int, ...],
            dilations: tuple[int, ...],
        ) -> Kernel:
            return kernel(ConvPlan.of(layout, input_shape, filter_shape, strides, dilations, order))

        return build

    return wrap
