"""The jax backend against independent NumPy computations: every dataflow op,
einsum planning cases (batching, private letters, paths, diagonals, max),
fixpoints (naive, semi-naive, divergence), jaxlib's MLIR parser on the
printed module, `xla_callable` under `jax.jit`, the executable cache,
precision and device settings."""

from __future__ import annotations

import itertools
import math
import re
import subprocess
import sys
from string import Template

import jax
import numpy as np
import pytest
from ir_helpers import parse_module

from fuse.config import ExecutionConfig
from fuse.errors import FuseError
from fuse.lowering.backend import FixpointDivergence
from fuse.lowering.jax.backend import JaxBackend, JaxExecutable

RNG = np.random.default_rng(7)


def compile_text(text: str, config: ExecutionConfig | None = None) -> JaxExecutable:
    return JaxBackend().compile(parse_module(text), config or ExecutionConfig(device="cpu"))


def run(text: str, *inputs: np.ndarray, config: ExecutionConfig | None = None) -> list[np.ndarray]:
    return compile_text(text, config)(list(inputs))


def tensor(shape: tuple[int, ...]) -> str:
    return f"tensor<{'x'.join(map(str, shape))}{'x' if shape else ''}f32>"


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def one_op(op: str, operand_shapes: list[tuple[int, ...]], result: tuple[int, ...]) -> str:
    """`@main` with one argument per operand shape and one op computing `%r`;
    `$args`, `$types`, `$result` in `op` expand to the operands, their types
    and the result type."""
    args = ", ".join(f"%a{n}" for n in range(len(operand_shapes)))
    types = ", ".join(tensor(s) for s in operand_shapes)
    params = ", ".join(f"%a{n}: {tensor(s)}" for n, s in enumerate(operand_shapes))
    body = Template(op).substitute(args=args, types=types, result=tensor(result))
    return (
        f"func.func @main({params}) -> {tensor(result)} {{\n"
        f"  %r = {body}\n"
        f"  func.return %r : {tensor(result)}\n}}"
    )


