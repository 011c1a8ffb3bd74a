"""Window ops of the dataflow level: `fuse.conv` and `fuse.pool`.

These are the native forms of the paper's CNN and pooling equations
(`Features[x, y, o] = Filter[dx, dy, i, o] Image[x+dx, y+dy, i]`,
`Pooled[x/S, y/S, c] max= Features[x, y, c]`). The front end builds them
from the generic index-arithmetic ops (`fuse.window`, `fuse.place`) and
einsums; `fuse-recognize-convolutions` rewrites the patterns it can prove
equal into these ops, so every backend can call its own convolution and
pooling kernels (`F.conv2d`, `stablehlo.convolution`, ...).

Layouts are spelled like StableHLO's convolution dimension numbers, as one
string `"<input>,<filter>-><output>"` with one character per dimension:

* input: `b` batch, `f` feature (channel), `0`..`9` spatial dimensions;
* filter: `i` input feature, `o` output feature, `0`..`9` spatial;
* output: `b` batch, `f` feature (the filter's `o`), `0`..`9` spatial;
* all three: `g` group, for a grouped convolution: group k of the output
  reads group k of the input through filter group k only (StableHLO's
  `feature_group_count`); a depthwise convolution is `"01g,01g->01g"`.

`b`, `f`, `i`, `o` and `g` are optional (a single-channel image has none),
but consistent: the output has `b` iff the input does, the filter has `i`
iff the input has `f`, the output has `f` iff the filter has `o`, and all
three have `g` or none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import DenseArrayBase, StringAttr, TensorType, i64
from xdsl.dialects.utils import EnumAttribute
from xdsl.ir import SpacedOpaqueSyntaxAttribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from .attributes import ProjectionKind


@irdl_attr_definition
class PoolKindAttr(EnumAttribute[ProjectionKind], SpacedOpaqueSyntaxAttribute):
    """How a `fuse.pool` combines a window: `sum`, `max` or `mean`
    (printed bare in the op's syntax, `#fuse.pool_kind<max>` in
    generic form)."""

    name = "fuse.pool_kind"


@dataclass(frozen=True)
class ConvLayout:
    """A parsed `fuse.conv` layout: per operand, the characters of its
    dimensions in order (`"b01f"`)."""

    input: str
    filter: str
    output: str

    @staticmethod
    def parse(text: str) -> ConvLayout:
        """`"b01f,01io->b01f"`; raises VerifyException naming the problem."""
        operands, arrow, output = text.partition("->")
        input_, comma, filter_ = operands.partition(",")
        if not arrow or not comma:
            raise VerifyException(
                f"fuse.conv layout '{text}' must read '<input>,<filter>-><output>' "
                "(e.g. 'b01f,01io->b01f')"
            )
        layout = ConvLayout(input_, filter_, output)
        layout.check(text)
        return layout

    def check(self, text: str) -> None:
        spatial = self.spatial_rank
        digits = "".join(str(k) for k in range(spatial))
        for part, letters in (
            (self.input, "bgf"),
            (self.filter, "gio"),
            (self.output, "bgf"),
        ):
            if sorted(part) != sorted(digits + "".join(c for c in letters if c in part)):
                raise VerifyException(
                    f"fuse.conv layout '{text}': '{part}' must hold the spatial dimensions "
                    f"{', '.join(digits) or '(none)'} once each and optionally "
                    f"{', '.join(letters[:-1])} and {letters[-1]}, nothing else"
                )
        if spatial == 0:
            raise VerifyException(f"fuse.conv layout '{text}' has no spatial dimension")
        pairs = (("b" in self.input, "b" in self.output, "the input has 'b' iff the output has"),)
        pairs += (
            ("f" in self.input, "i" in self.filter, "the input has 'f' iff the filter has 'i'"),
        )
        pairs += (
            ("o" in self.filter, "f" in self.output, "the filter has 'o' iff the output has 'f'"),
        )
        groups = "all three operands have 'g' or none"
        pairs += (
            ("g" in self.input, "g" in self.filter, groups),
            ("g" in self.filter, "g" in self.output, groups),
        )
        for left, right, rule in pairs:
            if left != right:
                raise VerifyException(f"fuse.conv layout '{text}' is inconsistent: {rule}")

    @property
    def spatial_rank(self) -> int:
        return sum(c.isdigit() for c in self.input)

    def __str__(self) -> str:
        return f"{self.input},{self.filter}->{self.output}"


def conv_output_size(size: int, window: int, stride: int, dilation: int) -> int:
    """Positions of a valid convolution: where the whole dilated window fits."""
    return (size - dilation * (window - 1) - 1) // stride + 1


def pool_output_size(size: int, window: int, stride: int) -> int:
    """Windows of a pool: starts `0, S, 2S, ...` inside the operand, up to
    the first window that reaches its end (that one may be cut off by the
    end). With window == stride (`Pooled[x/S]`) this is `ceil(N / S)`; it
    is also PyTorch's `ceil_mode=True` count."""
    return min(math.ceil((size - window) / stride) + 1, math.ceil(size / stride))


