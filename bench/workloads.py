"""The workloads several benchmarks share: an attention block and an MLP,
as Fuse programs with their inputs, so every backend's benchmark times the
same computation as its hand-written competitor."""

from __future__ import annotations

import numpy as np

ATTENTION = """
Score[p, p'] = Q[p, d] K[p', d] Scale
Attn[p, p'.] = masked_softmax(Score[p, p'], causal_mask(p, p'))
Y[p, d] = Attn[p, p'] V[p', d]
export Y
"""

MLP = """
H1[b, j] = relu(X[b, i] W1[i, j] + B1[j])
H2[b, k] = relu(H1[b, j] W2[j, k] + B2[k])
Y[b, l] = H2[b, k] W3[k, l] + B3[l]
export Y
"""


def attention_inputs(positions: int = 256, width: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = {n: rng.standard_normal((positions, width)).astype(np.float32) for n in "QKV"}
    data["Scale"] = np.float32(1 / np.sqrt(width))
    return data


def mlp_inputs(batch: int = 256, width: int = 512, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = {"X": rng.standard_normal((batch, width)).astype(np.float32)}
    for layer in "123":
        data[f"W{layer}"] = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(
            np.float32
        )
        data[f"B{layer}"] = rng.standard_normal(width).astype(np.float32)
    return data


def random_digraph(nodes: int, mean_degree: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((nodes, nodes)) < mean_degree / nodes).astype(np.float32)


TRANSITIVE_CLOSURE = """
Path(x, y) = Edge(x, y)
Path(x, z) += Path(x, y) Edge(y, z)
export Path
"""
