"""Native convolution and pooling (`fuse.conv`, `fuse.pool`,
`fuse-recognize-convolutions`): hand-written dataflow IR and the paper's CNN
and pooling equations as printed, on every backend, against NumPy
references written from the definitions (loops over window offsets and
output positions, not the backends' strided views)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_helpers import parse_module

from fuse import Program
from fuse.config import ExecutionConfig
from fuse.runtime.runner import get_backend

BACKENDS = ["numpy", "torch", "jax"]


def run_module(text: str, backend: str, args: list[np.ndarray]) -> list[np.ndarray]:
    executable = get_backend(backend).compile(parse_module(text), ExecutionConfig(device="cpu"))
    return [np.asarray(r.detach() if isinstance(r, torch.Tensor) else r) for r in executable(args)]


def run_program(text: str, backend: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    out = Program(text, "cnn.fuse").compile(backend).run(inputs=inputs)
    return {name: np.asarray(value) for name, value in out.items()}


def tensor_type(shape: tuple[int, ...]) -> str:
    return f"tensor<{'x'.join(map(str, shape))}xf32>"


# --- references ---------------------------------------------------------------------


def reference_conv(
    image: np.ndarray, kernel: np.ndarray, strides: tuple[int, ...], dilations: tuple[int, ...]
) -> np.ndarray:
    """image [b, N.., i], kernel [K.., i, o] -> [b, X.., o]: a valid
    cross-correlation, one window offset at a time."""
    n = len(strides)
    window = kernel.shape[:n]
    outputs = [
        (size - d * (k - 1) - 1) // s + 1
        for size, k, s, d in zip(image.shape[1 : 1 + n], window, strides, dilations, strict=True)
    ]
    result = np.zeros((image.shape[0], *outputs, kernel.shape[-1]), np.float64)
    for offset in itertools.product(*(range(k) for k in window)):
        rows = tuple(
            slice(d * o, d * o + s * (x - 1) + 1, s)
            for o, x, s, d in zip(offset, outputs, strides, dilations, strict=True)
        )
        result += image[(slice(None), *rows)].astype(np.float64) @ kernel[offset]
    return result


def reference_pool(x: np.ndarray, kind: str, window: tuple[int, ...], strides: tuple[int, ...]):
    """Each output element from its window, cut off at the end of `x`."""
    shape = [
        min(math.ceil((n - w) / s) + 1, math.ceil(n / s))
        for n, w, s in zip(x.shape, window, strides, strict=True)
    ]
    out = np.zeros(shape, np.float64)
    combine = {"max": np.max, "sum": np.sum, "mean": np.mean}[kind]
    for position in np.ndindex(*shape):
        block = tuple(
            slice(p * s, min(p * s + w, n))
            for p, s, w, n in zip(position, strides, window, x.shape, strict=True)
        )
        out[position] = combine(x[block].astype(np.float64))
    return out


# --- fuse.conv on hand-written IR ----------------------------------------------------


@st.composite
def convolutions(draw: st.DrawFn) -> tuple[str, list[np.ndarray], np.ndarray]:
    """A random `fuse.conv`: spatial rank 1-3, optional batch, features and
    groups, each operand's dimensions in a random order, strides and
    dilations."""
    n = draw(st.integers(1, 3))
    window = [draw(st.integers(1, 3)) for _ in range(n)]
    strides = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilations = tuple(draw(st.integers(1, 2)) for _ in range(n))
    sizes = [
        d * (k - 1) + 1 + draw(st.integers(0, 5)) for k, d in zip(window, dilations, strict=True)
    ]
    batch, features, outputs, groups = (draw(st.sampled_from([None, 1, 2, 3])) for _ in range(4))
    digits = [str(k) for k in range(n)]
    grouped = ["g"] * (groups is not None)
    input_dims = digits + ["b"] * (batch is not None) + ["f"] * (features is not None) + grouped
    filter_dims = digits + ["i"] * (features is not None) + ["o"] * (outputs is not None)
    filter_dims += grouped
    output_dims = digits + ["b"] * (batch is not None) + ["f"] * (outputs is not None) + grouped
    input_dims, filter_dims, output_dims = (
        draw(st.permutations(dims)) for dims in (input_dims, filter_dims, output_dims)
    )
    size_of = {
        "b": batch or 1,
        "f": features or 1,
        "i": features or 1,
        "o": outputs or 1,
        "g": groups or 1,
    }
    out_spatial = [
        (size - d * (k - 1) - 1) // s + 1
        for size, k, s, d in zip(sizes, window, strides, dilations, strict=True)
    ]

    def shape(dims: list[str], spatial: list[int], features_key: str = "f") -> tuple[int, ...]:
        return tuple(
            spatial[int(c)] if c.isdigit() else size_of[features_key if c == "f" else c]
            for c in dims
        )

    input_shape = shape(input_dims, sizes)
    filter_shape = shape(filter_dims, window)
    output_shape = shape(output_dims, out_spatial, "o")
    layout = f"{''.join(input_dims)},{''.join(filter_dims)}->{''.join(output_dims)}"
    text = f"""
