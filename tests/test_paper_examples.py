"""The paper's examples (Domingos, "Tensor Logic: The Language of AI",
arXiv 2510.12269) as printed, on every backend.

Each program in tests/data/paper/ is the paper's text, ASCII-spelled
(subscripts as `_`: `W_Q`, `D_e`; primes as `'`), plus the inputs and
constants the paper leaves open. Each expected value is NumPy written from
the paper's mathematics, not from the compiler.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fuse import Program
from fuse.cli import main

BACKENDS = ["numpy", "torch", "jax"]
PAPER = Path(__file__).resolve().parent / "data" / "paper"
Arrays = dict[str, np.ndarray]
rng = np.random.default_rng


def run(name: str, backend: str, directory: Path | None = None, **inputs: np.ndarray) -> Arrays:
    """Runs tests/data/paper/`name`.fuse (from `directory` where it reads
    or writes files)."""
    text = (PAPER / f"{name}.fuse").read_text()
    path = (directory or PAPER) / f"{name}.fuse"
    out = Program(text, str(path)).compile(backend).run(inputs=inputs)
    return {key: np.asarray(value) for key, value in out.items()}


def step(x: np.ndarray) -> np.ndarray:
    """The Heaviside step function of Section 3.1: 1 if x > 0, else 0."""
    return (np.asarray(x) > 0).astype(np.float32)


def boolean(seed: int, *shape: int, density: float = 0.3) -> np.ndarray:
    return (rng(seed).random(shape) < density).astype(np.float32)


def transitive_closure(parent: np.ndarray) -> np.ndarray:
    """Ancestor: the least relation holding Parent and closed under
    Ancestor(x, z) <- Ancestor(x, y), Parent(y, z) (forward chaining)."""
    ancestor = parent.copy()
    while True:
        derived = np.maximum(ancestor, step(ancestor @ parent))
        if np.array_equal(derived, ancestor):
            return ancestor
        ancestor = derived


W, X = np.array([0.2, 1.9, -0.7, 3]), np.array([0, 1, 1, 0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_perceptron_with_listed_weights(backend: str) -> None:
    """`Y = step(W[i] X[i])`, `W = [0.2, 1.9, -0.7, 3]`, `X = [0, 1, 1, 0]`,
    `Y?`: the dot product 1.2 is positive."""
    assert run("perceptron", backend)["Query_Y"] == step(W @ X)


@pytest.mark.parametrize("backend", BACKENDS)
def test_perceptron_with_facts_for_x(backend: str) -> None:
    """`X(1)`, `X(2)` is `X = [0, 1, 1, 0]`."""
    assert run("perceptron_facts", backend)["Query_Y"] == step(W @ X)


@pytest.mark.parametrize("backend", BACKENDS)
def test_repeated_index_kept_and_several_terms(backend: str) -> None:
    """`Y[i] = step(W[i] X[i])` is elementwise; `Z = step(W[i] X[i] + C)`
    sums i over the product, then adds C."""
    w, x = rng(1).normal(size=5).astype(np.float32), rng(2).normal(size=5).astype(np.float32)
    c = np.float32(-0.3)
    out = run("unsummed", backend, W=w, X=x, C=c)
    np.testing.assert_array_equal(out["Y"], step(w * x))
    assert out["Z"] == step(w @ x + c)


@pytest.mark.parametrize("backend", BACKENDS)
def test_aunt_rule_is_a_stepped_einsum(backend: str) -> None:
    """`Aunt(x,z) ← Sister(x,y), Parent(y,z).` is A = H(Σ_y S[x,y] P[y,z])."""
    sister, parent = boolean(3, 6, 5), boolean(4, 5, 7)
    out = run("aunt", backend, Sister=sister, Parent=parent)
    np.testing.assert_array_equal(out["Aunt"], step(sister @ parent))


@pytest.mark.parametrize("backend", BACKENDS)
def test_ancestor_rules_reach_the_deductive_closure(backend: str) -> None:
    parent = boolean(5, 9, 9, density=0.15)
    out = run("ancestor", backend, Parent=parent)
    np.testing.assert_array_equal(out["Ancestor"], transitive_closure(parent))


@pytest.mark.parametrize("backend", BACKENDS)
def test_facts_and_a_query_answer_by_name(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Section 2.1: with Parent(Bob,Charlie) and Ancestor(Alice,Bob), the
    answer to Ancestor(Alice,x) is {Bob, Charlie}, and Ancestor(Alice,Charlie)
    is true."""
    assert main(["run", str(PAPER / "ancestor_query.fuse"), "--backend", backend]) == 0
    out = capsys.readouterr().out
    answers = out[out.index("Ancestor(Alice, x)?") :].splitlines()
    assert answers[:3] == ["Ancestor(Alice, x)?", "  x = Bob", "  x = Charlie"]
    assert answers[3:5] == ["Ancestor(Alice, Charlie)?", "  true"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_files_read_and_written_without_indices(backend: str, tmp_path: Path) -> None:
    """`W = "w.npy"` reads a whole tensor; `"y.npy" = Y` writes one."""
    np.save(tmp_path / "w.npy", W.astype(np.float32))
    np.save(tmp_path / "x.npy", X.astype(np.float32))
    run("files", backend, directory=tmp_path)
    assert np.load(tmp_path / "y.npy") == step(W @ X)


EXAMPLES = rng(6).normal(size=(5, 3)).astype(np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_polynomial_kernel(backend: str) -> None:
    """`K[i,i'] = (X[i,j] X[i',j])^n`: the Gram matrix of (x · x')^n."""
    out = run("polynomial_kernel", backend, X=EXAMPLES, n=np.float32(3))
    np.testing.assert_allclose(out["K"], (EXAMPLES @ EXAMPLES.T) ** 3, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gaussian_kernel(backend: str) -> None:
    """`K[i,i'] = exp(-(X[i,j]-X[i',j])^2 / Var)`: exp(-|x - x'|² / Var)."""
    squared = ((EXAMPLES[:, None, :] - EXAMPLES[None, :, :]) ** 2).sum(axis=-1)
    out = run("gaussian_kernel", backend, X=EXAMPLES, Var=np.float32(2.5))
    np.testing.assert_allclose(out["K"], np.exp(-squared / 2.5), rtol=1e-5, atol=1e-6)


def unit_rows(seed: int, objects: int, dimension: int) -> np.ndarray:
    """Random unit vectors, one per object: Section 5's embeddings."""
    emb = rng(seed).normal(size=(objects, dimension))
    return (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("temperature", [1.0, 0.1])
def test_embeddings_with_a_temperature(backend: str, temperature: float) -> None:
    """Section 5: the superposition S of a set's embeddings, the embedding
    EmbR of a relation, its retrieval D through sig(x, T) = 1/(1 + e^(-x/T)),
    and the Gram matrix Sim."""
    emb = unit_rows(7, 6, 64)
    member, relation = boolean(8, 6, density=0.5), boolean(9, 6, 6, density=0.2)
    out = run("embedding_space", backend, Emb=emb, V=member, R=relation, T=np.float32(temperature))
    emb_r = emb.T @ relation @ emb
    retrieved = emb @ emb_r @ emb.T
    np.testing.assert_allclose(out["S"], member @ emb, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["EmbR"], emb_r, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        out["D"], 1 / (1 + np.exp(-retrieved / temperature)), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(out["Sim"], emb @ emb.T, rtol=1e-5, atol=1e-5)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm(x: np.ndarray) -> np.ndarray:
    """lnorm over the last axis: (x - mean) / sqrt(var + 1e-5)."""
    return (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-5)


def positional_encoding(positions: int, d_e: int) -> np.ndarray:
    """Vaswani et al.: sin at even d, cos at odd d, wavelengths 10000^(d/D_e)."""
    p, d = np.meshgrid(np.arange(positions), np.arange(d_e), indexing="ij")
    return np.where(
        d % 2 == 0, np.sin(p / 10000 ** (d / d_e)), np.cos(p / 10000 ** ((d - 1) / d_e))
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_transformer_positional_encoding_and_head_merge(backend: str) -> None:
    """Table 2: EmbX = X(p,t) Emb[t,d]; PosEnc as in Vaswani et al.; the
    residual stream's block 0 is their sum; attention per block and head;
    Merge concatenates the heads, head-major."""
    positions, tokens, d_e, heads, d_k, blocks = 5, 7, 8, 3, 4, 2
    text = np.eye(tokens, dtype=np.float32)[rng(10).integers(0, tokens, positions)]
    g = rng(11)
    emb = g.normal(size=(tokens, d_e)).astype(np.float32)
    w_q, w_k, w_v = (
        (g.normal(size=(blocks, heads, d_k, d_e)) / 3).astype(np.float32) for _ in range(3)
    )
    out = run("transformer", backend, X=text, Emb=emb, W_Q=w_q, W_K=w_k, W_V=w_v)

    posenc = positional_encoding(positions, d_e)
    stream = np.zeros((blocks, positions, d_e))
    stream[0] = text @ emb + posenc  # Stream[0,p,d]: the other blocks stay 0
    query, key, val = (np.einsum("bhkd,bpd->bhpk", w, stream) for w in (w_q, w_k, w_v))
    comp = softmax(np.einsum("bhpk,bhqk->bhpq", query, key) / np.sqrt(d_k))
    attn = np.einsum("bhpq,bhqv->bhpv", comp, val)
    merge = attn.transpose(0, 2, 1, 3).reshape(blocks, positions, heads * d_k)
    np.testing.assert_allclose(out["PosEnc"], posenc, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["Stream"], stream, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["Merge"], merge, rtol=1e-4, atol=1e-5)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


def sig(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gnn_message_passing_with_its_three_heads(backend: str) -> None:
    """Table 1: L = 2 rounds of message passing, each an MLP layer Z per
    node, the sum Agg of the neighbours' Z, and the update Emb[l+1] =
    relu(W_Agg Agg + W_Self Emb[l]); then node, edge and graph heads on the
    last layer Emb[n, L, d]. Several equations per layer recurse together,
    and run as one scan over the layers."""
    nodes, dim, layers = 6, 4, 2
    g = rng(12)
    neighbours = boolean(13, nodes, nodes, density=0.4)
    features = g.normal(size=(nodes, dim)).astype(np.float32)
    w_p = (g.normal(size=(layers, dim, dim)) / 2).astype(np.float32)
    w_agg, w_self = np.float32(0.7), np.float32(-0.4)
    w_out = g.normal(size=dim).astype(np.float32)
    out = run(
        "gnn",
        backend,
        X=features,
        Neig=neighbours,
        W_P=w_p,
        W_Agg=w_agg,
        W_Self=w_self,
        W_Out=w_out,
    )
    embeddings = [features]
    for layer in range(layers):
        z = relu(embeddings[-1] @ w_p[layer].T)  # Z[n, d'] = W_P[l, d', d] Emb[n, d]
        aggregated = neighbours @ z  # the sum over each node's neighbours
        embeddings.append(relu(w_agg * aggregated + w_self * embeddings[-1]))
    last = embeddings[-1]
    np.testing.assert_allclose(out["Emb"], np.stack(embeddings, axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["Y_node"], sig(last @ w_out), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["Y_edge"], sig(last @ last.T), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["Y_graph"], sig((last @ w_out).sum()), rtol=1e-5, atol=1e-6)


def test_gnn_layers_run_as_one_scan() -> None:
    """explain() says the GNN's recursive equations became one scan."""
    text = (PAPER / "gnn.fuse").read_text()
    shapes = {
        "X": (3, 2),
        "Neig": (3, 3),
        "W_P": (2, 2, 2),
        "W_Agg": (),
        "W_Self": (),
        "W_Out": (2,),
    }
    explanation = Program(text, "gnn.fuse").compile("numpy", input_shapes=shapes).explain()
    assert explanation.count("runs as a scan: 2 steps, stored along dimension 1") == 4
    assert "fixpoint" not in explanation


TRANSFORMER_SHAPES = {"positions": 5, "tokens": 7, "d_e": 8, "heads": 3, "d_k": 4, "hidden": 16}


def transformer_inputs(seed: int, blocks: int) -> Arrays:
    s = TRANSFORMER_SHAPES
    g = rng(seed)
    d_m = s["heads"] * s["d_k"]

    def weights(*shape: int) -> np.ndarray:
        return (g.normal(size=shape) / np.sqrt(shape[-1])).astype(np.float32)

    attention = (blocks, s["heads"], s["d_k"], s["d_e"])
    return {
        "X": np.eye(s["tokens"], dtype=np.float32)[g.integers(0, s["tokens"], s["positions"])],
        "Emb": g.normal(size=(s["tokens"], s["d_e"])).astype(np.float32),
        "W_Q": weights(*attention),
        "W_K": weights(*attention),
        "W_V": weights(*attention),
        "W_S": weights(blocks, s["d_e"], d_m),
        "W_P": weights(blocks, s["hidden"], s["d_e"]),
        "W_M": weights(blocks, s["d_e"], s["hidden"]),
        "W_O": weights(s["tokens"], s["d_e"]),
    }


def transformer_reference(inputs: Arrays, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Each block: multi-head attention (scaled dot products, softmax over
    the keys' positions), the heads concatenated head-major, projected and
    added to the stream, layer-normalized; then a ReLU MLP added back and
    normalized again. The output is a softmax over tokens of the last
    block."""
    text, emb = inputs["X"], inputs["Emb"]
    stream = [text @ emb + positional_encoding(text.shape[0], emb.shape[1])]
    for b in range(blocks):
        x = stream[-1]
        query, key, val = (np.einsum("hkd,pd->hpk", inputs[w][b], x) for w in ("W_Q", "W_K", "W_V"))
        comp = softmax(np.einsum("hpk,hqk->hpq", query, key) / np.sqrt(query.shape[-1]))
        attn = np.einsum("hpq,hqv->hpv", comp, val)
        merge = attn.transpose(1, 0, 2).reshape(x.shape[0], -1)
        norm = layer_norm(merge @ inputs["W_S"][b].T + x)
        mlp = relu(norm @ inputs["W_P"][b].T)
        stream.append(layer_norm(mlp @ inputs["W_M"][b].T + norm))
    y = softmax(stream[-1] @ inputs["W_O"].T)
    return np.stack(stream), y


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_block_transformer_steps_its_stream_by_block(backend: str) -> None:
    """Table 2 as a whole transformer of B = 2 blocks (transformer_blocks.fuse
    says where it departs from the table and why)."""
    inputs = transformer_inputs(14, blocks=2)
    out = run("transformer_blocks", backend, **inputs)
    stream, y = transformer_reference(inputs, blocks=2)
    np.testing.assert_allclose(out["Stream"], stream, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out["Y"], y, rtol=1e-4, atol=1e-5)


def test_transformer_blocks_run_as_one_scan() -> None:
    """The blocks become one scan over b, not a fixpoint."""
    inputs = transformer_inputs(15, blocks=2)
    shapes = {name: value.shape for name, value in inputs.items()}
    text = (PAPER / "transformer_blocks.fuse").read_text()
    explanation = Program(text, "t.fuse").compile("numpy", input_shapes=shapes).explain()
    assert explanation.count("runs as a scan: 2 steps, stored along dimension 0") == 10
    assert "fixpoint" not in explanation


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_file_read_into_a_matrix(backend: str, tmp_path: Path) -> None:
    """Section 3.1: "Alice loves Bob" read into M gives M[0,Alice] =
    M[1,loves] = M[2,Bob] = 1 and 0 elsewhere."""
    (tmp_path / "text.txt").write_text("Alice loves Bob")
    out = run("text_file", backend, directory=tmp_path)
    answers = [out[name] for name in ("Query_M", "Query_M_1", "Query_M_2", "Query_M_3")]
    assert answers == [1, 1, 1, 0]


OBJECTS = 3  # A, B, C
DIMENSION = 256


@pytest.mark.parametrize("backend", BACKENDS)
def test_named_object_in_a_set(backend: str) -> None:
    """Section 5: with S the superposition of the set {A, C}, D[A] = S[d]
    Emb[A,d] is about 1 and D[B] about 0."""
    emb = unit_rows(12, OBJECTS, DIMENSION)
    out = run("named_set", backend, Emb=emb)
    superposition = emb[0] + emb[2]
    expected = np.array([superposition @ emb[0], superposition @ emb[1], 0.0])
    np.testing.assert_allclose(out["D"], expected, rtol=1e-4, atol=1e-5)
    assert out["D"][0] > 0.5 > out["D"][1]


@pytest.mark.parametrize("backend", BACKENDS)
def test_named_objects_in_a_relation(backend: str) -> None:
    """Section 5: D[A,B] = EmbR[i,j] Emb[A,i] Emb[B,j] retrieves R(A,B)."""
    emb = unit_rows(13, OBJECTS, DIMENSION)
    relation = np.zeros((OBJECTS, OBJECTS))
    relation[0, 1] = relation[1, 2] = 1  # R(A,B), R(B,C)
    emb_r = emb.T @ relation @ emb
    out = run("named_relation", backend, Emb=emb)
    expected = np.zeros((OBJECTS, OBJECTS))
    expected[0, 1] = emb[0] @ emb_r @ emb[1]
    np.testing.assert_allclose(out["D"], expected, rtol=1e-4, atol=1e-5)
    assert out["D"][0, 1] > 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_objects_related_to_a_named_one(backend: str) -> None:
    """Section 5: D[A,y] is about R(A,y): 1 at B, 0 at A and C."""
    emb = unit_rows(14, OBJECTS, DIMENSION)
    relation = np.zeros((OBJECTS, OBJECTS))
    relation[0, 1] = relation[1, 2] = 1
    emb_r = emb.T @ relation @ emb
    out = run("named_relation_row", backend, Emb=emb)
    expected = np.zeros((OBJECTS, OBJECTS))
    expected[0] = emb[0] @ emb_r @ emb.T
    np.testing.assert_allclose(out["D"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out["D"][0] > 0.5, relation[0] > 0)
