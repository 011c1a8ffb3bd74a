"""Every conformance program exported with symbolic sizes, run at two sizes
in a fresh process that never imports Fuse (tests/data/export/load_and_run.py).

The first size is the case's own inputs, checked against its independent
NumPy reference and `runner.run`; the second grows every symbol by two
(`_grown`), checked against `runner.run` at that size. The `stablehlo`
artifact has dynamic dimensions: the loader refines them with StableHLO's
own passes (the recipe in docs/export.md) before XLA compiles it.

The programs that cannot be symbolic in a format are listed with the
reason, so the test fails both when one of them starts to export (update
the list and docs/export.md) and when another stops.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fuse import FuseError
from fuse.lowering.symbolic_sizes import Size
from fuse.runtime.export import SUFFIXES, input_dims
from fuse.runtime.symbolic import SymbolicSizes
from tests.conformance.programs import CASES, Case

LOADER = Path(__file__).parent / "data" / "export" / "load_and_run.py"

TORCH_BUFFER = "of symbolic shape"  # a constant of the module (an index table)
TORCH_SPECIALIZED = "Constraints violated"  # torch.export fixes a `Dim`
# Programs whose sizes follow the symbols in a way no format can express.
STATIC_ONLY = {"builtin_rope": "rope needs an even feature size"}
STATIC_ONLY_IN = {
    "jax": {
        **STATIC_ONLY,
        "stored_time_recurrence": "'stablehlo.dynamic_slice' needs static sizes",
    },
    "torch": {
        **STATIC_ONLY,
        # index tables (windows, slices) of symbolic shape
        "slices_and_shifts": TORCH_BUFFER,
        "paper_cnn_conv_and_max_pool": TORCH_BUFFER,
        "mlp_by_layer_reads_the_previous_layer": TORCH_BUFFER,
        "stored_time_recurrence": TORCH_BUFFER,
        "builtin_topk_ties": TORCH_SPECIALIZED,  # topk along a symbolic size
        "constant_index_on_the_right": TORCH_SPECIALIZED,  # a constant position
    },
}
STATIC_ONLY_IN["stablehlo"] = STATIC_ONLY_IN["jax"]


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
    static_only = STATIC_ONLY_IN[format]
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
    assert set(refused) == set(static_only), (
        f"newly refused: {set(refused) - set(static_only)}; "
        f"now exporting: {set(static_only) - set(refused)}"
    )
    for name, error in refused.items():
        assert static_only[name] in error, (name, error)
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
