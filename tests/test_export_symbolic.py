"""Every conformance program exported with symbolic sizes, run at two sizes
in a fresh process that never imports Fuse (tests/data/export/load_and_run.py).

The first size is the case's own inputs, checked against its independent
NumPy reference and `runner.run`; the second grows every symbol by two
(`_grown`), checked against `runner.run` at that size. The `stablehlo`
artifact has dynamic dimensions: the loader refines them with StableHLO's
own passes (the recipe in docs/export.md) before XLA compiles it.

Every conformance program with a size left symbolic exports in every
format: one that is refused fails the test with the exporter's reason.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, TensorType, f32, i32
from xdsl.ir import Block, Region
from xdsl.printer import Printer
from xdsl_jax.dialects import stablehlo as hlo

from fuse import FuseError, Program
from fuse.lowering.affine_access import Forms, flat_positions
from fuse.lowering.jax.extra_ops import RealDynamicSliceOp
from fuse.lowering.jax.hlo_builder import HloBuilder
from fuse.lowering.jax.symbolic import generalize
from fuse.lowering.jax.xla_call import StableHloProgram, call_program
from fuse.lowering.symbolic_sizes import Size
from fuse.runtime.export import SUFFIXES, artifact_bytes, input_dims
from fuse.runtime.symbolic import SymbolicSizes
from tests.affine_maps import affine_maps
from tests.conformance.programs import CASES, Case, _topk, rope_reference

LOADER = Path(__file__).parent / "data" / "export" / "load_and_run.py"

# The conformance programs with a size that can be symbolic (the others
# read every input from files): all of them export symbolically.
SYMBOLIC_PROGRAMS = 48


def _grown(case: Case, dims: dict[str, tuple[int | str, ...]]) -> dict[str, np.ndarray]:
    """The case's inputs with every symbol two larger: each input padded
    with zeros along the symbols' dimensions (a zero row keeps a graph a
    DAG and a gather index in range, where random values would not)."""
    return {
        name: np.pad(value, [(0, 2 if isinstance(d, str) else 0) for d in dims[name]])
        if value.ndim
        else value
        for name, value in case.inputs.items()
    }


@pytest.mark.parametrize("format", ["jax", "stablehlo", "torch"])
def test_conformance_programs_run_symbolic_artifacts_at_two_sizes(
    format: str, tmp_path: Path
) -> None:
    refused, runs = {}, {}
    for case in CASES:
        workdir = tmp_path / case.name
        workdir.mkdir()
        runner = case.program(workdir).compile(backend="numpy", config=case.config)
        dims = input_dims(runner, {})
        if not any(isinstance(d, str) for row in dims.values() for d in row):
            continue  # every size known (the examples read all inputs from files)
        try:
            runner.export(format, out=tmp_path / f"{case.name}{SUFFIXES[format]}", input_shapes={})
        except FuseError as error:
            refused[case.name] = str(error)
            continue
        np.savez(tmp_path / f"{case.name}@own.inputs.npz", **case.inputs)
        runs[f"{case.name}@own"] = (case, runner.run(case.inputs), case.expected())
        grown = _grown(case, dims)
        np.savez(tmp_path / f"{case.name}@grown.inputs.npz", **grown)
        runs[f"{case.name}@grown"] = (case, runner.run(grown), {})
    assert refused == {}
    assert len(runs) == 2 * SYMBOLIC_PROGRAMS
    loaded = subprocess.run(
        [sys.executable, str(LOADER), format, str(tmp_path)], capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    for run, (case, expected, reference) in runs.items():
        outputs = dict(np.load(tmp_path / f"{run}.outputs.npz"))
        for key, value in [*reference.items(), *expected.items()]:
            assert outputs[key].shape == np.shape(value), (run, key)
            np.testing.assert_allclose(
                outputs[key], value, rtol=case.rtol, atol=case.atol, err_msg=f"{run}: {key}"
            )
        for key, status in outputs.items():
            if key.startswith("fixpoint_status/"):
                converged = status[0] if format != "torch" else 1 - status[0]
                assert converged == 1, (run, key, status)


def test_zero_reads_as_a_number() -> None:
    """A slice's start 0 is a number (every prime divides it: reading it
    once looped, growing without bound)."""
    sizes = SymbolicSizes({"X": ("i", 3)})
    assert sizes.read(0) == Size(0)
    assert sizes.read(2 * 1009) == Size.monomial(2, ("i",))


def test_a_constant_position_bounds_its_symbol_from_below(tmp_path: Path) -> None:
    """`Obs[t, 3]` reads a fourth column, so the torch artifact's `Dim` for
    it starts at 4: the loaded artifact runs at any size from 4 and refuses
    3 columns with torch's own guard (torch.export refused the export, the
    graph's `select` guarding a size the default `Dim` range did not imply)."""
    import torch

    runner = Program("Last[t] = Obs[t, 3]\nexport Last\n").compile(backend="numpy")
    assert input_dims(runner, {}) == {"Obs": ("t", "d1")}
    runner.export("torch", out=tmp_path / "last.pt2", input_shapes={})
    program = torch.export.load(tmp_path / "last.pt2").module()
    for columns in (4, 9):
        obs = np.arange(5 * columns, dtype=np.float32).reshape(5, columns)
        np.testing.assert_array_equal(program({"Obs": torch.from_numpy(obs)})["Last"], obs[:, 3])
    with pytest.raises(AssertionError, match=r"inputs\['Obs'\]\.size\(\)\[1\] >= 4"):
        program({"Obs": torch.zeros(5, 3)})


