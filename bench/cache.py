"""The artifact cache, warm against cold compiles.

A compile here is everything before the first run: `program.compile(backend,
cache_dir=...)`, binding the inputs, and the plan for their shapes (on torch the
GraphModule; on jax that includes XLA, which a cached runner compiles
eagerly). Cold: an empty
cache directory each time; warm: the entry a cold compile wrote, read by a
fresh runner. Both run in this process after one untimed compile, so
imports are not measured. Target: warm <= 0.1 x cold.

    python -m bench.cache
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.common import Row, best_of, print_table, row
from fuse import Program

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WORKLOADS = tuple(
    (backend, example) for backend in ("numpy", "torch", "jax") for example in ("mlp", "attention")
)


def _compile(program: Program, backend: str, cache_dir: str) -> None:
    runner = program.compile(backend=backend, cache_dir=cache_dir)
    runner.plan_for(runner.bind_inputs({}))


def _row(backend: str, example: str, scratch: str, repeat: int) -> Row:
    program = Program.from_file(EXAMPLES / example / f"{example}.fuse")
    warm_dir = tempfile.mkdtemp(dir=scratch)
    _compile(program, backend, warm_dir)  # imports, and the entry the warm compiles read
    cold = best_of(lambda: _compile(program, backend, tempfile.mkdtemp(dir=scratch)), repeat)
    warm = best_of(lambda: _compile(program, backend, warm_dir), repeat)
    return row(f"cache: {backend} {example} warm compile", warm, "cold compile", cold, 0.1)


def run(repeat: int = 5) -> list[Row]:
    with tempfile.TemporaryDirectory() as scratch:
        return [_row(backend, example, scratch, repeat) for backend, example in WORKLOADS]


if __name__ == "__main__":
    print_table(run())
