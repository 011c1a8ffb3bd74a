"""Progress bars for long loops: only on a terminal, only after a second,
never with `progress=False` / `fuse run --quiet`; on every backend (jax
through host callbacks compiled in only where a bar is wanted)."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from string import Template

import numpy as np
import pytest
from ir_helpers import parse_module

from fuse import ExecutionConfig, Program
from fuse.lowering import progress as progress_module
from fuse.lowering.backend import FixpointDivergence
from fuse.lowering.jax.backend import JaxBackend, JaxExecutable
from fuse.lowering.progress import LoopProgress, LoopReports
from fuse.runtime.runner import Runner

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


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
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


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
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


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
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


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_cli_quiet(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fuse.cli import main

    screen = terminal(monkeypatch)
    program = tmp_path / "closure.fuse"
    program.write_text(CLOSURE)
    np.save(tmp_path / "edge.npy", _chain(16))
    argv = ["run", str(program), "--input", f"Edge={tmp_path / 'edge.npy'}", "--backend", backend]
    assert main([*argv, "--quiet", "--out", str(tmp_path / "a.npy")]) == 0
    assert "fixpoint" not in screen.getvalue()
    assert main([*argv, "--out", str(tmp_path / "b.npy")]) == 0
    assert "fixpoint Path" in screen.getvalue()


# --- jax: host callbacks in the loop bodies, only where a bar is wanted ------------------

# A naive closure of a 6-node chain: application k finds the paths of up to
# k edges, so the 5-edge path appears at 5 and application 6 changes nothing.
NAIVE_CHAIN_CLOSURE = """
func.func @main(%E: tensor<6x6xf32> {fuse.name = "Edge"}) -> (tensor<6x6xf32> {fuse.name = "Path"}) {
  %p = fuse.fixpoint naive {tensors = ["Path"]$limit} : tensor<6x6xf32> {
  ^bb0(%path: tensor<6x6xf32>):
    %j = fuse.einsum "xy,yz->xz" sum (%E, %path) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
    %s = fuse.binary add "xz,xz->xz" (%E, %j) : (tensor<6x6xf32>, tensor<6x6xf32>) -> tensor<6x6xf32>
    %r = fuse.unary step %s : tensor<6x6xf32>
    fuse.yield %r : tensor<6x6xf32>
  }
  func.return %p : tensor<6x6xf32>
}
"""


def _jax_closure(limit: str = "", progress: bool = True) -> JaxExecutable:
    module = parse_module(Template(NAIVE_CHAIN_CLOSURE).substitute(limit=limit))
    return JaxBackend().compile(module, ExecutionConfig(device="cpu", progress=progress))


def _counts(screen: Terminal, label: str) -> list[int]:
    """The iteration counts the bar of `label` showed, in order (after the
    percentage and the meter where the bar has a total)."""
    pattern = rf"{label}: (?:[^|\r]*\|[^|\r]*\| )?(\d+)"
    return [int(n) for n in re.findall(pattern, screen.getvalue())]


def _host_callback(text: str) -> bool:
    """Whether compiled or lowered `text` calls back to Python (the custom
    call target of `jax.debug.callback` and its kin)."""
    return re.search(r"xla_ffi\w*_python_\w+_callback", text) is not None


def test_jax_fixpoint_bar_sees_every_step_and_the_results_do_not_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quiet = _jax_closure()  # off a terminal: no bar wanted
    screen = terminal(monkeypatch)
    shown = _jax_closure()
    edges = np.eye(6, k=1, dtype=np.float32)
    [path] = shown([edges])
    np.testing.assert_array_equal(path, np.triu(np.ones((6, 6), np.float32), k=1))
    np.testing.assert_array_equal(path, quiet([edges])[0])
    assert _counts(screen, "fixpoint Path")[-6:] == [1, 2, 3, 4, 5, 6]
    assert screen.getvalue().count("change=0") == 1  # the last step, converged
    assert shown.stablehlo_text == quiet.stablehlo_text


def test_jax_fixpoint_at_its_bound_still_diverges_and_closes_its_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = terminal(monkeypatch)
    executable = _jax_closure(", max_iters = 3 : i64")
    with pytest.raises(FixpointDivergence, match="did not converge in 3 iterations"):
        executable([np.eye(6, k=1, dtype=np.float32)])
    assert _counts(screen, "fixpoint Path")[-3:] == [1, 2, 3]
    assert executable._running_program.progress.bars == {}


def test_jax_scan_bar_counts_its_steps_and_the_results_do_not_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(0)
    inputs = {"H0": rng.standard_normal(3).astype(np.float32)}
    inputs["W"] = rng.standard_normal((3, 3)).astype(np.float32) / 3
    inputs["U"] = rng.standard_normal((3, 40)).astype(np.float32)
    quiet = Program(RNN).compile(backend="jax").run(inputs)["H"]
    screen = terminal(monkeypatch)
    shown = Program(RNN).compile(backend="jax").run(inputs)["H"]
    np.testing.assert_array_equal(shown, quiet)
    expected = [inputs["H0"]]
    for t in range(40):
        expected.append(np.tanh(inputs["W"] @ expected[-1] + inputs["U"][:, t]))
    np.testing.assert_allclose(shown, np.stack(expected, axis=1), rtol=1e-5, atol=1e-6)
    assert _counts(screen, "scan H")[-40:] == list(range(1, 41))
    assert "40/40" in screen.getvalue()


def test_jax_bar_on_a_plan_from_the_artifact_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A terminal run compiles a program with callbacks, so the cache keys
    its entry apart from a quiet run's, and a warm load draws the bar too."""
    inputs = {"Edge": _chain(12)}
    quiet = Program(CLOSURE).compile(backend="jax", cache_dir=tmp_path).run(inputs)["Path"]
    screen = terminal(monkeypatch)
    Program(CLOSURE).compile(backend="jax", cache_dir=tmp_path).run(inputs)  # builds its entry
    screen.seek(0)
    screen.truncate()
    from fuse.lowering.jax.backend import JaxBackend

    monkeypatch.setattr(JaxBackend, "compile", lambda *_: pytest.fail("not from the cache"))
    warm = Program(CLOSURE).compile(backend="jax", cache_dir=tmp_path)
    np.testing.assert_array_equal(warm.run(inputs)["Path"], quiet)
    counts = _counts(screen, "fixpoint Path")
    assert counts and counts == sorted(counts) and counts[-1] >= 10
    assert len(list(tmp_path.glob("*/manifest.json"))) == 2
    assert len(list(tmp_path.glob("*/progress.mlir"))) == 1