def close(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


# --- einsum ---------------------------------------------------------------------------


def reference_einsum(subscripts: str, kind: str, *operands: np.ndarray) -> np.ndarray:
    """Product aligned by letter, projected by loops over every position."""
    inputs, output = subscripts.split("->")
    terms = inputs.split(",")
    sizes = {
        c: n for t, x in zip(terms, operands, strict=True) for c, n in zip(t, x.shape, strict=True)
    }
    letters = list(dict.fromkeys(inputs.replace(",", "")))
    groups: dict[tuple[int, ...], list[float]] = {}
    for position in itertools.product(*(range(sizes[c]) for c in letters)):
        at = dict(zip(letters, position, strict=True))
        value = math.prod(
            float(x[tuple(at[c] for c in t)]) for t, x in zip(terms, operands, strict=True)
        )
        groups.setdefault(tuple(at[c] for c in output), []).append(value)
    reduce = {"sum": sum, "max": max, "mean": lambda v: sum(v) / len(v)}[kind]
    result = np.zeros([sizes[c] for c in output], np.float64)
    for key, values in groups.items():
        result[key] = reduce(values)
    return result


EINSUM_CASES = [
    ("ik,kj->ij", [(4, 5), (5, 3)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,jk->i", [(3, 4), (4, 2)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ii->i", [(4, 4)]),
    ("ii->", [(4, 4)]),
    ("iji,j->ij", [(3, 2, 3), (2,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,jk,ki->", [(2, 3), (3, 4), (4, 2)]),
    ("ab,bc,ca,ad->d", [(2, 3), (3, 2), (2, 2), (2, 3)]),
]


@pytest.mark.parametrize("kind", ["sum", "max", "mean"])
@pytest.mark.parametrize(("subscripts", "shapes"), EINSUM_CASES)
def test_einsum(subscripts: str, shapes: list[tuple[int, ...]], kind: str) -> None:
    operands = [rand(*s) for s in shapes]
    expected = reference_einsum(subscripts, kind, *operands)
    text = one_op(
        f'fuse.einsum "{subscripts}" {kind} ($args) : ($types) -> $result', shapes, expected.shape
    )
    close(run(text, *operands)[0], expected)


@pytest.mark.parametrize("path", ["[[1, 2], [0, 1]]", "[[0, 2], [0, 1]]", "[[2], [0, 1, 2]]"])
def test_einsum_path_is_followed(path: str) -> None:
    shapes = [(2, 3), (3, 4), (4, 5)]
    operands = [rand(*s) for s in shapes]
    text = one_op(
        f'fuse.einsum "ij,jk,kl->il" sum ($args) {{path = {path}}} : ($types) -> $result',
        shapes,
        (2, 5),
    )
    close(run(text, *operands)[0], operands[0] @ operands[1] @ operands[2])


def test_einsum_lowers_to_dot_general_not_einsum() -> None:
    text = one_op(
        'fuse.einsum "ik,kj->ij" sum ($args) : ($types) -> $result', [(4, 5), (5, 3)], (4, 3)
    )
    hlo = compile_text(text).stablehlo_text
    assert '"stablehlo.dot_general"' in hlo
    assert "stablehlo.einsum" not in hlo


# --- elementwise ------------------------------------------------------------------------

BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "pow": np.power,
    "max": np.maximum,
    "min": np.minimum,
}


@pytest.mark.parametrize("fn", sorted(BINARY))
def test_binary_broadcasts_by_subscripts(fn: str) -> None:
    x, y = np.abs(rand(3, 4)) + 0.5, rand(4, 3)  # a positive base for pow
    text = one_op(
        f'fuse.binary {fn} "ij,ji->ij" ($args) : ($types) -> $result', [(3, 4), (4, 3)], (3, 4)
    )
    close(run(text, x, y)[0], BINARY[fn](x, y.T))


def test_binary_with_a_vector_and_a_scalar() -> None:
    x, b = rand(3, 4), rand(4)
    text = one_op(
        'fuse.binary add "j,ij->ij" ($args) : ($types) -> $result', [(4,), (3, 4)], (3, 4)
    )
    close(run(text, b, x)[0], b[None, :] + x)
    s = rand()
    text = one_op('fuse.binary mul ",ij->ij" ($args) : ($types) -> $result', [(), (3, 4)], (3, 4))
    close(run(text, s, x)[0], s * x)


def test_select_tests_condition_above_zero() -> None:
    condition = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]], np.float32)
    on_true, on_false = rand(2, 3), rand(3)
    text = one_op(
        'fuse.select "ij,ij,j->ij" ($args) : ($types) -> $result', [(2, 3), (2, 3), (3,)], (2, 3)
    )
    close(
        run(text, condition, on_true, on_false)[0],
        np.where(condition > 0, on_true, on_false[None, :]),
    )


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x.astype(np.float64))


UNARY = {
    "relu": lambda x: np.maximum(x, 0),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "sig": lambda x: 1 / (1 + np.exp(-x)),
    "step": lambda x: (x > 0).astype(np.float32),
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "neg": np.negative,
}


@pytest.mark.parametrize("fn", sorted(UNARY))
def test_unary(fn: str) -> None:
    x = rand(3, 5)
    x[0, 0] = 0.0
    if fn in ("log", "sqrt"):
        x = np.abs(x) + 0.1
    text = one_op(f"fuse.unary {fn} $args : $result", [(3, 5)], (3, 5))
    close(run(text, x)[0], UNARY[fn](x))


@pytest.mark.parametrize("temperature", [0.5, 2.0, 0.0])
def test_sig_temperature(temperature: float) -> None:
    x = rand(8)
    x[0] = 0.0
    text = one_op(
        f"fuse.unary sig $args {{temperature = {temperature} : f32}} : $result", [(8,)], (8,)
    )
    expected = (
        (x > 0).astype(np.float32) if temperature == 0 else 1 / (1 + np.exp(-x / temperature))
    )
    close(run(text, x)[0], expected)


# --- normalization ------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_is_stable(axis: int) -> None:
    x = rand(3, 4) * 50 + 100
    text = one_op(
        f"fuse.normalize softmax axis {axis} ($args) : ($types) -> $result", [(3, 4)], (3, 4)
    )
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    close(run(text, x)[0], shifted / shifted.sum(axis=axis, keepdims=True))


