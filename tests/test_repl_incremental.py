"""The REPL recomputes only what a new statement touches
(fuse.repl.incremental): after each line, its answers are those of the
whole program compiled and run from scratch, and the tensors it recomputed
are the ones downstream of what changed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import Program
from fuse.errors import FuseError
from fuse.repl import Session
from fuse.runtime.answers import format_answer, query_outputs

GENEALOGY = """\
Parent(P0, P1).
Parent(P1, P2).
Parent(P2, P3).
Ancestor(x, y) <- Parent(x, y).
Ancestor(x, z) <- Ancestor(x, y), Parent(y, z).
"""


def from_scratch(text: str, query: str) -> str:
    """The answer of `query` when the session's program and the query are
    compiled and run as one fresh program."""
    try:
        runner = Program(f"{text}\n{query}\n", "<repl>").compile("numpy")
        exports = runner.run()
    except FuseError as error:  # an unknown symbol or tensor: the session says the same
        return error.render()
    ((statement, name),) = query_outputs(runner.program.ast, exports)
    return format_answer(statement, exports[name], runner.program.ast.domains)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_a_new_rule_recomputes_only_what_reads_it(backend: str) -> None:
    session = Session(backend=backend)
    session.submit(GENEALOGY)
    session.submit("Ancestor(x, y)?")
    assert session.recomputed == ("Ancestor",)
    session.submit("Grand(x, z) <- Parent(x, y), Parent(y, z).")
    assert session.submit("Grand(P0, z)?").splitlines()[1:] == ["  z = P2"]
    assert session.recomputed == ("Grand",)  # Ancestor's value was kept
    session.submit("Far(x, z) <- Ancestor(x, y), Grand(y, z).")
    assert session.submit("Far(P0, z)?").splitlines()[1:] == ["  z = P3"]
    # `Grand(P0, z)?` binds a position, so fuse-demand computed only what
    # it reaches and Grand was not kept; Ancestor was.
    assert session.recomputed == ("Grand", "Far")


def test_a_fact_drops_what_is_downstream_of_its_relation_only() -> None:
    session = Session()
    session.submit(GENEALOGY + "Likes(P0, P1).\nFan(x) <- Likes(x, y).\n")
    session.submit("Ancestor(x, y)?")
    session.submit("Fan(x)?")
    session.submit("Likes(P2, P3).")
    assert session.submit("Fan(x)?").splitlines()[1:] == ["  x = P0", "  x = P2"]
    assert session.recomputed == ("Fan",)
    assert session.submit("Ancestor(x, y)?") == from_scratch(session.text, "Ancestor(x, y)?")
    assert session.recomputed == ()  # Ancestor was kept: Likes is not upstream of it


def test_a_new_symbol_drops_the_values_over_its_domain() -> None:
    session = Session()
    session.submit(GENEALOGY)
    session.submit("Ancestor(x, y)?")
    session.submit("Parent(P3, P4).")  # a new person: every P-domain grows
    assert session.submit("Ancestor(x, y)?") == from_scratch(session.text, "Ancestor(x, y)?")
    assert session.recomputed == ("Ancestor",)


people = st.integers(0, 4).map(lambda n: f"P{n}")
lines = st.one_of(
    st.tuples(people, people).map(lambda p: f"Parent({p[0]}, {p[1]})."),
    st.tuples(people, people).map(lambda p: f"Likes({p[0]}, {p[1]})."),
    st.sampled_from(
        [
            "Grand(x, z) <- Parent(x, y), Parent(y, z).",
            "Fan(x) <- Likes(x, y).",
            "Fan(x) <- Ancestor(x, y), Likes(y, z).",
            "Lonely(x) <- Ancestor(x, y), not Likes(x, y).",
            "Score[x] = Likes[x, y] + Grand[x, y]",
        ]
    ),
    st.sampled_from(["Ancestor(x, y)?", "Grand(x, z)?", "Fan(x)?", "Lonely(x)?", "Score[x]?"]).map(
        lambda q: ("?", q)
    ),
    people.map(lambda p: ("?", f"Ancestor({p}, y)?")),
)


@settings(max_examples=15, deadline=None)
@given(st.lists(lines, min_size=1, max_size=12))
def test_every_answer_is_the_whole_program_s_answer(typed: list) -> None:
    """Facts, rules and queries in any order: each query the session can
    answer (its tensor is defined by then) answers as the whole program
    compiled from scratch does."""
    session = Session()
    session.submit(GENEALOGY)
    for line in typed:
        if isinstance(line, tuple):
            query = line[1]
            tensor = query.split("(")[0].split("[")[0]
            if f"{tensor}(" not in session.text and f"{tensor}[" not in session.text:
                continue
            assert session.submit(query) == from_scratch(session.text, query)
        else:
            assert "error" not in session.submit(line)
