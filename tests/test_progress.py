"""Progress bars for long loops: only on a terminal, only after a second,
never with `progress=False` / `fuse run --quiet`."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from fuse import ExecutionConfig, Program
from fuse.lowering import progress as progress_module
from fuse.lowering.progress import LoopProgress

# Path doubles in length each round on a 64-node chain: a few rounds.
CLOSURE = """
Path(x, y) = Edge(x, y)
Path(x, z) += Path(x, y) Edge(y, z)
export Path
"""


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """stderr as a terminal, with no delay before a bar. Called in the test
    body: pytest's own capture resets sys.stderr between fixture set-up and
    the test call."""
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setattr(progress_module, "DELAY", 0.0)
    return screen


def _chain(n: int) -> np.ndarray:
    return np.eye(n, k=1, dtype=np.float32)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_long_fixpoint_shows_a_bar_on_a_terminal(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = terminal(monkeypatch)
    Program(CLOSURE).compile(backend=backend).run({"Edge": _chain(64)})
    shown = screen.getvalue()
    assert "fixpoint Path" in shown and "change=" in shown


# A recurrence along t: a scan of 40 steps (fuse-recognize-recurrences).
RNN = """
H[i, 0] = H0[i]
H[i, t+1] = tanh(W[i, j] H[j, t] + U[i, t])
export H
"""


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_long_scan_shows_its_steps_out_of_the_total(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = terminal(monkeypatch)
    inputs = {"H0": np.zeros(3, np.float32), "W": np.eye(3, dtype=np.float32)}
    inputs["U"] = np.ones((3, 40), np.float32)
    runner = Program(RNN).compile(backend=backend)
    runner.run(inputs)
    assert "scan" in runner.explain()
    assert "scan H" in screen.getvalue() and "40/40" in screen.getvalue()
    config = ExecutionConfig(progress=False)
    quiet = terminal(monkeypatch)
    Program(RNN).compile(backend=backend, config=config).run(inputs)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_no_bar_when_turned_off(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    screen = terminal(monkeypatch)
    config = ExecutionConfig(progress=False)
    Program(CLOSURE).compile(backend=backend, config=config).run({"Edge": _chain(64)})
    assert screen.getvalue() == ""


def test_no_bar_off_a_terminal_or_before_the_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()  # not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    monkeypatch.setattr(progress_module, "DELAY", 0.0)
    progress = LoopProgress("fixpoint X", enabled=True)
    progress.step(1, 0.5)
    assert progress.bar is None and log.getvalue() == ""
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setattr(progress_module, "DELAY", 3600.0)
    progress = LoopProgress("fixpoint X", enabled=True)
    progress.step(1, 0.5)
    assert progress.bar is None and screen.getvalue() == ""


def test_cli_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fuse.cli import main

    screen = terminal(monkeypatch)
    program = tmp_path / "closure.fuse"
    program.write_text(CLOSURE)
    np.save(tmp_path / "edge.npy", _chain(16))
    argv = ["run", str(program), "--input", f"Edge={tmp_path / 'edge.npy'}"]
    assert main([*argv, "--quiet", "--out", str(tmp_path / "a.npy")]) == 0
    assert "fixpoint" not in screen.getvalue()
    assert main([*argv, "--out", str(tmp_path / "b.npy")]) == 0
    assert "fixpoint Path" in screen.getvalue()
