"""Index arithmetic (docs/index_arithmetic.md): affine index positions,
slices and floor division, from the parser to every backend.

Programs run on numpy, torch and jax and are compared with references
written from the semantics with explicit loops: a variable ranges over the
values that keep every right-hand-side access in bounds, a left-hand side
is as long as the largest position written, and elements nothing writes
are zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import Program
from fuse.dialects.fuse.affine import (
    AffineIndex,
    SliceIndex,
    affine_position,
    position_problem,
)
from fuse.dialects.fuse.attributes import IndexListAttr
from fuse.errors import FuseError
from fuse.frontend import load, parse, print_program
from fuse.frontend.ast import IndexArith, IndexConst, IndexVar
from fuse.frontend.index_arith import AffineForm, IndexArithmeticError, fold_index
from fuse.passes.index_ranges import EmptyRange, Range, variable_ranges

BACKENDS = ["numpy", "torch", "jax"]
FEW = settings(max_examples=6, deadline=None)


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value)


def run_everywhere(text: str, inputs: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """The exports of `text` on every backend."""
    return {
        backend: {
            name: _numpy(value)
            for name, value in Program(text).compile(backend=backend).run(inputs).items()
        }
        for backend in BACKENDS
    }


def assert_matches(text: str, inputs: dict[str, np.ndarray], expected: dict[str, Any]) -> None:
    for backend, outputs in run_everywhere(text, inputs).items():
        for name, value in expected.items():
            actual = outputs[name]
            assert actual.shape == np.shape(value), (backend, name)
            np.testing.assert_allclose(
                actual, value, rtol=1e-5, atol=1e-5, err_msg=f"{backend} {name}"
            )


def normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# --- the front end ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Y[x] = Image[x+dx] K[dx]",
        "Y[i, j] = relu(W[i, j, k] X[i-1, k])",
        "P[x/S, (y+1)/S] max= F[x, y]",
        "Y[i] = X[4:8] + Z[:N-2] + V[2:]",
        "X[i, *t+1] = sig(W[i, j] X[j, *t])",
        "Y[2*i-(j+1)] = A[i, j]",
    ],
)
def test_index_arithmetic_prints_back_as_parsed(text: str) -> None:
    program = parse(text)
    assert print_program(program) == text + "\n"
    assert parse(print_program(program)) == program


@pytest.mark.parametrize(
    ("index", "form"),
    [
        (IndexArith("+", IndexVar("x"), IndexVar("dx")), AffineForm((("x", 1), ("dx", 1)))),
        (
            IndexArith("-", IndexConst(4), IndexArith("*", IndexConst(2), IndexVar("t"))),
            AffineForm((("t", -2),), 4),
        ),
        # x/2/3 = x floordiv 6; x/2 + 1 = (x + 2) floordiv 2; x/2 + y = (x + 2y) floordiv 2
        (
            IndexArith("/", IndexArith("/", IndexVar("x"), IndexConst(2)), IndexConst(3)),
            AffineForm((("x", 1),), 0, 6),
        ),
        (
            IndexArith("+", IndexArith("/", IndexVar("x"), IndexConst(2)), IndexConst(1)),
            AffineForm((("x", 1),), 2, 2),
        ),
        (
            IndexArith("+", IndexArith("/", IndexVar("x"), IndexConst(2)), IndexVar("y")),
            AffineForm((("x", 1), ("y", 2)), 0, 2),
        ),
        (IndexArith("/", IndexConst(7), IndexConst(2)), AffineForm((), 3)),
    ],
)
def test_fold_index(index: IndexArith, form: AffineForm) -> None:
    assert fold_index(index) == form


@given(
    st.integers(-5, 5),
    st.integers(-5, 5),
    st.integers(-9, 9),
    st.integers(1, 4),
    st.integers(1, 4),
    st.integers(0, 12),
)
def test_folded_floor_divisions_agree_with_python(
    a: int, b: int, c: int, p: int, q: int, x: int
) -> None:
    """`(a*x + c)/p/q + b` evaluates like Python's floor division."""
    expression = IndexArith(
        "+",
        IndexArith(
            "/",
            IndexArith(
                "/",
                IndexArith("+", IndexArith("*", IndexConst(a), IndexVar("x")), IndexConst(c)),
                IndexConst(p),
            ),
            IndexConst(q),
        ),
        IndexConst(b),
    )
    form = fold_index(expression)
    position = affine_position(form.terms, form.constant, form.divisor)
    expected = (a * x + c) // p // q + b
    if isinstance(position, int):
        assert position == expected
    elif isinstance(position, str):
        assert x == expected
    else:
        assert position.evaluate({"x": x}) == expected


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (
            IndexArith("*", IndexConst(2), IndexArith("/", IndexVar("x"), IndexConst(2))),
            "multiplying a floor division is not affine",
        ),
        (
            IndexArith(
                "+",
                IndexArith("/", IndexVar("x"), IndexConst(2)),
                IndexArith("/", IndexVar("y"), IndexConst(3)),
            ),
            "sum of two floor divisions is not affine",
        ),
        (
            IndexArith("-", IndexConst(0), IndexArith("/", IndexVar("x"), IndexConst(2))),
            "subtracting a floor division is not affine",
        ),
        (IndexArith("/", IndexVar("x"), IndexConst(-2)), "division by -2"),
    ],
)
def test_fold_index_refuses_what_is_not_affine(index: IndexArith, message: str) -> None:
    with pytest.raises(IndexArithmeticError, match=message):
        fold_index(index)


