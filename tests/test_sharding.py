"""Sharded execution through XLA's SPMD partitioner (fuse.runtime.sharding).

The sharded runs need 8 devices, and JAX fixes its device count when it
starts, so they run in a process of their own
(tests/data/sharding/run_sharded.py) with
`--xla_force_host_platform_device_count=8`; this file checks its report and
the errors, which need no devices.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fuse import ExecutionConfig, FuseError, Program, RuntimePolicies

WORKER = Path(__file__).parent / "data" / "sharding" / "run_sharded.py"
MLP = """
H[b, j] = relu(X[b, i] W1[i, j])
Y[b, l] = H[b, j] W2[j, l]
export Y
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("sharding") / "report.json"
    done = subprocess.run(
        [sys.executable, str(WORKER), str(out)], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_conformance_cases_agree_sharded_and_on_one_device(report: dict[str, Any]) -> None:
    assert report["devices"] == 8
    runs = report["runs"]
    layouts = {run["layout"] for run in runs}
    assert layouts == {"data", "model", "2d"}
    # Every case runs split over an index of its inputs or exports (the
    # worker picks a device count that divides its size), unless no such
    # size has a divisor from 2 to 8 (JAX refuses uneven splits).
    unsplittable = report["unsplittable"]
    assert {run["case"] for run in runs} | set(unsplittable) == set(report["cases"])
    for case, sizes in unsplittable.items():
        assert all(size % n for size in sizes.values() for n in range(2, 9)), case
    assert len(unsplittable) <= 2
    for run in runs:
        tolerance = 1e-4 * max(1.0, run["scale"])
        assert run["difference"] <= tolerance, (run["case"], run["layout"], run["difference"])


def test_each_device_holds_its_share(report: dict[str, Any]) -> None:
    """A result split along mesh axes holds shape / axis size per device."""
    checked = 0
    for run in report["runs"]:
        for name, shard in run["shards"].items():
            expected = list(shard["shape"])
            for dim, axis in enumerate(shard["axes"]):
                if axis is not None:
                    expected[dim] //= run["mesh"][axis]
                    checked += 1
            assert shard["shard"] == expected, (run["case"], run["layout"], name)
    assert checked > 40


def test_collectives_follow_the_projection(report: dict[str, Any]) -> None:
    """Data-parallel keeps `b` in every tensor: no communication. Sharding
    `j`, which the second layer projects, needs one all-reduce."""
    assert report["mlp"]["data"] == {}
    assert report["mlp"]["model"] == {"all-reduce": 1}
    assert report["mlp"]["2d"] == {"all-reduce": 1}


# --- the spec, checked against the program and the mesh -----------------------------


def _compile(sharding: dict, **config: Any) -> Any:
    return Program(MLP).compile(
        backend=config.pop("backend", "jax"),
        config=ExecutionConfig(**config),
        policies=RuntimePolicies(sharding=sharding),
    )


def test_indices_resolve_to_every_tensor_that_has_them() -> None:
    runner = _compile({"b": "data", "j": "model", "W2": (None, "data")})
    assert runner.sharding == {
        "H": ("data", "model"),
        "X": ("data", None),
        "W1": (None, "model"),
        "Y": ("data", None),
        "W2": (None, "data"),
    }


@pytest.mark.parametrize(
    ("sharding", "message"),
    [
        ({"q": "data"}, "names 'q', which is neither an index nor a tensor of the program"),
        ({"b": ("data",)}, "an index maps to one mesh axis name"),
        ({"W1": ("model",)}, "gives 1 mesh axes, but 'W1' has 2 dimensions"),
        (
            {"b": "data", "j": "data"},
            r"'H\[b, j\]' would split two dimensions along mesh axis 'data'",
        ),
    ],
)
def test_bad_specs_are_named(sharding: dict, message: str) -> None:
    with pytest.raises(FuseError, match=message):
        _compile(sharding)


def test_mesh_errors() -> None:
    data = {
        "X": np.ones((6, 4), np.float32),
        "W1": np.ones((4, 4), np.float32),
        "W2": np.ones((4, 2), np.float32),
    }
    with pytest.raises(FuseError, match="runs on the jax backend"):
        _compile({"b": "data"}, backend="numpy", mesh={"data": 2})
    with pytest.raises(FuseError, match=r"needs 64 devices, but JAX sees"):
        _compile({"b": "data"}, mesh={"data": 64}).run(data)
    with pytest.raises(ValueError, match=r"ExecutionConfig\.mesh"):
        ExecutionConfig(mesh={"data": 0})
    one = {"data": 1}
    with pytest.raises(FuseError, match=r"uses mesh axis 'model', but the mesh has axes data"):
        _compile({"j": "model"}, mesh=one).run(data)


def test_indivisible_size_is_named(report: dict[str, Any]) -> None:
    assert report["indivisible"] == (
        "error: 'X' has size 6 in dimension 0, which mesh axis 'data' (4 devices) does not divide"
    )


def test_one_device_mesh_runs_and_explains() -> None:
    import jax

    mesh = jax.make_mesh((1,), ("data",), devices=jax.devices()[:1])
    runner = _compile({"b": "data"}, mesh=mesh)
    data = {
        "X": np.ones((5, 4), np.float32),
        "W1": np.ones((4, 4), np.float32),
        "W2": np.ones((4, 2), np.float32),
    }
    np.testing.assert_allclose(runner.run(data)["Y"], np.full((5, 2), 16.0))
    assert "sharding over mesh (data=1)" in runner.explain()


def test_emit_dataflow_shows_the_sharding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = _compile({"b": "data"})
    module, _, _ = runner.specialized_module({"X": (4, 2), "W1": (2, 3), "W2": (3, 1)})
    text = str(module)
    assert 'fuse.sharding = ["data", ""]' in text


def test_two_processes_share_one_mesh(tmp_path: Path) -> None:
    """Two local processes with 4 CPU devices each form one 8-device mesh
    through `jax.distributed.initialize` (gloo collectives over loopback);
    each gathers the whole result, equal to the one-process NumPy run."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    script = Path(__file__).parent / "data" / "sharding" / "two_processes.py"
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(n), port, str(tmp_path / f"y{n}.npy")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(2)
    ]
    try:
        logs = [worker.communicate(timeout=240)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert [w.returncode for w in workers] == [0, 0], "\n".join(log[-2000:] for log in logs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8)).astype(np.float32)
    w1 = rng.standard_normal((8, 8)).astype(np.float32)
    w2 = rng.standard_normal((8, 4)).astype(np.float32)
    expected = np.maximum(x @ w1, 0) @ w2
    for n in range(2):
        np.testing.assert_allclose(np.load(tmp_path / f"y{n}.npy"), expected, rtol=1e-5, atol=1e-5)
