"""`runner.fit`: training on every backend, batching, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fuse import FuseError, Program
from fuse.training.fit import Batches, load_checkpoint
from fuse.training.optimizers import make_optimizer

REGRESSION = """
Out[e] = X[e, i] W[i] + B
Loss = (Y[e] - Out[e])^2 / 16
export Loss
"""


def _data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.01 * rng.standard_normal(64)).astype(np.float32)
    return {"X": x, "Y": y}


def _start() -> dict[str, np.ndarray]:
    return {"W": np.zeros(3, np.float32), "B": np.zeros((), np.float32)}


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_fit_recovers_least_squares(backend: str) -> None:
    data = _data()
    runner = Program(REGRESSION).compile(backend=backend)
    result = runner.fit(
        "Loss",
        _start(),
        data,
        batch_index="e",
        batch_size=16,
        optimizer="adam",
        lr=0.05,
        epochs=40,
        progress=False,
    )
    design = np.hstack([data["X"], np.ones((64, 1), np.float32)])
    solution, *_ = np.linalg.lstsq(design, data["Y"], rcond=None)
    np.testing.assert_allclose(result.params["W"], solution[:3], atol=5e-3)
    np.testing.assert_allclose(result.params["B"], solution[3], atol=5e-3)
    assert len(result.history) == 40 * 4
    assert result.losses[-1] < result.losses[0] / 100
    assert isinstance(result.params["W"], np.ndarray)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
def test_torch_steps_in_place_but_leaves_the_callers_arrays(optimizer: str) -> None:
    """On torch fit updates its own copies in place (torch._foreach_ ops);
    the initial values passed in stay as they were, and the steps are the
    NumPy backend's."""
    start = {"W": np.full(3, 0.5, np.float32), "B": np.ones((), np.float32)}
    kept = {name: value.copy() for name, value in start.items()}
    results = {}
    for backend in ("torch", "numpy"):
        runner = Program(REGRESSION).compile(backend=backend)
        results[backend] = runner.fit(
            "Loss", start, _data(), optimizer=optimizer, lr=0.05, steps=5, progress=False
        )
    for name, value in kept.items():
        np.testing.assert_array_equal(start[name], value)
        np.testing.assert_allclose(
            results["torch"].params[name], results["numpy"].params[name], rtol=1e-5, atol=1e-6
        )
    np.testing.assert_allclose(results["torch"].losses, results["numpy"].losses, rtol=1e-5)


