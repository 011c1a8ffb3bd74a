"""Runs examples/training/softmax_regression/softmax_regression.fuse, which
trains itself: its equations hold the model, the loss, the loss's gradient
(`grad`) and gradient descent over a virtual step index. This script only
feeds it the digits that ship with the repository (examples/data/digits.npz)
and scores the trained weights on the held-out images.

    python examples/training/softmax_regression/train.py [--backend numpy|torch|jax]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fuse import Program

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax"))
    args = parser.parse_args()
    archive = np.load(HERE.parents[1] / "data" / "digits.npz")
    images = archive["images"].reshape(-1, 64).astype(np.float32) / 16
    labels = archive["labels"]
    order = np.random.default_rng(0).permutation(len(images))
    train, test = order[:1400], order[1400:]
    runner = Program.from_file(HERE / "softmax_regression.fuse").compile(backend=args.backend)
    out = runner.run(
        inputs={
            "X": images[train],
            "Y": np.eye(10, dtype=np.float32)[labels[train]],
            "N": np.float32(len(train)),
        }
    )
    weights = np.asarray(out["W"])
    accuracy = float(((images[test] @ weights).argmax(1) == labels[test]).mean())
    print(f"training loss after 300 steps: {float(out['Loss']):.4f}")
    print(f"test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
