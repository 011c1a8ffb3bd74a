"""The torch backend: every dataflow op against the NumPy backend (the
reference semantics) and hand-written torch, fixpoints (naive, semi-naive,
nested, divergence) eagerly and compiled, device and precision controls,
torch.export, the FX code, runtime inputs and autograd."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from string import Template

import numpy as np
import pytest
import torch
from ir_helpers import parse_module

from fuse import ExecutionConfig, Program
from fuse.errors import FuseError
from fuse.lowering.backend import FixpointDivergence
from fuse.lowering.numpy import NumpyBackend
from fuse.lowering.torch import TorchBackend, fx_code
from fuse.lowering.torch.executable import TorchExecutable

CPU = ExecutionConfig(device="cpu")
RNG = np.random.default_rng(0)


def compile_text(text: str, config: ExecutionConfig = CPU) -> TorchExecutable:
    return TorchBackend().compile(parse_module(text), config)


def tensor_type(shape: tuple[int, ...]) -> str:
    return f"tensor<{'x'.join(map(str, shape))}{'x' if shape else ''}f32>"


def rand(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def one_op(op: str, operand_shapes: list[tuple[int, ...]], result: tuple[int, ...]) -> str:
    """`@main` with one argument per operand shape and one op computing
    `%r`; `$args`, `$types` and `$result` in `op` expand to `%a0, %a1`,
    their types and the result type."""
    args = ", ".join(f"%a{n}" for n in range(len(operand_shapes)))
    types = ", ".join(tensor_type(s) for s in operand_shapes)
    params = ", ".join(f"%a{n}: {tensor_type(s)}" for n, s in enumerate(operand_shapes))
    body = Template(op).substitute(args=args, types=types, result=tensor_type(result))
    return (
        f"func.func @main({params}) -> {tensor_type(result)} {{\n"
        f"  %r = {body}\n"
        f"  func.return %r : {tensor_type(result)}\n}}"
    )


def einsum_program(subscripts: str, shapes: list[tuple[int, ...]], kind: str, extra: str = ""):
    inputs, output = subscripts.split("->")
    sizes = {
        c: n
        for letters, shape in zip(inputs.split(","), shapes, strict=True)
        for c, n in zip(letters, shape, strict=True)
    }
    op = f'fuse.einsum "{subscripts}" {kind} ($args){extra} : ($types) -> $result'
    return one_op(op, shapes, tuple(sizes[c] for c in output))


def same_as_numpy(text: str, *inputs: np.ndarray, rtol: float = 1e-5, exact: bool = False):
    """Runs `text` on both backends; the torch results must be fp32 tensors
    equal (or close) to NumPy's."""
    module = parse_module(text)
    expected = NumpyBackend().compile(module, CPU)(list(inputs))
    actual = TorchBackend().compile(module, CPU)(list(inputs))
    for a, e in zip(actual, expected, strict=True):
        assert isinstance(a, torch.Tensor) and a.dtype == torch.float32
        if exact:
            np.testing.assert_array_equal(a.numpy(), e)
        else:
            np.testing.assert_allclose(a.numpy(), e, rtol=rtol, atol=1e-6)


# --- einsum ------------------------------------------------------------------------

EINSUM_CASES = [
    ("ik,kj->ij", [(4, 5), (5, 3)]),
    ("ik,jk->ij", [(4, 5), (3, 5)]),
    ("ki,kj->ij", [(5, 4), (5, 3)]),
    ("ik,kj->ji", [(4, 5), (5, 3)]),
    ("bik,bkj->bij", [(2, 4, 5), (2, 5, 3)]),
    ("ibk,jkb->bji", [(4, 2, 5), (3, 5, 2)]),
    ("iab,bja->ij", [(4, 2, 3), (3, 5, 2)]),
    ("ikl,kj->ij", [(4, 5, 6), (5, 3)]),
    ("i,i->", [(7,), (7,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ijk->k", [(3, 4, 5)]),
    ("ii->i", [(4, 4)]),
    ("ii->", [(4, 4)]),
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]),
    ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)]),
    ("ab,bc,cd,da->", [(2, 3), (3, 4), (4, 5), (5, 2)]),
]


