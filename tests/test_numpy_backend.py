"""The NumPy backend against independent NumPy computations: every dataflow
op and function, einsum planning cases (BLAS, broadcast, diagonal, paths),
fixpoints (naive, semi-naive, nested, divergence, limits), errors and the
profiling hooks."""

from __future__ import annotations

import dataclasses
import math
import re
from string import Template

import numpy as np
import pytest
from ir_helpers import parse_module
from xdsl.utils.exceptions import VerifyException

from fuse import Program
from fuse.config import ExecutionConfig
from fuse.errors import FuseError
from fuse.lowering.backend import FixpointDivergence
from fuse.lowering.numpy import NumpyBackend, NumpyExecutable

RNG = np.random.default_rng(0)


def compile_text(
    text: str, config: ExecutionConfig | None = None, *, profile: bool = False
) -> NumpyExecutable:
    config = dataclasses.replace(config or ExecutionConfig(), profile=profile)
    return NumpyBackend().compile(parse_module(text), config)


def run(text: str, *inputs: np.ndarray, config: ExecutionConfig | None = None) -> list[np.ndarray]:
    return compile_text(text, config)(list(inputs))


def tensor(shape: tuple[int, ...]) -> str:
    return f"tensor<{'x'.join(map(str, shape))}{'x' if shape else ''}f32>"


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def one_op(op: str, operand_shapes: list[tuple[int, ...]], result: tuple[int, ...]) -> str:
    """`@main` with one argument per operand shape and one op computing
    `%r`; `$args`, `$types` and `$result` in `op` expand to `%a0, %a1`,
    their types and the result type."""
    args = ", ".join(f"%a{n}" for n in range(len(operand_shapes)))
    types = ", ".join(tensor(s) for s in operand_shapes)
    params = ", ".join(f"%a{n}: {tensor(s)}" for n, s in enumerate(operand_shapes))
    body = Template(op).substitute(args=args, types=types, result=tensor(result))
    return (
        f"func.func @main({params}) -> {tensor(result)} {{\n"
        f"  %r = {body}\n"
        f"  func.return %r : {tensor(result)}\n}}"
    )


def letter_sizes(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[dict[str, int], str]:
    inputs, output = subscripts.split("->")
    pairs = zip(inputs.split(","), shapes, strict=True)
    return {c: n for letters, shape in pairs for c, n in zip(letters, shape, strict=True)}, output


def einsum_program(
    subscripts: str, shapes: list[tuple[int, ...]], kind: str, extra: str = ""
) -> str:
    sizes, output = letter_sizes(subscripts, shapes)
    result = tuple(sizes[c] for c in output)
    op = f'fuse.einsum "{subscripts}" {kind} ($args){extra} : ($types) -> $result'
    return one_op(op, shapes, result)


def check(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-5, atol: float = 1e-5) -> None:
    assert actual.dtype == np.float32
    assert actual.shape == np.shape(expected)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# --- einsum ------------------------------------------------------------------------

SUM_CASES = [
    ("ik,kj->ij", [(4, 5), (5, 3)]),  # matmul
    ("ik,jk->ij", [(4, 5), (3, 5)]),  # x @ w.T
    ("ki,kj->ij", [(5, 4), (5, 3)]),  # x.T @ w
    ("ik,kj->ji", [(4, 5), (5, 3)]),  # transposed output
    ("bik,bkj->bij", [(2, 4, 5), (2, 5, 3)]),  # batched
    ("ibk,jkb->bji", [(4, 2, 5), (3, 5, 2)]),  # batched, shuffled layouts
    ("iab,bja->ij", [(4, 2, 3), (3, 5, 2)]),  # two contracted letters
    ("ikl,kj->ij", [(4, 5, 6), (5, 3)]),  # l only in the left operand
    ("i,i->", [(7,), (7,)]),  # dot product
    ("i,j->ij", [(3,), (4,)]),  # outer product
    ("ij,ij->ij", [(3, 4), (3, 4)]),  # elementwise
    ("ij,j->i", [(3, 4), (4,)]),  # matrix-vector
    ("ij->ji", [(3, 4)]),  # transpose
    ("ijk->k", [(3, 4, 5)]),  # reduction
    ("ii->i", [(4, 4)]),  # diagonal
    ("ii->", [(4, 4)]),  # trace
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]),  # diagonal, then matmul
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),  # chain, path chosen at compile time
    ("ij,jk,ik->i", [(3, 4), (4, 5), (3, 5)]),
    ("ab,bc,cd,da->", [(2, 3), (3, 4), (4, 5), (5, 2)]),  # a cycle
]


