"""Recurrences as scans (`fuse.scan`, `fuse-recognize-recurrences`): the
paper's RNN, MLP by layer and GNN layers on every backend, each against a
NumPy loop written from the equations; hand-written scans (stored, virtual,
reversed); gradients through time on torch; and the scan replacing the
fixpoint in the compiled IR."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ir_helpers import parse_module

from fuse import ExecutionConfig, FuseError, Program
from fuse.dialects.fuse import FixpointOp, ScanOp
from fuse.runtime.runner import get_backend
from fuse.runtime.symbolic import SymbolicSizes

BACKENDS = ["numpy", "torch", "jax"]
RNG = np.random.default_rng(7)


def sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def rand(*shape: int, scale: float = 1.0) -> np.ndarray:
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def run(text: str, backend: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    out = Program(text, "scan.fuse").compile(backend).run(inputs=inputs)
    return {name: np.asarray(value) for name, value in out.items()}


def dataflow(text: str, **shapes: tuple[int, ...]):
    """The compiled dataflow module of a program for these input shapes."""
    runner = Program(text, "scan.fuse").compile("numpy")
    module, _, _ = runner.specialized_module(shapes)
    return module


# --- the paper's programs ----------------------------------------------------------

RNN = """
X[i, 0] = X0[i]
X[i, t+1] = sig(W[i, j] X[j, t] + U[i, t])
export X
"""


def rnn_reference(w: np.ndarray, u: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """X[:, t+1] = sig(W X[:, t] + U[:, t]), one step at a time."""
    states = [x0]
    for t in range(u.shape[1]):
        states.append(sig(w @ states[-1] + u[:, t]))
    return np.stack(states, axis=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rnn_with_stored_time(backend: str) -> None:
    w, u, x0 = rand(5, 5), rand(5, 9), rand(5)
    out = run(RNN, backend, W=w, U=u, X0=x0)["X"]
    np.testing.assert_allclose(out, rnn_reference(w, u, x0), rtol=1e-5, atol=1e-6)


MLP = """
X[0, j] = In[j]
X[i, j] = sig(W[i, j, k] X[i-1, k])
export X
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_mlp_by_layer(backend: str) -> None:
    w, x = rand(4, 6, 6), rand(6)
    layers = [x]
    for i in range(1, 4):  # layer i reads W[i] (W[0] has no layer before it)
        layers.append(sig(w[i] @ layers[-1]))
    out = run(MLP, backend, W=w, In=x)["X"]
    np.testing.assert_allclose(out, np.stack(layers), rtol=1e-5, atol=1e-6)


