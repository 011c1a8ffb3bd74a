"""The matrix chain of issue 4: `D[i,m] = A[i,j] B[j,k] C[k,l] E[l,m]` with
i=64, j=1024, k=32, l=1024, m=64.

Fuse (compiled once at the default opt_level 2, so `fuse-einsum-path`
splits the join into three GEMMs; steady-state `runner.run`) against
`numpy.einsum(optimize=False)`, which loops over all five indices at once
(target: Fuse at least 100x faster), and `opt_einsum` with its path
computed beforehand (target: Fuse within 1.2x).

    python -m bench.chain
"""

from __future__ import annotations

import numpy as np
import opt_einsum

from bench.common import Row, best_of, print_table, row
from fuse import ExecutionConfig, Program

PROGRAM = "D[i,m] = A[i,j] B[j,k] C[k,l] E[l,m]\nexport D\n"
SUBSCRIPTS = "ij,jk,kl,lm->im"
SIZES = {"i": 64, "j": 1024, "k": 32, "l": 1024, "m": 64}
NAME = "chain 64x1024x32x1024x64"


def inputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        name: rng.standard_normal([SIZES[c] for c in letters]).astype(np.float32)
        for name, letters in zip("ABCE", SUBSCRIPTS.split("->")[0].split(","), strict=True)
    }


# numpy.einsum(optimize=False) loops over all five indices at once: about
# 1.4e11 iterations, some 12 minutes per call on this machine. Its time is
# exactly proportional to i*j*k*l*m, so it is measured on the first 4 rows of
# A and the first 4 columns of E (1/256 of the work) and scaled by 256.
NAIVE_SLICE = 4
NAIVE_SCALE = (SIZES["i"] // NAIVE_SLICE) * (SIZES["m"] // NAIVE_SLICE)
NAIVE_NOTE = f"i,m sliced to {NAIVE_SLICE}, time x{NAIVE_SCALE}"


def naive_einsum_seconds(arrays: list[np.ndarray], repeat: int) -> float:
    a, b, c, e = arrays
    sliced = (a[:NAIVE_SLICE], b, c, e[:, :NAIVE_SLICE])
    return best_of(lambda: np.einsum(SUBSCRIPTS, *sliced, optimize=False), repeat) * NAIVE_SCALE


def run(repeat: int = 50, naive_repeat: int = 1) -> list[Row]:
    data = inputs()
    arrays = list(data.values())
    runner = Program(PROGRAM).compile(backend="numpy", config=ExecutionConfig(opt_level=2))
    result = runner.run(data)["D"]  # compiles the plan for these shapes
    fuse = best_of(lambda: runner.run(data), repeat, number=10)

    expression = opt_einsum.contract_expression(SUBSCRIPTS, *(a.shape for a in arrays))
    np.testing.assert_allclose(result, expression(*arrays), rtol=1e-3, atol=1e-2)
    precomputed = best_of(lambda: expression(*arrays), repeat, number=10)

    naive = naive_einsum_seconds(arrays, naive_repeat)
    return [
        row(NAME, fuse, f"numpy.einsum(optimize=False) [{NAIVE_NOTE}]", naive, 0.01),
        row(NAME, fuse, "opt_einsum (precomputed path)", precomputed, 1.2),
    ]


if __name__ == "__main__":
    print_table(run())
