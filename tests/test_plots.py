"""`fuse run --plot`: how each fixpoint converged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fuse import ExecutionConfig, Program
from fuse.cli import main

CLOSURE = """
Path(x, y) = Edge(x, y)
Path(x, z) += Path(x, y) Edge(y, z)
export Path
"""


def test_convergence_counts_new_facts_per_round() -> None:
    """On a chain of 6 nodes, round k adds the 6-k paths of length k."""
    runner = Program(CLOSURE).compile(config=ExecutionConfig(profile=True))
    runner.run({"Edge": np.eye(6, k=1, dtype=np.float32)})
    history = runner.last_plan.executable.fixpoint_convergence
    assert history == {"Path": [5, 4, 3, 2, 1, 0]}


def test_no_record_without_profiling() -> None:
    runner = Program(CLOSURE).compile()
    runner.run({"Edge": np.eye(6, k=1, dtype=np.float32)})
    assert runner.last_plan.executable.fixpoint_convergence == {}


def test_cli_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = tmp_path / "closure.fuse"
    program.write_text(CLOSURE)
    np.save(tmp_path / "edge.npy", np.eye(8, k=1, dtype=np.float32))
    argv = [
        "run",
        str(program),
        "--input",
        f"Edge={tmp_path / 'edge.npy'}",
        "--out",
        str(tmp_path / "path.npy"),
    ]
    assert main([*argv, "--plot", str(tmp_path / "conv.svg")]) == 0
    svg = (tmp_path / "conv.svg").read_text()
    assert "fixpoint convergence" in svg and "Path" in svg
    assert main([*argv, "--plot", str(tmp_path / "conv.png")]) == 0
    assert (tmp_path / "conv.png").read_bytes().startswith(b"\x89PNG")
    assert main([*argv, "--plot", str(tmp_path / "conv.txt")]) == 1
    assert "the plot is written as .png, .svg, .pdf" in capsys.readouterr().err
    assert main([*argv, "--backend", "torch", "--plot", str(tmp_path / "c.png")]) == 1
    assert "--plot records convergence on the numpy backend" in capsys.readouterr().err
