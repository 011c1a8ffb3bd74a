"""The UCI 8x8 digits that ship with the repository (examples/data/digits.npz),
split and scored the same way for every training example that learns them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

ARCHIVE = Path(__file__).resolve().parents[1] / "data" / "digits.npz"
TRAIN_SIZE = 1400  # of 1,797 images; the other 397 are the test split


def load_digits(
    images: str, labels: str, shape: tuple[int, ...], seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Train and test splits as inputs named `images` (pixels scaled to
    0..1, each image of `shape`) and `labels` (one-hot over 10 classes)."""
    archive = np.load(ARCHIVE)
    pixels = archive["images"].reshape(-1, *shape).astype(np.float32) / 16
    onehot = np.eye(10, dtype=np.float32)[archive["labels"]]
    order = np.random.default_rng(seed).permutation(len(pixels))
    train, test = order[:TRAIN_SIZE], order[TRAIN_SIZE:]
    return (
        {images: pixels[train], labels: onehot[train]},
        {images: pixels[test], labels: onehot[test]},
    )


def accuracy(
    runner,
    params: dict[str, np.ndarray],
    data: dict[str, np.ndarray],
    labels: str,
    probabilities: str,
    batch: int,
) -> float:
    """Share of the images in `data` whose most probable class (the export
    `probabilities`) is the label, scored in batches of `batch` (the shape
    the program's loss averages over)."""
    correct = total = 0
    for start in range(0, len(data[labels]) - batch + 1, batch):
        inputs = {name: value[start : start + batch] for name, value in data.items()}
        predicted = np.asarray(runner.run({**inputs, **params})[probabilities])
        correct += int((predicted.argmax(1) == inputs[labels].argmax(1)).sum())
        total += batch
    return correct / total