@pytest.mark.parametrize(("subscripts", "shapes"), SUM_CASES)
def test_einsum_sum(subscripts: str, shapes: list[tuple[int, ...]]) -> None:
    operands = [rand(*s) for s in shapes]
    [actual] = run(einsum_program(subscripts, shapes, "sum"), *operands)
    check(actual, np.einsum(subscripts, *(x.astype(np.float64) for x in operands)))


@pytest.mark.parametrize(("subscripts", "shapes"), SUM_CASES)
def test_einsum_mean_divides_by_projected_positions(
    subscripts: str, shapes: list[tuple[int, ...]]
) -> None:
    operands = [rand(*s) for s in shapes]
    [actual] = run(einsum_program(subscripts, shapes, "mean"), *operands)
    sizes, output = letter_sizes(subscripts, shapes)
    count = math.prod(n for c, n in sizes.items() if c not in output)
    check(actual, np.einsum(subscripts, *(x.astype(np.float64) for x in operands)) / count)


def test_einsum_follows_path_property() -> None:
    shapes = [(3, 4), (4, 5), (5, 2)]
    operands = [rand(*s) for s in shapes]
    text = einsum_program("ij,jk,kl->il", shapes, "sum", " {path = [[1, 2], [0, 1]]}")
    [actual] = run(text, *operands)
    check(actual, operands[0] @ (operands[1] @ operands[2]))


def test_einsum_path_that_leaves_operands_is_rejected_by_the_verifier() -> None:
    shapes = [(3, 4), (4, 5), (5, 2)]
    with pytest.raises(VerifyException, match="leaves 2 operands"):
        compile_text(einsum_program("ij,jk,kl->il", shapes, "sum", " {path = [[0, 1]]}"))


def test_einsum_max_is_max_of_products() -> None:
    a, b = rand(4, 5), rand(5, 3)
    [actual] = run(einsum_program("ik,kj->ij", [(4, 5), (5, 3)], "max"), a, b)
    check(actual, (a[:, :, None] * b[None, :, :]).max(axis=1))


def test_einsum_max_three_operands_and_diagonal() -> None:
    a, b, c = rand(3, 3), rand(3, 4), rand(4)
    text = einsum_program("ii,ij,j->i", [(3, 3), (3, 4), (4,)], "max")
    [actual] = run(text, a, b, c)
    check(actual, (np.diag(a)[:, None] * b * c[None, :]).max(axis=1))


def test_einsum_max_one_operand_and_no_projection() -> None:
    x = rand(3, 4)
    [reduced] = run(einsum_program("ij->j", [(3, 4)], "max"), x)
    check(reduced, x.max(axis=0))
    [transposed] = run(einsum_program("ij->ji", [(3, 4)], "max"), x)
    check(transposed, x.T)


# --- elementwise ---------------------------------------------------------------------

BINARY_REFERENCE = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "pow": np.power,
    "max": np.maximum,
    "min": np.minimum,
}


@pytest.mark.parametrize("fn", sorted(BINARY_REFERENCE))
def test_binary_functions(fn: str) -> None:
    x, b = np.abs(rand(3, 4)) + 0.5, rand(4)
    op = f'fuse.binary {fn} "ij,j->ij" ($args) : ($types) -> $result'
    [actual] = run(one_op(op, [(3, 4), (4,)], (3, 4)), x, b)
    check(actual, BINARY_REFERENCE[fn](x.astype(np.float64), b[None, :]))


@pytest.mark.parametrize(
    ("subscripts", "shapes", "result", "reference"),
    [
        ("ji,j->ij", [(4, 3), (4,)], (3, 4), lambda x, y: x.T + y[None, :]),
        ("i,j->ij", [(3,), (4,)], (3, 4), lambda x, y: x[:, None] + y[None, :]),
        ("jk,ij->ijk", [(4, 5), (3, 4)], (3, 4, 5), lambda x, y: x[None] + y[:, :, None]),
        ("kj,ij->ijk", [(5, 4), (3, 4)], (3, 4, 5), lambda x, y: x.T[None] + y[:, :, None]),
        ("ij,ij->ij", [(3, 4), (3, 4)], (3, 4), np.add),
    ],
)
def test_binary_alignment(subscripts, shapes, result, reference) -> None:
    x, y = rand(*shapes[0]), rand(*shapes[1])
    op = f'fuse.binary add "{subscripts}" ($args) : ($types) -> $result'
    [actual] = run(one_op(op, shapes, result), x, y)
    check(actual, reference(x, y))


