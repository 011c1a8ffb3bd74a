"""`fuse-opt` as a user meets it: exit statuses, one-line errors, no
tracebacks for user mistakes, `-o` never leaving a partial file, stdin.

Most tests call `fuse.opt.main(argv)` in-process (fast); a few run the
installed module as a subprocess to check the real exit status.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass

from fuse.dialects.fuse import BinaryOp
from fuse.opt import (
    FuseOptError,
    available_dialects,
    available_passes,
    main,
    mlir_pipeline_to_xdsl,
)
from fuse.passes.registry import all_passes

PROGRAM = """\
func.func @f(%X: tensor<4xf32>) -> tensor<4xf32> {
  %a = fuse.unary relu %X : tensor<4xf32>
  %b = fuse.unary relu %X : tensor<4xf32>
  %c = fuse.binary add "i,i->i" (%a, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %c : tensor<4xf32>
}
"""

INVALID = """\
func.func @f(%A: tensor<4x8xf32>) {
  %0 = fuse.einsum "ik->i" sum (%A, %A) : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4xf32>
  func.return
}
"""

UNPARSABLE = """\
func.func @f() {
  %0 = fuse.no_such_op : tensor<4xf32>
  func.return
}
"""


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "program.mlir"
    path.write_text(PROGRAM)
    return path


@pytest.fixture
def invalid(tmp_path: Path) -> Path:
    path = tmp_path / "invalid.mlir"
    path.write_text(INVALID)
    return path


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


# --- pipelines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mlir", "xdsl"),
    [
        ("builtin.module(cse)", "cse"),
        ("builtin.module(cse, dce)", "cse,dce"),
        ("  builtin.module(p1,p2{opt=v})  ", "p1,p2{opt=v}"),
        ("builtin.module(p{a=1 b=x,y})", "p{a=1 b=x,y}"),
        ('builtin.module(p{s="a (b), c"})', 'p{s="a (b), c"}'),
        ("builtin.module()", ""),
    ],
)
def test_mlir_pipeline_to_xdsl(mlir: str, xdsl: str) -> None:
    assert mlir_pipeline_to_xdsl(mlir) == xdsl


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ("cse", "expected 'builtin.module(pass1,pass2{option=value})'"),
        ("builtin.module(cse", "expected 'builtin.module("),
        ("func.func(cse)", "expected 'builtin.module("),
        ("builtin.module(cse))", "unbalanced ')'"),
        (
            "builtin.module(func.func(cse))",
            "nested pass pipeline 'func.func(...)' is not supported",
        ),
    ],
)
def test_mlir_pipeline_rejects(pipeline: str, message: str) -> None:
    with pytest.raises(FuseOptError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mlir_pipeline_to_xdsl(pipeline)


@pytest.mark.parametrize(
    "argv",
    [
        ["--pass-pipeline=builtin.module(cse)"],
        ["--pass-pipeline", "builtin.module(cse,dce)"],
        ["-p", "cse,dce"],
        ["-p", "canonicalize,cse"],
    ],
)
def test_pipelines_run(program: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(program), *argv]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "%c = fuse.binary add" in out
    if "cse" in argv[-1]:
        assert "%b = " not in out, "cse merges the two relus"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["--pass-pipeline=builtin.module(no-such-pass)"],
            "fuse-opt: error: unknown pass 'no-such-pass'",
        ),
        (["-p", "cse,no-such-pass"], "fuse-opt: error: unknown pass 'no-such-pass'"),
        (
            ["-p", "cse{"],
            "fuse-opt: error: bad pass pipeline 'cse{': expected argument name here (column 5)",
        ),
        (
            ["--pass-pipeline=builtin.module(cse{)"],
            "fuse-opt: error: bad pass pipeline 'cse{': expected argument name here (column 5)",
        ),
        (
            ["-p", "cse dce"],
            "fuse-opt: error: bad pass pipeline 'cse dce': expected a comma or pass arguments "
            "here (column 4)",
        ),
        (
            ["-p", "cse", "--pass-pipeline=builtin.module(dce)"],
            "fuse-opt: error: give either -p or --pass-pipeline, not both",
        ),
    ],
)
def test_pipeline_errors_are_one_line(
    program: Path, argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(program), *argv]) == 1
    assert error_lines(capsys) == [line]


def test_bad_pass_option_is_one_line(program: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(program), "-p", "cse{bogus=1}"]) == 1
    [line] = error_lines(capsys)
    assert line.startswith("fuse-opt: error: invalid options for pass 'cse': ")


def test_print_ir_after_all(program: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(program), "-p", "cse,dce", "--print-ir-after-all"]) == 0
    out, err = capsys.readouterr()
    headers = [line for line in err.splitlines() if line.startswith("// -----// IR Dump")]
    assert headers == [
        "// -----// IR Dump After CommonSubexpressionElimination (cse) //----- //",
        "// -----// IR Dump After DeadCodeElimination (dce) //----- //",
    ]
    assert "IR Dump" not in out
    assert out.startswith("builtin.module {")


@dataclass(frozen=True)
class BreakBinaryPass(ModulePass):
    """Stands for a buggy pass: leaves IR that does not verify."""

    name = "break-ir"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for inner in op.walk():
            if isinstance(inner, BinaryOp):
                inner.subscripts = StringAttr("i->i")


def test_ir_broken_by_a_pass(
    program: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("fuse.opt.all_passes", lambda: {"break-ir": lambda: BreakBinaryPass})
    assert main([str(program), "-p", "cse,break-ir", "--print-ir-after-all"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    dump = err.split("// -----// IR Dump After BreakBinary (break-ir) //----- //")[1]
    assert '"fuse.binary"' in dump, "broken IR is dumped in generic form"
    assert "fuse.binary subscripts 'i->i' name 1 operands, but it has 2" in dump
    assert "Traceback" not in err


# --- input and its errors -----------------------------------------------------------------


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PROGRAM))
    assert main(["-p", "cse"]) == 0
    assert "%c = fuse.binary add" in capsys.readouterr().out


def test_stdin_dash(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(PROGRAM))
    assert main(["-"]) == 0
    assert "func.func @f" in capsys.readouterr().out


def test_parse_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.mlir"
    path.write_text(UNPARSABLE)
    assert main([str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"{path}:2:")
    assert "Operation fuse.no_such_op is not registered" in err
    assert "Traceback" not in err


def test_verifier_error(invalid: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(invalid)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fuse.einsum subscripts 'ik->i' name 1 operands, but it has 2\n")
    assert "Traceback" not in err


def test_verify_diagnostics(invalid: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(invalid), "--verify-diagnostics"]) == 0
    assert "name 1 operands, but it has 2" in capsys.readouterr().out


def test_split_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "split.mlir"
    path.write_text(PROGRAM + "\n// -----\n" + INVALID)
    assert main([str(path), "--split-input-file", "--verify-diagnostics"]) == 0
    first, second = capsys.readouterr().out.split("// -----")
    assert "func.func @f" in first
    assert "name 1 operands" in second


def test_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.mlir"
    assert main([str(missing)]) == 1
    assert error_lines(capsys) == [f"fuse-opt: error: No such file or directory: '{missing}'"]


def test_usage_error_exits_2(program: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(program), "--no-such-flag"]) == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


# --- output -------------------------------------------------------------------------------


def test_output_file(program: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.mlir"
    assert main([str(program), "-p", "cse", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert "%c = fuse.binary add" in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mlir", "program.mlir"]


def test_output_file_mode_follows_umask(program: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.mlir"
    old = os.umask(0o022)
    try:
        assert main([str(program), "-o", str(target)]) == 0
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    "argv",
    [[], ["-p", "no-such-pass"], ["--pass-pipeline=builtin.module(cse{)"]],
    ids=["verifier", "unknown-pass", "bad-pipeline"],
)
def test_failed_run_creates_no_output(invalid: Path, tmp_path: Path, argv: list[str]) -> None:
    target = tmp_path / "out.mlir"
    assert main([str(invalid), *argv, "-o", str(target)]) == 1
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invalid.mlir"]


def test_failed_run_keeps_old_output(invalid: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.mlir"
    target.write_text("previous result\n")
    assert main([str(invalid), "-o", str(target)]) == 1
    assert target.read_text() == "previous result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["invalid.mlir", "out.mlir"]


def test_output_to_missing_directory(
    program: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "dir" / "out.mlir"
    assert main([str(program), "-o", str(target)]) == 1
    assert error_lines(capsys) == [
        f"fuse-opt: error: cannot write '{target}': No such file or directory"
    ]


# --- registration and the real process -------------------------------------------------


def test_registered_dialects_and_passes() -> None:
    dialects = available_dialects()
    assert {"builtin", "func", "arith", "fuse"} <= dialects.keys()
    assert dialects["fuse"]().name == "fuse"
    passes = available_passes()
    assert {"cse", "dce", "canonicalize"} <= passes.keys()
    assert all_passes().keys() <= passes.keys()
    for name, factory in passes.items():
        assert factory().name == name


def test_stablehlo_is_registered() -> None:  # xdsl-jax is a dependency
    assert available_dialects()["stablehlo"]().name == "stablehlo"


def run_process(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuse.opt", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def test_process_unknown_pass(program: Path) -> None:
    result = run_process(str(program), "--pass-pipeline=builtin.module(no-such-pass)")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "fuse-opt: error: unknown pass 'no-such-pass'\n"


def test_process_stdin_round_trip() -> None:
    result = run_process("--print-op-generic", stdin=PROGRAM)
    assert result.returncode == 0, result.stderr
    again = run_process(stdin=result.stdout)
    assert again.returncode == 0, again.stderr
    assert "%c = fuse.binary add" in again.stdout


# --- mlir-opt's instrumentation options and xDSL's tools ----------------------------------


def test_dumped_pipeline_runs_as_given(program: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--dump-pass-pipeline` prints a pipeline that `--pass-pipeline` accepts
    and that gives the same IR."""
    assert main([str(program), "-p", "cse,fuse-einsum-path{strategy=greedy}"]) == 0
    direct = capsys.readouterr().out
    argv = [str(program), "-p", "cse,fuse-einsum-path{strategy=greedy}", "--dump-pass-pipeline"]
    assert main(argv) == 0
    _, err = capsys.readouterr()
    header, pipeline = err.strip().splitlines()
    assert header == "Pass Manager with 2 passes:"
    assert main([str(program), "--pass-pipeline", pipeline]) == 0
    assert capsys.readouterr().out == direct


def test_timing_report_shares_add_up(program: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(program), "-p", "cse,dce,cse", "--mlir-timing"]) == 0
    _, err = capsys.readouterr()
    rows = [line.split() for line in err.splitlines() if "%)" in line]
    names = [row[-1] for row in rows]
    assert names == [
        "Parser",
        "Verifier",
        "CommonSubexpressionElimination",
        "DeadCodeElimination",
        "Output",
        "Total",
    ], "a pass that runs twice is one row"
    seconds = {row[-1]: float(row[0]) for row in rows}
    parts = sum(value for name, value in seconds.items() if name != "Total")
    assert parts == pytest.approx(seconds["Total"], abs=1e-3)


def test_xdsl_universe_registers_fuse() -> None:
    """The entry point xDSL's Multiverse reads names Fuse's dialect and every
    Fuse pass."""
    from importlib.metadata import entry_points

    from fuse.passes.registry import all_passes

    [entry] = [e for e in entry_points(group="xdsl.universe") if e.name == "fuse"]
    universe = entry.load()
    assert universe.all_dialects["fuse"]().name == "fuse"
    assert set(universe.all_passes) == set(all_passes())