def test_named_constants_resolve_inside_arithmetic() -> None:
    program = load("T = 5\nS = 2\nY[t] = X[T-1-t]\nP[x/S] = F[x]")
    positions = [s.rhs.indices[0] for s in program.statements[2:3]]
    assert fold_index(positions[0]) == AffineForm((("t", -1),), 4)


def test_non_affine_index_is_a_located_error() -> None:
    with pytest.raises(FuseError) as caught:
        load("Z = 0\nA[x] = X[x/Z]", "t.fuse")
    assert "t.fuse:2:12: error: division by 0 in an index position" in str(caught.value)


# --- the declarative IR -------------------------------------------------------------


def test_positions_are_canonical() -> None:
    assert affine_position([("i", 1)]) == "i"
    assert affine_position([("i", 1), ("i", -1)], 3) == 3
    assert affine_position([("x", 2)], 0, 4) == AffineIndex((("x", 1),), 0, 2)
    index = affine_position([("x", 1), ("dx", 1)], -1)
    assert isinstance(index, AffineIndex)
    assert dict(index.coefficients) == {"x": 1, "dx": 1}
    assert index.variables() == ("x", "dx")
    assert not index.is_plain_variable
    assert index.bounds({"x": (0, 5), "dx": (0, 2)}) == (-1, 6)
    assert str(index) == "x + dx - 1"


def test_index_list_names_include_the_variables_of_arithmetic() -> None:
    attr = IndexListAttr(("n", AffineIndex((("l", 1),), 1), SliceIndex("d", 2)))
    assert attr.names() == ("n", "l", "d")
    assert not attr.is_plain


@pytest.mark.parametrize(
    ("position", "problem"),
    [
        (AffineIndex((("x", 2),), 0, 4), "not in canonical form (write it as 'x floordiv 2')"),
        (AffineIndex((("x", 1),)), "not in canonical form (write it as 'x')"),
        (SliceIndex("j", 4, 2), "empty slice"),
    ],
)
def test_hand_built_positions_are_refused(position: Any, problem: str) -> None:
    assert problem in (position_problem(position) or "")
    with pytest.raises(Exception, match="index position"):
        IndexListAttr((position,))


# --- ranges -----------------------------------------------------------------------