def test_minimums_come_from_constant_positions() -> None:
    """Each symbol's least size is one past the largest constant position
    any access reads or writes it at; a ranged rule's left-hand side grows
    to hold its positions instead (`H[i, 0]` bounds nothing)."""
    program = Program(
        "A[t, s] = B[t, s]\nA[2, s] += P[s]\nY[t] = B[t, 5] + B[0, 1]\n"
        "H[i, 0] = H0[i]\nH[i, t+1] = tanh(W[i, j] H[j, t] + U[i, t])\nexport A, Y, H\n"
    )
    runner = program.compile(backend="numpy")
    dims = input_dims(runner, {})
    minimums = runner.symbolic_sizes({}, list(dims)).minimums
    assert minimums == {dims["B"][0]: 3, dims["B"][1]: 6}


@pytest.mark.parametrize("size", [1, 2, 3, 6])
def test_topk_along_a_symbolic_size_at_k_and_below(size: int) -> None:
    """`topk(k=2)` along a symbolic size exports (the kept positions are
    ranks, not a view whose contiguity torch.export guarded as `t != 2`)
    and keeps everything at sizes up to k, ties by lower position."""
    import torch

    runner = Program("T[p, t] = topk(X[p, t], k=2)\nexport T\n").compile(backend="numpy")
    program = runner.export("torch", input_shapes={}).module()
    x = np.random.default_rng(size).integers(0, 3, (4, size)).astype(np.float32)
    np.testing.assert_array_equal(program({"X": torch.from_numpy(x)})["T"], _topk({"X": x})["T"])


@settings(max_examples=200, deadline=None)
@given(affine_maps())
def test_index_tables_made_in_the_graph_are_the_compile_time_ones(
    mapped: tuple[Forms, tuple[int, ...], tuple[int, ...]],
) -> None:
    """The torch graph of a plan with symbolic sizes computes a window's
    or place's index table with `torch.arange` (so its sizes follow the
    inputs): the same numbers the compile-time table has."""
    import torch

    from fuse.lowering.torch import kernels

    forms, box, tensor = mapped
    made = kernels.flat_positions(forms, box, tensor, torch.arange)
    np.testing.assert_array_equal(made.numpy(), flat_positions(forms, box, tensor))


def test_a_slice_bounds_its_symbol_from_below() -> None:
    """`V[2:5]` reads five positions and `V[3:]` at least four."""
    runner = Program("Mid[i] = V[2:5]\nTail[i] = W[3:]\nexport Mid, Tail\n").compile()
    dims = input_dims(runner, {})
    minimums = runner.symbolic_sizes({}, list(dims)).minimums
    assert minimums == {dims["V"][0]: 5, dims["W"][0]: 4}


MLP_LAYER = "Y[i, j] = relu(W[i, j, k] X[i - 1, k])\nexport Y\n"