def test_jax_compiles_no_callback_unless_a_bar_is_wanted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default = _jax_closure()
    assert default.progress_text is None
    assert "custom_call" not in default.stablehlo_text
    assert not _host_callback(default.compiled_hlo())
    terminal(monkeypatch)
    shown = _jax_closure()
    assert '"fuse.progress"' in (shown.progress_text or "")
    assert _host_callback(shown.compiled_hlo())
    assert _jax_closure(progress=False).progress_text is None


def test_jax_exports_and_callables_carry_no_callback(monkeypatch: pytest.MonkeyPatch) -> None:
    import jax

    from fuse.runtime.export import artifact_text

    edges = {"Edge": _chain(16)}
    quiet = Program(CLOSURE).compile(backend="jax", input_shapes={"Edge": (16, 16)})
    quiet.run(edges)
    terminal(monkeypatch)
    runner = Program(CLOSURE).compile(backend="jax", input_shapes={"Edge": (16, 16)})
    runner.run(edges)  # with its bar
    for format in ("jax", "stablehlo"):
        text = artifact_text(format, runner.export(format))
        assert not _host_callback(text) and "fuse.progress" not in text
    executable = runner.last_plan.executable
    assert executable.progress_text is not None

    def lowered(runner: Runner) -> str:
        return jax.jit(runner.last_plan.executable.xla_callable).lower(edges).as_text()

    assert lowered(runner) == lowered(quiet)  # its only callback checks divergence


def test_loop_reports_restart_a_loop_run_again_and_close_what_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = terminal(monkeypatch)
    reports = LoopReports()
    inner = reports.reporter("scan X", total=2)
    outer = reports.reporter("fixpoint Y")
    for count in (1, 2):
        inner(1)
        inner(2)  # the scan's last step closes its bar
        outer(count, 0.5 / count, False)
    assert list(reports.bars) == [1]
    outer(3, 0.0, True)  # converged
    assert reports.bars == {}
    assert _counts(screen, "scan X") == [0, 1, 2, 0, 1, 2]
    assert _counts(screen, "fixpoint Y") == [0, 1, 2, 3]
