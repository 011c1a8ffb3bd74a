"""`fuse run` / `fuse compile` as a user types them: outputs, files written,
and one clear message with a non-zero exit for every kind of mistake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fuse.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def write(tmp_path: Path, text: str, name: str = "prog.fuse") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_run_prints_a_single_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "a.npy", np.array([1.0, 2.0], np.float32))
    prog = write(tmp_path, 'A[i] = "a.npy"\nB[i] = A[i] * 2\nexport B\n')
    assert main(["run", str(prog)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("B =") and "[2. 4.]" in out


def test_run_prints_several_exports_as_a_json_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "a.npy", np.array([1.0, 2.0], np.float32))
    prog = write(tmp_path, 'A[i] = "a.npy"\nB[i] = A[i] * 2\nC = A[i]\nexport B, C\n')
    assert main(["run", str(prog)]) == 0
    assert json.loads(capsys.readouterr().out) == {"B": [2.0, 4.0], "C": 3.0}


def test_run_binds_inputs_from_files_and_writes_out(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(3, dtype=np.float32))
    prog = write(tmp_path, "Y[i] = X[i] + 1\nexport Y\n")
    out = tmp_path / "y.npy"
    assert main(["run", str(prog), "--input", f"X={tmp_path / 'x.npy'}", "--out", str(out)]) == 0
    np.testing.assert_array_equal(np.load(out), [1, 2, 3])


def test_run_writes_several_exports_to_npz(tmp_path: Path) -> None:
    prog = write(tmp_path, "A[i] = const([1, 2])\nB[i] = A[i] A[i]\nexport A, B\n")
    out = tmp_path / "out.npz"
    assert main(["run", str(prog), "--out", str(out)]) == 0
    with np.load(out) as archive:
        np.testing.assert_array_equal(archive["B"], [1, 4])


def test_explain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLES / "ancestor/ancestor.fuse"), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "Ancestor[x,y_1] Parent[y_1,y] -> Ancestor[x,y]" in out
    assert "recursive" in out and "fixpoints" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Y[i] = X[i] +\n", "prog.fuse:1:"),
        ("Y[i] = nosuch(X[i])\nexport Y\n", "unknown builtin 'nosuch'"),
        ("Y[i] = X[i]\nexport Z\n", "Z"),
        ("Y[i] = X[i]\nexport Y\n", "missing runtime input 'X'"),
        ('Y[i] = "missing.npy"\nexport Y\n', "missing.npy"),
    ],
)
def test_mistakes_are_one_clear_message_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    assert main(["run", str(write(tmp_path, text))]) == 1
    captured = capsys.readouterr()
    assert expected in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_bad_shape_is_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "a.npy", np.ones((2, 3), np.float32))
    np.save(tmp_path / "b.npy", np.ones(4, np.float32))
    prog = write(tmp_path, 'A[i, j] = "a.npy"\nB[j] = "b.npy"\nC[i] = A[i, j] B[j]\nexport C\n')
    assert main(["run", str(prog)]) == 1
    err = capsys.readouterr().err
    assert "prog.fuse:3:1" in err and "'j' has size 3 in 'A' but size 4 in 'B'" in err


def test_missing_program_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "/nonexistent/prog.fuse"]) == 1
    assert "/nonexistent/prog.fuse" in capsys.readouterr().err


def test_bad_input_binding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prog = write(tmp_path, "Y[i] = X[i]\nexport Y\n")
    assert main(["run", str(prog), "--input", "X"]) == 1
    assert "NAME=FILE" in capsys.readouterr().err


def test_compile_emits_each_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prog = EXAMPLES / "ancestor/ancestor.fuse"
    assert main(["compile", str(prog), "--emit", "ast"]) == 0
    assert "Equation" in capsys.readouterr().out
    assert main(["compile", str(prog), "--emit", "fuse"]) == 0
    assert "fuse.rule @Ancestor" in capsys.readouterr().out
    assert main(["compile", str(prog), "--emit", "dataflow"]) == 0
    assert "fuse.fixpoint" in capsys.readouterr().out


def test_python_dash_m_fuse() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fuse", "run", str(EXAMPLES / "hmm/hmm.fuse")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Likelihood" in result.stdout


def test_query_answers_print_with_symbols(capsys: pytest.CaptureFixture[str]) -> None:
    """`Ancestor(Alice, x)?` prints each answer by name, one per line,
    after the exports."""
    example = Path(__file__).resolve().parents[1] / "examples/family/family.fuse"
    assert main(["run", str(example)]) == 0
    out = capsys.readouterr().out
    answers = out[out.index("Ancestor(Alice, x)?") :].splitlines()
    assert answers == [
        "Ancestor(Alice, x)?",
        "  x = Bob",
        "  x = Beth",
        "  x = Carol",
        "  x = Dave",
        "  x = Erin",
    ]
    assert out.startswith('{"Ancestor"')
