"""Issue 2: parse, check and build declarative IR for a generated
1,000-equation program (target: under 1 s on a 2-core machine).

    python -m bench.frontend
"""

from __future__ import annotations

from bench.common import Row, best_of, print_table, row
from fuse.errors import SourceText
from fuse.frontend import load
from fuse.lowering.ir_builder import build_module


def generated_program(equations: int = 1000) -> str:
    """A layered program mixing joins, arithmetic, calls and Boolean rules."""
    lines = ['T0[i, j] = "t0.npy"', 'E(x, y) = "e.tsv"']
    for n in range(1, equations + 1):
        previous = f"T{n - 1}"
        match n % 4:
            case 0:
                lines.append(f"T{n}[i, j] = relu({previous}[i, k] W{n % 7}[k, j] + B{n % 5}[j])")
            case 1:
                lines.append(f"T{n}[i, j] = {previous}[i, j] * 0.5 - {previous}[j, i]")
            case 2:
                lines.append(f"T{n}[i, j.] = softmax({previous}[i, j] / 2)")
            case _:
                lines.append(f"T{n}[i, j] = {previous}[i, j] + E(i, j) {previous}[i, j]")
    lines.append(f"export T{equations}")
    return "\n".join(lines) + "\n"


def run(repeat: int = 5) -> list[Row]:
    text = generated_program()

    def parse_and_build() -> None:
        build_module(load(text, "generated.fuse"), SourceText(text, "generated.fuse"))

    return [
        row(
            "parse+check+IR, 1000 equations",
            best_of(parse_and_build, repeat),
            "1 s budget",
            1.0,
            1.0,
        )
    ]


if __name__ == "__main__":
    print_table(run())
