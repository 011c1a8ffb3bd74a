"""Trains examples/training/mlp_digits/mlp_digits.fuse on the digits that ship with
the repository (examples/data/digits.npz) and prints its test accuracy.

    python examples/training/mlp_digits/train.py [--backend numpy|torch|jax] [--epochs N]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fuse import Program

HERE = Path(__file__).resolve().parent
BATCH = 64  # the program's loss averages over 64 examples


def load_digits(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Train and test splits (1,400 / 397 images), pixels scaled to 0..1,
    labels one-hot."""
    archive = np.load(HERE.parents[1] / "data" / "digits.npz")
    images = archive["images"].reshape(-1, 64).astype(np.float32) / 16
    onehot = np.eye(10, dtype=np.float32)[archive["labels"]]
    order = np.random.default_rng(seed).permutation(len(images))
    train, test = order[:1400], order[1400:]
    return {"X": images[train], "Y": onehot[train]}, {"X": images[test], "Y": onehot[test]}


def initial_params(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "W1": (rng.standard_normal((64, 64)) / 8).astype(np.float32),
        "B1": np.zeros(64, np.float32),
        "W2": (rng.standard_normal((10, 64)) / 8).astype(np.float32),
        "B2": np.zeros(10, np.float32),
    }


def accuracy(runner, params: dict[str, np.ndarray], data: dict[str, np.ndarray]) -> float:
    """Share of the test images whose most probable class is the label,
    scored in batches of 64 (the program's batch shape)."""
    correct = total = 0
    for start in range(0, len(data["X"]) - BATCH + 1, BATCH):
        batch = {name: value[start : start + BATCH] for name, value in data.items()}
        probabilities = np.asarray(runner.run({**batch, **params})["P"])
        correct += int((probabilities.argmax(1) == batch["Y"].argmax(1)).sum())
        total += BATCH
    return correct / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax"))
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    train, test = load_digits()
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
    print(f"test accuracy: {accuracy(runner, result.params, test):.3f}")


if __name__ == "__main__":
    main()