@pytest.mark.parametrize("kind", ["sum", "mean", "max"])
@pytest.mark.parametrize(("subscripts", "shapes"), EINSUM_CASES)
def test_einsum_matches_numpy(subscripts: str, shapes: list[tuple[int, ...]], kind: str) -> None:
    same_as_numpy(einsum_program(subscripts, shapes, kind), *(rand(*s) for s in shapes))


def test_binary_einsum_is_one_matmul_in_the_graph() -> None:
    exe = compile_text(einsum_program("ik,kj->ij", [(4, 5), (5, 3)], "sum"))
    assert "torch.matmul(a0, a1)" in exe.fx_module.code


def test_einsum_follows_path_property() -> None:
    shapes = [(3, 4), (4, 5), (5, 2)]
    a, b, c = (rand(*s) for s in shapes)
    text = einsum_program("ij,jk,kl->il", shapes, "sum", " {path = [[1, 2], [0, 1]]}")
    [actual] = compile_text(text)([a, b, c])
    np.testing.assert_allclose(actual.numpy(), a @ (b @ c), rtol=1e-5, atol=1e-6)


# --- elementwise, normalization, structure ------------------------------------------


@pytest.mark.parametrize("fn", ["add", "sub", "mul", "div", "pow", "max", "min"])
def test_binary(fn: str) -> None:
    op = f'fuse.binary {fn} "ji,j->ij" ($args) : ($types) -> $result'
    same_as_numpy(one_op(op, [(4, 3), (4,)], (3, 4)), np.abs(rand(4, 3)) + 0.5, rand(4))


def test_select_aligns_and_tests_positive() -> None:
    cond = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]], dtype=np.float32)
    op = 'fuse.select "ij,ji,j->ij" ($args) : ($types) -> $result'
    same_as_numpy(one_op(op, [(2, 3), (3, 2), (3,)], (2, 3)), cond, rand(3, 2), rand(3))


@pytest.mark.parametrize(
    "fn", ["relu", "gelu", "step", "exp", "log", "sqrt", "abs", "tanh", "sin", "cos", "neg", "sig"]
)
def test_unary(fn: str) -> None:
    x = np.abs(rand(3, 4)) + 0.1 if fn in ("log", "sqrt") else rand(3, 4)
    same_as_numpy(one_op(f"fuse.unary {fn} %a0 : $result", [(3, 4)], (3, 4)), x)


@pytest.mark.parametrize("temperature", [0.0, 0.5, 2.0])
def test_sig_temperature(temperature: float) -> None:
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0], np.float32)
    op = f"fuse.unary sig %a0 {{temperature = {temperature} : f32}} : $result"
    [actual] = compile_text(one_op(op, [(5,)], (5,)))([x])
    expected = (x > 0) if temperature == 0 else 1 / (1 + np.exp(-x / temperature))
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-6)


def test_gelu_is_the_exact_erf_form() -> None:
    x = np.linspace(-4, 4, 17, dtype=np.float32)
    [actual] = compile_text(one_op("fuse.unary gelu %a0 : $result", [(17,)], (17,)))([x])
    expected = torch.nn.functional.gelu(torch.from_numpy(x), approximate="none")
    torch.testing.assert_close(actual, expected)


@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_and_lnorm(axis: int) -> None:
    x = rand(3, 5)
    softmax = f"fuse.normalize softmax axis {axis} ($args) : ($types) -> $result"
    lnorm = (
        f"fuse.normalize lnorm axis {axis} ($args) {{eps = 1.0e-03 : f32}} : ($types) -> $result"
    )
    same_as_numpy(one_op(softmax, [(3, 5)], (3, 5)), x)
    same_as_numpy(one_op(lnorm, [(3, 5)], (3, 5)), x)


MASK = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], np.float32)


def test_masked_softmax_with_a_runtime_mask_zeroes_a_fully_masked_row() -> None:
    op = "fuse.normalize softmax axis 1 ($args) : ($types) -> $result"
    same_as_numpy(one_op(op, [(3, 4), (3, 4)], (3, 4)), rand(3, 4), MASK)