def test_a_minimum_torch_needs_beyond_the_program_comes_from_its_suggestion() -> None:
    """`Y[i, j] = relu(W[i, j, k] X[i - 1, k])` holds for every i >= 1, but
    torch's tracing specializes the size `i - 1` below 2 (the contiguity of
    an index table's `arange`), and torch.export suggests `i >= 3`: the
    export takes that minimum, and the artifact refuses i = 2 with torch's
    own guard instead of refusing to export."""
    import torch

    program = Program(MLP_LAYER).compile().export("torch", input_shapes={}).module()
    rng = np.random.default_rng(5)
    for layers in (3, 6):
        w, x = rng.standard_normal((layers, 2, 4)), rng.standard_normal((layers, 4))
        w, x = w.astype(np.float32), x.astype(np.float32)
        expected = np.zeros((layers, 2), np.float32)
        for i in range(1, layers):
            expected[i] = np.maximum(w[i] @ x[i - 1], 0)
        out = program({"W": torch.from_numpy(w), "X": torch.from_numpy(x)})["Y"]
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(AssertionError, match=r"inputs\['W'\]\.size\(\)\[0\] >= 3"):
        program({"W": torch.zeros(2, 2, 4), "X": torch.zeros(2, 4)})


@pytest.mark.parametrize(
    ("suggestion", "taken"),
    [("i = Dim('i', min=3)", True), ("i = 4", False), ("j = i + 1", False)],
)
def test_only_a_suggested_minimum_is_taken(suggestion: str, taken: bool) -> None:
    """Of torch.export's suggested fixes, a larger minimum keeps the symbol
    and is taken; fixing it to a number or tying it to another symbol
    would change what the artifact takes, and is refused."""
    import torch

    from fuse.runtime.export import _raised_minimums

    i, j = torch.export.Dim("i"), torch.export.Dim("j")
    spec = ({"W": {0: i, 1: j}},)
    refined = _raised_minimums(RuntimeError(f"Suggested fixes:\n  {suggestion}"), spec)
    assert (refined is not None) == taken
    if refined is not None:
        assert refined[0]["W"][0].min == 3


def test_a_strided_read_exports_for_torch_at_odd_and_even_sizes() -> None:
    """`Y[i] = X[2*i]` has `floordiv(n + 1, 2)` positions: on torch, a
    window whose index table is made in the graph, right at every size."""
    import torch

    program = Program("Y[i] = X[2*i]\nexport Y\n").compile().export("torch", input_shapes={})
    for size in (3, 6, 7, 10):
        x = np.arange(size, dtype=np.float32)
        out = program.module()({"X": torch.from_numpy(x)})["Y"]
        np.testing.assert_array_equal(out.numpy(), x[::2])


def test_a_jax_artifact_refuses_inputs_smaller_than_the_program_needs() -> None:
    """`V[2:5]` and `V[N-1-t]` (N = 6) need |V| >= 6, and a valid
    convolution's size `d0 - dx + 1` must not be negative: the artifact's
    constraints refuse smaller inputs instead of clamping the slices."""
    import jax

    case = next(c for c in CASES if c.name == "slices_and_shifts")
    exported = case.program(Path()).compile().export("jax")
    assert len(jax.jit(exported.call)({"V": np.arange(6.0)})["Rev"]) == 6
    with pytest.raises(ValueError, match="d0 >= 6"):
        exported.call({"V": np.arange(5.0)})
    conv = next(c for c in CASES if c.name == "paper_cnn_conv_and_max_pool")
    exported = conv.program(Path()).compile().export("jax")
    image, kernel = conv.inputs["Image"], conv.inputs["Filter"]
    assert exported.call({"Image": image, "Filter": kernel})["Pooled"].shape == (3, 3)
    with pytest.raises(ValueError, match="d0 - dx"):
        exported.call({"Image": image[:1], "Filter": kernel})


# An RNN whose sizes are all plain symbols (i, j, t): its scan reads step t's
# column of U, `dynamic_slice` of size j, and runs t steps.
VIRTUAL_RNN = "X[i, 0] = X0[i]\nX[i, *t+1] = sig(W[i, j] X[j, *t] + V[i, j] U[j, t])\nexport X\n"


def _virtual_rnn_reference(inputs: dict[str, np.ndarray]) -> np.ndarray:
    x = inputs["X0"]
    for step in range(inputs["U"].shape[1]):
        x = 1 / (1 + np.exp(-(inputs["W"] @ x + inputs["V"] @ inputs["U"][:, step])))
    return x


