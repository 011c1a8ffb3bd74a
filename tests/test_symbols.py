"""Facts and symbols at scale (issue 12): runs of fact lines read in bulk,
relations given by facts as coordinate lists (`fuse.facts`), fact-only
relations sized from their positions. Results are checked on every backend
against a naive Datalog evaluator written here from the semantics (sets of
tuples, rules applied until nothing changes)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fuse import FuseError, Program
from fuse.errors import SourceText
from fuse.frontend.lexer import TokenKind, tokenize
from fuse.frontend.parser import parse

BACKENDS = ["numpy", "torch", "jax"]

ANCESTOR_RULES = """
Ancestor(x, z) <- Parent(x, z)
Ancestor(x, z) <- Ancestor(x, y), Parent(y, z)
export Ancestor
"""


def naive_ancestors(parent: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Ancestor = Parent; Ancestor(x, z) <- Ancestor(x, y), Parent(y, z),
    applied to the whole relation until it stops growing."""
    ancestor = set(parent)
    while True:
        derived = {(x, z) for x, y in ancestor for y2, z in parent if y == y2}
        if derived <= ancestor:
            return ancestor
        ancestor |= derived


def reading_order(pairs: list[tuple[str, str]]) -> list[str]:
    """Symbols as a reader meets them, fact by fact, left to right: the
    numbering DESIGN.md section 3b gives a domain."""
    return list(dict.fromkeys(symbol for pair in pairs for symbol in pair))


def as_pairs(matrix: np.ndarray, symbols: list[str]) -> set[tuple[str, str]]:
    return {(symbols[i], symbols[j]) for i, j in zip(*np.nonzero(matrix), strict=True)}


def run(text: str, backend: str) -> dict[str, np.ndarray]:
    out = Program(text, "kb.fuse").compile(backend).run()
    return {name: np.asarray(value) for name, value in out.items()}


people = st.integers(0, 11).map(lambda n: f"P{n}")
parent_pairs = st.lists(st.tuples(people, people), min_size=1, max_size=30, unique=True)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=8, deadline=None)
@given(pairs=parent_pairs, written_one_by_one=st.lists(st.booleans(), min_size=30, max_size=30))
def test_facts_closure_matches_a_naive_datalog_evaluator(
    backend: str, pairs: list[tuple[str, str]], written_one_by_one: list[bool]
) -> None:
    """Whether a fact is read in bulk (`Parent(A, B).`) or by the ordinary
    parser (`Parent(A, B) = 1`, any line the bulk reader does not take),
    the relation and its closure are the same."""
    lines = [
        f"Parent({a}, {b}) = 1" if one else f"Parent({a}, {b})."
        for (a, b), one in zip(pairs, written_one_by_one, strict=False)
    ]
    out = run("\n".join(lines) + ANCESTOR_RULES, backend)
    symbols = reading_order(pairs)
    assert out["Ancestor"].shape == (len(symbols), len(symbols))
    assert as_pairs(out["Ancestor"], symbols) == naive_ancestors(set(pairs))


@pytest.mark.parametrize("backend", BACKENDS)
def test_facts_of_a_relation_that_rules_define_too(backend: str) -> None:
    """Section 2.1: facts of Ancestor beside its rules start the relation;
    the rules add to them (a relation given by facts alone is an input, so
    these facts must not be dropped)."""
    parent = [("Bob", "Charlie"), ("Charlie", "Dana")]
    facts = [("Alice", "Bob")]
    text = "".join(f"Parent({x}, {y})\n" for x, y in parent)
    text += "".join(f"Ancestor({x}, {y})\n" for x, y in facts) + ANCESTOR_RULES
    symbols = reading_order(parent + facts)
    ancestor = set(facts) | set(parent)
    while True:  # Ancestor(x, z) <- Ancestor(x, y), Parent(y, z), from the facts and Parent
        derived = {(x, z) for x, y in ancestor for y2, z in parent if y == y2}
        if derived <= ancestor:
            break
        ancestor |= derived
    assert as_pairs(run(text, backend)["Ancestor"], symbols) == ancestor


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_thousand_facts_in_bulk(backend: str) -> None:
    rng = np.random.default_rng(1)
    pairs = sorted({(f"P{p}", f"P{p + int(d)}") for p, d in rng.integers(1, 400, (1000, 2))})
    text = "".join(f"Parent({a}, {b}).\n" for a, b in pairs) + ANCESTOR_RULES
    out = run(text, backend)
    symbols = reading_order(pairs)
    assert as_pairs(out["Ancestor"], symbols) == naive_ancestors(set(pairs))


