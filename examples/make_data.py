"""Writes the small data files of every example (deterministic; checked in).

Run from anywhere: `python examples/make_data.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent

PARENTS = [  # (parent, child): three generations of one family
    ("ann", "bob"),
    ("ann", "cat"),
    ("bob", "dan"),
    ("bob", "eve"),
    ("cat", "fay"),
    ("dan", "gus"),
    ("eve", "hal"),
    ("fay", "ivy"),
]
SISTERS = [("cat", "bob"), ("eve", "dan"), ("fay", "ivy")]
CORPUS = "the cat sat on the mat the dog sat on the log"


def _save(example: str, name: str, array: np.ndarray) -> None:
    path = ROOT / example / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(array, dtype=np.float32))


def _tsv(example: str, name: str, rows: list[tuple[str, str]]) -> None:
    path = ROOT / example / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{a}\t{b}\n" for a, b in rows))


def entities_in_order(*relations: list[tuple[str, str]]) -> list[str]:
    """Symbols in order of first appearance, as the loader numbers them."""
    seen: dict[str, None] = {}
    for relation in relations:
        for row in relation:
            for symbol in row:
                seen.setdefault(symbol)
    return list(seen)


def main() -> None:
    rng = np.random.default_rng(7)

    for name in ("x", "wq", "wk", "wv"):
        _save(
            "attention",
            f"{name}.npy",
            rng.normal(size=(8, 4)) if name == "x" else rng.normal(size=(4, 4)),
        )

    _tsv("rules_and_embeddings", "sister.tsv", SISTERS)
    _tsv("rules_and_embeddings", "parent.tsv", PARENTS)
    people = entities_in_order(SISTERS, PARENTS)
    basis, _ = np.linalg.qr(rng.normal(size=(len(people), len(people))))
    _save("rules_and_embeddings", "emb.npy", basis)

    corpus = ROOT / "zero_input_lm" / "data" / "corpus.txt"
    corpus.parent.mkdir(parents=True, exist_ok=True)
    corpus.write_text(CORPUS + "\n")
    vocabulary = list(dict.fromkeys(CORPUS.split()))
    _save("zero_input_lm", "emb.npy", rng.normal(size=(len(vocabulary), 6)))

    _tsv("ancestor", "parent.tsv", PARENTS)

    _save("mlp", "x.npy", rng.normal(size=(5, 6)))
    _save("mlp", "w1.npy", rng.normal(size=(6, 8)))
    _save("mlp", "b1.npy", rng.normal(size=8))
    _save("mlp", "w2.npy", rng.normal(size=(8, 3)))
    _save("mlp", "b2.npy", rng.normal(size=3))

    adjacency = (rng.random((6, 6)) < 0.4).astype(np.float32)
    _save("gnn", "adj.npy", adjacency)
    _save("gnn", "h.npy", rng.normal(size=(6, 4)))
    _save("gnn", "wn.npy", rng.normal(size=(4, 5)))
    _save("gnn", "ws.npy", rng.normal(size=(4, 5)))

    _save("kernel_machine", "support.npy", rng.normal(size=(10, 2)))
    _save("kernel_machine", "query.npy", rng.normal(size=(4, 2)))
    _save("kernel_machine", "alpha.npy", rng.normal(size=10))
    (ROOT / "kernel_machine" / "data" / "var.json").write_text(json.dumps(0.5) + "\n")

    _save("hmm", "pi.npy", [0.6, 0.3, 0.1])
    transitions = rng.random((3, 3))
    _save("hmm", "trans.npy", transitions / transitions.sum(axis=1, keepdims=True))
    emissions = rng.random((3, 4))
    _save("hmm", "emit.npy", emissions / emissions.sum(axis=1, keepdims=True))
    _save("hmm", "obs.npy", np.eye(4)[[2, 0, 3]])

    _save("tucker", "core.npy", rng.normal(size=(2, 3, 2)))
    _save("tucker", "u.npy", rng.normal(size=(4, 2)))
    _save("tucker", "v.npy", rng.normal(size=(5, 3)))
    _save("tucker", "w.npy", rng.normal(size=(3, 2)))


if __name__ == "__main__":
    main()
