"""A knowledge-base session from Python: compile the knowledge base once,
then ask it questions by name. Each `runner.query` is answered on demand
(only what the question reaches is computed) and compiled once.

    python examples/knowledge_base/session.py [--backend numpy|torch|jax]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fuse import Program
from fuse.runtime.runner import Runner

KNOWLEDGE_BASE = Path(__file__).resolve().parent / "knowledge_base.fuse"


def who(runner: Runner, tensor: str, free: str, **known: str) -> list[str]:
    """The names along index `free` of `tensor` that make it true, given the
    `known` indices by name (a tensor's indices are named as in its first
    rule: `Ancestor(x, y)`, `Aunt(x, z)`)."""
    answer = runner.query(tensor, **known)
    return [name for name, true in zip(runner.symbols(tensor, free), answer, strict=True) if true]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy", choices=["numpy", "torch", "jax"])
    backend = parser.parse_args(argv).backend
    runner = Program.from_file(KNOWLEDGE_BASE).compile(backend=backend)

    print("Alice is an ancestor of:", ", ".join(who(runner, "Ancestor", "y", x="Alice")))
    print("Erin's ancestors:", ", ".join(who(runner, "Ancestor", "x", y="Erin")))
    print("Carol's siblings:", ", ".join(who(runner, "Sibling", "y", x="Carol")))
    print("Dave's cousins:", ", ".join(who(runner, "Cousin", "y", x="Dave")))
    is_aunt = bool(runner.query("Aunt", x="Beth", z="Chris"))
    print("Beth is Chris's aunt:", "yes" if is_aunt else "no")
    print("Childless:", ", ".join(who(runner, "Childless", "x")))


if __name__ == "__main__":
    main()