def test_variable_ranges_of_a_valid_convolution() -> None:
    image = AffineIndex((("x", 1), ("dx", 1)))
    ranges = variable_ranges([((image,), (8,)), (("dx",), (3,))])
    assert ranges == {"x": Range(0, 6), "dx": Range(0, 3)}


def test_variable_ranges_of_a_shift_start_past_zero() -> None:
    ranges = variable_ranges([((AffineIndex((("i", 1),), -1), "k"), (4, 5))])
    assert ranges == {"i": Range(1, 4), "k": Range(0, 5)}


def test_an_empty_range_names_the_index() -> None:
    with pytest.raises(EmptyRange, match="index 'i' has no value"):
        variable_ranges([((SliceIndex("i", 5, 8),), (4,))])


def test_an_unbounded_index_is_a_located_error() -> None:
    with pytest.raises(Exception, match="1:1: error: the range of index 'x' is unknown"):
        Program("Y[x] = Image[x+dx]").compile(backend="numpy").run({"Image": np.ones(4)})


# --- every backend against loops ----------------------------------------------------


@FEW
@given(
    st.integers(2, 7),
    st.integers(1, 6),
    st.integers(1, 3),
    st.integers(0, 3),
    st.integers(0, 2**16),
)
def test_shifted_read_and_write(n_x: int, n_w: int, a: int, b: int, seed: int) -> None:
    """`Y[i+b] = X[i+a] W[i]`: i keeps X[i+a] and W[i] in bounds (a rule
    without index arithmetic keeps the strict check that sizes agree)."""
    if n_x <= a:
        n_x = a + 1
    rng = np.random.default_rng(seed)
    x, w = normal(rng, n_x), normal(rng, n_w)
    values = [i for i in range(-10, 20) if 0 <= i + a < n_x and 0 <= i < n_w]
    y = np.zeros(max(values) + b + 1)
    for i in values:
        y[i + b] = x[i + a] * w[i]
    assert_matches(f"Y[i+{b}] = X[i+{a}] W[i]\nexport Y", {"X": x, "W": w}, {"Y": y})


@FEW
@given(
    st.integers(4, 9),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 2**16),
)
def test_strided_convolution(n: int, k: int, stride: int, seed: int) -> None:
    """`Y[x] = X[S*x + dx] K[dx]`: a strided valid convolution."""
    rng = np.random.default_rng(seed)
    x, kernel = normal(rng, n), normal(rng, k)
    count = (n - k) // stride + 1
    y = np.zeros(count)
    for out in range(count):
        for dx in range(k):
            y[out] += x[stride * out + dx] * kernel[dx]
    text = f"Y[x] = X[{stride}*x + dx] K[dx]\nexport Y"
    assert_matches(text, {"X": x, "K": kernel}, {"Y": y})