func.func @main(%x: {tensor_type(input_shape)}, %w: {tensor_type(filter_shape)}) -> {tensor_type(output_shape)} {{
  %y = fuse.conv %x, %w "{layout}" strides {list(strides)} dilations {list(dilations)} : ({tensor_type(input_shape)}, {tensor_type(filter_shape)}) -> {tensor_type(output_shape)}
  func.return %y : {tensor_type(output_shape)}
}}"""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    image = rng.standard_normal(input_shape).astype(np.float32)
    kernel = rng.standard_normal(filter_shape).astype(np.float32)
    # the reference's order: image [b, N.., g, i], kernel [K.., g, i, o], result
    # [b, X.., g, o]; group k convolves image group k with kernel group k alone
    canonical_image = _canonical(image, input_dims, ["b", *digits, "g", "f"])
    canonical_kernel = _canonical(kernel, filter_dims, [*digits, "g", "i", "o"])
    expected = np.stack(
        [
            reference_conv(
                canonical_image[..., k, :], canonical_kernel[..., k, :, :], strides, dilations
            )
            for k in range(size_of["g"])
        ],
        axis=-2,
    )
    # back to the op's output layout: drop the unit dimensions it lacks, permute
    kept = [c for c in ["b", *digits, "g", "f"] if c in output_dims]
    expected = expected.reshape(
        [
            size_of["o"] if c == "f" else size_of[c] if c in "bg" else out_spatial[int(c)]
            for c in kept
        ]
    )
    expected = expected.transpose([kept.index(c) for c in output_dims])
    return text, [image, kernel], expected


def _canonical(array: np.ndarray, dims: list[str], order: list[str]) -> np.ndarray:
    """`array` transposed to `order`, with a unit dimension for each letter
    of `order` that `dims` lacks."""
    present = [c for c in order if c in dims]
    moved = array.transpose([dims.index(c) for c in present])
    return moved.reshape([moved.shape[present.index(c)] if c in dims else 1 for c in order])


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=12, deadline=None)
@given(case=convolutions())
def test_conv_matches_a_loop_over_window_offsets(
    backend: str, case: tuple[str, list[np.ndarray], np.ndarray]
) -> None:
    text, args, expected = case
    [result] = run_module(text, backend, args)
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4)


@st.composite
def pools(draw: st.DrawFn) -> tuple[str, list[np.ndarray], np.ndarray]:
    rank = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 7)) for _ in range(rank))
    window = tuple(draw(st.integers(1, n)) for n in shape)
    strides = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    kind = draw(st.sampled_from(["max", "sum", "mean"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(shape).astype(np.float32)
    expected = reference_pool(x, kind, window, strides)
    text = f"""
func.func @main(%x: {tensor_type(shape)}) -> {tensor_type(expected.shape)} {{
  %y = fuse.pool {kind} %x window {list(window)} strides {list(strides)} : {tensor_type(shape)} -> {tensor_type(expected.shape)}
  func.return %y : {tensor_type(expected.shape)}
}}"""
    return text, [x], expected


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=15, deadline=None)
@given(case=pools())
def test_pool_matches_a_loop_over_output_positions(
    backend: str, case: tuple[str, list[np.ndarray], np.ndarray]
) -> None:
    text, args, expected = case
    [result] = run_module(text, backend, args)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-5)


# --- the paper's equations ---------------------------------------------------------

RNG = np.random.default_rng(7)
IMAGE = RNG.standard_normal((9, 8, 3)).astype(np.float32)
FILTER = RNG.standard_normal((3, 2, 3)).astype(np.float32)
FILTERS = RNG.standard_normal((3, 3, 3, 4)).astype(np.float32)


def features_reference(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """`Features[x, y] = relu(Filter[dx, dy, ch] Image[x+dx, y+dy, ch])`."""
    single = kernel.ndim == 3
    kernel4 = kernel[..., None] if single else kernel
    out = np.maximum(reference_conv(image[None], kernel4, (1, 1), (1, 1))[0], 0)
    return out[..., 0] if single else out


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_papers_cnn_and_pooling_as_printed(backend: str) -> None:
    text = """