GNN = """
Emb[n, 0, d] = Feat[n, d]
Emb[n, l+1, d] = relu(Neig[n, m] Emb[m, l, e] WAgg[l, e, d] + WSelf[l, d] Emb[n, l, d])
Y[n] = sig(WOut[d] Emb[n, L, d])
export Y
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_gnn_layers_and_the_last_layer_read(backend: str) -> None:
    nodes, dim, layers = 7, 4, 3
    neighbours = (RNG.random((nodes, nodes)) < 0.4).astype(np.float32)
    feat, w_agg = rand(nodes, dim), rand(layers, dim, dim, scale=0.5)
    w_self, w_out = rand(layers, dim), rand(dim)
    emb = feat
    for layer in range(layers):
        emb = np.maximum(neighbours @ emb @ w_agg[layer] + w_self[layer] * emb, 0)
    text = f"L = {layers}\n" + GNN
    out = run(text, backend, Feat=feat, Neig=neighbours, WAgg=w_agg, WSelf=w_self, WOut=w_out)
    np.testing.assert_allclose(out["Y"], sig(emb @ w_out), rtol=1e-5, atol=1e-6)


WEIGHT_TIED_GNN = """
Emb[n, 0, d] = Feat[n, d]
Emb[n, l+1, d] = relu(W[d, e] Neig(n, m) Emb[m, l, e])
Y[n, d] = Emb[n, L, d]
export Y, Emb
"""


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=4, deadline=None)
@given(layers=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_weight_tied_layers_are_counted_by_the_layer_read(
    backend: str, layers: int, seed: int
) -> None:
    """Nothing indexed by `l` sizes it (one weight matrix for every layer):
    reading `Emb[n, L, d]` asks for L layers, and the recurrence is a scan of
    exactly L steps, not a fixpoint growing its axis."""
    rng = np.random.default_rng(seed)
    feat, w = rng.standard_normal((5, 3)), rng.standard_normal((3, 3)) * 0.5
    neighbours = (rng.random((5, 5)) < 0.5).astype(np.float64)
    text = f"L = {layers}\n" + WEIGHT_TIED_GNN
    out = run(text, backend, Feat=feat, Neig=neighbours, W=w)
    emb = [feat]
    for _ in range(layers):
        emb.append(np.maximum(neighbours @ emb[-1] @ w.T, 0))
    np.testing.assert_allclose(out["Emb"], np.stack(emb, axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["Y"], emb[-1], rtol=1e-4, atol=1e-5)
    ops = list(dataflow(text, Feat=(5, 3), Neig=(5, 5), W=(3, 3)).walk())
    assert sum(isinstance(op, ScanOp) for op in ops) == 1
    assert not any(isinstance(op, FixpointOp) for op in ops)


def test_recurrences_compile_to_scans_not_fixpoints() -> None:
    for text, shapes in [
        (RNN, {"W": (3, 3), "U": (3, 4), "X0": (3,)}),
        (MLP, {"W": (3, 2, 2), "In": (2,)}),
    ]:
        ops = list(dataflow(text, **shapes).walk())
        assert any(isinstance(op, ScanOp) for op in ops)
        assert not any(isinstance(op, FixpointOp) for op in ops)


def test_explain_says_which_equations_became_scans() -> None:
    runner = Program(RNN + "P(x, y) = E(x, y) + P(x, z) E(z, y)\nexport P", "scan.fuse")
    compiled = runner.compile("numpy")
    compiled.run(inputs={"W": rand(2, 2), "U": rand(2, 3), "X0": rand(2), "E": np.eye(2)})
    text = compiled.explain()
    assert "runs as a scan: 3 steps, stored along dimension 1" in text
    assert "runs as a fixpoint: P reads itself with no index shifted by one" in text


@settings(max_examples=15, deadline=None)
@given(
    backend=st.sampled_from(BACKENDS),
    hidden=st.integers(1, 6),
    steps=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_rnn_over_sizes(backend: str, hidden: int, steps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((hidden, hidden)).astype(np.float32)
    u = rng.standard_normal((hidden, steps)).astype(np.float32)
    x0 = rng.standard_normal(hidden).astype(np.float32)
    out = run(RNN, backend, W=w, U=u, X0=x0)["X"]
    np.testing.assert_allclose(out, rnn_reference(w, u, x0), rtol=1e-5, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(
    backend=st.sampled_from(BACKENDS),
    layers=st.integers(2, 5),
    width=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_mlp_by_layer_over_sizes(backend: str, layers: int, width: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((layers, width, width)).astype(np.float32)
    x = rng.standard_normal(width).astype(np.float32)
    expected = [x]
    for i in range(1, layers):
        expected.append(sig(w[i] @ expected[-1]))
    out = run(MLP, backend, W=w, In=x)["X"]
    np.testing.assert_allclose(out, np.stack(expected), rtol=1e-5, atol=1e-6)


# --- hand-written scans --------------------------------------------------------------

SCAN = """
func.func @main(%W: tensor<{n}x{n}xf32>, %U: tensor<{n}x{steps}xf32>, %x0: tensor<{n}xf32>)
    -> {result} {{
  %h = fuse.scan {flags} steps {steps} {axis} in_axes [1] tensors ["X"] (%x0 : tensor<{n}xf32>)
      over (%U : tensor<{n}x{steps}xf32>) -> {result} {{
  ^bb0(%x: tensor<{n}xf32>, %u: tensor<{n}xf32>):
    %0 = fuse.einsum "ab,b->a" sum (%W, %x) : (tensor<{n}x{n}xf32>, tensor<{n}xf32>)
        -> tensor<{n}xf32>
    %1 = fuse.binary add "a,a->a" (%0, %u) : (tensor<{n}xf32>, tensor<{n}xf32>) -> tensor<{n}xf32>
    %2 = fuse.unary tanh %1 : tensor<{n}xf32>
    fuse.yield %2 : tensor<{n}xf32>
  }}
  func.return %h : {result}
}}
"""


def scan_ir(virtual: bool, reverse: bool, n: int = 3, steps: int = 5) -> str:
    """`X = tanh(W X + U[:, k])` over the `steps` columns of `U`, as a
    hand-written `fuse.scan`."""
    flags = " ".join(f for f, on in (("virtual", virtual), ("reverse", reverse)) if on)
    result = f"tensor<{n}xf32>" if virtual else f"tensor<{n}x{steps + 1}xf32>"
    axis = "" if virtual else "axis 1"
    return SCAN.format(flags=flags, axis=axis, result=result, n=n, steps=steps)


def scan_reference(
    w: np.ndarray, u: np.ndarray, x0: np.ndarray, virtual: bool, reverse: bool
) -> np.ndarray:
    """`scan_ir`'s result, one step at a time: the last state, or every
    state in index order (the initial one first, or last when reversed)."""
    steps = u.shape[1]
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    states = {(steps if reverse else 0): x0}
    x = x0
    for k in order:
        x = np.tanh(w @ x + u[:, k])
        states[k if reverse else k + 1] = x
    return x if virtual else np.stack([states[p] for p in range(steps + 1)], axis=1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("virtual", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_hand_written_scan(backend: str, virtual: bool, reverse: bool) -> None:
    config = ExecutionConfig() if backend == "numpy" else ExecutionConfig(device="cpu")
    executable = get_backend(backend).compile(parse_module(scan_ir(virtual, reverse)), config)
    w, u, x0 = rand(3, 3), rand(3, 5), rand(3)
    out = np.asarray(executable([w, u, x0])[0])
    expected = scan_reference(w, u, x0, virtual, reverse)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("virtual", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_torch_scan_with_a_symbolic_step_count_exports(virtual: bool, reverse: bool) -> None:
    """Compiled at probe sizes for symbolic sizes, a torch scan runs as
    torch's `scan` op, which counts the steps from the scanned input: the
    exported graph runs any number of steps (a Python loop of `steps`
    iterations was unrolled by `torch.export` at one size)."""
    sizes = SymbolicSizes({"W": ("i", "i"), "U": ("i", "t"), "x0": ("i",)})
    probe = sizes.probe(0)
    text = scan_ir(virtual, reverse, n=probe["x0"][0], steps=probe["U"][1])
    executable = get_backend("torch").compile_symbolic(
        parse_module(text), ExecutionConfig(device="cpu"), sizes.read
    )
    i, t = torch.export.Dim("i"), torch.export.Dim("t")
    example = (torch.zeros(4, 4), torch.zeros(4, 6), torch.zeros(4))
    exported = torch.export.export(
        executable.fx_module, example, dynamic_shapes=({0: i, 1: i}, {0: i, 1: t}, {0: i})
    ).module()
    for n, steps in [(3, 5), (5, 8)]:
        w, u, x0 = rand(n, n), rand(n, steps), rand(n)
        out = exported(*map(torch.from_numpy, (w, u, x0)))[0].numpy()
        expected = scan_reference(w, u, x0, virtual, reverse)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_a_symbolic_step_count_needs_a_scanned_input() -> None:
    """torch's `scan` op counts the steps from what it scans: a scan over a
    symbolic number of steps that scans nothing cannot be exported for
    torch with symbolic sizes, and the error says so."""
    sizes = SymbolicSizes({"W": ("i", "i"), "x0": ("i",), "T": ("t",)})
    n, steps = sizes.probe(0)["x0"][0], sizes.probe(0)["T"][0]
    state = f"tensor<{n}xf32>"
    text = f"""
