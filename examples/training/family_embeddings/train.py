"""Learns examples/training/family_embeddings: embeddings of 11 people and a relation
matrix trained so the embedded rule reproduces the symbolic Ancestor
relation; then, at a low temperature, compares the two and prints
precision and recall.

    python examples/training/family_embeddings/train.py [--backend numpy|torch|jax]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fuse import Program

HERE = Path(__file__).resolve().parent
PEOPLE, WIDTH = 11, 16


def start(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "Emb": (rng.standard_normal((PEOPLE, WIDTH)) / 4).astype(np.float32),
        "R": (rng.standard_normal((WIDTH, WIDTH)) / 4).astype(np.float32),
    }


def precision_recall(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hits = float((predicted * truth).sum())
    return hits / max(float(predicted.sum()), 1.0), hits / max(float(truth.sum()), 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax"))
    parser.add_argument("--steps", type=int, default=1500)
    args = parser.parse_args()
    runner = Program.from_file(HERE / "family_embeddings.fuse").compile(backend=args.backend)
    warm = np.float32(1.0)
    result = runner.fit("Loss", start(), {"T": warm}, optimizer="adam", lr=0.05, steps=args.steps)
    cold = runner.run({**result.params, "T": np.float32(0.05)})
    truth = np.asarray(cold["Ancestor"])
    predicted = (np.asarray(cold["Embedded"]) > 0.5).astype(np.float32)
    precision, recall = precision_recall(predicted, truth)
    print(f"loss {result.losses[0]:.3f} -> {result.losses[-1]:.2e}")
    print(
        f"embedded Ancestor at T=0.05: precision {precision:.3f}, recall {recall:.3f} "
        f"({int(truth.sum())} true pairs of {truth.size})"
    )


if __name__ == "__main__":
    main()
