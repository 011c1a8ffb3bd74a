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
is timed once (it takes tens of seconds).

    python -m bench.repl
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import Row, best_of, print_table, row
from fuse import Program
from fuse.repl import Session

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


def run() -> list[Row]:
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
    start = time.perf_counter()
    exports = Program(f"{program}{added}\n{QUERY}\n").compile().run()
    full = time.perf_counter() - start
    answers = session.submit(QUERY).splitlines()[1:]
    if len(answers) != np.count_nonzero(exports["Query_Ancestor"]):
        raise AssertionError("the session and the full recompile answer differently")
    return [
        row(
            f"repl: +1 fact of {FACTS:,}, re-ask ancestor",
            incremental,
            "recompile + rerun",
            full,
            0.1,
        )
    ]


if __name__ == "__main__":
    print_table(run())