def test_masked_softmax_excludes_masked_positions_and_zeroes_full_rows() -> None:
    x = rand(3, 4)
    mask = np.array([[1, 1, 0, 1], [0, 0, 0, 0], [1, 0, -1, 0]], np.float32)
    text = one_op(
        "fuse.normalize softmax axis 1 ($args) : ($types) -> $result", [(3, 4), (3, 4)], (3, 4)
    )
    weights = np.where(mask > 0, np.exp(x - x.max(axis=1, keepdims=True)), 0)
    totals = weights.sum(axis=1, keepdims=True)
    expected = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
    close(run(text, x, mask)[0], expected)


@pytest.mark.parametrize(("eps", "attr"), [(1e-5, ""), (0.5, " {eps = 5.000000e-01 : f32}")])
def test_layer_norm_uses_population_variance(eps: float, attr: str) -> None:
    x = rand(3, 6)
    text = one_op(
        f"fuse.normalize lnorm axis 1 ($args){attr} : ($types) -> $result", [(3, 6)], (3, 6)
    )
    centered = x - x.mean(axis=1, keepdims=True)
    close(run(text, x)[0], centered / np.sqrt(x.var(axis=1, keepdims=True) + eps))


# --- constants, index functions, structure ----------------------------------------------


def test_constant() -> None:
    text = """func.func @main() -> tensor<2x2xf32> {
      %c = fuse.constant dense<[[1.0, -2.5], [3.0, 4.0]]> : tensor<2x2xf32>
      func.return %c : tensor<2x2xf32>
    }"""
    np.testing.assert_array_equal(run(text)[0], [[1.0, -2.5], [3.0, 4.0]])


@pytest.mark.parametrize(
    ("fn", "shape", "expected"),
    [
        ("even", (5,), np.array([1, 0, 1, 0, 1])),
        ("odd", (5,), np.array([0, 1, 0, 1, 0])),
        ("causal", (3, 3), np.tril(np.ones((3, 3)))),
        ("onehot {position = 2 : i64}", (4,), np.array([0, 0, 1, 0])),
    ],
)
def test_index_fn(fn: str, shape: tuple[int, ...], expected: np.ndarray) -> None:
    text = f"""func.func @main() -> {tensor(shape)} {{
      %r = fuse.index_fn {fn} : {tensor(shape)}
      func.return %r : {tensor(shape)}
    }}"""
    np.testing.assert_array_equal(run(text)[0], expected)


@pytest.mark.parametrize(("dim", "position"), [(0, 3), (1, 0), (2, 1)])
def test_take(dim: int, position: int) -> None:
    x = rand(4, 3, 2)
    result = np.take(x, position, axis=dim)
    text = one_op(
        f"fuse.take $args dim {dim} index {position} : $types -> $result", [(4, 3, 2)], result.shape
    )
    np.testing.assert_array_equal(run(text, x)[0], result)


def test_concat() -> None:
    x, y = rand(2, 3), rand(2, 4)
    text = one_op("fuse.concat axis 1 ($args) : ($types) -> $result", [(2, 3), (2, 4)], (2, 7))
    np.testing.assert_array_equal(run(text, x, y)[0], np.concatenate([x, y], axis=1))


def reference_topk(x: np.ndarray, k: int, axis: int) -> np.ndarray:
    moved = np.moveaxis(x, axis, -1)
    order = np.argsort(-moved, axis=-1, kind="stable")[..., :k]  # ties: lower position first
    keep = np.zeros(moved.shape, bool)
    np.put_along_axis(keep, order, True, axis=-1)
    return np.moveaxis(np.where(keep, moved, 0), -1, axis)


@pytest.mark.parametrize(("k", "axis"), [(2, 1), (1, 0), (3, 1), (9, 1)])
def test_topk_breaks_ties_by_lower_position(k: int, axis: int) -> None:
    x = np.array([[3, 1, 3, 2, 3, -1], [0, 5, 5, 5, -2, 5], [1, 1, 1, 1, 1, 1]], np.float32)
    text = one_op(f"fuse.topk k {k} axis {axis} $args : $result", [(3, 6)], (3, 6))
    np.testing.assert_array_equal(run(text, x)[0], reference_topk(x, k, axis))