@FEW
@given(
    st.integers(1, 9),
    st.integers(1, 4),
    st.sampled_from(["=", "max=", "avg="]),
    st.integers(0, 2**16),
)
def test_pooling_by_floor_division(n: int, stride: int, op: str, seed: int) -> None:
    """`P[x/S] op F[x]`: each block of S combines by the projection; the
    last, partial block combines what it has."""
    rng = np.random.default_rng(seed)
    f = normal(rng, n)
    combine = {"=": np.sum, "max=": np.max, "avg=": np.mean}[op]
    pooled = np.array([combine(f[q * stride : (q + 1) * stride]) for q in range(-(-n // stride))])
    assert_matches(f"S = {stride}\nP[x/S] {op} F[x]\nexport P", {"F": f}, {"P": pooled})


@FEW
@given(st.integers(1, 4), st.integers(3, 8), st.data())
def test_slices(rows: int, cols: int, data: st.DataObject) -> None:
    """`Y[i, j] = X[i, a:b]` and `Z[i, j] = X[i, a:]` read columns a.. of X."""
    a = data.draw(st.integers(0, cols - 1))
    b = data.draw(st.integers(a + 1, cols))
    x = normal(np.random.default_rng(a * 31 + b), rows, cols)
    expected = {"Y": x[:, a:b], "Z": x[:, a:]}
    assert_matches(
        f"Y[i, j] = X[i, {a}:{b}]\nZ[i, j] = X[i, {a}:]\nexport Y, Z", {"X": x}, expected
    )


@FEW
@given(st.integers(2, 5), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**16))
def test_mlp_by_layer(layers: int, width: int, inner: int, seed: int) -> None:
    """The paper's `X[i, j] = relu(W[i, j, k] X[i-1, k])` with a distinct
    input tensor: layer i reads layer i - 1, so layer 0 is never written."""
    rng = np.random.default_rng(seed)
    w, x = normal(rng, layers, width, inner), normal(rng, layers, inner)
    y = np.zeros((layers, width))
    for i in range(1, layers):
        for j in range(width):
            y[i, j] = max(0.0, sum(float(w[i, j, k]) * float(x[i - 1, k]) for k in range(inner)))
    text = "Y[i, j] = relu(W[i, j, k] X[i-1, k])\nexport Y"
    assert_matches(text, {"W": w, "X": x}, {"Y": y})


def test_left_hand_side_shift_leaves_the_first_step_zero() -> None:
    x = normal(np.random.default_rng(3), 3, 4)
    expected = np.zeros((3, 5))
    expected[:, 1:] = 2 * x
    assert_matches("Y[i, t+1] = 2 X[i, t]\nexport Y", {"X": x}, {"Y": expected})


def test_terms_sharing_an_index_range_as_documented() -> None:
    """docs/index_arithmetic.md: a left-hand-side variable ranges where every
    term is in bounds; a variable projected inside a term over that term."""
    a = np.arange(1, 6, dtype=np.float32)
    b = 10 * a
    text = "Y[i] = A[i] + B[i+1]\nZ[i] = A[i]\nZ[i] += B[i+1]\nS = A[j] + B[j+1]\nexport Y, Z, S"
    expected = {"Y": a[:4] + b[1:], "Z": a + np.append(b[1:], 0), "S": a.sum() + b.sum()}
    assert_matches(text, {"A": a, "B": b}, expected)


def test_hand_written_padding_gives_a_same_convolution() -> None:
    """docs/index_arithmetic.md: pad with its own equations, then convolve."""
    rng = np.random.default_rng(4)
    image, kernel = normal(rng, 6), normal(rng, 3)
    padded = np.concatenate([[0.0], image, [0.0]])
    same = np.array([sum(padded[x + d] * kernel[d] for d in range(3)) for x in range(6)])
    text = "Padded[x+1] = Image[x]\nPadded[x+2] += 0 Image[x]\nY[x] = Padded[x+dx] K[dx]\nexport Y"
    assert_matches(text, {"Image": image, "K": kernel}, {"Y": same})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Y[i+1] = X[i]\nY[2]?", 2.0),  # Y[2] = X[1]
        ("Y[i] = X[i+1]\nY[2]?", 4.0),  # Y[2] = X[3]
        ("Y[i] = X[i+1] W[i]\nZ[j] = Y[j]\nZ[1]?", 6.0),  # Z[1] = X[2] W[1]
    ],
)
def test_queries_on_index_arithmetic_are_answered_forward(text: str, expected: float) -> None:
    """`fuse-demand` does not specialize a rule with index arithmetic: it
    reads the tensor computed in full, then slices the answer."""
    x = np.arange(1, 5, dtype=np.float32)
    inputs = {"X": x, "W": x} if "W" in text else {"X": x}
    for backend in BACKENDS:
        (answer,) = Program(text).compile(backend=backend).run(inputs).values()
        assert float(_numpy(answer)) == expected, backend


def test_torch_autograd_flows_through_windows_and_places() -> None:
    """The FX graph's `torch.take` and `scatter_reduce` differentiate like
    the same convolution and max pool written directly in torch."""
    import torch

    rng = np.random.default_rng(5)
    image, kernel = normal(rng, 8), normal(rng, 3)
    text = "Features[x] = relu(Image[x+dx] K[dx])\nPooled[x/2] max= Features[x]\nexport Pooled"
    runner = Program(text).compile(backend="torch")
    runner.run({"Image": image, "K": kernel})
    leaves = [torch.tensor(a, requires_grad=True) for a in (image, kernel)]
    (pooled,) = runner.fx_module(*leaves)[:1]
    pooled.square().sum().backward()
    direct = [torch.tensor(a, requires_grad=True) for a in (image, kernel)]
    features = torch.relu(torch.stack([(direct[0][x : x + 3] * direct[1]).sum() for x in range(6)]))
    features.reshape(3, 2).amax(dim=1).square().sum().backward()
    for fused, reference in zip(leaves, direct, strict=True):
        assert fused.grad is not None and reference.grad is not None
        torch.testing.assert_close(fused.grad, reference.grad)


@pytest.mark.parametrize(
    "forms",
    [
        (((0, 1), 0, 1), ((1, 0), 1, 1)),  # (d0, d1) -> (d1, d0 + 1): permute and shift
        (((1, 0), 2, 1), ((0, 1), 0, 1)),  # (d0, d1) -> (d0 + 2, d1): shift only
        (((1, 1), 0, 1),),  # (d0, d1) -> (d0 + d1): sums collisions
        (((1, 0), 0, 2), ((0, 1), 0, 1)),  # (d0 floordiv 2, d1): pools
    ],
)
@pytest.mark.parametrize("kind", ["sum", "max", "mean"])
def test_place_kernels_agree_with_a_loop(forms: Any, kind: str) -> None:
    """The numpy and torch place kernels (slice assignment, permute + pad,
    table gather, scatter_reduce) against a loop over the operand."""
    import torch

    from fuse.lowering.numpy import kernels as numpy_kernels
    from fuse.lowering.torch import kernels as torch_kernels

    operand_shape = (3, 4)
    value = normal(np.random.default_rng(6), *operand_shape)
    points = list(np.ndindex(*operand_shape))

    def position(form: Any, point: tuple[int, ...]) -> int:
        coefficients, constant, divisor = form
        return (sum(c * x for c, x in zip(coefficients, point, strict=True)) + constant) // divisor

    targets = [tuple(position(form, point) for form in forms) for point in points]
    shape = tuple(max(t[k] for t in targets) + 1 for k in range(len(forms)))
    landed: dict[tuple[int, ...], list[float]] = {}
    for point, target in zip(points, targets, strict=True):
        landed.setdefault(target, []).append(float(value[point]))
    combine = {"sum": sum, "max": max, "mean": lambda xs: sum(xs) / len(xs)}[kind]
    expected = np.zeros(shape)
    for target, values in landed.items():
        expected[target] = combine(values)
    fused = numpy_kernels.place(forms, kind, operand_shape, shape)(value)
    np.testing.assert_allclose(fused, expected, rtol=1e-6, atol=1e-6)
    flat = torch.tensor([int(np.ravel_multi_index(t, shape)) for t in targets])
    scattered = torch_kernels.place(flat, kind, int(np.prod(shape)), shape)
    np.testing.assert_allclose(scattered(torch.from_numpy(value)), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "text",
    ["Y[i] = A[i]\nY[i] += B[i+1]\nexport Y", "Y[i] = B[i+1]\nY[i] += A[i]\nexport Y"],
)
def test_rules_with_index_arithmetic_range_on_their_own(text: str) -> None:
    """`Y[i] = A[i]` and `Y[i] += B[i+1]` are not merged into one rule:
    the second only reaches the i its own read allows, and Y keeps A's
    length, in either order."""
    a = np.arange(6, dtype=np.float32)
    b = 10 * np.arange(4, dtype=np.float32)
    expected = a.astype(np.float64)
    expected[:3] += b[1:]
    assert_matches(text, {"A": a, "B": b}, {"Y": expected})
