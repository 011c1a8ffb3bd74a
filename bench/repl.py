"""Issue 16, the REPL's incremental recompute: adding one fact to a
10,000-fact genealogy and re-asking an ancestor query, against recompiling
and rerunning the whole program with that fact (what a REPL without
incremental compilation, or `fuse run`, does).

    Ancestor(x, y) <- Parent(x, y).
    Ancestor(x, z) <- Ancestor(x, y), Parent(y, z).
    Ancestor(P7, x)?

10,000 `Parent` facts over 2,500 people (each has four parents among the
200 people before them; the front end's dense fact literal is people^2
elements, so the size of the domain, not the count of facts, prices the
full recompile). In the session the new fact is over known people: it sets
one element of Parent, a runtime input of the compiled query
(fuse.repl.incremental), and the query reruns. Both on the NumPy backend;
the session's time is the best of 5 (a new fact each), the full recompile
(printing its answers, as `fuse run` does) is timed once.

A second row adds a rule over Ancestor (`Kin(x) <- Ancestor(P9, x).`) and
asks it: the session keeps Ancestor's value from an earlier answer, so only
the new rule's stratum runs.

    python -m bench.repl
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import Row, best_of, print_table, row
from fuse import Program
from fuse.repl import Session
from fuse.runtime.answers import format_answer, query_outputs

PEOPLE = 2_500
FACTS = 10_000
RULES = "Ancestor(x, y) <- Parent(x, y).\nAncestor(x, z) <- Ancestor(x, y), Parent(y, z).\n"
QUERY = "Ancestor(P7, x)?"


def genealogy(people: int = PEOPLE, facts: int = FACTS) -> tuple[list[str], list[str]]:
    """`facts` distinct parent facts, each person's parents among the 200
    before them; and facts over the same people not among them."""
    rng = np.random.default_rng(16)
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < facts:
        child = int(rng.integers(1, people))
        pairs.add((int(rng.integers(max(0, child - 200), child)), child))
    unused = [(c - 1, c) for c in range(people - 1, 0, -1) if (c - 1, c) not in pairs]
    written = [f"Parent(P{a}, P{b})." for a, b in sorted(pairs)]
    return written, [f"Parent(P{a}, P{b})." for a, b in unused]


def recompile_and_answer(text: str) -> tuple[float, str]:
    """What `fuse run` does with the session's program and query: check,
    compile and run it, and print the query's answers; with the seconds it
    took."""
    start = time.perf_counter()
    runner = Program(text).compile()
    exports = runner.run()
    ((query, name),) = query_outputs(runner.program.ast, exports)
    printed = format_answer(query, exports[name], runner.program.ast.domains)
    return time.perf_counter() - start, printed


def fact_row() -> Row:
    facts, new_facts = genealogy()
    program = "\n".join(facts) + "\n" + RULES
    session = Session()
    session.add(program)  # the whole program checked once
    session.submit(QUERY)  # the query compiled once
    fresh = iter(new_facts)

    def add_and_ask() -> str:
        session.submit(next(fresh))
        return session.submit(QUERY)

    repeat = 5
    incremental = best_of(add_and_ask, repeat=repeat)
    added = "\n".join(new_facts[:repeat])  # the session's program now
    full, printed = recompile_and_answer(f"{program}{added}\n{QUERY}\n")
    if session.submit(QUERY) != printed:
        raise AssertionError("the session and the full recompile answer differently")
    return row(
        f"repl: +1 fact of {FACTS:,}, re-ask ancestor", incremental, "recompile + rerun", full, 0.1
    )


def rule_row() -> Row:
    """A new rule over the ancestor relation, asked at once: the session
    keeps Ancestor's value from an earlier answer and computes only the
    new rule's tensor; the full recompile computes the closure again."""
    facts, _ = genealogy()
    program = "\n".join(facts) + "\n" + RULES + "Reach(x) <- Ancestor(P7, x).\n"
    session = Session()
    session.add(program)
    session.submit("Reach(x)?")  # computes Ancestor in full and keeps it
    people = iter(range(8, PEOPLE))

    def add_rule_and_ask(n: int | None = None) -> str:
        n = next(people) if n is None else n
        session.submit(f"Kin{n}(x) <- Ancestor(P{n}, x).")
        answer = session.submit(f"Kin{n}(x)?")
        if session.recomputed != (f"Kin{n}",):
            raise AssertionError(f"the session recomputed {session.recomputed}")
        return answer

    incremental = best_of(add_rule_and_ask, repeat=5)
    n = next(people)
    full, printed = recompile_and_answer(f"{program}Kin{n}(x) <- Ancestor(P{n}, x).\nKin{n}(x)?\n")
    if add_rule_and_ask(n) != printed:
        raise AssertionError("the session and the full recompile answer differently")
    return row(
        f"repl: +1 rule over ancestor ({FACTS:,} facts)",
        incremental,
        "recompile + rerun",
        full,
        # The issue sets no number for rules; the row checks that keeping
        # Ancestor pays for the session's bookkeeping. The front end's
        # re-check of the whole program dominates both sides.
        1.0,
    )


def run() -> list[Row]:
    return [fact_row(), rule_row()]


if __name__ == "__main__":
    print_table(run())
