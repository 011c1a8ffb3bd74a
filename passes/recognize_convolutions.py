"""`fuse-recognize-convolutions`: convolutions and pools out of index arithmetic.

The front end lowers the paper's CNN and pooling equations generically
(docs/index_arithmetic.md): an access such as `Image[x+dx, y+dy, i]` is a
`fuse.window` that the equation's einsum contracts, and a left-hand side
such as `Pooled[x/2, y/2, c]` is a `fuse.place`. This pass proves which of
those are convolutions and pools and rewrites them into `fuse.conv` and
`fuse.pool`, which every backend runs with its native kernels. Whatever
it does not match stays on the generic path, which computes the same
numbers.

Convolution: a two-operand `sum` einsum, one operand a window (of the
image `X`) whose map gives every dimension of `X` as

* `dk` alone: a *batch* dimension if its letter reaches the output and not
  the other operand (the *filter*), an *input feature* if it meets the
  filter and is summed, a *group* if it reaches both (a depthwise
  convolution, `Out[x, c] = Filter[dx, c] Image[x+dx, c]`, or a grouped
  one with input and output features per group);
* `s*dx + r*dk + c` (s, r >= 1): a *spatial* dimension, `dx`'s letter in
  the output but not the filter (stride s), `dk`'s in the filter but not the
  output (dilation r);

and the filter's other letters are at most one *output feature* (in the
output, not in the window). Each window dimension is used once, each kind
of feature and the batch at most once, and no letter repeats inside an
operand. Layouts follow the operands' own orders (no transposes). Where
the window reads only part of `X` (a constant offset, `Image[x+dx+1]`, or
ranges cut short by other accesses) a plain window crops `X` first.

Pool: a `fuse.place` whose map sends dimension k to `dk floordiv S_k` in
order, with no offset, and whose result has exactly `ceil(N_k / S_k)`
elements per dimension (`Pooled[x/S, y/S, c] max= F[x, y, c]`): a
`fuse.pool` of the place's kind with window = stride = S.

```mlir
// before
%0 = fuse.window %Image affine_map<(d0, d1, d2, d3, d4) -> ((d0 + d1), (d2 + d3), d4)>
    : tensor<8x8x3xf32> -> tensor<6x3x6x3x3xf32>
%1 = fuse.einsum "abcd,eafbc->def" sum (%Filter, %0)
    : (tensor<3x3x3x4xf32>, tensor<6x3x6x3x3xf32>) -> tensor<4x6x6xf32>
%P = fuse.place %F affine_map<(d0, d1, d2) -> ((d0 floordiv 2), (d1 floordiv 2), d2)> max
    : tensor<6x6x4xf32> -> tensor<3x3x4xf32>
// after
%1 = fuse.conv %Image, %Filter "01f,01io->f01" strides [1, 1] dilations [1, 1]
    : (tensor<8x8x3xf32>, tensor<3x3x3x4xf32>) -> tensor<4x6x6xf32>
%P = fuse.pool max %F window [2, 2, 1] strides [2, 2, 1] : tensor<6x6x4xf32> -> tensor<3x3x4xf32>
```
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.ir.affine import AffineExpr, AffineMap
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter
from xdsl.utils.exceptions import VerifyException

from fuse.dialects.fuse import EinsumOp, PlaceOp, WindowOp
from fuse.dialects.fuse.affine import UnsupportedAffineExpr, linear_forms
from fuse.dialects.fuse.subscripts import parse_subscripts
from fuse.dialects.fuse.window import ConvLayout, ConvOp, PoolOp, pool_output_size


@dataclass(frozen=True)
class _Spatial:
    position: str  # letter of the output position (x)
    offset: str  # letter of the window offset (dx)
    stride: int
    dilation: int


@dataclass(frozen=True)
class _Match:
    """A convolution found in an einsum: the image (the window's operand),
    the filter, the layout, and the part of the image it reads (per image
    dimension: first position and extent)."""

    image: SSAValue
    filter: SSAValue
    layout: ConvLayout
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    crop: tuple[tuple[int, int], ...]


def _shape(value: SSAValue) -> tuple[int, ...] | None:
    if isinstance(value.type, TensorType) and value.type.has_static_shape():
        return tuple(value.type.get_shape())
    return None


def match_convolution(einsum: EinsumOp) -> _Match | None:
    """The convolution `einsum` computes, or None (module docstring)."""
    if einsum.kind.data != "sum" or len(einsum.inputs) != 2:
        return None
    inputs, output = parse_subscripts(einsum.subscripts.data)
    for side in (0, 1):
        window = einsum.inputs[side].owner
        if isinstance(window, WindowOp):
            found = _match(window, inputs[side], inputs[1 - side], output, einsum.inputs[1 - side])
            if found is not None:
                return found
    return None


def _match(
    window: WindowOp, letters: str, filter_letters: str, output: str, filter_value: SSAValue
) -> _Match | None:
    image_shape, window_shape = _shape(window.operand), _shape(window.result)
    if image_shape is None or window_shape is None or _shape(filter_value) is None:
        return None
    if any(len(set(s)) != len(s) for s in (letters, filter_letters, output)):
        return None  # a diagonal is no convolution
    try:
        forms = linear_forms(window.map.data)
    except UnsupportedAffineExpr:
        return None
    extent = dict(zip(letters, window_shape, strict=True))
    image_dims: list[str] = []  # per image dimension: 'b', 'f' or a spatial number
    crop: list[tuple[int, int]] = []
    spatial: list[_Spatial] = []
    roles: dict[str, str] = {}  # letter -> the role it plays
    used: list[str] = []
    for form in forms:
        if form.divisor != 1 or form.constant < 0:
            return None
        terms = [(letters[k], c) for k, c in enumerate(form.coefficients) if c]
        used += [letter for letter, _ in terms]
        if len(terms) == 1 and terms[0][1] == 1:
            (letter, _), reach = terms[0], extent[terms[0][0]]
            in_filter, in_output = letter in filter_letters, letter in output
            if in_output and not in_filter:
                role = "b"
            elif in_filter and not in_output:
                role = "f"
            elif in_filter and in_output:
                role = "g"
            else:
                return None
            image_dims.append(role)
            roles[letter] = role
        elif len(terms) == 2:
            (first, s1), (second, s2) = terms
            if first in filter_letters:
                (first, s1), (second, s2) = (second, s2), (first, s1)
            position_ok = first in output and first not in filter_letters
            offset_ok = second in filter_letters and second not in output
            if not (position_ok and offset_ok and s1 > 0 and s2 > 0):
                return None
            number = str(len(spatial))
            spatial.append(_Spatial(first, second, s1, s2))
            image_dims.append(number)
            roles[first] = roles[second] = number
            reach = s1 * (extent[first] - 1) + s2 * (extent[second] - 1) + 1
        else:
            return None
        crop.append((form.constant, reach))
    if not spatial or sorted(used) != sorted(letters) or len(set(image_dims)) != len(image_dims):
        return None
    outputs = [c for c in filter_letters if c not in letters]
    if len(outputs) > 1 or any(c not in output for c in outputs):
        return None
    filter_roles = {c: ("i" if roles.get(c) == "f" else roles.get(c)) for c in filter_letters}
    filter_roles |= {c: "o" for c in outputs}
    output_roles = {c: ("f" if c in outputs else roles.get(c)) for c in output}
    if None in filter_roles.values() or None in output_roles.values():
        return None
    layout = ConvLayout(
        "".join(image_dims),
        "".join(filter_roles[c] for c in filter_letters),
        "".join(output_roles[c] for c in output),
    )
    try:
        layout.check(str(layout))
    except VerifyException:
        return None
    return _Match(
        image=window.operand,
        filter=filter_value,
        layout=layout,
        strides=tuple(s.stride for s in spatial),
        dilations=tuple(s.dilation for s in spatial),
        crop=tuple(crop),
    )


def match_pool(place: PlaceOp) -> tuple[int, ...] | None:
    """The window (= stride) per dimension of the pool `place` computes, or
    None (module docstring)."""
    shape, result = _shape(place.operand), _shape(place.result)
    if shape is None or result is None or len(shape) != len(result):
        return None
    try:
        forms = linear_forms(place.map.data)
    except UnsupportedAffineExpr:
        return None
    window: list[int] = []
    for k, form in enumerate(forms):
        unit = tuple(int(j == k) for j in range(len(shape)))
        if form.coefficients != unit or form.constant != 0:
            return None
        if result[k] != pool_output_size(shape[k], form.divisor, form.divisor):
            return None
        window.append(form.divisor)
    return tuple(window) if any(w > 1 for w in window) else None


def _erase_if_unused(op: Operation | None) -> None:
    if isinstance(op, Operation) and all(not result.uses for result in op.results):
        op.detach()
        op.erase()


def _crop(found: _Match) -> WindowOp | None:
    """A plain window of the part of the image the convolution reads, or
    None when it reads all of it."""
    shape = _shape(found.image)
    assert shape is not None
    if all(start == 0 and reach == n for (start, reach), n in zip(found.crop, shape, strict=True)):
        return None
    results = tuple(AffineExpr.dimension(k) + start for k, (start, _) in enumerate(found.crop))
    element_type = found.image.type.element_type  # type: ignore[attr-defined]
    return WindowOp(
        found.image,
        AffineMap(len(shape), 0, results),
        TensorType(element_type, [reach for _, reach in found.crop]),
    )


class RecognizeConvolutionsPass(ModulePass):
    """Rewrites convolution einsums over windows into `fuse.conv`, and
    floor-division places into `fuse.pool` (module docstring)."""

    name = "fuse-recognize-convolutions"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for candidate in list(op.walk()):
            if isinstance(candidate, EinsumOp):
                _convolution(candidate)
            elif isinstance(candidate, PlaceOp):
                _pool(candidate)


def _convolution(einsum: EinsumOp) -> None:
    found = match_convolution(einsum)
    if found is None:
        return
    windows = [v.owner for v in einsum.inputs]
    crop = _crop(found)
    image = crop.result if crop is not None else found.image
    result_type = einsum.result.type
    assert isinstance(result_type, TensorType)
    conv = ConvOp(image, found.filter, found.layout, found.strides, found.dilations, result_type)
    new_ops: list[Operation] = [crop, conv] if crop is not None else [conv]
    for new in new_ops:
        new.location = einsum.location
    Rewriter.replace_op(einsum, new_ops, [conv.result])
    for window in windows:
        _erase_if_unused(window)  # type: ignore[arg-type]


def _pool(place: PlaceOp) -> None:
    window = match_pool(place)
    if window is None:
        return
    result_type = place.result.type
    assert isinstance(result_type, TensorType)
    pool = PoolOp(place.kind.data, place.operand, window, window, result_type)
    pool.location = place.location
    Rewriter.replace_op(place, pool)