func.func @main(%W: tensor<{n}x{n}xf32>, %x0: {state}) -> {state} {{
  %h = fuse.scan virtual steps {steps} in_axes [] tensors ["X"] (%x0 : {state}) -> {state} {{
  ^bb0(%x: {state}):
    %0 = fuse.einsum "ab,b->a" sum (%W, %x) : (tensor<{n}x{n}xf32>, {state}) -> {state}
    fuse.yield %0 : {state}
  }}
  func.return %h : {state}
}}
"""
    with pytest.raises(FuseError, match="symbolic number of steps but scans no input"):
        get_backend("torch").compile_symbolic(
            parse_module(text), ExecutionConfig(device="cpu"), sizes.read
        )


@pytest.mark.parametrize("reverse", [False, True])
def test_jax_stacks_a_stored_scan_in_one_row_per_step(reverse: bool) -> None:
    """XLA's loop carries a buffer of 5 rows for 5 steps (with the scanned
    input's 5 slices), not 6 rows that start as the padded initial states:
    the initial states are joined on after the loop, as `jax.lax.scan` code
    does, so XLA compiles the same program as for that code (the values
    are checked by `test_hand_written_scan`)."""
    text = scan_ir(virtual=False, reverse=reverse)
    executable = get_backend("jax").compile(parse_module(text), ExecutionConfig(device="cpu"))
    (loop,) = [line for line in executable.compiled_hlo().splitlines() if " while(" in line]
    carried = loop.split(" while(")[0]
    assert carried.count("f32[5,3]") == 2 and "f32[6,3]" not in carried, carried


# --- gradients through time -----------------------------------------------------------


def test_torch_gradients_flow_through_the_scan() -> None:
    w, u, x0 = rand(4, 4), rand(4, 6), rand(4)
    runner = Program(RNN, "scan.fuse").compile("torch", ExecutionConfig(device="cpu"))
    w_fuse = torch.tensor(w, requires_grad=True)
    out = runner.run(inputs={"W": w_fuse, "U": torch.tensor(u), "X0": torch.tensor(x0)})["X"]
    out.square().sum().backward()
    w_loop = torch.tensor(w, requires_grad=True)
    states = [torch.tensor(x0)]
    for t in range(6):
        states.append(torch.sigmoid(w_loop @ states[-1] + torch.tensor(u[:, t])))
    torch.stack(states, 1).square().sum().backward()
    assert w_fuse.grad is not None and w_loop.grad is not None
    np.testing.assert_allclose(w_fuse.grad.numpy(), w_loop.grad.numpy(), rtol=1e-5, atol=1e-6)


# --- virtual indices ----------------------------------------------------------------

VIRTUAL_RNN = """
X[i, 0] = X0[i]
X[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])
export X
"""


def virtual_rnn_reference(w, v, u, x0) -> np.ndarray:
    x = x0
    for t in range(u.shape[1]):
        x = sig(w @ x + v @ u[:, t])
    return x


@pytest.mark.parametrize("backend", BACKENDS)
def test_virtual_rnn_is_its_last_step(backend: str) -> None:
    w, v, u, x0 = rand(5, 5), rand(5, 5), rand(5, 8), rand(5)
    out = run(VIRTUAL_RNN, backend, W=w, V=v, U=u, X0=x0)["X"]
    np.testing.assert_allclose(out, virtual_rnn_reference(w, v, u, x0), rtol=1e-5, atol=1e-6)


def test_virtual_rnn_compiles_to_a_virtual_scan() -> None:
    module = dataflow(VIRTUAL_RNN, W=(4, 4), V=(4, 4), U=(4, 9), X0=(4,))
    scans = [op for op in module.walk() if isinstance(op, ScanOp)]
    assert len(scans) == 1 and scans[0].is_virtual and scans[0].step_count == 9
    assert scans[0].results[0].type.get_shape() == (4,)


def test_virtual_rnn_memory_does_not_grow_with_steps() -> None:
    import tracemalloc

    def peak(steps: int) -> int:
        w, v, u, x0 = rand(64, 64), rand(64, 64), rand(64, steps), rand(64)
        runner = Program(VIRTUAL_RNN, "scan.fuse").compile("numpy")
        runner.run(inputs={"W": w, "V": v, "U": u, "X0": x0})  # compiled, warm
        tracemalloc.start()
        runner.run(inputs={"W": w, "V": v, "U": u, "X0": x0})
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    # a stored X would add 64 * 4 bytes per step: 1 MiB at 4,000 steps
    assert peak(4000) < 1.5 * peak(40) + 64 * 1024


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("Y[i, *t] = U[i, t]\nexport Y", "'Y' does not read itself", "1:1"),
        (
            "X[i, 0] = U[i, 0]\nX[i, *t+2] = tanh(X[i, *t] + U[i, t])\nexport X",
            "'X' stays a fixpoint: X reads itself 2 steps away along 't'",
            "2:1",
        ),
        (
            VIRTUAL_RNN.replace("export X", "Z[i] = X[i, 2]\nexport Z"),
            "this reads 'X', whose index 't' is virtual",
            "4:1",
        ),
    ],
)
def test_virtual_index_misuse_is_a_located_error(text: str, message: str, where: str) -> None:
    inputs = {"U": rand(3, 5), "W": rand(3, 3), "V": rand(3, 3), "X0": rand(3)}
    names = {n for n in inputs if f"{n}[" in text}
    with pytest.raises(FuseError) as error:
        Program(text, "v.fuse").compile("numpy").run(inputs={n: inputs[n] for n in names})
    assert message in str(error.value) and f"v.fuse:{where}" in str(error.value)


# --- several tensors that step together ----------------------------------------------

GATED = """
X[i, 0] = X0[i]
G[i, t] = sig(V[i, j] X[j, t] + U[i, t])
X[i, t+1] = G[i, t] tanh(W[i, j] X[j, t]) + (1 - G[i, t]) X[i, t]
export X, G
"""


def gated_reference(w, v, u, x0) -> tuple[np.ndarray, np.ndarray]:
    """G[:, t] from X[:, t]; X[:, t+1] from G[:, t] and X[:, t]."""
    states, gates = [x0], []
    for t in range(u.shape[1]):
        gates.append(sig(v @ states[-1] + u[:, t]))
        states.append(gates[-1] * np.tanh(w @ states[-1]) + (1 - gates[-1]) * states[-1])
    return np.stack(states, axis=1), np.stack(gates, axis=1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_tensors_stepping_together_run_as_one_scan(backend: str) -> None:
    w, v, u, x0 = rand(4, 4), rand(4, 4), rand(4, 6), rand(4)
    out = run(GATED, backend, W=w, V=v, U=u, X0=x0)
    states, gates = gated_reference(w, v, u, x0)
    np.testing.assert_allclose(out["X"], states, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["G"], gates, rtol=1e-5, atol=1e-6)
    scans = [op for op in dataflow(GATED, W=(4, 4), V=(4, 4), U=(4, 6), X0=(4,)).walk()]
    assert [op.tensor_names for op in scans if isinstance(op, ScanOp)] == [["G", "X"]]
    assert not any(isinstance(op, FixpointOp) for op in scans)


@settings(max_examples=15, deadline=None)
@given(
    backend=st.sampled_from(BACKENDS),
    hidden=st.integers(1, 5),
    steps=st.integers(1, 9),
    export_gate=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_two_tensors_stepping_together_over_sizes(
    backend: str, hidden: int, steps: int, export_gate: bool, seed: int
) -> None:
    """Whether the scan carries G (exported) or computes it within each step
    alone (not exported), X is the same."""
    rng = np.random.default_rng(seed)
    w, v = (rng.standard_normal((hidden, hidden)).astype(np.float32) for _ in range(2))
    u = rng.standard_normal((hidden, steps)).astype(np.float32)
    x0 = rng.standard_normal(hidden).astype(np.float32)
    text = GATED if export_gate else GATED.replace("export X, G", "export X")
    out = run(text, backend, W=w, V=v, U=u, X0=x0)
    states, gates = gated_reference(w, v, u, x0)
    np.testing.assert_allclose(out["X"], states, rtol=1e-5, atol=1e-6)
    assert ("G" in out) == export_gate
    if export_gate:
        np.testing.assert_allclose(out["G"], gates, rtol=1e-5, atol=1e-6)


BACKWARD_PAIR = """
B[i, 5] = B0[i]
C[i, t] = tanh(B[i, t+1] + U[i, t])
B[i, t] = W[i, j] C[j, t]
export B, C
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_tensors_stepping_backwards(backend: str) -> None:
    w, u, b0 = rand(3, 3), rand(3, 5), rand(3)
    out = run(BACKWARD_PAIR, backend, W=w, U=u, B0=b0)
    b, c = np.zeros((3, 6), np.float32), np.zeros((3, 5), np.float32)
    b[:, 5] = b0
    for t in range(4, -1, -1):
        c[:, t] = np.tanh(b[:, t + 1] + u[:, t])
        b[:, t] = w @ c[:, t]
    np.testing.assert_allclose(out["B"], b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["C"], c, rtol=1e-5, atol=1e-6)