def _ints(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, list(values))


def _tensor_shape(value: SSAValue, what: str) -> tuple[int, ...]:
    if not isinstance(value.type, TensorType) or not value.type.has_static_shape():
        raise VerifyException(f"{what} must be a tensor of static shape, got {value.type}")
    return tuple(value.type.get_shape())


def _positive(values: Sequence[int], count: int, what: str, op: str) -> None:
    if len(values) != count:
        raise VerifyException(
            f"{op} has {len(values)} {what}, but needs one per dimension ({count})"
        )
    if any(v < 1 for v in values):
        raise VerifyException(f"{op} {what} must be at least 1, got {list(values)}")


@irdl_op_definition
class ConvOp(IRDLOperation):
    """A valid N-d convolution (cross-correlation, as in CNNs and the paper):

        output[b, x_0.., o] = sum_{dx_0.., i} input[b, s_0*x_0 + d_0*dx_0, .., i]
                                              * filter[dx_0, .., i, o]

    with `strides` s and `dilations` d per spatial dimension, in the
    operands' own dimension orders given by `layout` (module docstring).
    Each output spatial size is `(N - d*(K-1) - 1) // s + 1`.

    ```mlir
    %y = fuse.conv %image, %filter "01f,01io->01f" strides [1, 1] dilations [1, 1]
        : (tensor<8x8x3xf32>, tensor<3x3x3x4xf32>) -> tensor<6x6x4xf32>
    ```
    """

    name = "fuse.conv"

    layout = prop_def(StringAttr)
    strides = prop_def(DenseArrayBase.constr(i64))
    dilations = prop_def(DenseArrayBase.constr(i64))
    input = operand_def(TensorType)
    filter = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$input `,` $filter $layout `strides` $strides `dilations` $dilations attr-dict "
        "`:` `(` type($input) `,` type($filter) `)` `->` type($result)"
    )

    def __init__(
        self,
        input: SSAValue,
        filter: SSAValue,
        layout: ConvLayout,
        strides: Sequence[int],
        dilations: Sequence[int],
        result_type: TensorType,
    ):
        super().__init__(
            properties={
                "layout": StringAttr(str(layout)),
                "strides": _ints(strides),
                "dilations": _ints(dilations),
            },
            operands=[input, filter],
            result_types=[result_type],
        )

    @property
    def parsed_layout(self) -> ConvLayout:
        return ConvLayout.parse(self.layout.data)

    @property
    def stride_values(self) -> tuple[int, ...]:
        return tuple(self.strides.get_values())

    @property
    def dilation_values(self) -> tuple[int, ...]:
        return tuple(self.dilations.get_values())

    def verify_(self) -> None:
        layout = self.parsed_layout
        shapes = {
            "input": _tensor_shape(self.input, "fuse.conv input"),
            "filter": _tensor_shape(self.filter, "fuse.conv filter"),
            "result": _tensor_shape(self.result, "fuse.conv result"),
        }
        dims = {"input": layout.input, "filter": layout.filter, "result": layout.output}
        for what, shape in shapes.items():
            if len(shape) != len(dims[what]):
                raise VerifyException(
                    f"fuse.conv {what} has rank {len(shape)}, but the layout '{dims[what]}' "
                    f"names {len(dims[what])} dimensions"
                )
        size = {what: dict(zip(dims[what], shape, strict=True)) for what, shape in shapes.items()}
        spatial = layout.spatial_rank
        _positive(self.stride_values, spatial, "strides", "fuse.conv")
        _positive(self.dilation_values, spatial, "dilations", "fuse.conv")

        def same(a: tuple[str, str], b: tuple[str, str], name: str) -> None:
            if a[1] in dims[a[0]] and size[a[0]][a[1]] != size[b[0]][b[1]]:
                raise VerifyException(
                    f"fuse.conv {name}: {a[0]} '{a[1]}' has size {size[a[0]][a[1]]}, "
                    f"but {b[0]} '{b[1]}' has {size[b[0]][b[1]]}"
                )

        same(("input", "b"), ("result", "b"), "batch sizes differ")
        same(("input", "f"), ("filter", "i"), "input features differ")
        same(("filter", "o"), ("result", "f"), "output features differ")
        same(("input", "g"), ("filter", "g"), "groups differ")
        same(("filter", "g"), ("result", "g"), "groups differ")
        for k in range(spatial):
            d = str(k)
            n, window = size["input"][d], size["filter"][d]
            stride, dilation = self.stride_values[k], self.dilation_values[k]
            expected = conv_output_size(n, window, stride, dilation)
            if expected < 1:
                raise VerifyException(
                    f"fuse.conv spatial dimension {k}: the window spans "
                    f"{dilation * (window - 1) + 1} positions, more than the input's {n}"
                )
            if size["result"][d] != expected:
                raise VerifyException(
                    f"fuse.conv spatial dimension {k}: result size {size['result'][d]}, "
                    f"but a valid convolution of {n} by {window} (stride {stride}, "
                    f"dilation {dilation}) has {expected}"
                )