def test_select_aligns_and_tests_positive() -> None:
    cond = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]], dtype=np.float32)
    on_true, on_false = rand(3, 2), rand(3)
    op = 'fuse.select "ij,ji,j->ij" ($args) : ($types) -> $result'
    [actual] = run(one_op(op, [(2, 3), (3, 2), (3,)], (2, 3)), cond, on_true, on_false)
    check(actual, np.where(cond > 0, on_true.T, on_false[None, :]))


def _gelu(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


UNARY_REFERENCE = {
    "relu": lambda x: np.maximum(x, 0),
    "gelu": _gelu,
    "sig": lambda x: 1 / (1 + np.exp(-x)),
    "step": lambda x: (x > 0).astype(np.float64),
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "neg": np.negative,
}


@pytest.mark.parametrize("fn", sorted(UNARY_REFERENCE))
def test_unary_functions(fn: str) -> None:
    x = rand(3, 4)
    x[0, 0] = 0.0
    if fn in ("log", "sqrt"):
        x = np.abs(x) + 0.1
    [actual] = run(one_op(f"fuse.unary {fn} %a0 : $result", [(3, 4)], (3, 4)), x)
    check(actual, UNARY_REFERENCE[fn](x.astype(np.float64)))


def test_sig_temperature_and_stability() -> None:
    x = np.array([-1000.0, -2.0, 0.0, 2.0, 1000.0], dtype=np.float32)
    half = one_op("fuse.unary sig %a0 {temperature = 5.0e-01 : f32} : $result", [(5,)], (5,))
    zero = one_op("fuse.unary sig %a0 {temperature = 0.0 : f32} : $result", [(5,)], (5,))
    [soft] = run(half, x)
    check(soft, 1 / (1 + np.exp(-np.clip(x.astype(np.float64), -50, 50) / 0.5)))
    [hard] = run(zero, x)
    check(hard, np.array([0, 0, 0, 1, 1], dtype=np.float32))


# --- normalization -----------------------------------------------------------------


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [0, 1])
def test_softmax(axis: int) -> None:
    x = rand(3, 4) * 30
    op = f"fuse.normalize softmax axis {axis} ($args) : ($types) -> $result"
    [actual] = run(one_op(op, [(3, 4)], (3, 4)), x)
    check(actual, _softmax(x.astype(np.float64), axis))


def test_masked_softmax_with_a_fully_masked_row() -> None:
    x = rand(3, 4) * 10
    mask = np.array([[1, 0, 1, 1], [0, 0, 0, 0], [0, 1, -1, 0]], dtype=np.float32)
    op = "fuse.normalize softmax axis 1 ($args) : ($types) -> $result"
    [actual] = run(one_op(op, [(3, 4), (3, 4)], (3, 4)), x, mask)
    expected = np.zeros((3, 4))
    for row in (0, 2):
        keep = mask[row] > 0
        expected[row, keep] = _softmax(x[row, keep].astype(np.float64), 0)
    check(actual, expected)


def test_lnorm_uses_population_variance_and_eps() -> None:
    x = rand(3, 5)
    default = "fuse.normalize lnorm axis 1 ($args) : ($types) -> $result"
    custom = "fuse.normalize lnorm axis 0 ($args) {eps = 1.0e-01 : f32} : ($types) -> $result"
    x64 = x.astype(np.float64)
    [a] = run(one_op(default, [(3, 5)], (3, 5)), x)
    check(a, (x64 - x64.mean(1, keepdims=True)) / np.sqrt(x64.var(1, keepdims=True) + 1e-5), 1e-4)
    [b] = run(one_op(custom, [(3, 5)], (3, 5)), x)
    check(b, (x64 - x64.mean(0, keepdims=True)) / np.sqrt(x64.var(0, keepdims=True) + 0.1), 1e-4)


# --- constants, index functions, structure ------------------------------------------


