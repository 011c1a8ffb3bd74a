"""Recovers a planted low-rank tensor with examples/training/tucker_learning: T is
made from a random 2x2x2 core and random factors; training the program's
core and factors from a random start drives the relative error of the
reconstruction to about 1e-3.

    python examples/training/tucker_learning/train.py [--backend numpy|torch|jax]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fuse import Program

HERE = Path(__file__).resolve().parent
SIZE, RANK = 8, 2


def planted(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    core = rng.standard_normal((RANK,) * 3)
    a, b, c = (rng.standard_normal((SIZE, RANK)) for _ in range(3))
    return np.einsum("pqr,ip,jq,kr->ijk", core, a, b, c).astype(np.float32)


def start(seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {"G": rng.standard_normal((RANK,) * 3)}
    params |= {name: rng.standard_normal((SIZE, RANK)) for name in "ABC"}
    return {name: (0.5 * value).astype(np.float32) for name, value in params.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax"))
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    target = planted()
    runner = Program.from_file(HERE / "tucker_learning.fuse").compile(backend=args.backend)
    result = runner.fit("Loss", start(), {"T": target}, optimizer="adam", lr=0.02, steps=args.steps)
    rebuilt = np.asarray(runner.run({"T": target, **result.params})["That"])
    error = np.linalg.norm(rebuilt - target) / np.linalg.norm(target)
    print(f"loss {result.losses[0]:.2f} -> {result.losses[-1]:.2e}; relative error {error:.2e}")


if __name__ == "__main__":
    main()
