"""The artifact cache on every backend: a warm compile skips the pass
pipeline (and XLA), entries hold the documented artifacts, damaged entries
are rebuilt with a warning instead of failing, two processes compiling at
once leave one valid entry, and the key follows everything a compile
depends on."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ir_helpers import parse_module

import fuse.runtime.runner as runner_module
from fuse import ExecutionConfig, Program, RuntimePolicies
from fuse.lowering.numpy.recipe import decode as decode_recipe
from fuse.runtime.cache import ArtifactCache, CompiledXla
from fuse.runtime.ir_codec import decode

BACKENDS = ["numpy", "torch", "jax"]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BACKEND_FILES = {
    "numpy": {"executable.bin"},
    "torch": {"fx.py", "executable.bin"},
    "jax": {"stablehlo.mlir", "signature.json", "xla.bin"},
}


def as_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value)


def example(name: str, tmp_path: Path) -> Path:
    """A copy of an example, so its sinks are written under `tmp_path`."""
    shutil.copytree(EXAMPLES / name, tmp_path / name, ignore=shutil.ignore_patterns("runs"))
    return tmp_path / name / f"{name}.fuse"


def compile_and_run(path: Path, backend: str, cache: Path, **config: Any) -> tuple[Any, dict]:
    runner = Program.from_file(path).compile(
        backend=backend, config=ExecutionConfig(**config), cache_dir=cache
    )
    outputs = {name: as_numpy(value) for name, value in runner.run().items()}
    return runner, outputs


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if p.is_dir() and not p.name.startswith("."))


@pytest.fixture
def pass_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every pipeline the runners run, as the names of its passes."""
    calls: list[tuple[str, ...]] = []
    run_passes = runner_module.run_passes

    def counting(module: Any, passes: Any) -> None:
        calls.append(tuple(passes))
        run_passes(module, passes)

    monkeypatch.setattr(runner_module, "run_passes", counting)
    return calls


def assert_same(actual: dict, expected: dict) -> None:
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_warm_compile_skips_the_pipeline(
    backend: str, tmp_path: Path, pass_runs: list[tuple[str, ...]]
) -> None:
    program, cache = example("mlp", tmp_path), tmp_path / "cache"
    cold, expected = compile_and_run(program, backend, cache)
    assert (cold.cache.hits, cold.cache.misses) == (0, 1)
    assert pass_runs  # the cold compile ran the pipeline
    pass_runs.clear()

    warm, outputs = compile_and_run(program, backend, cache)
    assert pass_runs == []
    assert (warm.cache.hits, warm.cache.misses) == (1, 0)
    assert_same(outputs, expected)
    plan = warm.last_plan
    if backend == "jax":  # XLA did not compile either
        assert isinstance(plan.executable, CompiledXla)
        assert plan.executable.compiled_variants == 0
    assert isinstance(plan.ir, bytes)  # the executable was loaded: the IR was not decoded
    assert str(plan.module) == str(cold.last_plan.module)
    assert warm.explain().splitlines()[2:] == cold.explain().splitlines()[2:]