def test_constants_and_index_functions() -> None:
    text = """
    func.func @main() -> (tensor<2x2xf32>, tensor<3xf32>, tensor<5xf32>, tensor<5xf32>,
                          tensor<3x4xf32>, tensor<4xf32>) {
      %c = fuse.constant dense<[[1.5, -2.0], [3.25, 4.0]]> : tensor<2x2xf32>
      %s = fuse.constant dense<2.5> : tensor<3xf32>
      %e = fuse.index_fn even : tensor<5xf32>
      %o = fuse.index_fn odd : tensor<5xf32>
      %m = fuse.index_fn causal : tensor<3x4xf32>
      %h = fuse.index_fn onehot {position = 2 : i64} : tensor<4xf32>
      func.return %c, %s, %e, %o, %m, %h : tensor<2x2xf32>, tensor<3xf32>, tensor<5xf32>,
                                          tensor<5xf32>, tensor<3x4xf32>, tensor<4xf32>
    }"""
    c, s, even, odd, causal, onehot = run(text)
    check(c, [[1.5, -2.0], [3.25, 4.0]])
    check(s, [2.5, 2.5, 2.5])
    check(even, [1, 0, 1, 0, 1])
    check(odd, [0, 1, 0, 1, 0])
    check(causal, [[1 if col <= row else 0 for col in range(4)] for row in range(3)])
    check(onehot, [0, 0, 1, 0])


def test_take_and_concat() -> None:
    x, y = rand(4, 3), rand(4, 2)
    take = one_op("fuse.take %a0 dim 1 index 2 : $types -> $result", [(4, 3)], (4,))
    concat = one_op("fuse.concat axis 1 ($args) : ($types) -> $result", [(4, 3), (4, 2)], (4, 5))
    check(run(take, x)[0], x[:, 2])
    check(run(concat, x, y)[0], np.concatenate([x, y], axis=1))


def test_topk_keeps_the_lower_position_on_ties() -> None:
    x = np.array([[3, 1, 3, 2, 3], [0, -1, 5, 5, -2]], dtype=np.float32)
    op = "fuse.topk k 2 axis 1 %a0 : $result"
    [actual] = run(one_op(op, [(2, 5)], (2, 5)), x)
    check(actual, [[3, 0, 3, 0, 0], [0, 0, 5, 5, 0]])
    [columns] = run(one_op("fuse.topk k 1 axis 0 %a0 : $result", [(2, 5)], (2, 5)), x)
    check(columns, [[3, 1, 0, 0, 3], [0, 0, 5, 5, 0]])


def test_scalar_results_are_arrays() -> None:
    [actual] = run(einsum_program("i,i->", [(3,), (3,)], "sum"), np.ones(3), np.ones(3))
    assert isinstance(actual, np.ndarray)
    check(actual, np.float32(3.0))


# --- fixpoints ---------------------------------------------------------------------

EDGES = np.zeros((6, 6), dtype=np.float32)
for src, dst in [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5)]:
    EDGES[src, dst] = 1.0


def warshall(edges: np.ndarray) -> np.ndarray:
    reach = edges.astype(bool)
    for k in range(len(reach)):
        reach |= reach[:, k : k + 1] & reach[k : k + 1, :]
    return reach.astype(np.float32)


NAIVE_CLOSURE = """
func.func @main(%E: tensor<6x6xf32> {fuse.name = "Edge"}) -> (tensor<6x6xf32> {fuse.name = "Path"}) {
  %p = fuse.fixpoint naive {tensors = ["Path"]ATTRS} : tensor<6x6xf32> {
  ^bb0(%path: tensor<6x6xf32>):
    %j = fuse.einsum "xy,yz->xz" sum (%path, %E) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
    %u = fuse.binary add "xz,xz->xz" (%j, %E) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
    %s = fuse.unary step %u : tensor<6x6xf32>
    fuse.yield %s : tensor<6x6xf32>
  }
  func.return %p : tensor<6x6xf32>
}"""

SEMI_NAIVE_CLOSURE = """
func.func @main(%E: tensor<6x6xf32>) -> tensor<6x6xf32> {
  %p = fuse.fixpoint semi_naive {tensors = ["Path"], deltas = ["changed"]} : tensor<6x6xf32> init {
    %s = fuse.unary step %E : tensor<6x6xf32>
    fuse.yield %s : tensor<6x6xf32>
  } {
  ^bb0(%path: tensor<6x6xf32>, %dpath: tensor<6x6xf32>):
    %j = fuse.einsum "xy,yz->xz" sum (%dpath, %E) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
    %u = fuse.binary add "xz,xz->xz" (%j, %path) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
    %s = fuse.unary step %u : tensor<6x6xf32>
    fuse.yield %s : tensor<6x6xf32>
  }
  func.return %p : tensor<6x6xf32>
}"""


