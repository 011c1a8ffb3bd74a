"""Trains examples/training/cnn_digits/cnn_digits.fuse, the LeNet-style CNN of
examples/lenet, on the digits that ship with the repository
(examples/data/digits.npz) and prints its test accuracy.

    python examples/training/cnn_digits/train.py [--backend numpy|torch|jax] [--epochs N]
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

BATCH = 64  # the program's loss averages over 64 images
FEATURES = (16, 32)  # channels of the two convolutions


def initial_params(seed: int = 0) -> dict[str, np.ndarray]:
    """Standard normal weights over the square root of each layer's fan-in."""
    rng = np.random.default_rng(seed)
    first, second = FEATURES

    def weights(*shape: int) -> np.ndarray:
        fan_in = int(np.prod(shape[:-1]))
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)

    return {
        "Conv1": weights(3, 3, 1, first),  # [dx, dy, c, k]
        "Bias1": np.zeros(first, np.float32),
        "Conv2": weights(2, 2, first, second),  # [dx, dy, k, m]
        "Bias2": np.zeros(second, np.float32),
        "Dense": weights(1, 1, second, 10),  # [x, y, m, d]: the last pool leaves 1x1
        "Bias3": np.zeros(10, np.float32),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax"))
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    train, test = load_digits("Image", "Labels", (8, 8, 1))
    runner = Program.from_file(HERE / "cnn_digits.fuse").compile(backend=args.backend)
    result = runner.fit(
        "Loss",
        initial_params(),
        train,
        batch_index="n",
        batch_size=BATCH,
        optimizer="adam",
        lr=1e-2,
        epochs=args.epochs,
        seed=0,
    )
    print(f"loss {result.losses[0]:.3f} -> {result.losses[-1]:.4f} in {len(result.losses)} steps")
    score = accuracy(runner, result.params, test, "Labels", "Probs", BATCH)
    print(f"test accuracy: {score:.3f}")


if __name__ == "__main__":
    main()