def test_backends_take_the_same_steps() -> None:
    runs = [
        Program(REGRESSION)
        .compile(backend=b)
        .fit(
            "Loss",
            _start(),
            _data(),
            batch_index="e",
            batch_size=16,
            optimizer="sgd",
            lr=0.1,
            steps=7,
            progress=False,
        )
        for b in ("numpy", "torch", "jax")
    ]
    for other in runs[1:]:
        np.testing.assert_allclose(other.losses, runs[0].losses, rtol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_resume_continues_where_the_checkpoint_stopped(tmp_path: Path, backend: str) -> None:
    runner = Program(REGRESSION).compile(backend=backend)
    options = {
        "batch_index": "e",
        "batch_size": 16,
        "optimizer": "adamw",
        "lr": 0.05,
        "progress": False,
    }
    straight = runner.fit("Loss", _start(), _data(), steps=10, **options)
    checkpoint = tmp_path / "run.safetensors"
    runner.fit("Loss", _start(), _data(), steps=6, checkpoint=checkpoint, **options)
    resumed = runner.fit(
        "Loss", _start(), _data(), steps=10, checkpoint=checkpoint, resume=True, **options
    )
    assert [row["step"] for row in resumed.history] == list(range(10))
    np.testing.assert_allclose(resumed.losses, straight.losses, rtol=1e-6)
    for name in ("W", "B"):
        np.testing.assert_allclose(resumed.params[name], straight.params[name], rtol=1e-6)
    saved, state = load_checkpoint(checkpoint, make_optimizer("adamw", 0.05))
    assert state["step"] == 10 and set(state) == {"step", "m", "v"}
    np.testing.assert_allclose(saved.params["W"], resumed.params["W"])
    with pytest.raises(FuseError, match="saved by optimizer 'adamw', not 'sgd'"):
        load_checkpoint(checkpoint, make_optimizer("sgd", 0.05))


def test_batches_cover_each_epoch_once() -> None:
    runner = Program(REGRESSION).compile()
    data = {"X": np.arange(30, dtype=np.float32).reshape(10, 3), "Y": np.arange(10.0)}
    batches = Batches(runner, data, "e", 3, seed=1)
    assert batches.per_epoch == 3, "the last partial batch is dropped"
    rows = [batches.at(step)[1]["Y"] for step in range(3)]
    seen = np.concatenate(rows)
    assert len(set(seen.tolist())) == 9
    np.testing.assert_array_equal(batches.at(0)[1]["X"][:, 0] / 3, batches.at(0)[1]["Y"])
    assert batches.at(3)[0] == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 3, "epochs": 1}, "exactly one of steps= and epochs="),
        ({"steps": 3, "optimizer": "adagrad"}, "unknown optimizer 'adagrad'"),
        ({"steps": 3, "batch_index": "q"}, "no data tensor has the batch index 'q'"),
        ({"steps": 3, "resume": True}, "resume=True needs an existing checkpoint"),
        ({"steps": 50, "optimizer": "sgd", "lr": 1e4}, "the loss became"),
    ],
)
def test_errors(options: dict, message: str) -> None:
    runner = Program(REGRESSION).compile()
    with pytest.raises(FuseError, match=message):
        runner.fit("Loss", _start(), _data(), progress=False, **options)
    with pytest.raises(FuseError, match="given both as a parameter and as data"):
        runner.fit("Loss", _start(), {**_data(), "W": np.zeros(3)}, steps=1)


