"""Every example, run through the Program API, against an independent NumPy
computation written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fuse import Program

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def data(example: str, name: str) -> np.ndarray:
    return np.load(EXAMPLES / example / "data" / name)


def run(example: str, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    program = Program.from_file(EXAMPLES / example / f"{example}.fuse")
    return program.compile(backend="numpy").run(inputs or None)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_attention() -> None:
    x, wq, wk, wv = (data("attention", f"{n}.npy") for n in ("x", "wq", "wk", "wv"))
    q, k, v = x @ wq, x @ wk, x @ wv
    scores = q @ k.T / 2
    scores = np.where(np.tril(np.ones_like(scores)) > 0, scores, -np.inf)
    expected = softmax(scores) @ v
    out = run("attention")
    np.testing.assert_allclose(out["Y"], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.load(EXAMPLES / "attention/runs/y.npy"), expected, rtol=1e-5, atol=1e-5
    )


def read_pairs(path: Path) -> list[tuple[str, ...]]:
    return [tuple(line.split("\t")) for line in path.read_text().splitlines() if line]


def relation_matrix(rows: list[tuple[str, ...]], symbols: list[str]) -> np.ndarray:
    matrix = np.zeros((len(symbols), len(symbols)), dtype=np.float32)
    for a, b in rows:
        matrix[symbols.index(a), symbols.index(b)] = 1
    return matrix


def _family() -> tuple[list[str], np.ndarray, np.ndarray]:
    sisters = read_pairs(EXAMPLES / "rules_and_embeddings/data/sister.tsv")
    parents = read_pairs(EXAMPLES / "rules_and_embeddings/data/parent.tsv")
    people = list(dict.fromkeys(s for row in sisters + parents for s in row))
    return people, relation_matrix(sisters, people), relation_matrix(parents, people)


def test_rules_and_embeddings() -> None:
    people, sister, parent = _family()
    emb = data("rules_and_embeddings", "emb.npy")
    aunt = (sister @ parent > 0).astype(np.float32)
    aunt_emb = (emb.T @ sister @ emb) @ (emb.T @ parent @ emb)
    logits = emb @ aunt_emb @ emb.T - 0.5
    score = 1 / (1 + np.exp(-logits / 0.1))
    out = run("rules_and_embeddings")
    np.testing.assert_array_equal(out["Aunt"], aunt)
    np.testing.assert_allclose(out["AuntScore"], score, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out["AuntScore"] > 0.5, aunt > 0)
    rows = (EXAMPLES / "rules_and_embeddings/runs/aunt.tsv").read_text().split("\n")
    written = {tuple(r.split("\t")) for r in rows if r}
    assert written == {(people[i], people[j]) for i, j in zip(*np.nonzero(aunt), strict=True)}


def test_zero_input_lm() -> None:
    tokens = (EXAMPLES / "zero_input_lm/data/corpus.txt").read_text().split()
    vocabulary = list(dict.fromkeys(tokens))
    onehot = np.eye(len(vocabulary), dtype=np.float32)[[vocabulary.index(t) for t in tokens]]
    emb = data("zero_input_lm", "emb.npy")
    probs = softmax(onehot @ emb @ emb.T)
    out = run("zero_input_lm")
    np.testing.assert_allclose(out["Probs"], probs, rtol=1e-5, atol=1e-6)
    records = [
        json.loads(line)
        for line in (EXAMPLES / "zero_input_lm/runs/top.jsonl").read_text().splitlines()
    ]
    for position in range(len(tokens)):
        best = np.argsort(-probs[position], kind="stable")[:3]
        mine = [r for r in records if r["position"] == position]
        assert [r["token"] for r in mine] == [vocabulary[b] for b in best]


def warshall(adjacency: np.ndarray) -> np.ndarray:
    closure = adjacency.astype(bool).copy()
    for k in range(len(closure)):
        closure |= closure[:, [k]] & closure[[k], :]
    return closure.astype(np.float32)


def test_ancestor() -> None:
    rows = read_pairs(EXAMPLES / "ancestor/data/parent.tsv")
    names = list(dict.fromkeys(s for r in rows for s in r))
    out = run("ancestor")
    np.testing.assert_array_equal(out["Ancestor"], warshall(relation_matrix(rows, names)))


def test_mlp() -> None:
    x, w1, b1, w2, b2 = (data("mlp", f"{n}.npy") for n in ("x", "w1", "b1", "w2", "b2"))
    expected = softmax(np.maximum(x @ w1 + b1, 0) @ w2 + b2)
    np.testing.assert_allclose(run("mlp")["Out"], expected, rtol=1e-5, atol=1e-6)


def test_gnn() -> None:
    adj, h, wn, ws = (data("gnn", f"{n}.npy") for n in ("adj", "h", "wn", "ws"))
    expected = np.maximum(adj @ h @ wn + h @ ws, 0)
    np.testing.assert_allclose(run("gnn")["Next"], expected, rtol=1e-5, atol=1e-5)


def test_kernel_machine() -> None:
    support, query, alpha = (
        data("kernel_machine", f"{n}.npy") for n in ("support", "query", "alpha")
    )
    var = json.loads((EXAMPLES / "kernel_machine/data/var.json").read_text())
    distance = ((query[:, None, :] - support[None, :, :]) ** 2).sum(-1)
    expected = np.exp(-distance / var) @ alpha
    np.testing.assert_allclose(run("kernel_machine")["Y"], expected, rtol=1e-5, atol=1e-6)


def test_hmm() -> None:
    pi, trans, emit, obs = (data("hmm", f"{n}.npy") for n in ("pi", "trans", "emit", "obs"))
    alpha = pi * (emit @ obs[0])
    for t in (1, 2):
        alpha = (alpha @ trans) * (emit @ obs[t])
    out = run("hmm")
    np.testing.assert_allclose(out["Alpha2"], alpha, rtol=1e-5)
    np.testing.assert_allclose(out["Likelihood"], alpha.sum(), rtol=1e-5)


def test_tucker() -> None:
    g, u, v, w = (data("tucker", f"{n}.npy") for n in ("core", "u", "v", "w"))
    expected = np.einsum("abc,ia,jb,kc->ijk", g, u, v, w)
    np.testing.assert_allclose(run("tucker")["X"], expected, rtol=1e-4, atol=1e-5)


def test_lenet() -> None:
    """conv, relu, max pool (twice; the second pool's last window is cut
    off: 5 -> 3), dense, softmax; its weights classify the shipped digits."""

    def conv_relu(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        kx, ky = w.shape[:2]
        rows, cols = x.shape[1] - kx + 1, x.shape[2] - ky + 1
        out = sum(
            x[:, dx : dx + rows, dy : dy + cols] @ w[dx, dy] for dx in range(kx) for dy in range(ky)
        )
        return np.maximum(out + bias, 0)

    def max_pool(x: np.ndarray) -> np.ndarray:
        rows, cols = -(-x.shape[1] // 2), -(-x.shape[2] // 2)
        out = np.full((x.shape[0], rows, cols, x.shape[3]), -np.inf, np.float32)
        for i, j in np.ndindex(rows, cols):
            out[:, i, j] = x[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max(axis=(1, 2))
        return out

    weights = {n: data("lenet", f"{n}.npy") for n in ("conv1", "bias1", "conv2", "bias2")}
    x = max_pool(conv_relu(data("lenet", "images.npy"), weights["conv1"], weights["bias1"]))
    x = max_pool(conv_relu(x, weights["conv2"], weights["bias2"]))
    assert x.shape[1:3] == (3, 3)
    logits = np.einsum("nxym,xymd->nd", x, data("lenet", "dense.npy")) + data("lenet", "bias3.npy")
    probs = softmax(logits)
    labels = data("lenet", "labels.npy")
    out = run("lenet")
    np.testing.assert_allclose(out["Confidence"], (probs * labels).sum(1).mean(), rtol=1e-5)
    written = np.load(EXAMPLES / "lenet/runs/probs.npy")
    np.testing.assert_allclose(written, probs, rtol=1e-4, atol=1e-6)
    assert np.mean(written.argmax(1) == labels.argmax(1)) > 0.9


def test_runtime_input_overrides_source() -> None:
    x = np.eye(8, 4, dtype=np.float32)
    out = run("attention", X=x)
    wq, wk, wv = (data("attention", f"{n}.npy") for n in ("wq", "wk", "wv"))
    scores = np.where(np.tril(np.ones((8, 8))) > 0, (x @ wq) @ (x @ wk).T / 2, -np.inf)
    np.testing.assert_allclose(out["Y"], softmax(scores) @ (x @ wv), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "example", sorted(p.name for p in EXAMPLES.iterdir() if (p / f"{p.name}.fuse").exists())
)
def test_every_example_runs_from_the_cli(example: str, capsys: pytest.CaptureFixture[str]) -> None:
    from fuse.cli import main

    assert main(["run", str(EXAMPLES / example / f"{example}.fuse")]) == 0
    assert capsys.readouterr().out.strip()


def test_family() -> None:
    """Facts, Datalog rules and negation, checked by hand: the query asks
    whom Alice is an ancestor of (people in order of first appearance)."""
    out = run("family")
    people = ["Alice", "Bob", "Beth", "Carol", "Dave", "Erin"]
    descendants = {"Bob", "Beth", "Carol", "Dave", "Erin"}
    assert out["Query_Ancestor"].tolist() == [float(p in descendants) for p in people]
