"""A runner reads a source file again only when it changed.

Building a relation from a 100,000-row `.tsv` (interning its symbols,
classifying its cells) takes seconds, so `IOContext.load_all` keeps what it
built for files whose modification time and size are unchanged. These
tests pin both halves: an unchanged file is not rebuilt, a changed one is.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from fuse import Program
from fuse.runtime.io import IOContext

CLOSURE = """
Edge(x, y) = "edge.tsv"
Path(x, y) <- Edge(x, y)
Path(x, z) <- Path(x, y), Edge(y, z)
export Path
"""


def rewrite(path: Path, text: str) -> None:
    """Writes `text` with a modification time that surely differs."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_unchanged_sources_are_built_once_and_changed_ones_again(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[list[str]] = []
    load_specs = IOContext._load_specs

    def counted(self: IOContext, specs: list) -> dict:
        builds.append([spec.name for spec in specs])
        return load_specs(self, specs)

    monkeypatch.setattr(IOContext, "_load_specs", counted)
    edges = tmp_path / "edge.tsv"
    rewrite(edges, "a\tb\nb\tc\n")
    runner = Program(CLOSURE, str(tmp_path / "p.fuse")).compile(backend)
    first = np.asarray(runner.run()["Path"])
    again = np.asarray(runner.run()["Path"])
    np.testing.assert_array_equal(first, again)
    assert first.sum() == 3  # a-b, b-c, a-c
    built = len(builds)
    runner.run()
    assert len(builds) == built, "an unchanged file was built again"

    rewrite(edges, "a\tb\nb\tc\nc\ta\n")  # a cycle: every pair is a path
    cycle = np.asarray(runner.run()["Path"])
    assert len(builds) > built
    np.testing.assert_array_equal(cycle, np.ones((3, 3)))


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_a_relation_given_by_facts_is_built_once_per_runner(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Facts are part of the program: a runner builds their relation (CSR
    for numpy, dense for jax) on its first run, not on every run."""
    runner = Program(
        "Edge(A, B).\nEdge(B, C).\nPath(x, y) <- Edge(x, y)\n"
        "Path(x, z) <- Path(x, y), Edge(y, z)\nexport Path\n"
    ).compile(backend)
    first = np.asarray(runner.run()["Path"])
    monkeypatch.setattr("fuse.runtime.binding._sparse", lambda _: pytest.fail("facts built again"))
    monkeypatch.setattr(
        "fuse.frontend.ast.FactTable.dense", lambda _: pytest.fail("facts built again")
    )
    np.testing.assert_array_equal(np.asarray(runner.run()["Path"]), first)
    assert first.sum() == 3
