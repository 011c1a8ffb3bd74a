"""The training examples reach what they promise, run as a user runs them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "training"


def _run(example: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / example / "train.py"), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, text
    return float(found.group(1))


def test_mlp_on_digits_reaches_95_percent() -> None:
    out = _run("mlp_digits")
    assert _number(r"test accuracy: ([\d.]+)", out) >= 0.95


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_cnn_on_digits_learns_in_two_epochs(backend: str) -> None:
    """The LeNet-style CNN (convolutions, pools and their gradients run
    natively) after 42 steps: about 0.82 test accuracy (chance: 0.1); the
    default 20 epochs reach about 0.99."""
    out = _run("cnn_digits", "--backend", backend, "--epochs", "2")
    assert _number(r"test accuracy: ([\d.]+)", out) >= 0.6


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_softmax_regression_trained_in_the_language(backend: str) -> None:
    out = _run("softmax_regression", "--backend", backend)
    assert _number(r"test accuracy: ([\d.]+)", out) >= 0.95


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_adam_mlp_trained_in_the_language(backend: str) -> None:
    """Adam written as equations, six tensors stepped together, after 30 of
    its 150 steps: about 0.96 test accuracy (the full run: about 0.98)."""
    out = _run("adam_mlp", "--backend", backend, "--steps", "30")
    assert _number(r"test accuracy: ([\d.]+)", out) >= 0.9


def test_tucker_recovers_the_planted_tensor() -> None:
    out = _run("tucker_learning")
    assert _number(r"relative error ([\d.e+-]+)", out) < 1e-2


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_embedded_rule_reproduces_ancestor(backend: str) -> None:
    out = _run("family_embeddings", "--backend", backend)
    assert _number(r"precision ([\d.]+)", out) == 1.0
    assert _number(r"recall ([\d.]+)", out) == 1.0
