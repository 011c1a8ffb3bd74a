"""`runner.export` and `fuse export`: artifacts that run without Fuse.

Every conformance case is exported in every format; one fresh Python
process per format, which never imports `fuse`, loads the artifacts
(tests/data/export/load_and_run.py) and runs them on the case's inputs;
its results must match the case's independent NumPy reference.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fuse import FuseError, Program
from fuse.cli import main as fuse_main
from fuse.runtime.export import SUFFIXES, parse_shape
from tests.conformance.programs import CASES, Case

LOADER = Path(__file__).parent / "data" / "export" / "load_and_run.py"


def _export_all(format: str, directory: Path) -> dict[str, Case]:
    exported = {}
    for case in CASES:
        workdir = directory / case.name
        workdir.mkdir()
        runner = case.program(workdir).compile(backend="numpy", config=case.config)
        shapes = {name: value.shape for name, value in case.inputs.items()}
        runner.export(format, out=directory / f"{case.name}{SUFFIXES[format]}", input_shapes=shapes)
        np.savez(directory / f"{case.name}.inputs.npz", **case.inputs)
        exported[case.name] = case
    return exported


@pytest.mark.parametrize("format", ["jax", "stablehlo", "torch"])
def test_conformance_cases_run_from_artifacts_without_fuse(format: str, tmp_path: Path) -> None:
    cases = _export_all(format, tmp_path)
    loaded = subprocess.run(
        [sys.executable, str(LOADER), format, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    for name, case in cases.items():
        outputs = dict(np.load(tmp_path / f"{name}.outputs.npz"))
        for export, value in case.expected().items():
            actual = outputs[export]
            assert actual.shape == np.shape(value), (name, export)
            np.testing.assert_allclose(
                actual, value, rtol=case.rtol, atol=case.atol, err_msg=f"{name}: {export}"
            )
        for key, status in outputs.items():
            if key.startswith("fixpoint_status/"):
                converged = status[0] if format != "torch" else 1 - status[0]
                assert converged == 1, (name, key, status)


def _run_in_fresh_process(format: str, directory: Path) -> None:
    loaded = subprocess.run(
        [sys.executable, str(LOADER), format, str(directory)], capture_output=True, text=True
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]


CONCAT_OF_FIVE = "C[p, d] = concat(A[p, d], B[p, d], E[p, d], F[p, d], G[p, d], axis=d)\nexport C\n"
FIXPOINT = """
Path(x, y) = Edge(x, y)
Path(x, z) += Path(x, y) Edge(y, z)
Deg[x] = Edge(x, y)
"deg.npy" = Deg[x]
export Path
"""


@pytest.mark.parametrize("format", ["jax", "torch"])
def test_sinks_and_fixpoint_status_are_outputs(format: str, tmp_path: Path) -> None:
    import jax
    import torch

    edge = np.zeros((4, 4), np.float32)
    edge[0, 1] = edge[1, 2] = edge[2, 3] = 1
    runner = Program(FIXPOINT, "closure.fuse", base_dir=tmp_path).compile(
        input_shapes={"Edge": (4, 4)}
    )
    artifact = runner.export(format)
    if format == "jax":
        results = jax.tree.map(np.asarray, artifact.call({"Edge": edge}))
        [(component, status)] = results["fixpoint_status"].items()
        assert status[0] == 1 and status[1] >= 3, "converged, after at least 3 rounds"
    else:
        results = artifact.module()({"Edge": torch.from_numpy(edge)})
        [(component, status)] = results["fixpoint_status"].items()
        assert status[0] == 0, "did not hit the iteration bound"
        results = {k: v.numpy() for k, v in results.items() if k != "fixpoint_status"}
    assert component == "Path"
    expected_path = np.triu(np.ones((4, 4), np.float32), k=1)
    np.testing.assert_array_equal(results["Path"], expected_path)
    np.testing.assert_array_equal(results["deg.npy"], edge.sum(axis=1))
    assert not (tmp_path / "deg.npy").exists(), "exporting writes no sink"


def test_fx_module_before_any_run_with_input_shapes() -> None:
    import torch

    runner = Program(FIXPOINT).compile(backend="torch", input_shapes={"Edge": (3, 3)})
    module = runner.fx_module
    assert isinstance(module, torch.fx.GraphModule)
    # Without sizes, a fixpoint's zero state is made from its input's size.
    symbolic = Program(FIXPOINT).compile(backend="torch").fx_module
    for size in (3, 6):
        path, degrees, _status = symbolic(torch.from_numpy(_chain(size)))
        expected = _closure_reference(_chain(size))
        np.testing.assert_array_equal(path.numpy(), expected["Path"])
        np.testing.assert_array_equal(degrees.numpy(), expected["deg.npy"])


def test_fx_module_before_any_run_with_symbolic_sizes() -> None:
    import torch

    runner = Program(NORMALIZED).compile(backend="torch")
    module = runner.fx_module
    assert isinstance(module, torch.fx.GraphModule)
    rng = np.random.default_rng(3)
    for n, m, k in ((2, 3, 4), (6, 5, 3)):
        w, x = rng.standard_normal((n, m), np.float32), rng.standard_normal((m, k), np.float32)
        y, normalized = module(torch.from_numpy(w), torch.from_numpy(x))
        expected = _normalized_reference(w, x)
        np.testing.assert_allclose(y.numpy(), expected["Y"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(normalized.numpy(), expected["N"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        ({"Nope": (2, 2)}, "input_shapes names 'Nope', which is not an input"),
        ({"Edge": (2,)}, "gives 'Edge' the shape \\(2,\\), but the program uses it with rank 2"),
        ({"Edge": (0, 2)}, "sizes must be positive"),
    ],
)
def test_bad_shapes_are_named(shapes: dict, message: str) -> None:
    runner = Program(FIXPOINT).compile()
    with pytest.raises(FuseError, match=message):
        runner.export("jax", input_shapes=shapes)


def test_unknown_format() -> None:
    with pytest.raises(FuseError, match="unknown export format 'onnx'"):
        Program(FIXPOINT).compile().export("onnx", input_shapes={"Edge": (2, 2)})


@pytest.mark.parametrize(
    ("binding", "parsed"), [("A=6x40", ("A", (6, 40))), ("S=", ("S", ())), ("v=7", ("v", (7,)))]
)
def test_parse_shape(binding: str, parsed: tuple) -> None:
    assert parse_shape(binding) == parsed


@pytest.mark.parametrize("binding", ["A", "A=6xx", "A=-1", "=3"])
def test_parse_shape_errors(binding: str) -> None:
    with pytest.raises(FuseError, match="--shape"):
        parse_shape(binding)


def test_cli_export_and_emit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = tmp_path / "closure.fuse"
    program.write_text(FIXPOINT)
    out = tmp_path / "closure.mlirbc"
    argv = [
        "export",
        str(program),
        "--format",
        "stablehlo",
        "--out",
        str(out),
        "--shape",
        "Edge=5x5",
    ]
    assert fuse_main([*argv, "--emit"]) == 0
    text = capsys.readouterr().out
    assert "func.func public @main(%arg0: tensor<5x5xf32>" in text
    assert out.read_bytes().startswith(b"ML\xefR"), "MLIR bytecode"
    assert (
        fuse_main(["export", str(program), "--format", "torch", "--out", str(tmp_path / "x.pt")])
        == 1
    )
    assert "torch.export.load reads .pt2 files" in capsys.readouterr().err
    shifted = tmp_path / "shifted.fuse"
    shifted.write_text(CONCAT_OF_FIVE)
    assert (
        fuse_main(["export", str(shifted), "--format", "jax", "--out", str(tmp_path / "y.jax")])
        == 1
    )
    err = capsys.readouterr().err
    assert "follows the symbols in a way an artifact cannot express" in err
    assert not (tmp_path / "y.jax").exists(), "a failed export leaves no file"


def test_cli_compile_with_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = tmp_path / "closure.fuse"
    program.write_text(FIXPOINT)
    assert fuse_main(["compile", str(program), "--emit", "stablehlo", "--shape", "Edge=3x3"]) == 0
    assert "tensor<3x3xf32>" in capsys.readouterr().out


def test_exporting_again_reuses_the_compiled_plan() -> None:
    runner = Program(FIXPOINT).compile(backend="numpy", input_shapes={"Edge": (3, 3)})
    runner.export("jax")
    jax_runner = runner.for_backend("jax")
    runner.export("stablehlo")
    assert runner.for_backend("jax") is jax_runner
    assert len(jax_runner.plans) == 1, "the second export compiled nothing"


LAYER = """
B[i] = "b.npy"
H[i] = relu(W[i, j] X[j] + B[i])
L = H[i] H[i]
"h.npy" = H[i]
export L
export H
"""


def _layer_reference(w: np.ndarray, x: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """L = sum relu(W x + b)^2 and its gradients, by hand."""
    z = w @ x + b
    h = np.maximum(z, 0)
    dz = 2 * h * (z > 0)
    return {"L": np.sum(h * h), "H": h, "grad/W": np.outer(dz, x), "grad/X": w.T @ dz}


def test_jax_grad_of_an_artifact_loaded_without_fuse(tmp_path: Path) -> None:
    """Exported with symbolic sizes (`j`; `i` is the source's 3), at two sizes."""
    rng = np.random.default_rng(7)
    b = rng.standard_normal(3).astype(np.float32)
    np.save(tmp_path / "b.npy", b)
    runner = Program(LAYER, "layer.fuse", base_dir=tmp_path).compile(backend="numpy")
    runner.export("jax", out=tmp_path / "layer.jax", vjp_order=1)
    (tmp_path / "layer.loss.txt").write_text("L")
    runs = {}
    for size in (5, 2):
        w, x = rng.standard_normal((3, size), np.float32), rng.standard_normal(size, np.float32)
        np.savez(tmp_path / f"layer@{size}.inputs.npz", W=w, X=x)
        runs[size] = (w, x)
    _run_in_fresh_process("jax", tmp_path)
    for size, (w, x) in runs.items():
        outputs = dict(np.load(tmp_path / f"layer@{size}.outputs.npz"))
        loss, gradients = runner.value_and_grad("L", ["W", "X"], {"W": w, "X": x})
        assert set(outputs) == {"L", "H", "h.npy", "grad/W", "grad/X"}
        for name, value in _layer_reference(w, x, b).items():
            np.testing.assert_allclose(outputs[name], value, rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(outputs["grad/W"], gradients["W"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(outputs["grad/X"], gradients["X"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(outputs["L"], loss, rtol=1e-5)


def test_cli_vjp_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import jax

    program = tmp_path / "layer.fuse"
    program.write_text(LAYER)
    np.save(tmp_path / "b.npy", np.ones(2, np.float32))
    argv = ["export", str(program), "--shape", "W=2x3", "--shape", "X=3", "--vjp-order", "1"]
    assert fuse_main([*argv, "--format", "jax", "--out", str(tmp_path / "l.jax")]) == 0
    assert jax.export.deserialize(bytearray((tmp_path / "l.jax").read_bytes())).has_vjp()
    assert fuse_main([*argv, "--format", "torch", "--out", str(tmp_path / "l.pt2")]) == 1
    assert "--vjp-order is for --format jax" in capsys.readouterr().err


NORMALIZED = """
H[i, k] = relu(W[i, j] X[j, k])
Y[i, k.] = softmax(H[i, k])
N[i, k.] = lnorm(H[i, k])
export Y
export N
"""


def _normalized_reference(w: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    h = np.maximum(w @ x, 0)
    e = np.exp(h - h.max(axis=1, keepdims=True))
    centered = h - h.mean(axis=1, keepdims=True)
    n = centered / np.sqrt((centered**2).mean(axis=1, keepdims=True) + 1e-5)
    return {"Y": e / e.sum(axis=1, keepdims=True), "N": n}


def _closure_reference(edge: np.ndarray) -> dict[str, np.ndarray]:
    path = edge.copy()
    for _ in range(len(edge)):
        path = np.minimum(path + path @ edge, 1)
    return {"Path": path, "deg.npy": edge.sum(axis=1)}


def _chain(size: int) -> np.ndarray:
    edge = np.zeros((size, size), np.float32)
    edge[np.arange(size - 1), np.arange(1, size)] = 1
    return edge


SYMBOLIC_CASES = {
    "normalized": (
        NORMALIZED,
        lambda n, m, k: {
            "W": np.random.default_rng(n).standard_normal((n, m)).astype(np.float32),
            "X": np.random.default_rng(k).standard_normal((m, k)).astype(np.float32),
        },
        lambda inputs: _normalized_reference(inputs["W"], inputs["X"]),
    ),
    "closure": (
        FIXPOINT,
        lambda n, m, k: {"Edge": _chain(n)},
        lambda i: _closure_reference(i["Edge"]),
    ),
}


@pytest.mark.parametrize("format", ["jax", "torch"])
def test_symbolic_artifacts_run_at_two_sizes_without_fuse(format: str, tmp_path: Path) -> None:
    """Exported without sizes, each artifact runs in a process without Fuse
    at two sizes and matches `runner.run` and a NumPy reference at both."""
    runs = {}
    for name, (text, make_inputs, reference) in SYMBOLIC_CASES.items():
        runner = Program(text, f"{name}.fuse", base_dir=tmp_path).compile(backend="numpy")
        runner.export(format, out=tmp_path / f"{name}{SUFFIXES[format]}")
        for tag, sizes in (("small", (3, 4, 5)), ("large", (7, 2, 6))):
            inputs = make_inputs(*sizes)
            np.savez(tmp_path / f"{name}@{tag}.inputs.npz", **inputs)
            runs[f"{name}@{tag}"] = (runner.run(inputs), reference(inputs))
    _run_in_fresh_process(format, tmp_path)
    for run, (expected, reference) in runs.items():
        outputs = dict(np.load(tmp_path / f"{run}.outputs.npz"))
        for key, value in reference.items():
            np.testing.assert_allclose(outputs[key], value, rtol=1e-5, atol=1e-5, err_msg=run)
            if key in expected:
                np.testing.assert_allclose(outputs[key], expected[key], rtol=1e-5, atol=1e-6)


def test_symbols_follow_the_program_indices() -> None:
    import torch

    runner = Program(NORMALIZED).compile(input_shapes={"X": (5, 8)})
    exported = runner.export("jax", input_shapes={})
    assert [str(a.shape) for a in exported.in_avals] == ["(i, j)", "(j, k)"]
    assert [str(a.shape) for a in exported.out_avals] == ["(i, k)", "(i, k)"]
    given = runner.export("jax")  # X's size given: j and k static, i symbolic
    assert [str(a.shape) for a in given.in_avals] == ["(i, 5)", "(5, 8)"]
    program = runner.export("torch", input_shapes={}).module()
    for rows in (2, 9):
        out = program({"W": torch.ones(rows, 3), "X": torch.ones(3, 4)})
        assert tuple(out["Y"].shape) == (rows, 4)


def test_stablehlo_without_sizes_has_dynamic_dimensions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    program = tmp_path / "normalized.fuse"
    program.write_text(NORMALIZED)
    assert fuse_main(["compile", str(program), "--emit", "stablehlo"]) == 0
    text = capsys.readouterr().out
    assert "tensor<?x?xf32>" in text and "stablehlo.dynamic_broadcast_in_dim" in text
    artifact = tmp_path / "n.mlirbc"
    assert (
        fuse_main(
            ["export", str(program), "--format", "stablehlo", "--out", str(artifact), "--emit"]
        )
        == 0
    )
    assert "func.func public @main(%arg0: tensor<?x?xf32>" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "format", "message", "shapes"),
    [
        # a concat of 5 parts of their own sizes: a sum of more symbols than the probes read
        (CONCAT_OF_FIVE, "jax", "no expression of the symbols", {n: (2, 3) for n in "ABEFG"}),
    ],
)
def test_sizes_that_cannot_be_symbolic_are_named(
    text: str, format: str, message: str, shapes: dict
) -> None:
    runner = Program(text).compile()
    with pytest.raises(FuseError, match=message):
        runner.export(format)
    assert runner.export(format, input_shapes=shapes) is not None, "static sizes export"


def test_a_symbolic_torch_export_after_a_static_one() -> None:
    """A fixpoint exported at fixed sizes first left size guards in
    dynamo's caches that made the next symbolic export fail (`12 != x`)."""
    import torch

    maximum = "Best[x, y] max= P[x, y]\nBest[x, z] max= Best[x, y] P[y, z]\nexport Best\n"
    Program(maximum).compile().export("torch", input_shapes={"P": (12, 12)})
    program = Program(FIXPOINT).compile().export("torch", input_shapes={}).module()
    for size in (4, 12):
        path = program({"Edge": torch.from_numpy(_chain(size))})["Path"]
        np.testing.assert_array_equal(path.numpy(), _closure_reference(_chain(size))["Path"])