def test_facts_reach_the_ir_as_a_coordinate_list() -> None:
    text = "Parent(Alice, Bob)\nParent(Bob, Carol).\n" + ANCESTOR_RULES
    ir = str(Program(text, "kb.fuse").declarative_module())
    assert "fuse.tensor @Parent[i, j] boolean : tensor<3x3xf32>" in ir
    assert "fuse.facts @Parent dense<[[0, 1], [1, 2]]> : tensor<2x2xi64>" in ir
    assert "fuse.literal" not in ir  # no dense literal spelled out


@pytest.mark.parametrize("backend", BACKENDS)
def test_fact_only_relations_are_sized_from_their_positions(backend: str) -> None:
    """`X(1) = 1` and `X(3)` with nothing else sizing X: as long as its
    largest position + 1; the size flows on to what reads it."""
    out = run("X(1) = 1\nX(3)\nY(i) <- X(i)\nexport X, Y", backend)
    np.testing.assert_array_equal(out["X"], [0, 1, 0, 1])
    np.testing.assert_array_equal(out["Y"], [0, 1, 0, 1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_facts_with_values_and_integers(backend: str) -> None:
    """`Likes(Alice, 2) = 0.5` sets an element of a Boolean relation (its
    left-hand side has parentheses: DESIGN.md section 3), so it is true
    after `step`; facts naming one element add before the step, so a
    later `= -1` cancels a true fact. Integer positions are as large as
    their largest integer."""
    text = "Likes(Alice, 2) = 0.5\nLikes(Bob, 0)\nLikes(Bob, 1)\nLikes(Bob, 1) = -1\nexport Likes"
    np.testing.assert_array_equal(run(text, backend)["Likes"], [[0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_integer_left_hand_side_position_is_as_large_as_its_largest_integer(
    backend: str,
) -> None:
    """`Y[i, 2] = A[i]` with nothing else sizing Y's second dimension: the
    integer positions written size it, as they size facts' (`X(1) = 1`)."""
    program = Program("Y[i, 2] = A[i]\nY[i, 0] += 1\nexport Y", "y.fuse")
    exports = program.compile(backend).run({"A": np.array([5.0, 7.0], np.float32)})
    np.testing.assert_array_equal(np.asarray(exports["Y"]), [[1, 0, 5], [1, 0, 7]])


def test_a_fact_line_inside_brackets_is_not_read_in_bulk() -> None:
    """A statement continues while a bracket is open: a line that looks
    like a fact there belongs to that statement."""
    tokens, _ = tokenize(SourceText("Y = max(\nX(A)\n)\nP(A, B)\n", "t.fuse"))
    kinds = [t.kind for t in tokens]
    assert kinds.count(TokenKind.FACTS) == 1  # P(A, B) only
    assert tokens[kinds.index(TokenKind.FACTS)].line == 4


def test_bulk_facts_keep_their_lines() -> None:
    """Statements after a run of facts, comments and blank lines between
    them, still report their own lines."""
    text = "P(A, B)\nP(B, C).  # a comment\n\nP(C, D)\nY[i] = P[i]\nexport Y\n"
    with pytest.raises(FuseError) as raised:
        Program(text, "kb.fuse")
    assert "kb.fuse:5:8: error: tensor 'P' is used with rank 1 here but with rank 2 at 1:1" in str(
        raised.value
    )
    program = parse(text)
    assert [s.first_line for s in program.statements[:2]] == [1, 4]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "P(A, B)\nP(C)\nexport P",
            "kb.fuse:2:1: error: a fact with 1 constants, but the first fact of 'P' (at 1:1) has 2",
        ),
        (
            "P(A, B)\n  P(C, D, E).\nexport P",
            "kb.fuse:2:3: error: a fact with 3 constants, but the first fact of 'P' (at 1:1) has 2",
        ),
        (
            "P(A, B)\nP(x, B)\nexport P",
            "kb.fuse:2:3: error: a fact names constants, but 'x' is a variable",
        ),
        (
            "P(A, 5000)\nP(5000, A)\nexport P",
            "kb.fuse:1:1: error: the facts of 'P' span a 5001 x 5001 relation",
        ),
    ],
)
def test_fact_errors_are_located(text: str, message: str) -> None:
    with pytest.raises(FuseError) as raised:
        Program(text, "kb.fuse")
    assert message in str(raised.value)


FAMILY = (
    """
Parent(Alice, Bob)
Parent(Bob, Carol).
Parent(Carol, Dan)
Parent(Alice, Eve)
"""
    + ANCESTOR_RULES
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_runner_query_accepts_symbols_and_answers_by_name(backend: str) -> None:
    runner = Program(FAMILY, "kb.fuse").compile(backend)
    pairs = [("Alice", "Bob"), ("Bob", "Carol"), ("Carol", "Dan"), ("Alice", "Eve")]
    ancestors = naive_ancestors(set(pairs))
    symbols = reading_order(pairs)
    expected = [float(("Alice", s) in ancestors) for s in symbols]
    np.testing.assert_array_equal(np.asarray(runner.query("Ancestor", x="Alice")), expected)
    assert runner.answers("Ancestor", x="Alice") == {
        (z,): 1.0 for x, z in sorted(ancestors) if x == "Alice"
    }
    assert runner.answers("Ancestor", z="Dan") == {
        (x,): 1.0 for x, z in sorted(ancestors) if z == "Dan"
    }
    # Integers still name positions.
    np.testing.assert_array_equal(np.asarray(runner.query("Ancestor", x=0)), expected)


@pytest.mark.parametrize(
    ("bindings", "message"),
    [
        (
            {"x": "Alise"},
            "index x='Alise' is not a symbol of its domain (nearest symbols: Alice)",
        ),
        ({"q": "Alice"}, "it has no index 'q' (its indices: x, z)"),
        ({"x": -1}, "index x=-1 must be a non-negative integer or a symbol"),
    ],
)
def test_runner_query_errors(bindings: dict[str, object], message: str) -> None:
    runner = Program(FAMILY, "kb.fuse").compile("numpy")
    with pytest.raises(FuseError, match=re.escape(message)):
        runner.query("Ancestor", **bindings)


@pytest.mark.parametrize("backend", BACKENDS)
def test_quoted_lowercase_symbols(backend: str) -> None:
    """`"loves"` is a symbol wherever an index goes: in facts (read by the
    ordinary parser) and in queries."""
    text = 'M(Alice, "loves")\nM(Bob, "hates").\nM(Alice, Bob)\nM(x, "loves")?\nexport M'
    out = run(text, backend)
    # Position 2's symbols in reading order: loves, hates, Bob.
    np.testing.assert_array_equal(out["M"], [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(out["Query_M"], [1, 0])


def test_quoted_symbols_print_quoted(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    from fuse.cli import main

    program = tmp_path / "kb.fuse"
    program.write_text('M(Alice, "loves")\nM(Alice, Bob)\nM(Alice, y)?\n')
    main(["run", str(program)])
    assert capsys.readouterr().out.splitlines() == ["M(Alice, y)?", '  y = "loves"', "  y = Bob"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_symbol_constants_on_a_left_hand_side(backend: str) -> None:
    """Reasoning about named objects in embedding space: `D[Alice, Carol]
    = sig(E[Alice, d] E[Carol, d])` defines one element the way a fact
    does. A symbol on both sides is one object, so D's positions share E's
    domain (Obj's people) and D is as large as that domain; elements no
    equation writes are 0."""
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    text = """
Emb[i, d] = [[1, 0], [0, 1], [1, 1]]
Obj(Alice, 0)
Obj(Bob, 1)
Obj(Carol, 2)
E[o, d] = Obj(o, i) Emb[i, d]
D[Alice, Carol] = sig(E[Alice, d] E[Carol, d])
D[Bob, Carol] = sig(E[Bob, d] E[Carol, d])
export D
"""
    sig = 1 / (1 + np.exp(-(emb @ emb.T)))
    expected = np.zeros((3, 3), np.float32)
    expected[0, 2], expected[1, 2] = sig[0, 2], sig[1, 2]
    np.testing.assert_allclose(run(text, backend)["D"], expected, rtol=1e-6)


def test_an_unknown_quoted_symbol_lists_the_nearest() -> None:
    with pytest.raises(FuseError) as raised:
        Program('M(Alice, "loves")\nM(Alice, "likes")?', "kb.fuse")
    assert (
        "kb.fuse:2:10: error: unknown symbol '\"likes\"' in position 2 of 'M' "
        "(nearest symbols of that domain: loves)"
    ) in str(raised.value)


def test_a_variable_named_like_a_symbol_is_a_warning() -> None:
    program = Program('M(Alice, "loves")\nM(Alice, Bob)\nM(Alice, loves)?\nM(x, y)?', "kb.fuse")
    assert [w.render().splitlines()[0] for w in program.warnings] == [
        "kb.fuse:3:10: warning: index variable 'loves' is also a symbol of position 2 of 'M'; "
        'it ranges over the whole domain here (write "loves" for the symbol)'
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sinks_of_fact_relations_write_symbols(backend: str, tmp_path) -> None:
    pairs = [("Alice", "Bob"), ("Bob", "Carol"), ("Carol", "Dan")]
    text = "".join(f"Parent({a}, {b})\n" for a, b in pairs) + (
        "Ancestor(x, z) <- Parent(x, z)\n"
        "Ancestor(x, z) <- Ancestor(x, y), Parent(y, z)\n"
        '"ancestor.tsv" = Ancestor(x, z)\n'
    )
    Program(text, str(tmp_path / "kb.fuse")).compile(backend).run()
    written = {
        tuple(line.split("\t")) for line in (tmp_path / "ancestor.tsv").read_text().splitlines()
    }
    assert written == naive_ancestors(set(pairs))


JOINED_RULES = """Link(x, y) = "link.tsv"
Path(x, z) <- Link(x, z)
Path(x, z) <- Edge(x, z)
Path(x, z) <- Path(x, y), Link(y, z)
Path(x, z) <- Path(x, y), Edge(y, z)
"path.tsv" = Path(x, z)
"""


def joined_paths(
    links: list[tuple[str, str]], edges: list[tuple[str, str]], backend: str, directory
) -> set[tuple[str, ...]]:
    """Path over a relation file (`Link`) and facts (`Edge`) whose symbols
    share one domain, as the sink writes it."""
    (directory / "link.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in links))
    text = "".join(f"Edge({a}, {b})\n" for a, b in edges) + JOINED_RULES
    Program(text, str(directory / "kb.fuse")).compile(backend).run()
    lines = (directory / "path.tsv").read_text().splitlines()
    return {tuple(line.split("\t")) for line in lines}


@pytest.mark.parametrize("backend", BACKENDS)
def test_symbols_from_a_file_and_from_facts_share_a_domain(backend: str, tmp_path) -> None:
    """A `.tsv` relation and facts whose positions share a variable number
    their symbols in one domain, so their join pairs the same people."""
    links, edges = [("Erin", "Alice"), ("Bob", "Carol")], [("Alice", "Bob"), ("Carol", "Dan")]
    assert joined_paths(links, edges, backend, tmp_path) == naive_ancestors({*links, *edges})


PEOPLE = st.sampled_from(["Ann", "Bo", "Cy", "Di", "Ed"])
PAIRS = st.lists(st.tuples(PEOPLE, PEOPLE), min_size=1, max_size=6, unique=True)


@settings(max_examples=8, deadline=None)
@given(links=PAIRS, edges=PAIRS)
def test_a_join_of_a_file_and_facts_is_the_join_of_their_pairs(
    links: list[tuple[str, str]], edges: list[tuple[str, str]], tmp_path_factory
) -> None:
    directory = tmp_path_factory.mktemp("joined")
    assert joined_paths(links, edges, "numpy", directory) == naive_ancestors({*links, *edges})


def test_symbols_are_read_when_the_program_is_checked(tmp_path) -> None:
    """A symbol file's symbols are numbered when the program is checked; one
    the file gains before the run is an error naming it, not a silent
    renumbering."""
    (tmp_path / "link.tsv").write_text("Ann\tBo\n")
    runner = Program('Link(x, y) = "link.tsv"\nexport Link', str(tmp_path / "kb.fuse")).compile()
    (tmp_path / "link.tsv").write_text("Ann\tBo\nBo\tCy\n")
    with pytest.raises(FuseError, match=r"link\.tsv:2:1: error: symbol 'Bo' is new .*file change"):
        runner.run()


def test_a_symbol_file_outside_the_program_tree_may_not_join_its_domains(tmp_path) -> None:
    """Only the run may read a file outside the program's directory (with
    allow_paths), so its symbols are not the program's: a join of them with
    facts is refused rather than answered under two numberings."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "sister.tsv").write_text("Erin\tAlice\n")
    (tmp_path / "kb").mkdir()
    text = (
        'Parent(Alice, Bob)\nSister(x, y) = "../elsewhere/sister.tsv"\n'
        "Aunt(x, z) <- Sister(x, y), Parent(y, z)\nexport Aunt"
    )
    program = Program(text, str(tmp_path / "kb" / "kb.fuse"))
    runner = program.compile("numpy", allow_paths=[tmp_path / "elsewhere"])
    with pytest.raises(FuseError, match="shares a domain with symbols the program numbered") as e:
        runner.run()
    assert e.value.render().startswith(f"{tmp_path / 'kb' / 'kb.fuse'}:2:1: error: source")


def test_a_call_in_a_fact_line_comment_is_not_a_fact() -> None:
    program = parse("P(A, B)  # like Q(C)\nP(B, C).\n")
    assert [(s.relation, s.constants) for s in program.statements] == [("P", ("A", "B", "B", "C"))]


def test_whether_a_line_is_read_in_bulk_does_not_depend_on_its_neighbours() -> None:
    """A fact the bulk reader cannot take (ten digits) beside one it can:
    each is read as it would be alone, and a change of rank starts a new
    run (reported by the rank check)."""
    statements = parse("A(1000000000)\nA(0)\n").statements
    assert [type(s).__name__ for s in statements] == ["Fact", "Facts"]
    runs = parse("A(B)\nA(C, D)\nA(E)").statements
    assert [(s.rank, s.first_line) for s in runs] == [(1, 1), (2, 2), (1, 3)]


def test_a_cached_plan_follows_the_symbols_of_its_files(tmp_path) -> None:
    """A symbol constant is folded to its number, which the file decides:
    the same program text over a file whose symbols come in another order
    is another plan, not the cached one with a stale number."""
    text = 'Likes(x, y) = "likes.tsv"\nLikes(Ann, y)?\n'
    for rows in ("Ann\tTea\nBo\tJam\n", "Bo\tJam\nAnn\tTea\n"):
        (tmp_path / "likes.tsv").write_text(rows)
        runner = Program(text, str(tmp_path / "kb.fuse")).compile(cache_dir=tmp_path / "cache")
        answer = runner.run()["Query_Likes"]
        assert dict(zip(runner.symbols("Likes", "y"), answer.tolist(), strict=True)) == {
            "Tea": 1.0,
            "Jam": 0.0,
        }


def test_checking_a_program_never_reads_a_pipe_for_symbols(tmp_path) -> None:
    """Symbol files are read when the program is checked: a pipe named like
    a relation would block that read forever, so only regular files are."""
    os.mkfifo(tmp_path / "pipe.tsv")
    script = (
        "import sys\nfrom fuse import Program\n"
        "Program('P(x, y) = \"pipe.tsv\"\\nexport P', sys.argv[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "kb.fuse")], timeout=120, check=False
    )
    assert done.returncode == 0