@pytest.mark.parametrize("backend", BACKENDS)
def test_entry_layout(backend: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    compile_and_run(example("attention", tmp_path), backend, cache)
    [entry] = entries(cache)
    names = {p.name for p in entry.iterdir()}
    assert (
        names
        == {"manifest.json", "plan.json", "dataflow.ir", "dataflow.mlir"} | BACKEND_FILES[backend]
    )
    manifest = json.loads((entry / "manifest.json").read_text())
    assert manifest["key"] == entry.name
    assert set(manifest["files"]) == names - {"manifest.json"}
    module = parse_module((entry / "dataflow.mlir").read_text())
    assert any(op.name == "fuse.einsum" for op in module.walk())
    assert str(decode((entry / "dataflow.ir").read_bytes())) == str(module)
    if backend == "jax":
        assert "stablehlo." in (entry / "stablehlo.mlir").read_text()
    if backend == "torch":
        assert "def forward" in (entry / "fx.py").read_text()
    if backend == "numpy":
        recipe = decode_recipe((entry / "executable.bin").read_bytes())
        assert recipe.arg_names == ("X", "Wq", "Wk", "Wv")


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixpoint_program_with_symbol_sink(
    backend: str, tmp_path: Path, pass_runs: list[tuple[str, ...]]
) -> None:
    """On jax a fixpoint's divergence check is a host callback, which XLA
    cannot serialize: the entry keeps StableHLO only, and is still warm. On
    torch the fixpoint modules are not saved: a warm compile lowers the
    cached IR."""
    program, cache = example("ancestor", tmp_path), tmp_path / "cache"
    sink = program.parent / "runs" / "ancestor.tsv"
    _, expected = compile_and_run(program, backend, cache)
    written = sink.read_text()
    sink.unlink()
    pass_runs.clear()
    warm, outputs = compile_and_run(program, backend, cache)
    assert pass_runs == []
    assert warm.cache.hits == 1
    assert_same(outputs, expected)
    assert sink.read_text() == written  # symbols, from the cached sink domains
    names = {p.name for p in entries(cache)[0].iterdir()}
    if backend == "jax":
        assert "xla.bin" not in names
    if backend == "torch":
        assert "executable.bin" not in names


def damage(entry: Path, how: str) -> None:
    if how == "flipped byte":
        data = bytearray((entry / "dataflow.mlir").read_bytes())
        data[len(data) // 2] ^= 0x20
        (entry / "dataflow.mlir").write_bytes(bytes(data))
    elif how == "truncated":  # the largest file: xla.bin on jax
        files = [p for p in entry.iterdir() if p.name != "manifest.json"]
        biggest = max(files, key=lambda p: p.stat().st_size)
        biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])
    elif how == "missing file":
        (entry / "plan.json").unlink()
    elif how == "garbage manifest":
        (entry / "manifest.json").write_text('{"format": 1, "key"')
    elif how == "older layout":  # format 1 kept the IR as text only
        (entry / "dataflow.ir").unlink()
        manifest = json.loads((entry / "manifest.json").read_text())
        del manifest["files"]["dataflow.ir"]
        (entry / "manifest.json").write_text(json.dumps({**manifest, "format": 1}))
    else:  # a checksum that matches a file the warm compile cannot load
        executables = [n for n in ("xla.bin", "executable.bin") if (entry / n).exists()]
        loaded = executables[0] if executables else "dataflow.ir"
        garbage = b'"builtin.module"() ({ neither IR nor an executable'
        if how == "unknown op":  # a well-formed codec blob the decoder cannot build
            _drop(entry, "executable.bin")  # as for a torch fixpoint: the IR is what loads
            loaded = "dataflow.ir"
            garbage = (entry / loaded).read_bytes().replace(b"fuse.einsum", b"fuse.einzum")
        (entry / loaded).write_bytes(garbage)
        manifest = json.loads((entry / "manifest.json").read_text())
        manifest["files"][loaded] = hashlib.sha256(garbage).hexdigest()
        (entry / "manifest.json").write_text(json.dumps(manifest))


DAMAGE = [
    "flipped byte",
    "truncated",
    "missing file",
    "garbage manifest",
    "older layout",
    "unloadable",
    "unknown op",
]


def _drop(entry: Path, name: str) -> None:
    """Removes file `name` of the entry, as if it had never been written."""
    (entry / name).unlink(missing_ok=True)
    manifest = json.loads((entry / "manifest.json").read_text())
    manifest["files"].pop(name, None)
    (entry / "manifest.json").write_text(json.dumps(manifest))


# A warm jax compile loads StableHLO or the XLA executable and decodes the
# IR only when `plan.module` is read, so an undecodable IR is not damage it
# can see.
DAMAGE_CASES = [
    (backend, how)
    for backend in BACKENDS
    for how in DAMAGE
    if not (backend == "jax" and how == "unknown op")
]


@pytest.mark.parametrize(("backend", "how"), DAMAGE_CASES)
def test_damaged_entry_is_rebuilt(backend: str, how: str, tmp_path: Path) -> None:
    program, cache = example("mlp", tmp_path), tmp_path / "cache"
    _, expected = compile_and_run(program, backend, cache)
    [entry] = entries(cache)
    damage(entry, how)
    with pytest.warns(RuntimeWarning, match="fuse cache"):
        rebuilt, outputs = compile_and_run(program, backend, cache)
    assert (rebuilt.cache.hits, rebuilt.cache.misses) == (0, 1)
    assert_same(outputs, expected)
    warm, outputs = compile_and_run(program, backend, cache)  # the entry is whole again
    assert (warm.cache.hits, warm.cache.misses) == (1, 0)
    assert_same(outputs, expected)
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []


def _compile_in_process(program: str, backend: str, cache: str, barrier: Any, queue: Any) -> None:
    barrier.wait()
    runner = Program.from_file(program).compile(backend=backend, cache_dir=cache)
    outputs = {name: as_numpy(value) for name, value in runner.run().items()}
    queue.put((runner.cache.hits, runner.cache.misses, outputs))


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_compiling_at_once(backend: str, tmp_path: Path) -> None:
    program, cache = example("mlp", tmp_path), tmp_path / "cache"
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(2), context.Queue()
    workers = [
        context.Process(
            target=_compile_in_process, args=(str(program), backend, str(cache), barrier, queue)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    # The lock let one process build the entry; the other waited and read it.
    assert sorted((hits, misses) for hits, misses, _ in results) == [(0, 1), (1, 0)]
    assert_same(results[0][2], results[1][2])
    assert len(entries(cache)) == 1
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []


AFFINE = "Y[b, j] = X[b, i] W[i, j]\nexport Y\n"


def warm_affine(cache: Path, text: str = AFFINE, batch: int = 2, **kwargs: Any) -> bool:
    """Whether compiling `text` for these inputs found its entry."""
    runner = Program(text).compile(cache_dir=cache, **kwargs)
    runner.run({"X": np.ones((batch, 3), np.float32), "W": np.ones((3, 4), np.float32)})
    return runner.cache.hits == 1


def test_key_follows_program_config_shapes_backend_policies(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert not warm_affine(cache)
    assert warm_affine(cache)
    variants = [
        {"text": AFFINE.replace("W[i, j]", "W[i, j] + 1")},
        {"batch": 5},
        {"config": ExecutionConfig(opt_level=0)},
        {"config": ExecutionConfig(max_iters=7)},
        {"backend": "jax"},
        {"policies": RuntimePolicies(sharding={"W": ("model", None)})},
    ]
    for variant in variants:
        assert not warm_affine(cache, **variant), variant
        assert warm_affine(cache, **variant), variant
    assert len(entries(cache)) == 1 + len(variants)


def test_runs_with_a_known_signature_do_not_touch_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = Program(AFFINE).compile(cache_dir=tmp_path / "cache")
    inputs = {"X": np.ones((2, 3), np.float32), "W": np.ones((3, 4), np.float32)}
    expected = runner.run(inputs)["Y"]

    def untouchable(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the cache was consulted")

    monkeypatch.setattr(ArtifactCache, "compile", untouchable)
    monkeypatch.setattr(runner_module, "cache_key", untouchable)
    np.testing.assert_array_equal(runner.run(inputs)["Y"], expected)


def test_unusable_cache_directory_only_warns(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    runner = Program(AFFINE).compile(cache_dir=not_a_directory)
    with pytest.warns(RuntimeWarning, match="compiling without the cache"):
        out = runner.run({"X": np.ones((2, 3), np.float32), "W": np.ones((3, 4), np.float32)})
    np.testing.assert_array_equal(out["Y"], np.full((2, 4), 3, np.float32))


def test_warm_jax_runner_keeps_xla_callable(tmp_path: Path) -> None:
    import jax

    program, cache = example("mlp", tmp_path), tmp_path / "cache"
    _, expected = compile_and_run(program, "jax", cache)
    warm = Program.from_file(program).compile(backend="jax", cache_dir=cache)
    inputs = {"X": np.load(program.parent / "data" / "x.npy")}
    out = jax.jit(lambda d: warm.xla_callable(d)["Out"])(inputs)
    np.testing.assert_allclose(np.asarray(out), expected["Out"], rtol=1e-6, atol=1e-6)
    assert warm.cache.hits == 1


def test_warm_torch_executable_is_the_same_program(tmp_path: Path) -> None:
    """A loaded torch executable runs the saved code; its GraphModule, traced
    from that code on first read, is the cold compile's graph, and it
    compiles and differentiates like one."""
    import torch

    program, cache = example("mlp", tmp_path), tmp_path / "cache"
    cold, expected = compile_and_run(program, "torch", cache)
    warm, outputs = compile_and_run(program, "torch", cache)
    assert warm.cache.hits == 1
    assert_same(outputs, expected)
    assert isinstance(warm.fx_module, torch.fx.GraphModule)
    assert warm.fx_module.code == cold.fx_module.code
    compile_and_run(program, "torch", cache, compile=True)  # another key: cold
    compiled, compiled_outputs = compile_and_run(program, "torch", cache, compile=True)
    assert compiled.cache.hits == 1
    assert_same(compiled_outputs, expected)

    def weight_gradient(runner: Any) -> torch.Tensor:
        inputs = {name: torch.tensor(value) for name, value in runner.bind_inputs({}).items()}
        inputs["W2"].requires_grad_(True)
        runner.run(inputs)["Out"].square().sum().backward()
        return inputs["W2"].grad

    torch.testing.assert_close(weight_gradient(warm), weight_gradient(cold), rtol=0, atol=0)
