"""Windows and placements that go through index tables, exported with
symbolic sizes on jax and stablehlo.

A window that is no unit-step slice (`X[i/5]`, `X[2*i]`, `X[i, i+1]`) is a
gather through the position of every element it reads, and a placement that
is no shift (`Y[2*i] = X[i]`, `Y[i+j] max= A[i, j]`) combines its operand
into positions. A static plan holds those positions as constant tables; at
probe sizes a table's shape follows the symbols, so the lowering computes
the positions in the graph from `iota`s (`point_positions` in
lowering/jax/windows.py), a placement as a `scatter`, and
`generalize` makes the iotas `dynamic_iota`s. Each artifact runs in a fresh
process that never imports Fuse (tests/data/export/load_and_run.py) at two
sizes of different parities, against an independent NumPy reference and
`runner.run` at the same sizes.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, f32
from xdsl.ir import Block, Region
from xdsl.printer import Printer

from fuse import Program
from fuse.lowering.affine_access import Forms, flat_positions
from fuse.lowering.jax.backend import stablehlo_text
from fuse.lowering.jax.hlo_builder import HloBuilder, shape_of
from fuse.lowering.jax.symbolic import static_signature
from fuse.lowering.jax.windows import point_positions
from fuse.lowering.jax.xla_call import StableHloProgram, call_program
from fuse.runtime.export import SUFFIXES, input_dims
from tests.affine_maps import affine_maps

LOADER = Path(__file__).parent / "data" / "export" / "load_and_run.py"

Inputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class Case:
    source: str
    # the inputs at a size n (the two runs take sizes of both parities)
    inputs: Callable[[int], Inputs]
    reference: Callable[[Inputs], np.ndarray]


def _vector(n: int) -> Inputs:
    return {"X": np.random.default_rng(n).standard_normal(n).astype(np.float32)}


def _matrix(rows: int, columns: int) -> Inputs:
    return {"A": np.random.default_rng(rows).standard_normal((rows, columns)).astype(np.float32)}


def _pair_sums(x: np.ndarray) -> np.ndarray:
    half = len(x) // 2
    return x[0 : 2 * half : 2] + x[1 : 2 * half : 2]


def _spread(x: np.ndarray) -> np.ndarray:
    y = np.zeros(2 * len(x) - 1, np.float32)
    y[::2] = x
    return y


def _superdiagonal(a: np.ndarray) -> np.ndarray:
    count = min(a.shape[0], a.shape[1] - 1)
    return np.array([a[i, i + 1] for i in range(count)], np.float32)


def _antidiagonals(a: np.ndarray, combine: Callable[[list[float]], float]) -> np.ndarray:
    rows, columns = a.shape
    return np.array(
        [
            combine([a[i, s - i] for i in range(rows) if 0 <= s - i < columns])
            for s in range(rows + columns - 1)
        ],
        np.float32,
    )


CASES = {
    "upsample": Case("Y[i] = X[i/5]", _vector, lambda v: np.repeat(v["X"], 5)),
    "pair_sums": Case("Y[i] = X[2*i] + X[2*i+1]", _vector, lambda v: _pair_sums(v["X"])),
    "spread": Case("Y[2*i] = X[i]", _vector, lambda v: _spread(v["X"])),
    "superdiagonal": Case(
        "Y[i] = A[i, i+1]", lambda n: _matrix(n, n + 3), lambda v: _superdiagonal(v["A"])
    ),
    "antidiagonal_max": Case(
        "Y[i+j] max= A[i, j]", lambda n: _matrix(n, 4), lambda v: _antidiagonals(v["A"], max)
    ),
    "antidiagonal_mean": Case(
        "Y[i+j] avg= A[i, j]",
        lambda n: _matrix(3, n),
        lambda v: _antidiagonals(v["A"], lambda values: sum(values) / len(values)),
    ),
}


def _program(case: Case) -> Program:
    return Program(f"{case.source}\nexport Y\n")


@pytest.mark.parametrize("format", ["jax", "stablehlo", "torch"])
def test_index_tables_follow_symbolic_sizes(format: str, tmp_path: Path) -> None:
    runs: dict[str, tuple[Inputs, np.ndarray, np.ndarray]] = {}
    for name, case in CASES.items():
        runner = _program(case).compile()
        assert all(isinstance(d, str) for row in input_dims(runner, {}).values() for d in row)
        runner.export(format, out=tmp_path / f"{name}{SUFFIXES[format]}", input_shapes={})
        for size in (5, 8):
            inputs = case.inputs(size)
            np.savez(tmp_path / f"{name}@{size}.inputs.npz", **inputs)
            runs[f"{name}@{size}"] = (inputs, runner.run(inputs)["Y"], case.reference(inputs))
    loaded = subprocess.run(
        [sys.executable, str(LOADER), format, str(tmp_path)], capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    for run, (_, ran, reference) in runs.items():
        (output,) = np.load(tmp_path / f"{run}.outputs.npz").values()
        np.testing.assert_allclose(output, reference, rtol=1e-6, atol=1e-6, err_msg=run)
        np.testing.assert_allclose(output, ran, rtol=1e-6, atol=1e-6, err_msg=run)


def test_a_gathered_window_requires_the_positions_it_reads() -> None:
    """`A[i, i+1]` reads column i + 1 for every row i: the gather reads
    from a slice up to its highest position, so the artifact requires
    `d1 >= i + 1` instead of reading clamped positions of a smaller input."""
    runner = _program(CASES["superdiagonal"]).compile()
    exported = runner.export("jax", input_shapes={})
    assert exported.call({"A": np.ones((5, 6), np.float32)})["Y"].shape == (5,)
    with pytest.raises(ValueError, match=r"d1 >= i \+ 1"):
        exported.call({"A": np.ones((8, 4), np.float32)})


@pytest.mark.parametrize("name", ["upsample", "pair_sums", "spread", "antidiagonal_max"])
def test_gradients_of_symbolic_artifacts_pass_through_the_tables(name: str) -> None:
    """The gradient program (a window's gradient is a placement, and back)
    exports with the same tables made in the graph: `jax.grad` of the
    deserialized artifact at two sizes is `runner.value_and_grad`'s."""
    import jax

    case = CASES[name]
    runner = Program(f"{case.source}\nL = Y[k] Y[k]\nexport L\n").compile()
    data = runner.export("jax", input_shapes={}).serialize(vjp_order=1)
    loaded = jax.export.deserialize(data)
    for size in (5, 8):
        inputs = case.inputs(size)
        (wrt,) = inputs
        gradient = jax.grad(lambda values: loaded.call(values)["L"])(inputs)[wrt]
        _, expected = runner.value_and_grad("L", wrt, inputs)
        np.testing.assert_allclose(gradient, expected[wrt], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_the_programs_agree_with_numpy_on_every_backend(backend: str) -> None:
    """The references above are the programs' meaning on every backend
    (the static plans, with their constant tables)."""
    for name, case in CASES.items():
        runner = _program(case).compile(backend=backend)
        for size in (5, 8):
            inputs = case.inputs(size)
            np.testing.assert_allclose(
                runner.run(inputs)["Y"], case.reference(inputs), rtol=1e-6, err_msg=name
            )


def test_static_plans_keep_constant_tables() -> None:
    """With the sizes known, the positions are a constant of the module
    (computed once at compile time) and a placement gathers its sources:
    no iota arithmetic and no scatter at run time."""
    text = _static_stablehlo(CASES["upsample"], {"X": (4,)})
    assert "dense<[0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3]>" in text
    assert "stablehlo.iota" not in text
    text = _static_stablehlo(CASES["antidiagonal_max"], {"A": (3, 4)})
    assert "stablehlo.scatter" not in text
    assert "stablehlo.gather" in text


def _static_stablehlo(case: Case, shapes: dict[str, tuple[int, ...]]) -> str:
    runner = _program(case).compile(backend="jax", input_shapes=shapes)
    module, _, _ = runner.specialized_module(shapes)
    return stablehlo_text(module, runner.config)


@settings(max_examples=60, deadline=None)
@given(affine_maps())
def test_positions_made_in_the_graph_are_the_compile_time_table(
    mapped: tuple[Forms, tuple[int, ...], tuple[int, ...]],
) -> None:
    """`point_positions`, run by XLA, holds per point and tensor dimension the
    position whose flat form is `affine_access.flat_positions` (the table
    a static plan holds, and the one torch makes in its graph)."""
    import jax

    forms, box, tensor = mapped
    block = Block()
    positions = point_positions(HloBuilder(block, f32, exact_dots=True), forms, box)
    block.add_op(func.ReturnOp(positions))
    main = func.FuncOp("main", ([], [positions.type]), Region(block))
    text = _generic(ModuleOp([main]))
    program = StableHloProgram(
        text, static_signature([], [shape_of(positions)]), (np.int32,), execute=list
    )
    (made,) = jax.jit(lambda: call_program(program, []))()
    strides = [int(np.prod(tensor[k + 1 :])) for k in range(len(tensor))]
    flat = np.asarray(made).astype(np.int64) @ np.array(strides, np.int64)
    np.testing.assert_array_equal(flat, flat_positions(forms, box, tensor))


def _generic(module: ModuleOp) -> str:
    import io

    text = io.StringIO()
    Printer(stream=text, print_generic_format=True).print_op(module)
    return text.getvalue()
