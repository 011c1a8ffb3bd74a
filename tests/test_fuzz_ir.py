"""Mutation fuzzer for IR given to `fuse-opt`: every mutant of the lit
tests' IR ends in a result or a located diagnostic, never another exception
and never a hang.

CI runs a small budget; `scripts/fuzz_ir.sh N` runs N cases.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuse.opt import main

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted(
    path
    for path in (ROOT / "lit_tests").rglob("*.mlir")
    if "Output" not in path.parts and "RUN: not" not in path.read_text()
)
PIPELINES = (
    "fuse-resolve-symbols,fuse-canonicalize-projections,fuse-demand,fuse-infer-shapes,"
    "fuse-recognize-recurrences,fuse-stratify",
    "cse,dce,fuse-einsum-path",
    "convert-fuse-to-stablehlo",
)
SECONDS_PER_CASE = 60
TOKEN = re.compile(r"%[\w$.-]+|@[\w$.-]+|-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|[\w.]+|\S")


@st.composite
def mutants(draw: st.DrawFn) -> str:
    """A corpus text with a few line deletions/duplications, token swaps and
    number changes."""
    lines = draw(st.sampled_from(CORPUS)).read_text().splitlines()
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "number"]))
        if kind == "delete":
            del lines[at]
        elif kind == "duplicate":
            lines.insert(at, lines[at])
        else:
            tokens = [m for m in TOKEN.finditer(lines[at])]
            if len(tokens) < 2:
                continue
            i, j = sorted(draw(st.lists(st.integers(0, len(tokens) - 1), min_size=2, max_size=2)))
            a, b = tokens[i], tokens[j]
            line = lines[at]
            if kind == "swap" and i != j:
                line = line[: a.start()] + b.group() + line[a.end() : b.start()] + a.group()
                line += lines[at][b.end() :]
            elif kind == "number" and re.fullmatch(r"-?\d.*", a.group()):
                number = draw(st.sampled_from(["0", "-0.0", "-1", "99999999999", "1e39", "3"]))
                line = line[: a.start()] + number + line[a.end() :]
            lines[at] = line
    return "\n".join(lines) + "\n"


class _Hang(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Hang


def run_fuse_opt(text: str, pipeline: str, tmp: Path) -> tuple[int, str]:
    """`fuse-opt` in process with a time limit; (exit status, stderr)."""
    path = tmp / "mutant.mlir"
    path.write_text(text)
    stderr, stdout = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS_PER_CASE)
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            status = main([str(path), "-p", pipeline])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return status, stderr.getvalue()


FUZZ_EXAMPLES = int(os.environ.get("FUSE_FUZZ_IR_EXAMPLES", "150"))


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=mutants(), pipeline=st.sampled_from(PIPELINES))
def test_mutated_ir_ends_in_result_or_located_diagnostic(
    text: str, pipeline: str, tmp_path: Path
) -> None:
    status, stderr = run_fuse_opt(text, pipeline, tmp_path)
    assert "Traceback" not in stderr
    assert "internal error" not in stderr, stderr
    assert status == 0 or stderr.strip(), "failed without a diagnostic"
    # A diagnostic about a place in the IR file (parse errors, use before
    # definition, odd text) reads `file:line:col: error: ...` with the line
    # and a caret (docs/diagnostics.md). Verifier and pass errors about ops
    # the IR gives no `loc(...)` name the op and print it in context.
    path = str(tmp_path / "mutant.mlir")
    for line in stderr.splitlines():
        if line.startswith(path + ":"):
            assert _LOCATED.match(line[len(path) :]), stderr


_LOCATED = re.compile(r":\d+:\d+: error: \S")
