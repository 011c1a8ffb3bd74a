"""`fuse repl`: the session logic directly (`Session.submit`), and a
scripted session through a pseudo-terminal, as a user types it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pexpect
import pytest

from fuse.repl import Session

FAMILY = """\
Parent(Alice, Bob).
Parent(Bob, Carol).
Ancestor(x, y) <- Parent(x, y).
Ancestor(x, z) <- Ancestor(x, y), Parent(y, z).
"""


def answers(output: str) -> list[str]:
    """The answer lines of one printed query (after its echo line)."""
    return [line.strip() for line in output.splitlines()[1:]]


def family(backend: str = "numpy") -> Session:
    session = Session(backend=backend)
    for line in FAMILY.splitlines():
        assert session.submit(line) == ""
    return session


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_a_query_is_answered_by_name_and_sees_later_facts(backend: str) -> None:
    session = family(backend)
    assert answers(session.submit("Ancestor(Alice, x)?")) == ["x = Bob", "x = Carol"]
    session.submit("Parent(Carol, Dan).")
    assert answers(session.submit("Ancestor(Alice, x)?")) == ["x = Bob", "x = Carol", "x = Dan"]
    assert answers(session.submit("Ancestor(x, Alice)?")) == ["(no answers)"]


def test_queries_are_answered_but_not_kept() -> None:
    session = family()
    session.submit("Ancestor(Alice, x)?")
    assert session.text == FAMILY.rstrip("\n")


def test_a_numeric_equation_typed_in_answers_with_values() -> None:
    session = Session()
    session.submit("W = [0.5, 0, 2]")
    session.submit("V[i] = W[i] * 3")
    assert answers(session.submit("V(x)?")) == ["x = 0: 1.5", "x = 2: 6"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Ancestor(Alice, x", "<repl>:1:18: error: expected ')'"),
        ("Foo(x)?", "error: query of undefined tensor 'Foo'"),
        ("Ancestor(Zed, x)?", "unknown symbol 'Zed'"),
        (":frobnicate", "unknown command ':frobnicate'"),
        (":backend tpu", ":backend tpu: choose one of numpy, torch, jax"),
        (":load /no/such/file.fuse", "cannot read program /no/such/file.fuse"),
        (":reset now", ":reset takes no argument"),
    ],
)
def test_an_error_is_located_and_leaves_the_program_as_it_was(line: str, message: str) -> None:
    session = family()
    output = session.submit(line)
    assert message in output
    assert session.text == FAMILY.rstrip("\n")
    assert answers(session.submit("Ancestor(Alice, x)?")) == ["x = Bob", "x = Carol"]


def test_a_statement_that_breaks_the_program_is_not_added() -> None:
    session = family()
    assert "error" in session.submit("Parent(x) <- Ancestor(x)")  # Parent's arity is 2
    assert session.text == FAMILY.rstrip("\n")


def test_explain_ir_reset_save_and_load(tmp_path: Path) -> None:
    session = family()
    assert "ask one first" in session.submit(":explain")
    session.submit("Ancestor(Alice, x)?")
    assert "fixpoints" in session.submit(":explain")
    assert "fuse.rule @Ancestor" in session.submit(":ir")
    saved = tmp_path / "family.fuse"
    assert session.submit(f":save {saved}") == f"saved 4 lines to {saved}"
    assert saved.read_text() == FAMILY
    assert session.submit(":reset") == "(empty program)"
    assert "unknown constant 'Alice'" in session.submit("Ancestor(Alice, x)?")
    saved.write_text(FAMILY + "Ancestor(x, Carol)?\n")
    assert answers(session.submit(f":load {saved}")) == ["x = Alice", "x = Bob"]
    assert session.text == FAMILY.rstrip("\n")


def test_a_reasked_query_reuses_its_compiled_program() -> None:
    session = family()
    session.submit("Ancestor(Alice, x)?")
    first = session._last_runner
    session.submit("Ancestor(Alice, x)?")
    assert session._last_runner is first


def test_a_fact_with_a_value_is_stepped_like_the_front_end_does() -> None:
    """`Parent(Carol, Bob) = 0.5` is an element of a Boolean relation: 1
    after `step`, whichever way the session adds it; a numeric rule over
    Parent counts it as 1."""
    session = family()
    session.submit("Kids[x] = Parent[x, y]")
    assert answers(session.submit("Kids(x)?")) == ["x = Alice", "x = Bob"]
    session.submit("Parent(Carol, Bob) = 0.5")
    assert answers(session.submit("Kids(x)?")) == ["x = Alice", "x = Bob", "x = Carol"]


def test_quit_ends_the_session() -> None:
    session = Session()
    assert not session.finished
    session.submit(":quit")
    assert session.finished


def test_completion_offers_tensors_builtins_and_commands() -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from fuse.repl.terminal import SessionCompleter

    completer = SessionCompleter(family())

    def complete(text: str) -> list[str]:
        return [c.text for c in completer.get_completions(Document(text), CompleteEvent())]

    assert complete("Anc") == ["Ancestor"]
    assert complete("Q(x) <- Par") == ["Parent"]
    assert "relu" in complete("Y[i] = rel")
    assert complete(":ex") == [":explain"]


# pexpect forks a child that execs Python at once; the warning JAX gives for
# a fork of its process (after the jax tests above) does not apply.
fork_after_jax = pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")


def spawn_repl(tmp_path: Path, *arguments: str) -> pexpect.spawn:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "TERM": "xterm"}
    return pexpect.spawn(
        sys.executable,
        ["-m", "fuse", "repl", *arguments],
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(40, 200),
    )


@fork_after_jax
def test_a_scripted_session_through_a_terminal(tmp_path: Path) -> None:
    program = tmp_path / "family.fuse"
    program.write_text("Parent(Alice, Bob).\nParent(Bob, Carol).\n")
    repl = spawn_repl(tmp_path, str(program))
    prompt = "fuse>"  # the terminal draws the space as a cursor move

    def ask(line: str, *expected: str) -> None:
        repl.expect_exact(prompt)
        repl.sendline(line)
        for text in expected:
            repl.expect_exact(text)

    ask("Ancestor(x, y) <- Parent(x, y).")
    ask("Ancestor(x, z) <- Ancestor(x, y), Parent(y, z).")
    ask("Parent(Carol, Dan).")
    ask("Ancestor(Alice, x)?", "  x = Bob", "  x = Carol", "  x = Dan")
    ask("Ancestor(Alice, x", "error: expected ')'")
    ask("Foo(x)?", "query of undefined tensor 'Foo'")
    ask(":explain", "fixpoints (iterations in the last run)")
    ask("Ancestor(x, Dan)?", "  x = Alice", "  x = Bob", "  x = Carol")
    repl.expect_exact(prompt)
    repl.send("Ancestor(Bo")
    repl.sendintr()  # Ctrl-C drops the half-typed line, not the session
    ask(":reset", "(empty program)")
    ask("Ancestor(Alice, x)?", "unknown constant 'Alice'")
    ask("Parent(Erin, Fay).")
    ask("Parent(Erin, x)?", "  x = Fay")
    repl.expect_exact(prompt)
    repl.sendeof()  # Ctrl-D
    repl.expect(pexpect.EOF)
    repl.close()
    assert repl.exitstatus == 0
    assert (tmp_path / "cache" / "fuse" / "repl_history").read_text().count("Ancestor") >= 4


@fork_after_jax
def test_a_bad_starting_program_is_reported_before_the_session(tmp_path: Path) -> None:
    program = tmp_path / "bad.fuse"
    program.write_text("Parent(Alice, Bob\n")
    repl = spawn_repl(tmp_path, str(program))
    repl.expect_exact("bad.fuse:1:18: error")
    repl.expect(pexpect.EOF)
    repl.close()
    assert repl.exitstatus == 1


def closure(edges: set[tuple[int, int]], nodes: int) -> np.ndarray:
    """Reachability by NumPy from the edge list (squaring until it stops)."""
    reach = np.zeros((nodes, nodes), bool)
    for a, b in edges:
        reach[a, b] = True
    for _ in range(nodes):
        reach |= (reach.astype(int) @ reach.astype(int)) > 0
    return reach


@pytest.mark.parametrize("seed", range(4))
def test_answers_after_each_fact_agree_with_a_numpy_transitive_closure(seed: int) -> None:
    """Random parent facts typed one at a time, first with new people (the
    whole program rechecked), then over known people (the compiled query
    rerun): after each, the answers are NumPy's transitive closure."""
    nodes = 7
    rng = np.random.default_rng(seed)
    session = Session()
    edges = (
        {(k, k + 1) for k in range(nodes - 1)} if seed % 2 else {(0, k) for k in range(1, nodes)}
    )
    for a, b in sorted(edges):
        session.submit(f"Parent(P{a}, P{b}).")
    session.submit("Ancestor(x, y) <- Parent(x, y).")
    session.submit("Ancestor(x, z) <- Ancestor(x, y), Parent(y, z).")
    for a, b in rng.integers(0, nodes, size=(6, 2)):
        edges.add((int(a), int(b)))
        assert session.submit(f"Parent(P{a}, P{b}).") == ""
        source = int(rng.integers(0, nodes))
        expected = [f"x = P{n}" for n in sorted(np.nonzero(closure(edges, nodes)[source])[0])]
        output = answers(session.submit(f"Ancestor(P{source}, x)?"))
        assert sorted(output) == (expected or ["(no answers)"])


def test_a_fact_over_known_symbols_reuses_the_compiled_query() -> None:
    session = family()
    session.submit("Parent(Carol, Dan).")  # a new symbol: the program is rechecked
    assert answers(session.submit("Ancestor(Dan, x)?")) == ["(no answers)"]
    compiled = session._last_runner
    session.submit("Parent(Dan, Alice).")  # known symbols: one element of Parent set
    assert answers(session.submit("Ancestor(Dan, x)?")) == [
        "x = Alice",
        "x = Bob",
        "x = Carol",
        "x = Dan",
    ]
    assert session._last_runner is compiled
    assert session.text.endswith("Parent(Carol, Dan).\nParent(Dan, Alice).")