def test_topk_random() -> None:
    x = np.round(rand(5, 7), 0)  # many ties
    text = one_op("fuse.topk k 3 axis 1 $args : $result", [(5, 7)], (5, 7))
    np.testing.assert_array_equal(run(text, x)[0], reference_topk(x, 3, 1))


# --- fixpoints -------------------------------------------------------------------------------

NAIVE_CLOSURE = """
func.func @main(%E: tensor<6x6xf32> {fuse.name = "Edge"}) -> (tensor<6x6xf32> {fuse.name = "Path"}) {
  %p = fuse.fixpoint naive {tensors = ["Path"]} : tensor<6x6xf32> {
  ^bb0(%path: tensor<6x6xf32>):
    %j = fuse.einsum "xy,yz->xz" sum (%E, %path) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
    %s = fuse.binary add "xz,xz->xz" (%E, %j) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
    %r = fuse.unary step %s : tensor<6x6xf32>
    fuse.yield %r : tensor<6x6xf32>
  }
  func.return %p : tensor<6x6xf32>
}
"""

SEMI_NAIVE_CLOSURE = """
func.func @main(%E: tensor<6x6xf32> {fuse.name = "Edge"}) -> (tensor<6x6xf32> {fuse.name = "Path"}) {
  %p = fuse.fixpoint semi_naive {tensors = ["Path"], deltas = ["changed"]} : tensor<6x6xf32> init {
    %s = fuse.unary step %E : tensor<6x6xf32>
    fuse.yield %s : tensor<6x6xf32>
  } {
  ^bb0(%path: tensor<6x6xf32>, %delta: tensor<6x6xf32>):
    %j = fuse.einsum "xy,yz->xz" sum (%delta, %E) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
    %s = fuse.binary add "xz,xz->xz" (%path, %j) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
    %r = fuse.unary step %s : tensor<6x6xf32>
    fuse.yield %r : tensor<6x6xf32>
  }
  func.return %p : tensor<6x6xf32>
}
"""


def warshall(edges: np.ndarray) -> np.ndarray:
    reach = edges > 0
    for k in range(len(reach)):
        reach = reach | (reach[:, [k]] & reach[[k], :])
    return reach.astype(np.float32)


