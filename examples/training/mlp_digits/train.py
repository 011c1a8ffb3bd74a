"""Trains examples/training/mlp_digits/mlp_digits.fuse on the digits that ship with
the repository (examples/data/digits.npz) and prints its test accuracy.

    python examples/training/mlp_digits/train.py [--backend numpy|torch|jax] [--epochs N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from fuse import Program

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the digits helper shared by the examples
from digits import accuracy, load_digits  # noqa: E402

BATCH = 64  # the program's loss averages over 64 examples


def initial_params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "W1": (rng.standard_normal((64, 64)) / 8).astype(np.float32),
        "B1": np.zeros(64, np.float32),
        "W2": (rng.standard_normal((10, 64)) / 8).astype(np.float32),
        "B2": np.zeros(10, np.float32),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax"))
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    train, test = load_digits("X", "Y", (64,))
    runner = Program.from_file(HERE / "mlp_digits.fuse").compile(backend=args.backend)
    result = runner.fit(
        "Loss",
        initial_params(),
        train,
        batch_index="e",
        batch_size=BATCH,
        optimizer="adam",
        lr=3e-3,
        epochs=args.epochs,
        seed=0,
    )
    print(f"loss {result.losses[0]:.3f} -> {result.losses[-1]:.4f} in {len(result.losses)} steps")
    print(f"test accuracy: {accuracy(runner, result.params, test, 'Y', 'P', BATCH):.3f}")


if __name__ == "__main__":
    main()