@pytest.mark.parametrize("format", ["jax", "stablehlo"])
def test_a_scan_over_symbolic_sizes_runs_at_two_sizes(format: str, tmp_path: Path) -> None:
    """The scan's row of symbolic size (`dynamic_slice` with a symbolic
    slice size, rewritten to `real_dynamic_slice`) and its symbolic step
    count, run without Fuse at two sizes against a NumPy loop."""
    runner = Program(VIRTUAL_RNN, "rnn.fuse").compile(backend="numpy")
    assert input_dims(runner, {}) == {
        "X0": ("i",),
        "W": ("i", "i"),
        "V": ("i", "j"),
        "U": ("j", "t"),
    }, "a recurrence ties the plain indices of its rules (one state size for every step)"
    runner.export(format, out=tmp_path / f"rnn{SUFFIXES[format]}", input_shapes={})
    rng = np.random.default_rng(3)
    runs = {}
    for tag, (i, j, t) in {"small": (3, 4, 5), "large": (6, 2, 9)}.items():
        inputs = {
            "X0": rng.standard_normal(i),
            "W": rng.standard_normal((i, i)) * 0.5,
            "V": rng.standard_normal((i, j)),
            "U": rng.standard_normal((j, t)),
        }
        inputs = {name: value.astype(np.float32) for name, value in inputs.items()}
        np.savez(tmp_path / f"rnn@{tag}.inputs.npz", **inputs)
        runs[tag] = inputs
    loaded = subprocess.run(
        [sys.executable, str(LOADER), format, str(tmp_path)], capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    for tag, inputs in runs.items():
        (output,) = np.load(tmp_path / f"rnn@{tag}.outputs.npz").values()
        np.testing.assert_allclose(output, _virtual_rnn_reference(inputs), rtol=1e-5, atol=1e-6)


def test_a_dynamic_slice_of_symbolic_size_clamps_its_starts() -> None:
    """`dynamic_slice` moves a start that would read past the operand back
    into it. `real_dynamic_slice`, which a symbolic slice size becomes,
    leaves a start out of range undefined (StableHLO spec), so the rewrite
    clamps the starts, as `jax.lax.dynamic_slice` does at symbolic sizes.
    XLA itself turns the refined op back into a clamping `dynamic_slice`,
    so the rows read below are the same without the clamp: the clamp is
    for the artifact's other consumers, and checked in the IR. (A scan's
    starts are in range anyway: step k < steps reads row k of `steps`.)"""
    import jax

    read = SymbolicSizes({"X": ("i", "j")}).read
    block = Block(arg_types=[TensorType(f32, [1009, 1013]), TensorType(i32, [])])
    builder = HloBuilder(block, f32, exact_dots=True)
    row = builder.dynamic_take(block.args[0], 0, block.args[1])  # as a scan step reads its row
    block.add_op(func.ReturnOp(row))
    main = func.FuncOp("main", ([a.type for a in block.args], [row.type]), Region(block))
    signature = generalize(main, read)
    (sliced,) = [op for op in main.walk() if isinstance(op, RealDynamicSliceOp)]
    assert not any(isinstance(op, hlo.DynamicSliceOp) for op in main.walk())
    assert isinstance(sliced.start_indices.owner, hlo.ClampOp)
    text = io.StringIO()
    Printer(stream=text, print_generic_format=True).print_op(ModuleOp([main]))
    program = StableHloProgram(text.getvalue(), signature, (np.float32,), execute=list)
    call = jax.jit(lambda x, start: call_program(program, [x, start])[0])
    shapes = jax.export.symbolic_shape("i, j")
    exported = jax.export.export(call)(
        jax.ShapeDtypeStruct(shapes, np.float32), jax.ShapeDtypeStruct((), np.int32)
    )
    x = np.arange(5 * 7, dtype=np.float32).reshape(5, 7)
    for start in (-3, 0, 2, 4, 5, 40):
        row_read = exported.call(x, np.int32(start))
        np.testing.assert_array_equal(row_read, x[np.clip(start, 0, 4)], err_msg=f"start {start}")


def test_jax_artifacts_name_sizes_that_are_expressions_of_the_symbols() -> None:
    """Output shapes are the sums, differences and floor divisions the
    program makes of its inputs' sizes, not only products (compared as
    `jax.export` expressions, which jax orders its own way)."""
    from jax import export

    expected = {
        "builtin_concat": ["p, d + d_2"],
        "paper_cnn_conv_and_max_pool": [
            "d0 - dx + 1, d1 - dy + 1",
            "floordiv(d0 - dx + 2, 2), floordiv(d1 - dy + 2, 2)",
        ],
        "slices_and_shifts": ["d0 - 1", "3", "6", "d0 - 3"],
    }
    for name, shapes in expected.items():
        case = next(c for c in CASES if c.name == name)
        exported = case.program(Path()).compile().export("jax")
        scope = next(d.scope for a in exported.in_avals for d in a.shape if not isinstance(d, int))
        assert [tuple(a.shape) for a in exported.out_avals] == [
            tuple(export.symbolic_shape(shape, scope=scope)) for shape in shapes
        ], name


# rope's feature axis is an even class (fuse.runtime.symbolic): `2*d_half`.
ROPE = "Y[d, p] = rope(X[d, p], pos=p, axis=d, base=500)\nexport Y"


def test_rope_feature_axis_is_twice_a_symbol() -> None:
    runner = Program(ROPE).compile()
    assert input_dims(runner, {}) == {"X": ("2*d_half", "p")}
    sizes = runner.symbolic_sizes({}, ["X"])
    assert sizes.dims == {"X": ("d_half", "p")}
    assert sizes.even == {"d_half"}
    assert sizes.describe() == "X[2*d_half, p]"
    primes = sizes.primes()
    assert sizes.probe(0) == {"X": (2 * primes["d_half"], primes["p"])}
    assert sizes.probe(1) == {"X": (4 * primes["d_half"], 2 * primes["p"])}
    assert sizes.read(4 * primes["d_half"], probe=1) == Size.monomial(2, ("d_half",))


def test_rope_tables_are_constants_at_static_sizes() -> None:
    """Precomputed (float64, then rounded), as before symbolic export: in
    the graph, numpy and torch would compute cos and sin on every run."""
    runner = Program(ROPE).compile()
    text = str(runner.plan_for_shapes({"X": (8, 5)}).module)
    assert "fuse.unary cos" not in text
    assert "fuse.index_fn" not in text


@cache
def _rope_artifact(format: str) -> Callable[[np.ndarray], np.ndarray]:
    """`ROPE` exported with symbolic sizes, serialized and loaded again."""
    runner = Program(ROPE).compile()
    data = artifact_bytes(format, runner.export(format, input_shapes={}))
    if format == "jax":
        import jax

        exported = jax.export.deserialize(bytearray(data))
        return lambda x: np.asarray(exported.call({"X": x})["Y"])
    if format == "stablehlo":  # refined and compiled by docs/export.md's recipe
        spec = importlib.util.spec_from_file_location("load_and_run", LOADER)
        assert spec is not None and spec.loader is not None
        loader = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loader)
        path = Path(tempfile.mkdtemp()) / "rope.mlirbc"
        path.write_bytes(data)
        return lambda x: np.asarray(loader.run_stablehlo(path, {"X": x})["Y"])
    import torch

    program = torch.export.load(io.BytesIO(data)).module()
    return lambda x: program({"X": torch.from_numpy(x)})["Y"].numpy()