VIRTUAL_GATED = """
X[i, 0] = X0[i]
G[i, *t] = sig(V[i, j] X[j, *t] + U[i, t])
X[i, *t+1] = G[i, *t] tanh(W[i, j] X[j, *t]) + (1 - G[i, *t]) X[i, *t]
export X, G
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_tensors_with_a_virtual_index_keep_their_last_steps(backend: str) -> None:
    w, v, u, x0 = rand(4, 4), rand(4, 4), rand(4, 7), rand(4)
    out = run(VIRTUAL_GATED, backend, W=w, V=v, U=u, X0=x0)
    states, gates = gated_reference(w, v, u, x0)
    np.testing.assert_allclose(out["X"], states[:, -1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["G"], gates[:, -1], rtol=1e-5, atol=1e-6)


GNN_AGGREGATING_EMB = """
Emb[n, 0, d] = Feat[n, d]
Agg[n, l, d] = Neig(n, m) Emb[m, l, d]
Emb[n, l+1, d] = relu(WAgg[l, d, e] Agg[n, l, e] + WSelf[l, d, e] Emb[n, l, e])
export Emb, Agg
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_member_stepping_further_finishes_after_the_scan(backend: str) -> None:
    """Agg reads Emb at every layer, the last one (L) too, where Emb's
    update stops at L - 1: the scan steps L layers, then Agg[:, L] comes from
    the finished Emb."""
    nodes, dim, layers = 5, 3, 3
    neighbours = (RNG.random((nodes, nodes)) < 0.5).astype(np.float32)
    feat = rand(nodes, dim)
    w_agg, w_self = rand(layers, dim, dim, scale=0.5), rand(layers, dim, dim, scale=0.5)
    out = run(GNN_AGGREGATING_EMB, backend, Feat=feat, Neig=neighbours, WAgg=w_agg, WSelf=w_self)
    emb = [feat]
    for layer in range(layers):
        aggregated = neighbours @ emb[-1]
        emb.append(np.maximum(aggregated @ w_agg[layer].T + emb[-1] @ w_self[layer].T, 0))
    np.testing.assert_allclose(out["Emb"], np.stack(emb, axis=1), rtol=1e-5, atol=1e-5)
    agg = np.stack([neighbours @ e for e in emb], axis=1)  # layers 0..L
    np.testing.assert_allclose(out["Agg"], agg, rtol=1e-5, atol=1e-5)
    ops = list(
        dataflow(
            GNN_AGGREGATING_EMB, Feat=(5, 3), Neig=(5, 5), WAgg=(3, 3, 3), WSelf=(3, 3, 3)
        ).walk()
    )
    assert any(isinstance(op, ScanOp) for op in ops)
    assert not any(isinstance(op, FixpointOp) for op in ops)