S = 2
Features[x, y] = relu(Filter[dx, dy, ch] Image[x+dx, y+dy, ch])
Pooled[x/S, y/S] = Features[x, y]
MaxPooled[x/S, y/S] max= Features[x, y]
Combined[x/S, y/S] = relu(Filter[dx, dy, ch] Image[x+dx, y+dy, ch])
export Features, Pooled, MaxPooled, Combined
"""
    out = run_program(text, backend, Image=IMAGE, Filter=FILTER)
    features = features_reference(IMAGE, FILTER)  # 7 x 7: the last 2 x 2 block is cut off
    assert features.shape == (7, 7)
    np.testing.assert_allclose(out["Features"], features, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        out["Pooled"], reference_pool(features, "sum", (2, 2), (2, 2)), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        out["MaxPooled"], reference_pool(features, "max", (2, 2), (2, 2)), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(out["Combined"], out["Pooled"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_multichannel_strided_and_padded_by_hand(backend: str) -> None:
    text = """
Features[x, y, o] = relu(Filter[dx, dy, ch, o] Image[x+dx, y+dy, ch])
Strided[x, y, o] = Filter[dx, dy, ch, o] Image[2*x + dx, 2*y + dy, ch]
Padded[x+1, y+1, ch] = Image[x, y, ch]
Same[x, y, o] = Filter[dx, dy, ch, o] Padded[x+dx, y+dy, ch]
Shifted[x, y, o] = Filter[dx, dy, ch, o] Image[x+dx-1, y+dy-1, ch]
Avg[x/3, y/3, o] avg= Features[x, y, o]
export Features, Strided, Same, Shifted, Avg
"""
    out = run_program(text, backend, Image=IMAGE, Filter=FILTERS)
    conv = reference_conv(IMAGE[None], FILTERS, (1, 1), (1, 1))[0]
    features = np.maximum(conv, 0)
    np.testing.assert_allclose(out["Features"], features, rtol=1e-5, atol=1e-5)
    strided = reference_conv(IMAGE[None], FILTERS, (2, 2), (1, 1))[0]
    np.testing.assert_allclose(out["Strided"], strided, rtol=1e-5, atol=1e-5)
    # padding by hand: Padded[x+1] = Image[x] reaches positions 1..N, so it has
    # N + 1 elements with a zero in front, and Same reads that zero row and column
    padded = np.pad(IMAGE, ((1, 0), (1, 0), (0, 0)))
    same = reference_conv(padded[None], FILTERS, (1, 1), (1, 1))[0]
    np.testing.assert_allclose(out["Same"], same, rtol=1e-5, atol=1e-5)
    # Image[x+dx-1]: x starts at 1 (reading Image[-1] is out of range), so
    # Shifted[0, :] and Shifted[:, 0] stay zero and the rest is the valid convolution
    shifted = np.zeros((conv.shape[0] + 1, conv.shape[1] + 1, 4))
    shifted[1:, 1:] = conv
    np.testing.assert_allclose(out["Shifted"], shifted, rtol=1e-5, atol=1e-5)
    avg = reference_pool(features, "mean", (3, 3, 1), (3, 3, 1))
    np.testing.assert_allclose(out["Avg"], avg, rtol=1e-5, atol=1e-5)


def test_compile_shows_and_explain_names_the_native_ops() -> None:
    text = "Features[x, y] = relu(Filter[dx, dy, ch] Image[x+dx, y+dy, ch])\n"
    text += "Pooled[x/2, y/2] max= Features[x, y]\nexport Pooled"
    runner = Program(text, "cnn.fuse").compile("numpy")
    runner.run(inputs={"Image": IMAGE, "Filter": FILTER})
    ops = [op.name for op in runner.last_plan.module.walk()]
    assert "fuse.conv" in ops and "fuse.pool" in ops
    assert "fuse.window" not in ops and "fuse.place" not in ops
    explanation = runner.explain()
    assert "runs as fuse.conv 2-d 01f,01i->01 (strides 1x1, dilations 1x1)" in explanation
    assert "runs as fuse.pool max (window 2x2)" in explanation


@pytest.mark.parametrize("backend", BACKENDS)
def test_depthwise_and_grouped_convolutions_are_grouped_convs(backend: str) -> None:
    """A depthwise filter (the channel reaches the output) is a `fuse.conv`
    with one group per channel; a grouped one keeps input and output
    features per group. Opt level 0 keeps the generic window and einsum,
    with the same numbers."""
    depthwise = "Depthwise[x, y, ch] = Filter[dx, dy, ch] Image[x+dx, y+dy, ch]\n"
    grouped = "Grouped[x, y, g, o] = Filters[dx, dy, g, i, o] Groups[x+dx, y+dy, g, i]\n"
    groups = RNG.standard_normal((9, 8, 2, 3)).astype(np.float32)
    filters = RNG.standard_normal((3, 2, 2, 3, 4)).astype(np.float32)
    inputs = {"Image": IMAGE, "Filter": FILTER, "Groups": groups, "Filters": filters}
    expected = {
        "Depthwise": sum(
            IMAGE[dx : dx + 7, dy : dy + 7] * FILTER[dx, dy] for dx in range(3) for dy in range(2)
        ),
        "Grouped": sum(
            np.einsum("xygi,gio->xygo", groups[dx : dx + 7, dy : dy + 7], filters[dx, dy])
            for dx in range(3)
            for dy in range(2)
        ),
    }
    program = Program(depthwise + grouped + "export Depthwise, Grouped", "cnn.fuse")
    for level in (0, 2):
        runner = program.compile(backend, ExecutionConfig(opt_level=level, device="cpu"))
        out = runner.run(inputs=inputs)
        for name, value in expected.items():
            np.testing.assert_allclose(np.asarray(out[name]), value, rtol=1e-4, atol=1e-4)
        layouts = [
            op.layout.data for op in runner.last_plan.module.walk() if op.name == "fuse.conv"
        ]
        assert layouts == ([] if level == 0 else ["01g,01g->g01", "01gf,01gio->gf01"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_unrecognized_patterns_keep_the_generic_path(backend: str) -> None:
    """A filter that varies with the output position (`Filter[dx, x]`) is
    no convolution: it stays a window and an einsum."""
    text = "Local[x] = Filter[dx, x] Signal[x+dx]\nexport Local"
    signal = RNG.standard_normal(9).astype(np.float32)
    local = RNG.standard_normal((3, 7)).astype(np.float32)
    expected = sum(signal[dx : dx + 7] * local[dx] for dx in range(3))
    runner = Program(text, "local.fuse").compile(backend, ExecutionConfig(device="cpu"))
    out = np.asarray(runner.run(inputs={"Signal": signal, "Filter": local})["Local"])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert "fuse.conv" not in [op.name for op in runner.last_plan.module.walk()]


def test_torch_gradients_flow_through_conv_and_pool() -> None:
    text = """
Features[x, y, o] = relu(Filter[dx, dy, ch, o] Image[x+dx, y+dy, ch])
Pooled[x/2, y/2, o] max= Features[x, y, o]
Loss = Pooled[x, y, o] Pooled[x, y, o]
export Loss
"""
    runner = Program(text, "cnn.fuse").compile("torch")
    weights = torch.tensor(FILTERS, requires_grad=True)
    runner.run(inputs={"Image": IMAGE, "Filter": weights})["Loss"].backward()
    reference = torch.tensor(FILTERS, requires_grad=True)
    image = torch.tensor(IMAGE).permute(2, 0, 1)[None]
    features = torch.relu(torch.nn.functional.conv2d(image, reference.permute(3, 2, 0, 1)))
    pooled = torch.nn.functional.max_pool2d(features, 2, ceil_mode=True)
    (pooled**2).sum().backward()
    assert weights.grad is not None and reference.grad is not None
    torch.testing.assert_close(weights.grad, reference.grad, rtol=1e-4, atol=1e-4)