def test_masked_softmax_with_a_constant_mask_precomputes_it() -> None:
    values = ", ".join(f"[{', '.join(map(str, row))}]" for row in MASK.tolist())
    text = f"""
    func.func @main(%x: tensor<3x4xf32>) -> tensor<3x4xf32> {{
      %m = fuse.constant dense<[{values}]> : tensor<3x4xf32>
      %r = fuse.normalize softmax axis 1 (%x, %m) : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
      func.return %r : tensor<3x4xf32>
    }}"""
    same_as_numpy(text, rand(3, 4))
    code = compile_text(text).fx_module.code
    assert "torch.softmax" in code and " > 0" not in code  # the mask was read at compile time


def test_index_functions_take_concat() -> None:
    text = """
    func.func @main(%x: tensor<4x3xf32>) -> (tensor<4x4xf32>, tensor<5xf32>, tensor<3xf32>, tensor<4x6xf32>, tensor<3xf32>, tensor<3xf32>) {
      %c = fuse.index_fn causal : tensor<4x4xf32>
      %o = fuse.index_fn onehot {position = 2 : i64} : tensor<5xf32>
      %e = fuse.index_fn even : tensor<3xf32>
      %d = fuse.index_fn odd : tensor<3xf32>
      %t = fuse.take %x dim 0 index 3 : tensor<4x3xf32> -> tensor<3xf32>
      %k = fuse.concat axis 1 (%x, %x) : (tensor<4x3xf32>, tensor<4x3xf32>) -> tensor<4x6xf32>
      func.return %c, %o, %t, %k, %e, %d : tensor<4x4xf32>, tensor<5xf32>, tensor<3xf32>, tensor<4x6xf32>, tensor<3xf32>, tensor<3xf32>
    }"""
    same_as_numpy(text, rand(4, 3), exact=True)


def test_topk_keeps_the_lower_position_among_ties() -> None:
    x = np.array([[1, 3, 3, 0, 3], [2, 2, 2, 2, 2], [-1, 5, -1, 4, 5]], np.float32)
    [actual] = compile_text(one_op("fuse.topk k 2 axis 1 %a0 : $result", [(3, 5)], (3, 5)))([x])
    expected = [[0, 3, 3, 0, 0], [2, 2, 0, 0, 0], [0, 5, 0, 0, 5]]
    np.testing.assert_array_equal(actual.numpy(), expected)


def test_results_do_not_alias_the_module_buffers() -> None:
    text = """
    func.func @main() -> tensor<2xf32> {
      %c = fuse.constant dense<1.0> : tensor<2xf32>
      func.return %c : tensor<2xf32>
    }"""
    exe = compile_text(text)
    [first] = exe([])
    first += 1
    [second] = exe([])
    np.testing.assert_array_equal(second.numpy(), [1.0, 1.0])


# --- fixpoints ---------------------------------------------------------------------

EDGES = np.zeros((6, 6), dtype=np.float32)
for src, dst in [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5)]:
    EDGES[src, dst] = 1.0

NAIVE_CLOSURE = """
func.func @main(%E: tensor<6x6xf32> {fuse.name = "Edge"}) -> (tensor<6x6xf32> {fuse.name = "Path"}) {
  %p = fuse.fixpoint naive {tensors = ["Path"]} : tensor<6x6xf32> {
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

DIFFERENCE_COUNTS = """
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