def test_naive_fixpoint_is_transitive_closure() -> None:
    exe = compile_text(NAIVE_CLOSURE.replace("ATTRS", ""))
    [path] = exe([EDGES])
    check(path, warshall(EDGES))
    # paths of length 1..3 appear one per iteration, then one step confirms
    assert exe.fixpoint_iterations == {"Path": 4}


def test_semi_naive_fixpoint_matches_naive() -> None:
    exe = compile_text(SEMI_NAIVE_CLOSURE)
    [path] = exe([EDGES])
    check(path, warshall(EDGES))
    assert exe.fixpoint_iterations == {"Path": 4}


def test_semi_naive_difference_deltas_for_linear_recursion() -> None:
    dag = np.triu(np.ones((5, 5), dtype=np.float32), k=1)  # path counts in a DAG
    text = """
    func.func @main(%E: tensor<5x5xf32>) -> tensor<5x5xf32> {
      %p = fuse.fixpoint semi_naive {tensors = ["Count"], deltas = ["difference"]} : tensor<5x5xf32> init {
        fuse.yield %E : tensor<5x5xf32>
      } {
      ^bb0(%c: tensor<5x5xf32>, %dc: tensor<5x5xf32>):
        %j = fuse.einsum "xy,yz->xz" sum (%dc, %E) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
        %u = fuse.binary add "xz,xz->xz" (%j, %c) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
        fuse.yield %u : tensor<5x5xf32>
      }
      func.return %p : tensor<5x5xf32>
    }"""
    [counts] = run(text, dag)
    check(counts, sum(np.linalg.matrix_power(dag, n) for n in range(1, 5)))


HALVING = """
func.func @main() -> tensor<2xf32> {
  %one = fuse.constant dense<1.0> : tensor<2xf32>
  %half = fuse.constant dense<0.5> : tensor<2xf32>
  %x = fuse.fixpoint naive {tensors = ["X"]ATTRS} : tensor<2xf32> {
  ^bb0(%cur: tensor<2xf32>):
    %h = fuse.binary mul "i,i->i" (%cur, %half) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    %n = fuse.binary add "i,i->i" (%h, %one) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
    fuse.yield %n : tensor<2xf32>
  }
  func.return %x : tensor<2xf32>
}"""


def halving(attrs: str = "") -> str:
    """x = x / 2 + 1 from 0: converges to 2, the change halving each step."""
    return HALVING.replace("ATTRS", attrs)


def test_tolerance_from_property_overrides_config() -> None:
    loose = compile_text(halving(", tolerance = 0.25 : f32"), ExecutionConfig(tolerance=1e-6))
    tight = compile_text(halving(), ExecutionConfig(tolerance=1e-6))
    [x_loose], [x_tight] = loose([]), tight([])
    assert loose.fixpoint_iterations == {"X": 3}  # changes 1, .5, .25 -> stop
    assert tight.fixpoint_iterations["X"] > 15
    check(x_loose, [1.75, 1.75])
    check(x_tight, [2.0, 2.0])


def test_divergence_names_tensors_and_limit_from_config() -> None:
    exe = compile_text(halving(), ExecutionConfig(max_iters=5))
    with pytest.raises(FixpointDivergence, match="X") as error:
        exe([])
    assert (error.value.tensors, error.value.iterations) == (["X"], 5)
    assert error.value.last_change == pytest.approx(2.0**-4)


def test_max_iters_from_property_overrides_config() -> None:
    exe = compile_text(halving(", max_iters = 3 : i64"), ExecutionConfig(max_iters=1000))
    with pytest.raises(FixpointDivergence) as error:
        exe([])
    assert error.value.iterations == 3


def test_nested_fixpoint_sees_outer_values() -> None:
    text = """
    func.func @main(%E: tensor<6x6xf32>) -> tensor<6x6xf32> {
      %outer = fuse.fixpoint naive {tensors = ["Outer"]} : tensor<6x6xf32> {
      ^bb0(%o: tensor<6x6xf32>):
        %inner = fuse.fixpoint naive {tensors = ["Inner"]} : tensor<6x6xf32> {
        ^bb1(%i: tensor<6x6xf32>):
          %j = fuse.einsum "xy,yz->xz" sum (%i, %E) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
          %u = fuse.binary add "xz,xz->xz" (%j, %E) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
          %s = fuse.unary step %u : tensor<6x6xf32>
          fuse.yield %s : tensor<6x6xf32>
        }
        %m = fuse.binary max "xy,xy->xy" (%o, %inner) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
        fuse.yield %m : tensor<6x6xf32>
      }
      func.return %outer : tensor<6x6xf32>
    }"""
    exe = compile_text(text)
    [result] = exe([EDGES])
    check(result, warshall(EDGES))
    assert exe.fixpoint_iterations == {"Outer": 2, "Inner": 8}  # inner runs once per outer step


