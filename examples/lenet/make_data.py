"""Writes the LeNet example's data (deterministic; checked in, about 250 KB).

Synthetic digits: the ten glyphs of a 5x7 bitmap font, drawn at twice their
size (10x14) at a random place of a 16x16 image, with a random stroke
intensity and Gaussian noise. `data/images.npy` holds 200 of them
(`[n, x, y, c]`, one channel) and `data/labels.npy` their one-hot labels.

The weights are those of the same network trained here with PyTorch on
4,000 other images of the generator (training in Fuse is a later issue):
conv 3x3 1->6, relu, 2x2 max pool (16 -> 14 -> 7), conv 3x3 6->16, relu,
2x2 max pool whose last window is cut off (5 -> 3, as `Pooled[x/2]` means:
PyTorch's `ceil_mode=True`), and a dense layer to 10 classes.

Run from anywhere (needs torch): `python examples/lenet/make_data.py`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DATA = Path(__file__).resolve().parent / "data"

GLYPHS = [  # 5 columns x 7 rows per digit
    ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    ["11111", "00010", "00100", "00010", "00001", "10001", "01110"],
    ["00010", "00110", "01010", "10010", "11111", "00010", "00010"],
    ["11111", "10000", "11110", "00001", "00001", "10001", "01110"],
    ["00110", "01000", "10000", "11110", "10001", "10001", "01110"],
    ["11111", "00001", "00010", "00100", "01000", "01000", "01000"],
    ["01110", "10001", "10001", "01110", "10001", "10001", "01110"],
    ["01110", "10001", "10001", "01111", "00001", "00010", "01100"],
]
SIZE = 16


def digits(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` images `[n, x, y, 1]` (x: row, y: column) and their labels."""
    labels = rng.integers(0, 10, count)
    images = rng.normal(0.0, 0.15, (count, SIZE, SIZE, 1))
    for image, label in zip(images, labels, strict=True):
        glyph = np.array([[int(c) for c in row] for row in GLYPHS[label]], dtype=np.float64)
        big = np.kron(glyph, np.ones((2, 2)))  # 14 rows x 10 columns
        top, left = rng.integers(0, SIZE - 14 + 1), rng.integers(0, SIZE - 10 + 1)
        image[top : top + 14, left : left + 10, 0] += rng.uniform(0.6, 1.0) * big
    return images.astype(np.float32), labels


def forward(images: torch.Tensor, weights: dict[str, torch.Tensor]) -> torch.Tensor:
    """The network of `lenet.fuse` in PyTorch (NHWC images, HWIO filters)."""
    x = images.permute(0, 3, 1, 2)
    x = F.relu(F.conv2d(x, weights["conv1"].permute(3, 2, 0, 1)) + weights["bias1"][:, None, None])
    x = F.max_pool2d(x, 2, ceil_mode=True)
    x = F.relu(F.conv2d(x, weights["conv2"].permute(3, 2, 0, 1)) + weights["bias2"][:, None, None])
    x = F.max_pool2d(x, 2, ceil_mode=True)  # [n, 16, 3, 3]
    logits = torch.einsum("nmxy,xymd->nd", x, weights["dense"]) + weights["bias3"]
    return logits


def train(rng: np.random.Generator, steps: int = 600) -> dict[str, np.ndarray]:
    torch.manual_seed(0)
    shapes = {
        "conv1": (3, 3, 1, 6),
        "bias1": (6,),
        "conv2": (3, 3, 6, 16),
        "bias2": (16,),
        "dense": (3, 3, 16, 10),
        "bias3": (10,),
    }
    weights = {
        name: (torch.randn(shape) / np.sqrt(np.prod(shape[:-1]))).requires_grad_()
        for name, shape in shapes.items()
    }
    images, labels = digits(4000, rng)
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    optimizer = torch.optim.Adam(weights.values(), lr=0.01)
    for _ in range(steps):
        batch = torch.from_numpy(rng.integers(0, len(x), 128))
        loss = F.cross_entropy(forward(x[batch], weights), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {name: w.detach().numpy() for name, w in weights.items()}


def main() -> None:
    rng = np.random.default_rng(13)
    weights = train(rng)
    images, labels = digits(200, rng)
    DATA.mkdir(exist_ok=True)
    np.save(DATA / "images.npy", images)
    np.save(DATA / "labels.npy", np.eye(10, dtype=np.float32)[labels])
    for name, value in weights.items():
        np.save(DATA / f"{name}.npy", value.astype(np.float32))
    with torch.no_grad():
        tensors = {k: torch.from_numpy(v) for k, v in weights.items()}
        predicted = forward(torch.from_numpy(images), tensors).argmax(1).numpy()
    print(f"accuracy on the shipped images: {np.mean(predicted == labels):.3f}")


if __name__ == "__main__":
    main()