NESTED = """
func.func @main(%E: tensor<6x6xf32>) -> tensor<6x6xf32> {
  %outer = fuse.fixpoint naive {tensors = ["Outer"]} : tensor<6x6xf32> {
  ^bb0(%o: tensor<6x6xf32>):
    %inner = fuse.fixpoint naive {tensors = ["Inner"]INNER} : tensor<6x6xf32> {
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


def warshall(edges: np.ndarray) -> np.ndarray:
    reach = edges.astype(bool)
    for k in range(len(reach)):
        reach |= reach[:, k : k + 1] & reach[k : k + 1, :]
    return reach.astype(np.float32)


LOOPS = [
    pytest.param(CPU, id="host-loop"),
    pytest.param(ExecutionConfig(device="cpu", compile=True), id="while_loop"),
]


@pytest.mark.parametrize("config", LOOPS)
@pytest.mark.parametrize("text", [NAIVE_CLOSURE, SEMI_NAIVE_CLOSURE], ids=["naive", "semi_naive"])
def test_closure(text: str, config: ExecutionConfig) -> None:
    exe = compile_text(text, config)
    [path] = exe([EDGES])
    np.testing.assert_array_equal(path.numpy(), warshall(EDGES))
    assert exe.fixpoint_iterations == {"Path": 4}  # as on NumPy


@pytest.mark.parametrize("config", LOOPS)
def test_semi_naive_difference_deltas(config: ExecutionConfig) -> None:
    dag = np.triu(np.ones((5, 5), dtype=np.float32), k=1)
    [counts] = compile_text(DIFFERENCE_COUNTS, config)([dag])
    expected = sum(np.linalg.matrix_power(dag, n) for n in range(1, 5))
    np.testing.assert_array_equal(counts.numpy(), expected)


@pytest.mark.parametrize("config", LOOPS)
def test_tolerance_from_the_op_overrides_the_config(config: ExecutionConfig) -> None:
    loose = compile_text(HALVING.replace("ATTRS", ", tolerance = 0.25 : f32"), config)
    [x] = loose([])
    np.testing.assert_allclose(x.numpy(), [1.75, 1.75])
    assert loose.fixpoint_iterations == {"X": 3}


@pytest.mark.parametrize("config", LOOPS)
def test_divergence_is_raised_as_on_numpy(config: ExecutionConfig) -> None:
    bounded = ExecutionConfig(device="cpu", compile=config.compile, max_iters=5)
    with pytest.raises(FixpointDivergence, match="X") as error:
        compile_text(HALVING.replace("ATTRS", ""), bounded)([])
    assert (error.value.tensors, error.value.iterations) == (["X"], 5)
    assert error.value.last_change == pytest.approx(2.0**-4)
    with pytest.raises(FixpointDivergence) as error:
        compile_text(HALVING.replace("ATTRS", ", max_iters = 3 : i64"), config)([])
    assert error.value.iterations == 3


@pytest.mark.parametrize("config", LOOPS)
def test_nested_fixpoints(config: ExecutionConfig) -> None:
    exe = compile_text(NESTED.replace("INNER", ""), config)
    [result] = exe([EDGES])
    np.testing.assert_array_equal(result.numpy(), warshall(EDGES))
    assert exe.fixpoint_iterations == {"Outer": 2, "Inner": 8}  # as on NumPy
    with pytest.raises(FixpointDivergence) as error:
        compile_text(NESTED.replace("INNER", ", max_iters = 2 : i64"), config)([EDGES])
    assert (error.value.tensors, error.value.iterations) == (["Inner"], 2)


def test_a_nan_change_never_converges() -> None:
    text = """
    func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {
      %x = fuse.fixpoint naive {tensors = ["X"], max_iters = 4 : i64} : tensor<2xf32> {
      ^bb0(%cur: tensor<2xf32>):
        %n = fuse.binary div "i,i->i" (%cur, %a) : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
        fuse.yield %n : tensor<2xf32>
      }
      func.return %x : tensor<2xf32>
    }"""
    with pytest.raises(FixpointDivergence, match="nan"):
        compile_text(text)([np.zeros(2, np.float32)])


ANCESTOR = """
Ancestor(x, y) = Parent(x, y)
Ancestor(x, z) += Ancestor(x, y) Parent(y, z)
export Ancestor
"""


def test_program_divergence_through_the_runner() -> None:
    program = Program("X[i] = A[i] + X[i] Two\nexport X")
    runner = program.compile("torch", ExecutionConfig(device="cpu", max_iters=50))
    with pytest.raises(FixpointDivergence, match="did not converge in 50 iterations"):
        runner.run({"A": np.ones(3, np.float32), "Two": np.float32(2)})


# --- controls -------------------------------------------------------------------------


def test_device_auto_is_cuda_then_mps_then_cpu() -> None:
    exe = compile_text(NAIVE_CLOSURE, ExecutionConfig())
    if torch.cuda.is_available():
        assert exe.device.type == "cuda"
    elif torch.backends.mps.is_available():
        assert exe.device.type == "mps"
    else:
        assert exe.device == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_unavailable_cuda_is_a_value_error_naming_the_field(device: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"ExecutionConfig.device={device!r}")):
        compile_text(NAIVE_CLOSURE, ExecutionConfig(device=device))


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without MPS")
def test_unavailable_mps_is_a_value_error_naming_the_field() -> None:
    with pytest.raises(ValueError, match=re.escape("ExecutionConfig.device='mps'")):
        compile_text(NAIVE_CLOSURE, ExecutionConfig(device="mps"))


def test_fp16_is_refused_on_cpu() -> None:
    with pytest.raises(ValueError, match=re.escape("ExecutionConfig.precision='fp16'")):
        compile_text(NAIVE_CLOSURE, ExecutionConfig(device="cpu", precision="fp16"))


def test_auto_precision_is_fp32_on_cpu() -> None:
    exe = compile_text(NAIVE_CLOSURE, ExecutionConfig(device="cpu", precision="auto"))
    assert "torch.bfloat16" not in exe.fx_module.code


MLP = """
H[b, h] = relu(X[b, i] W1[i, h] + B1[h])
Out[b, c.] = softmax(H[b, h] W2[h, c] + B2[c])
export Out
"""


def mlp_inputs() -> dict[str, np.ndarray]:
    return {
        "X": rand(8, 16),
        "W1": rand(16, 32) / 4,
        "B1": rand(32),
        "W2": rand(32, 4) / 6,
        "B2": rand(4),
    }


def mlp_torch(x, w1, b1, w2, b2) -> torch.Tensor:
    return torch.softmax(torch.relu(x @ w1 + b1) @ w2 + b2, dim=1)


def test_bf16_computes_in_bf16_and_returns_fp32() -> None:
    data = mlp_inputs()
    runner = Program(MLP).compile("torch", ExecutionConfig(device="cpu", precision="bf16"))
    out = runner.run(data)["Out"]
    assert out.dtype == torch.float32
    assert "torch.bfloat16" in runner.last_plan.executable.fx_module.code
    expected = mlp_torch(*(torch.from_numpy(a) for a in data.values()))
    torch.testing.assert_close(out, expected, rtol=2e-2, atol=2e-2)


def test_bf16_fixpoint() -> None:
    program = Program(ANCESTOR)
    parent = np.triu(RNG.random((20, 20)) < 0.1, 1).astype(np.float32)
    out = program.compile("torch", ExecutionConfig(device="cpu", precision="bf16")).run(
        {"Parent": parent}
    )
    np.testing.assert_array_equal(out["Ancestor"].numpy(), warshall(parent))


def test_compile_runs_through_torch_compile_with_the_same_results() -> None:
    data = mlp_inputs()
    eager = Program(MLP).compile("torch", CPU).run(data)["Out"]
    runner = Program(MLP).compile("torch", ExecutionConfig(device="cpu", compile=True))
    compiled = runner.run(data)["Out"]
    # torch.compile of the module's bound forward, not of the module
    # (which would add nn.Module call dispatch to every run).
    run = runner.last_plan.executable._run
    assert run._torchdynamo_orig_callable == runner.fx_module.forward
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)


def test_torch_export_of_the_program_module() -> None:
    data = mlp_inputs()
    runner = Program(MLP).compile("torch", CPU)
    expected = runner.run(data)["Out"]
    module = runner.last_plan.executable.fx_module
    args = tuple(torch.from_numpy(data[name]) for name in runner.last_plan.arguments)
    exported = torch.export.export(module, args)
    [out] = exported.module()(*args)
    torch.testing.assert_close(out, expected)


def test_torch_export_of_a_recursive_program_uses_while_loop() -> None:
    parent = np.triu(RNG.random((12, 12)) < 0.2, 1).astype(np.float32)
    runner = Program(ANCESTOR).compile("torch", CPU)
    expected = runner.run({"Parent": parent})["Ancestor"]
    exported = torch.export.export(
        runner.last_plan.executable.fx_module, (torch.from_numpy(parent),)
    )
    assert "while_loop" in exported.graph_module.code
    ancestor, status = exported.module()(torch.from_numpy(parent))
    torch.testing.assert_close(ancestor, expected)
    assert status[0, 0] == 0  # [hit bound, iterations, last change] of the fixpoint


def test_fx_code_shows_the_graph_and_each_fixpoint_region() -> None:
    runner = Program(ANCESTOR).compile("torch", CPU)
    module, _, _ = runner.specialized_module({"Parent": (5, 5)})
    code = fx_code(module, CPU)
    assert code.startswith("def forward(self, Parent):")
    assert "self.fixpoint0(" in code
    assert "# fixpoint0.body" in code and "torch.matmul" in code


def test_cli_emits_fx(capsys: pytest.CaptureFixture[str]) -> None:
    from fuse.cli import main

    program = Path(__file__).resolve().parents[1] / "examples" / "mlp" / "mlp.fuse"
    assert main(["compile", str(program), "--emit", "fx"]) == 0
    assert "torch.softmax" in capsys.readouterr().out


def test_importing_the_backend_does_not_import_torch() -> None:
    code = "import sys, fuse, fuse.lowering.torch; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- inputs, outputs and autograd ------------------------------------------------------


def test_inputs_may_be_arrays_or_tensors_and_results_are_tensors() -> None:
    exe = compile_text(NAIVE_CLOSURE)
    [from_array] = exe([EDGES])
    [from_tensor] = exe([torch.from_numpy(EDGES).double()])
    assert isinstance(from_array, torch.Tensor) and from_array.dtype == torch.float32
    torch.testing.assert_close(from_array, from_tensor)
    with pytest.raises(FuseError, match="input Edge has shape"):
        exe([np.zeros((5, 5))])
    with pytest.raises(FuseError, match="takes 1 inputs"):
        exe([])


def test_prepare_input_keeps_autograd_and_device() -> None:
    backend = TorchBackend()
    weight = torch.ones(3, requires_grad=True)
    prepared = backend.prepare_input(weight)
    assert prepared is weight
    doubled = backend.prepare_input(weight.double())
    assert doubled.dtype == torch.float32 and doubled.requires_grad
    from_numpy = backend.prepare_input(np.arange(3))
    assert from_numpy.dtype == torch.float32 and from_numpy.shape == (3,)
    readonly = np.ones(2, np.float32)
    readonly.setflags(write=False)
    assert backend.prepare_input(readonly).tolist() == [1.0, 1.0]


def run_with_tensors(
    program: Program, inputs: dict[str, torch.Tensor], config: ExecutionConfig = CPU
) -> dict[str, torch.Tensor]:
    """What `Runner.run` does once it binds inputs with the backend's
    `prepare_input` (so tensors keep their autograd graph)."""
    runner = program.compile("torch", config)
    bound = {name: runner.backend.prepare_input(value) for name, value in inputs.items()}
    plan = runner.plan_for(bound)
    results = plan.executable([bound[name] for name in plan.arguments])
    return {spec.name: value for spec, value in zip(plan.outputs, results, strict=True)}


def test_gradients_of_an_mlp_match_torch_autograd() -> None:
    data = {name: torch.from_numpy(a) for name, a in mlp_inputs().items()}
    weights = ("W1", "B1", "W2", "B2")
    for name in weights:
        data[name].requires_grad_(True)
    target = torch.arange(8) % 4
    out = run_with_tensors(Program(MLP), data)["Out"]
    torch.nn.functional.nll_loss(torch.log(out), target).backward()
    fuse_grads = [data[name].grad.clone() for name in weights]

    reference = {name: t.detach().clone().requires_grad_(True) for name, t in data.items()}
    expected = mlp_torch(*(reference[n] for n in ("X", *weights)))
    torch.nn.functional.nll_loss(torch.log(expected), target).backward()
    for name, grad in zip(weights, fuse_grads, strict=True):
        torch.testing.assert_close(grad, reference[name].grad, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("config", LOOPS)
def test_gradients_flow_through_a_fixpoint(config: ExecutionConfig) -> None:
    # X = B + M X  ->  X = (I - M)^-1 B, so d(sum X)/dB = (I - M)^-T 1.
    m = torch.from_numpy(RNG.uniform(0, 0.05, (4, 4)).astype(np.float32))
    b = torch.ones(4, requires_grad=True)
    program = Program("X[i] = B[i] + M[i, j] X[j]\nexport X")
    x = run_with_tensors(program, {"M": m, "B": b}, config)["X"]
    x.sum().backward()
    expected = torch.linalg.solve((torch.eye(4) - m).T, torch.ones(4))
    torch.testing.assert_close(b.grad, expected, rtol=1e-4, atol=1e-5)


def test_explain_reports_fixpoint_iterations() -> None:
    runner = Program(ANCESTOR).compile("torch", CPU)
    runner.run({"Parent": EDGES})
    assert "Ancestor" in runner.explain()