@pytest.mark.parametrize("format", ["jax", "stablehlo", "torch"])
@settings(max_examples=10, deadline=None)
@given(half=st.integers(1, 12), positions=st.integers(1, 200), seed=st.integers(0, 2**16))
@example(half=1, positions=3, seed=0)  # d_half = 1: refining stablehlo's helper calls failed
def test_rope_artifact_computes_its_tables_at_every_even_size(
    format: str, half: int, positions: int, seed: int
) -> None:
    """The tables computed in the graph (float32) give the reference's
    numbers (stablehlo: refined and compiled by docs/export.md's recipe)."""
    x = np.random.default_rng(seed).standard_normal((2 * half, positions)).astype(np.float32)
    expected = rope_reference(x.T, 500.0).T
    np.testing.assert_allclose(_rope_artifact(format)(x), expected, rtol=1e-4, atol=2e-4)


@pytest.mark.parametrize(
    ("format", "error", "message"),
    [
        ("jax", ValueError, "Division had remainder 1 when computing the value of 'd_half'"),
        ("stablehlo", Exception, "Division had remainder 1 when computing the value of 'd_half'"),
        (
            "torch",
            RuntimeError,
            r"dimension 0 of input X is 2\*d_half: its size must be a multiple",
        ),
    ],
)
def test_rope_artifact_refuses_an_odd_feature_size(
    format: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        _rope_artifact(format)(np.ones((7, 3), np.float32))


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_rope_numbers_on_each_backend(backend: str) -> None:
    x = np.random.default_rng(5).standard_normal((10, 40)).astype(np.float32)
    out = Program(ROPE).compile(backend=backend).run({"X": x})["Y"]
    np.testing.assert_allclose(out, rope_reference(x.T, 500.0).T, rtol=1e-5, atol=1e-5)
