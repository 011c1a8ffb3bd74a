"""Runs examples/training/adam_mlp/adam_mlp.fuse, a two-layer perceptron
that trains itself by Adam written as equations (six tensors stepped
together by one virtual index: the two weight matrices and their moments).
This script only draws the initial weights, feeds the digits that ship with
the repository (examples/data/digits.npz) and scores the trained weights on
the held-out images.

    python examples/training/adam_mlp/train.py [--backend numpy|torch|jax] [--steps N]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from fuse import Program

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the digits helper shared by the examples

from digits import load_digits  # noqa: E402


def train(backend: str, steps: int | None = None, seed: int = 0) -> tuple[float, float]:
    """(the loss at the trained weights, their test accuracy). `steps`
    overrides the program's step count `S`."""
    text = (HERE / "adam_mlp.fuse").read_text()
    if steps is not None:  # the step count is the program's named constant S
        text = re.sub(r"^S = \d+", f"S = {steps}", text, count=1, flags=re.MULTILINE)
    train_split, test_split = load_digits("X", "Y", (64,), seed)
    rng = np.random.default_rng(seed)
    inputs = {
        **train_split,
        "N": np.float32(len(train_split["X"])),
        "Init1": (rng.normal(size=(64, 64)) * np.sqrt(2 / 64)).astype(np.float32),
        "Init2": (rng.normal(size=(64, 10)) * np.sqrt(1 / 64)).astype(np.float32),
    }
    runner = Program(text, file=str(HERE / "adam_mlp.fuse")).compile(backend=backend)
    out = runner.run(inputs=inputs)
    w1, w2 = np.asarray(out["W1"]), np.asarray(out["W2"])
    hidden = np.maximum(test_split["X"] @ w1, 0)
    predicted = (hidden @ w2).argmax(1)
    accuracy = float((predicted == test_split["Y"].argmax(1)).mean())
    return float(out["Loss"]), accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax"))
    parser.add_argument("--steps", type=int, default=None, help="instead of the program's S")
    args = parser.parse_args()
    loss, accuracy = train(args.backend, args.steps)
    print(f"training loss after training: {loss:.4f}")
    print(f"test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