@pytest.mark.parametrize("text", [NAIVE_CLOSURE, SEMI_NAIVE_CLOSURE], ids=["naive", "semi_naive"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_transitive_closure(text: str, seed: int) -> None:
    edges = (np.random.default_rng(seed).random((6, 6)) < 0.25).astype(np.float32)
    np.testing.assert_array_equal(run(text, edges)[0], warshall(edges))


def test_chain_closure_needs_many_iterations() -> None:
    edges = np.eye(6, k=1, dtype=np.float32)
    for text in (NAIVE_CLOSURE, SEMI_NAIVE_CLOSURE):
        np.testing.assert_array_equal(run(text, edges)[0], np.triu(np.ones((6, 6)), k=1))


def test_float_fixpoint_converges_within_tolerance() -> None:
    text = """func.func @main() -> tensor<2xf32> {
      %p = fuse.fixpoint naive {tensors = ["X"], tolerance = 1.0e-04 : f32} : tensor<2xf32> {
      ^bb0(%x: tensor<2xf32>):
        %h = fuse.constant dense<[0.5, 0.25]> : tensor<2xf32>
        %m = fuse.binary mul "i,i->i" (%x, %h) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
        %o = fuse.constant dense<1.0> : tensor<2xf32>
        %r = fuse.binary add "i,i->i" (%m, %o) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
        fuse.yield %r : tensor<2xf32>
      }
      func.return %p : tensor<2xf32>
    }"""
    np.testing.assert_allclose(run(text)[0], [2.0, 4 / 3], atol=2e-4)


def test_semi_naive_difference_deltas_for_linear_recursion() -> None:
    """X = A X + b by deltas: init = b, then next = X + A delta."""
    a = np.array([[0.5, 0.1], [0.2, 0.3]], np.float32)
    b = np.array([1.0, 2.0], np.float32)
    text = """func.func @main(%A: tensor<2x2xf32>, %b: tensor<2xf32>) -> tensor<2xf32> {
      %x = fuse.fixpoint semi_naive {tensors = ["X"], deltas = ["difference"]} : tensor<2xf32> init {
        fuse.yield %b : tensor<2xf32>
      } {
      ^bb0(%cur: tensor<2xf32>, %delta: tensor<2xf32>):
        %ad = fuse.einsum "ij,j->i" sum (%A, %delta) : (tensor<2x2xf32>, tensor<2xf32>) -> tensor<2xf32>
        %n = fuse.binary add "i,i->i" (%cur, %ad) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
        fuse.yield %n : tensor<2xf32>
      }
      func.return %x : tensor<2xf32>
    }"""
    expected = np.linalg.solve(np.eye(2) - a, b)
    np.testing.assert_allclose(run(text, a, b)[0], expected, rtol=1e-5)


COUNTER = """func.func @main() -> tensor<f32> {
  %p = fuse.fixpoint naive {tensors = ["N"]$limit} : tensor<f32> {
  ^bb0(%n: tensor<f32>):
    %one = fuse.constant dense<1.0> : tensor<f32>
    %r = fuse.binary add ",->" (%n, %one) : (tensor<f32>, tensor<f32>) -> tensor<f32>
    fuse.yield %r : tensor<f32>
  }
  func.return %p : tensor<f32>
}"""


def test_divergence_raises_with_op_bound() -> None:
    text = Template(COUNTER).substitute(limit=", max_iters = 7 : i64")
    with pytest.raises(FixpointDivergence) as info:
        run(text)
    assert info.value.tensors == ["N"]
    assert info.value.iterations == 7
    assert info.value.last_change == 1.0


def test_divergence_raises_with_config_bound() -> None:
    text = Template(COUNTER).substitute(limit="")
    with pytest.raises(FixpointDivergence, match="did not converge in 12 iterations"):
        run(text, config=ExecutionConfig(device="cpu", max_iters=12))


def test_compile_leaves_the_module_unchanged() -> None:
    module = parse_module(NAIVE_CLOSURE)
    before = str(module)
    JaxBackend().compile(module, ExecutionConfig(device="cpu"))
    assert str(module) == before


def test_status_results_carry_the_fixpoint_attribute() -> None:
    hlo = compile_text(NAIVE_CLOSURE).stablehlo_text
    assert '"stablehlo.while"' in hlo
    assert 'fuse.fixpoint_status = ["Path"]' in hlo


# --- integration with jaxlib and JAX ------------------------------------------------------


def test_jaxlib_mlir_parser_accepts_the_printed_module() -> None:
    from jax.extend.mlir import ir
    from jax.interpreters import mlir

    for text in (NAIVE_CLOSURE, SEMI_NAIVE_CLOSURE):
        printed = compile_text(text).stablehlo_text
        with mlir.make_ir_context():
            module = ir.Module.parse(printed)
            assert module.operation.verify()


def test_xla_callable_inside_jit() -> None:
    text = """func.func @main(%X: tensor<3x4xf32> {fuse.name = "X"}, %W: tensor<4x2xf32> {fuse.name = "W"})
        -> (tensor<3x2xf32> {fuse.name = "Y"}) {
      %0 = fuse.einsum "ij,jk->ik" sum (%X, %W) : (tensor<3x4xf32>, tensor<4x2xf32>) -> tensor<3x2xf32>
      %1 = fuse.unary tanh %0 : tensor<3x2xf32>
      func.return %1 : tensor<3x2xf32>
    }"""
    x, w = rand(3, 4), rand(4, 2)
    runner_callable = compile_text(text).xla_callable
    result = jax.jit(lambda x: runner_callable({"X": x, "W": w})["Y"] * 2)(x)
    close(np.asarray(result), np.tanh(x @ w) * 2)
    close(np.asarray(runner_callable({"X": x, "W": w})["Y"]), np.tanh(x @ w))
    with pytest.raises(ValueError, match="missing input 'W'"):
        runner_callable({"X": x})


def test_xla_callable_fixpoint_and_divergence() -> None:
    edges = (np.random.default_rng(3).random((6, 6)) < 0.3).astype(np.float32)
    closure = compile_text(SEMI_NAIVE_CLOSURE).xla_callable
    np.testing.assert_array_equal(
        np.asarray(jax.jit(closure)({"Edge": edges})["Path"]), warshall(edges)
    )
    counter = compile_text(Template(COUNTER).substitute(limit=", max_iters = 3 : i64")).xla_callable
    with pytest.raises(jax.errors.JaxRuntimeError, match="did not converge in 3 iterations"):
        jax.block_until_ready(counter({}))


def test_xla_callable_runs_eagerly_without_jit() -> None:
    x = rand(4)
    callable_ = compile_text(one_op("fuse.unary exp $args : $result", [(4,)], (4,))).xla_callable
    with jax.disable_jit():
        close(np.asarray(callable_({"arg0": x})["result0"]), np.exp(x))


def test_executable_cache_hits_on_the_second_call() -> None:
    text = one_op("fuse.unary exp $args : $result", [(5, 3)], (5, 3))
    executable = compile_text(text)
    x = rand(5, 3)
    executable([x])
    assert executable.compiled_variants == 1
    executable([x.astype(np.float64)])  # converted to the declared f32 on the host
    assert executable.compiled_variants == 1
    with pytest.raises(ValueError, match=r"input 'arg0' has shape \(3, 5\), expected \(5, 3\)"):
        executable([x.T])


# --- settings and errors ----------------------------------------------------------------------


MATMUL = one_op(
    'fuse.einsum "ik,kj->ij" sum ($args) : ($types) -> $result', [(8, 16), (16, 4)], (8, 4)
)


def test_bf16_computes_in_bf16_and_returns_f32() -> None:
    x, y = rand(8, 16), rand(16, 4)
    executable = compile_text(MATMUL, ExecutionConfig(device="cpu", precision="bf16"))
    assert "bf16" in executable.stablehlo_text
    (result,) = executable([x, y])
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, x @ y, rtol=5e-2, atol=5e-2)


def test_auto_precision_is_fp32_on_cpu() -> None:
    executable = compile_text(MATMUL, ExecutionConfig(device="cpu", precision="auto"))
    assert "bf16" not in executable.stablehlo_text


def test_cpu_dots_leave_precision_to_xla_and_match_jnp_dot_bit_for_bit() -> None:
    """On CPU an fp32 dot asks for no precision (HIGHEST would only make
    XLA's program differ from hand-written JAX's): the same bits as
    `jnp.dot` under `jax.jit`."""
    import jax
    import jax.numpy as jnp

    x, y = rand(8, 16), rand(16, 4)
    executable = compile_text(MATMUL, ExecutionConfig(device="cpu"))
    assert "HIGHEST" not in executable.stablehlo_text
    (result,) = executable([x, y])
    np.testing.assert_array_equal(result, np.asarray(jax.jit(jnp.dot)(x, y)))
    np.testing.assert_allclose(result, x @ y, rtol=1e-5, atol=1e-5)


def test_fp16_is_refused_on_cpu() -> None:
    with pytest.raises(ValueError, match=re.escape("ExecutionConfig.precision='fp16'")):
        compile_text(MATMUL, ExecutionConfig(device="cpu", precision="fp16"))


def test_mps_is_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("ExecutionConfig.device='mps'")):
        compile_text(MATMUL, ExecutionConfig(device="mps"))


def test_dynamic_dimensions_are_a_clear_error() -> None:
    text = one_op("fuse.unary exp $args : $result", [(3,)], (3,)).replace("3xf32", "?xf32")
    with pytest.raises(FuseError, match=r"static shapes.*tensor<\?xf32>"):
        compile_text(text)


def test_importing_fuse_does_not_import_jax() -> None:
    code = (
        "import sys, fuse, fuse.lowering.jax.backend, fuse.passes.convert_fuse_to_stablehlo\n"
        "assert 'jax' not in sys.modules, 'jax was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
