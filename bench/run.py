"""Runs every benchmark and prints one table of ratios against the
competitors measured in the same run.

    python bench/run.py            # everything
    python bench/run.py numpy_backend chain   # a selection
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, print_table

BENCHMARKS = (
    "frontend",
    "numpy_backend",
    "chain",
    "jax_backend",
    "torch_backends",
    "cache",
    "transitive_closure",
    "demand",
    "repl",
    "export",
    "sharding",
    "convolution",
    "recurrence",
    "training",
)


def main(selected: list[str]) -> int:
    rows: list[Row] = []
    for name in selected or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        print(f"running bench/{name}.py ...", file=sys.stderr, flush=True)
        rows += module.run()
    print_table(rows)
    return 0 if all(r.met for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
