"""examples/knowledge_base: `fuse run` answers its queries by name, and
session.py asks it questions through `runner.query` with symbols, on every
backend. The expected answers come from the example's facts by plain
Python set logic (forward chaining written here), not from the compiler."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import numpy as np
import pytest

from fuse import FuseError, Program
from fuse.cli import main

BACKENDS = ["numpy", "torch", "jax"]
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "knowledge_base"
KNOWLEDGE_BASE = EXAMPLE / "knowledge_base.fuse"
Pairs = set[tuple[str, str]]


def facts(relation: str) -> Pairs:
    """The example's `Relation(A, B).` facts."""
    pattern = rf"^{relation}\((\w+), (\w+)\)\.$"
    return {(m[1], m[2]) for m in re.finditer(pattern, KNOWLEDGE_BASE.read_text(), re.MULTILINE)}


def join(left: Pairs, right: Pairs) -> Pairs:
    return {(a, d) for a, b in left for c, d in right if b == c}


def closure(pairs: Pairs) -> Pairs:
    result = set(pairs)
    while not join(result, pairs) <= result:
        result |= join(result, pairs)
    return result


PARENT, SISTER, BROTHER = facts("Parent"), facts("Sister"), facts("Brother")
ANCESTOR = closure(PARENT)
SIBLING = SISTER | BROTHER | {(y, x) for x, y in SISTER | BROTHER}
AUNT = join(SISTER, PARENT)
CHILD = {(child, parent) for parent, child in PARENT}
COUSIN = join(join(CHILD, SIBLING), PARENT)
PEOPLE = {person for pair in PARENT for person in pair}
CHILDLESS = PEOPLE - {parent for parent, _ in PARENT}


def test_the_reference_reads_the_facts() -> None:
    """The facts regex found every fact (a reference over no facts would agree
    with anything)."""
    assert (len(PARENT), len(SISTER), len(BROTHER)) == (6, 1, 1)


def answers(output: str) -> dict[str, set[str]]:
    """`fuse run`'s printed answers: each query line with its answer lines."""
    blocks: dict[str, set[str]] = {}
    for line in output.splitlines():
        if line.endswith("?"):
            query = blocks.setdefault(line, set())
        elif line.startswith("  "):
            query.add(line.strip())
    return blocks


@pytest.mark.parametrize("backend", BACKENDS)
def test_fuse_run_answers_each_query_by_name(
    backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(KNOWLEDGE_BASE), "--backend", backend]) == 0
    assert answers(capsys.readouterr().out) == {
        "Ancestor(Alice, x)?": {f"x = {y}" for x, y in ANCESTOR if x == "Alice"},
        "Ancestor(x, Erin)?": {f"x = {x}" for x, y in ANCESTOR if y == "Erin"},
        "Sibling(x, y)?": {f"x = {x}, y = {y}" for x, y in SIBLING},
        "Aunt(x, Carol)?": {f"x = {x}" for x, z in AUNT if z == "Carol"},
        "Cousin(Dave, x)?": {f"x = {y}" for x, y in COUSIN if x == "Dave"},
        "Childless(x)?": {f"x = {x}" for x in CHILDLESS},
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_python_session(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    session = runpy.run_path(str(EXAMPLE / "session.py"))
    session["main"](["--backend", backend])
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())

    def listed(key: str) -> set[str]:
        return set(lines[key].split(", ")) if lines[key] else set()

    assert listed("Alice is an ancestor of") == {y for x, y in ANCESTOR if x == "Alice"}
    assert listed("Erin's ancestors") == {x for x, y in ANCESTOR if y == "Erin"}
    assert listed("Carol's siblings") == {y for x, y in SIBLING if x == "Carol"}
    assert listed("Dave's cousins") == {y for x, y in COUSIN if x == "Dave"}
    assert lines["Beth is Chris's aunt"] == ("yes" if ("Beth", "Chris") in AUNT else "no")
    assert listed("Childless") == CHILDLESS


@pytest.mark.parametrize("backend", BACKENDS)
def test_query_by_symbol(backend: str) -> None:
    """`runner.query("Ancestor", x="Alice")` is the row of Alice, along the
    positions `runner.symbols` names."""
    runner = Program.from_file(KNOWLEDGE_BASE).compile(backend=backend)
    people = runner.symbols("Ancestor", "y")
    row = np.asarray(runner.query("Ancestor", x="Alice"))
    assert {name for name, true in zip(people, row, strict=True) if true} == {
        y for x, y in ANCESTOR if x == "Alice"
    }
    assert float(np.asarray(runner.query("Ancestor", x="Beth", y=people.index("Erin")))) == 1.0


def test_an_unknown_symbol_in_a_query_names_the_nearest() -> None:
    runner = Program.from_file(KNOWLEDGE_BASE).compile()
    with pytest.raises(FuseError) as raised:
        runner.query("Ancestor", x="Alise")
    assert "query of 'Ancestor': index x='Alise' is not a symbol of its domain" in str(raised.value)
    assert "nearest symbols: Alice" in str(raised.value)


def test_symbols_of_an_unknown_index_is_an_error() -> None:
    runner = Program.from_file(KNOWLEDGE_BASE).compile()
    with pytest.raises(FuseError, match=r"'Ancestor' has no index 'z' \(its indices: x, y\)"):
        runner.symbols("Ancestor", "z")


def test_a_symbol_where_the_domain_has_none() -> None:
    runner = Program("Y[i] = 2 X[i]\nexport Y", "numeric.fuse").compile()
    with pytest.raises(FuseError, match="its domain has no symbols"):
        runner.query("Y", i="Alice", inputs={"X": np.ones(3, np.float32)})
    assert runner.symbols("Y", "i") == []