# --- errors and hooks ------------------------------------------------------------------


def test_unknown_op_is_named() -> None:
    text = """
    func.func @f() -> tensor<2xf32> {
      %c = fuse.constant dense<1.0> : tensor<2xf32>
      func.return %c : tensor<2xf32>
    }
    func.func @main() -> tensor<2xf32> {
      %r = func.call @f() : () -> tensor<2xf32>
      func.return %r : tensor<2xf32>
    }"""
    with pytest.raises(FuseError, match=re.escape("does not support 'func.call'")):
        compile_text(text)


def test_dynamic_shapes_are_rejected() -> None:
    text = one_op("fuse.unary relu %a0 : tensor<?x3xf32>", [], (3,)).replace(
        "@main()", "@main(%a0: tensor<?x3xf32>)"
    )
    text = text.replace("-> tensor<3xf32>", "-> tensor<?x3xf32>").replace(
        "%r : tensor<3xf32>", "%r : tensor<?x3xf32>"
    )
    with pytest.raises(FuseError, match="needs static shapes"):
        compile_text(text)


def test_input_checks() -> None:
    exe = compile_text(NAIVE_CLOSURE.replace("ATTRS", ""))
    with pytest.raises(FuseError, match="input Edge has shape"):
        exe([np.zeros((5, 5))])
    with pytest.raises(FuseError, match="takes 1 inputs"):
        exe([])
    with pytest.raises(FuseError, match=re.escape("no func.func @main")):
        NumpyBackend().compile(
            parse_module("func.func @other() { func.return }"), ExecutionConfig()
        )


def test_profile_lists_every_op_in_order() -> None:
    exe = compile_text(NAIVE_CLOSURE.replace("ATTRS", ""), profile=True)
    assert compile_text(NAIVE_CLOSURE.replace("ATTRS", "")).last_profile is None
    exe([EDGES])
    labels = [label for label, _ in exe.last_profile]
    assert labels == [
        "fuse.fixpoint naive tensors=[Path] -> 6x6",
        "  fuse.einsum xy,yz->xz sum -> 6x6",
        "  fuse.binary add xz,xz->xz -> 6x6",
        "  fuse.unary step -> 6x6",
    ]
    seconds = [s for _, s in exe.last_profile]
    assert all(s > 0 for s in seconds) and seconds[0] >= sum(seconds[1:])


def test_results_do_not_alias_compile_time_constants() -> None:
    [c] = run("""
    func.func @main() -> tensor<2xf32> {
      %c = fuse.constant dense<1.0> : tensor<2xf32>
      func.return %c : tensor<2xf32>
    }""")
    with pytest.raises(ValueError, match="read-only"):
        c[0] = 5.0


@pytest.mark.filterwarnings("error")  # a NumPy RuntimeWarning fails the test
@pytest.mark.parametrize(
    "text",
    [
        "Y[i] = X[i] / 0",  # divide by zero, and 0 / 0 invalid
        "Y[i] = X[i] * 3e38 * 3e38",  # overflow
        "Y[i] = exp(X[i] * 1e5) - exp(X[i] * 1e5)",  # inf - inf
        "Y[i] = log(X[i] - 1) sqrt(X[i] - 1)",
        "Y[i.] = softmax(X[i] / 0)",
        "Y[i.] = lnorm(X[i] / 0, eps=0)",
        "R[i, j] = X[i] X[j]\nR[i, j] += R[i, k] R[k, j] * 1e30\nY[i] = R[i, i]",
    ],
)
def test_ieee_results_raise_no_warnings(text: str) -> None:
    """inf and nan propagate as on torch and jax (the intended semantics);
    NumPy's warnings about them would leak to the user's terminal."""
    program = Program(text + "\nexport Y\n", "p.fuse")
    try:
        program.compile("numpy").run({"X": np.array([0.0, 1.0, -2.0], dtype=np.float32)})
    except FuseError as error:  # the recursion diverges: a located error, not a warning
        assert "did not converge" in str(error)
