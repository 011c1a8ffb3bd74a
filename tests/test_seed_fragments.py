"""Every DSL fragment of the seed documents parses.

`DSL_REFERENCE_BLOCKS` are the fenced code blocks of the starter's DSL
reference (seeds/003_b83b4a42ce27b81a.txt) that hold DSL statements, line
for line; its grammar-sketch block is BNF, not DSL, and is left out. The
starter's README (seeds/000_49dc35ba397b94ee.txt) fences only shell
commands, so its DSL appears inline: `README_FRAGMENTS`. The inline
fragments of the reference and the examples of DESIGN.md section 3 are
here too. When the seed files are at hand, a test checks that the blocks
below are still a faithful copy.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fuse.frontend import load, parse
from fuse.frontend.ast import Call, Equation, Sink, Source

DSL_REFERENCE_BLOCKS: list[list[str]] = [
    [  # Statements / Equations
        "Target[i, j] = LHS[i, k] RHS[k, j]",
        "Target[i, j] += Bias[i, j]",
        "Target[i] max= MaxSources[i, k]",
        "Target[i] avg= MeanSources[i, k]",
    ],
    [  # Sources and sinks
        'Weights[h, d] = "ckpt/weights.npy"    # source',
        '"runs/activations.npz" = Activation[i, j]    # sink',
    ],
    [  # Index functions
        "Even[i]  = even(i)",
        "Odd[i]   = odd(i)",
    ],
    [  # Function calls and builtins
        'Soft[p, q.] = softmax(Logits[p, q], axis="q")',
        'Scaled[i, j] = concat(A[i, j], B[i, j], axis="j")',
    ],
]

DSL_REFERENCE_INLINE: list[str] = [
    "Soft[p, q.] = softmax(Logits[p, q])",
    "Y[i, j] = Fact(i, j)",
    "Y[i, j] = Fact[i, j]",
    "Even[i] = even(axis=i)",
    "Y[i] avg= Fact(i, k)",
]

README_FRAGMENTS: list[str] = [
    "T[i,j] = A[i,k] B[k,j]",
    "Y[i.] = softmax(X[i])",
    'T[i,j] = "file.npy"',
    '"out.jsonl" = T[i,j]',
]

DESIGN_FRAGMENTS: list[str] = [
    "Y[i] = relu(W[i,j] X[j] + B[i])",
    "K[i,i'] = exp(-(X[i,j] - X[i',j])^2 / V)",
    "L = t1 + t2",
    "L += t2",
    "Path(x,y) = Edge(x,y)",
    "Path(x,z) += Path(x,y) Edge(y,z)",
    "Y[p, t.] = softmax(X[p, t])",
    "Y[o] = Obs[0, o]",
    "Y[i] = sig(X[i], T=0.5)",
    "Y[i] = sig(X[i], T=0)",
    "export T",
]

ALL_LINES = [line for block in DSL_REFERENCE_BLOCKS for line in block] + [
    *DSL_REFERENCE_INLINE,
    *README_FRAGMENTS,
    *DESIGN_FRAGMENTS,
]


@pytest.mark.parametrize("line", ALL_LINES)
def test_fragment_parses(line: str) -> None:
    assert len(parse(line).statements) == 1


@pytest.mark.parametrize("block", DSL_REFERENCE_BLOCKS, ids=lambda b: b[0].split()[0])
def test_reference_block_parses_as_a_program(block: list[str]) -> None:
    assert len(parse("\n".join(block) + "\n").statements) == len(block)


@pytest.mark.parametrize(
    "block",
    # The first two blocks list statement forms, they are not programs: the
    # first gives `Target` two ranks and mixes `max=` with `+=`, the second
    # sinks `Activation`, which nothing defines.
    DSL_REFERENCE_BLOCKS[2:],
    ids=lambda b: b[0].split()[0],
)
def test_reference_block_passes_semantic_checks(block: list[str]) -> None:
    load("\n".join(block) + "\n")


def test_fragments_mean_what_the_reference_says() -> None:
    source, sink = parse("\n".join(DSL_REFERENCE_BLOCKS[1])).statements
    assert isinstance(source, Source) and source.path == "ckpt/weights.npy"
    assert isinstance(sink, Sink) and sink.path == "runs/activations.npz"
    (soft,) = parse(DSL_REFERENCE_BLOCKS[3][0]).statements
    assert isinstance(soft, Equation) and isinstance(soft.rhs, Call)
    assert [ix.dotted for ix in soft.lhs.indices] == [False, True]


# A copy of the starter's DSL reference (shared/seeds/003_b83b4a42ce27b81a.txt),
# kept in the repository: a fresh clone has no shared/ folder beside it.
SEED = Path(__file__).resolve().parent / "data" / "seed_dsl_reference.txt"


def test_blocks_are_a_faithful_copy_of_the_reference() -> None:
    blocks = re.findall(r"```\n(.*?)```", SEED.read_text(), flags=re.DOTALL)
    dsl_blocks = [b.splitlines() for b in blocks if not b.startswith("program ")]
    assert dsl_blocks == DSL_REFERENCE_BLOCKS