def test_cli_train(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from safetensors.numpy import load_file

    from fuse.cli import main

    program = tmp_path / "regression.fuse"
    program.write_text('W[i] = "w0.npy"\n' + REGRESSION)
    np.save(tmp_path / "w0.npy", np.zeros(3, np.float32))
    data = _data()
    np.save(tmp_path / "x.npy", data["X"])
    np.save(tmp_path / "y.npy", data["Y"])
    np.save(tmp_path / "b.npy", np.zeros((), np.float32))
    out = tmp_path / "trained.safetensors"
    argv = [
        "train",
        str(program),
        "--loss",
        "Loss",
        "--params",
        "W,B",
        "--input",
        f"B={tmp_path / 'b.npy'}",
        "--data",
        f"X={tmp_path / 'x.npy'}",
        "--data",
        f"Y={tmp_path / 'y.npy'}",
        "--batch-index",
        "e",
        "--batch-size",
        "16",
        "--lr",
        "0.05",
        "--epochs",
        "40",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert "for 160 steps" in capsys.readouterr().out
    trained = load_file(out)
    np.testing.assert_allclose(trained["W"], [1.0, -2.0, 0.5], atol=2e-2)
    assert main([*argv, "--plot", str(tmp_path / "loss.svg")]) == 0
    svg = (tmp_path / "loss.svg").read_text()
    assert "training loss" in svg and "step" in svg
    assert main([*argv[:-1], str(tmp_path / "trained.npz")]) == 1
    assert "written as *.safetensors" in capsys.readouterr().err


def test_every_backend_stops_at_the_step_whose_loss_is_not_finite() -> None:
    """Losses are read one step late; the error still names the step (and
    epoch) where the loss stopped being finite, the same on every backend."""
    messages = set()
    for backend in ("numpy", "torch", "jax"):
        runner = Program(REGRESSION).compile(backend=backend)
        with pytest.raises(FuseError, match="the loss became") as error:
            runner.fit("Loss", _start(), _data(), optimizer="sgd", lr=1e4, steps=50, progress=False)
        messages.add(str(error.value))
    assert len(messages) == 1, messages
    # SGD on the least-squares loss in float32, from its gradient by hand;
    # all the data each step, so each step is an epoch
    data, w, b, step = _data(), np.zeros(3, np.float32), np.float32(0), 0
    with np.errstate(over="ignore", invalid="ignore"):
        while True:
            residual = data["Y"] - data["X"] @ w - b
            loss = np.float32((residual**2).sum() / 16)
            if not np.isfinite(loss):
                break
            w = w + np.float32(1e4 * 2 / 16) * (data["X"].T @ residual)
            b = b + np.float32(1e4 * 2 / 16) * residual.sum()
            step += 1
    assert f"the loss became {loss} at step {step} (epoch {step})" in messages.pop()


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_checkpoints_hold_the_loss_of_the_step_they_save(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint taken mid-run has every step's loss up to its own,
    though fit reads each loss one step late."""
    from fuse.training import fit as fit_module

    saved = []
    monkeypatch.setattr(
        fit_module,
        "_save",
        lambda path, params, state, history, optimizer: saved.append(
            (int(state["step"]), [row["step"] for row in history])
        ),
    )
    runner = Program(REGRESSION).compile(backend=backend)
    runner.fit(
        "Loss",
        _start(),
        _data(),
        steps=5,
        checkpoint=tmp_path / "run.safetensors",
        checkpoint_every=2,
        progress=False,
    )
    assert saved == [(2, [0, 1]), (4, [0, 1, 2, 3]), (5, [0, 1, 2, 3, 4])]


def test_jax_step_is_compiled_once_and_donates_fits_own_copies() -> None:
    """On jax the whole step is one jitted program, compiled once (the step
    count enters as an int32 array from the start) and donating the
    parameters and optimizer state, which are fit's copies: the caller's
    arrays are left as they were and the steps are the NumPy backend's."""
    start = {"W": np.full(3, 0.5, np.float32), "B": np.ones((), np.float32)}
    kept = {name: value.copy() for name, value in start.items()}
    options = {"batch_index": "e", "batch_size": 16, "optimizer": "adam", "lr": 0.05}
    runner = Program(REGRESSION).compile(backend="jax")
    result = runner.fit("Loss", start, _data(), steps=6, progress=False, **options)
    reference = (
        Program(REGRESSION)
        .compile(backend="numpy")
        .fit("Loss", start, _data(), steps=6, progress=False, **options)
    )
    for name, value in kept.items():
        np.testing.assert_array_equal(start[name], value)
        np.testing.assert_allclose(result.params[name], reference.params[name], rtol=1e-4)
    np.testing.assert_allclose(result.losses, reference.losses, rtol=1e-5)
    (step,) = runner.training_steps.values()
    assert step._cache_size() == 1
    import jax

    specs = jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), np.float32), start)
    state = {"step": jax.ShapeDtypeStruct((), np.int32), "m": specs, "v": specs}
    batch = {
        "X": jax.ShapeDtypeStruct((16, 3), np.float32),
        "Y": jax.ShapeDtypeStruct((16,), np.float32),
    }
    donated = step.lower(specs, state, batch).as_text().count("tf.aliasing_output")
    assert donated == 7  # W, B, the step count, m and v of W and B


def test_batches_draw_each_epochs_order_once(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = Program(REGRESSION).compile()
    data = {"X": np.zeros((12, 3), np.float32), "Y": np.zeros(12, np.float32)}
    batches = Batches(runner, data, "e", 3, seed=1)
    drawn = []
    generator = np.random.default_rng
    monkeypatch.setattr(
        np.random, "default_rng", lambda seed: drawn.append(seed) or generator(seed)
    )
    for step in range(8):
        batches.at(step)
    assert drawn == [[1, 0], [1, 1]]