@irdl_op_definition
class PoolOp(IRDLOperation):
    """Pooling: each output element combines, by `kind` (sum, max, mean),
    one window of the operand,

        result[y] = kind_{0 <= w < window, y*stride + w < N} operand[y*stride + w]

    per dimension (window 1, stride 1: the dimension is kept as is). The
    last window along a dimension may be cut off by the end of the operand
    (`pool_output_size`): it combines the elements it has, so
    `Pooled[x/2] max= F[x]` over 7 elements is a pool with window 2, stride
    2 and 4 results, as the paper's equation means.

    ```mlir
    %p = fuse.pool max %f window [2, 2, 1] strides [2, 2, 1]
        : tensor<6x6x4xf32> -> tensor<3x3x4xf32>
    ```
    """

    name = "fuse.pool"

    kind = prop_def(PoolKindAttr)
    window = prop_def(DenseArrayBase.constr(i64))
    strides = prop_def(DenseArrayBase.constr(i64))
    operand = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = (
        "$kind $operand `window` $window `strides` $strides attr-dict "
        "`:` type($operand) `->` type($result)"
    )

    def __init__(
        self,
        kind: ProjectionKind | str,
        operand: SSAValue,
        window: Sequence[int],
        strides: Sequence[int],
        result_type: TensorType,
    ):
        super().__init__(
            properties={
                "kind": PoolKindAttr(ProjectionKind(kind)),
                "window": _ints(window),
                "strides": _ints(strides),
            },
            operands=[operand],
            result_types=[result_type],
        )

    @property
    def window_values(self) -> tuple[int, ...]:
        return tuple(self.window.get_values())

    @property
    def stride_values(self) -> tuple[int, ...]:
        return tuple(self.strides.get_values())

    def verify_(self) -> None:
        shape = _tensor_shape(self.operand, "fuse.pool operand")
        result = _tensor_shape(self.result, "fuse.pool result")
        if len(result) != len(shape):
            raise VerifyException(
                f"fuse.pool result has rank {len(result)}, but the operand has rank {len(shape)}"
            )
        _positive(self.window_values, len(shape), "window sizes", "fuse.pool")
        _positive(self.stride_values, len(shape), "strides", "fuse.pool")
        for k, (n, window, stride, got) in enumerate(
            zip(shape, self.window_values, self.stride_values, result, strict=True)
        ):
            if window > n:
                raise VerifyException(
                    f"fuse.pool dimension {k}: window {window} is larger than the operand's {n}"
                )
            expected = pool_output_size(n, window, stride)
            if got != expected:
                raise VerifyException(
                    f"fuse.pool dimension {k}: result size {got}, but windows of {window} "
                    f"every {stride} over {n} elements give {expected}"
                )
