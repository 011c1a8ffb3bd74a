"""A mutation fuzzer over program text (issue 11): whatever a user types
ends in a result or a `FuseError`, never another exception, and the front
end's errors are located.

Seeds are the example programs and the conformance programs; a mutation
deletes, duplicates, swaps or inserts tokens (odd ones included: huge or
zero numbers, brackets, builtins, keywords). Each mutant is compiled for
NumPy and run with its seed's inputs. `FUSE_FUZZ_EXAMPLES` raises the
number of cases for long runs (scripts/fuzz.sh).
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuse import Program
from fuse.errors import FuseError, SourceText
from fuse.frontend.lexer import TokenKind, tokenize
from tests.conformance.programs import CASES, EXAMPLES

ODD_NUMBERS = ["0", "-0.0", "1e38", "3.5e38", "99999999999999999999", "1" * 50, "2", "1000000"]
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*'*|[0-9.eE+-]+")


# Tokens a user might mistype into a program, chosen to reach corners:
# literals at the edges of fp32 and int64, division by zero, every kind of
# bracket and operator, builtins with index arguments and keywords.
ODD_TOKENS = [
    *"()[],=+-*/^.?:",
    "max=",
    "+=",
    "avg=",
    *ODD_NUMBERS,
    '"x.npy"',
    '"\\q"',
    '"',
    "\n",
    "i",
    "j",
    "q",
    "i.",
    "A",
    "export",
    "softmax(",
    "topk(",
    "concat(",
    "const(",
    "causal_mask(",
    "even(",
    "reduce_max(",
    "axis=",
    "k=",
]


def _seeds() -> list[tuple[str, dict[str, np.ndarray]]]:
    """(text, inputs) of every seed program; examples read their data files."""
    seeds = [(case.text, dict(case.inputs)) for case in CASES if case.text is not None]
    seeds += [(path.read_text(), {}) for path in sorted(EXAMPLES.glob("*/*.fuse"))]
    return seeds


SEEDS = _seeds()


def _pieces(text: str) -> list[str]:
    """The program as token spellings, each with the blank that precedes it."""
    tokens, _ = tokenize(SourceText(text, "<seed>"))
    pieces = []
    for token in tokens:
        if token.kind is TokenKind.EOF:
            break
        if token.kind is TokenKind.NEWLINE:
            pieces.append("\n")
        else:
            pieces.append((" " if token.spaced else "") + token.text)
    return pieces


def mutate(text: str, rng: random.Random) -> str:
    """`text` with one to three token mutations at uniformly chosen places."""
    pieces = _pieces(text)
    words = [p for p in pieces if _WORD.fullmatch(p.strip())]
    for _ in range(rng.choice([1, 1, 2, 3])):
        at = rng.randrange(len(pieces)) if pieces else 0
        action = rng.choice(["delete", "duplicate", "swap", "insert", "replace", "replace"])
        if action == "replace" and words and _WORD.fullmatch(pieces[at].strip()):
            # Keeps the syntax: a name or number becomes another one of the
            # program's, or an odd number, so mutants reach the later stages.
            spacing = pieces[at][: len(pieces[at]) - len(pieces[at].lstrip())]
            pieces[at] = spacing + rng.choice([*words, *ODD_NUMBERS]).strip()
        elif action == "delete" and pieces:
            del pieces[at]
        elif action == "duplicate" and pieces:
            pieces.insert(at, pieces[at])
        elif action == "swap" and at + 1 < len(pieces):
            pieces[at], pieces[at + 1] = pieces[at + 1], pieces[at]
        else:
            pieces.insert(at, rng.choice(["", " "]) + rng.choice(ODD_TOKENS))
    return "".join(pieces)


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, dict[str, np.ndarray]]:
    """A mutated seed. The places come from a `Random` seeded by a drawn
    integer: Hypothesis' own integers favour small values, which would
    mutate the first statement almost every time."""
    text, inputs = draw(st.sampled_from(SEEDS))
    return mutate(text, random.Random(draw(st.integers(0, 2**32 - 1)))), inputs


@pytest.fixture(scope="module")
def examples_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples' data files, where mutants may read them and write sinks."""
    root = tmp_path_factory.mktemp("fuzz")
    for directory in EXAMPLES.iterdir():
        if (directory / "data").is_dir():
            shutil.copytree(directory / "data", root / "data", dirs_exist_ok=True)
    return root


# The only errors with no place in the program text: an input given to
# run() that the mutant no longer reads (docs/diagnostics.md).
_UNPLACED = re.compile(r"unknown input '")


def check_mutant(text: str, inputs: dict[str, np.ndarray], base_dir: Path) -> None:
    """Result or FuseError, and every error about the program (from the
    front end, shape inference, a pass, loading its sources or running it)
    is located in the program's text."""
    try:
        program = Program(text, "mutant.fuse", base_dir=base_dir)
        runner = program.compile("numpy")
        mentioned = {n: v for n, v in inputs.items() if n in text}
        runner.run(inputs=mentioned)
    except FuseError as error:
        unlocated = [
            d.render()
            for d in error.diagnostics
            if d.span is None and not _UNPLACED.match(d.message)
        ]
        assert not unlocated, f"error without a location in the program: {unlocated}"
        # A location is in the program, or in a data file it reads.
        files = {d.span.file for d in error.diagnostics if d.span is not None}
        assert all(f == "mutant.fuse" or Path(f).is_relative_to(base_dir) for f in files), files


@settings(
    max_examples=int(os.environ.get("FUSE_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutants())
def test_mutant_gives_result_or_fuse_error(
    examples_copy: Path, mutant: tuple[str, dict[str, np.ndarray]]
) -> None:
    check_mutant(*mutant, examples_copy)
