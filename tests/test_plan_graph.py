"""Pictures of plans: `runner.explain().graph()/.to_svg()` and
`fuse explain --graph`."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

from fuse import ExecutionConfig, Program
from fuse.cli import main

ATTENTION = """
Score[p, p'] = Q[p, d] K[p', d]
Attn[p, p'.] = softmax(Score[p, p'])
Y[p, d] = Attn[p, p'] V[p', d]
export Y
"""
CLOSURE = """
Path(x, y) = Edge(x, y)
Path(x, z) += Path(x, y) Edge(y, z)
export Path
"""


def _attention_runner(profile: bool = False):
    runner = Program(ATTENTION).compile(config=ExecutionConfig(profile=profile))
    rng = np.random.default_rng(0)
    runner.run({n: rng.standard_normal((6, 4)).astype(np.float32) for n in "QKV"})
    return runner


def test_explain_is_still_text() -> None:
    report = _attention_runner().explain()
    assert isinstance(report, str)
    assert report.startswith("backend: numpy")


def test_graph_of_attention() -> None:
    graph = _attention_runner().explain().graph()
    labels = {data["label"].split("\n")[0]: node for node, data in graph.nodes(data=True)}
    assert {"Q", "K", "V", "export Y"} <= labels.keys()
    assert "normalize softmax axis=1" in labels
    contraction = next(label for label in labels if label.startswith("einsum ab,cb->ac"))
    assert graph.has_edge(labels["Q"], labels[contraction])
    assert graph.edges[labels["Q"], labels[contraction]]["shape"] == "6x4"
    into_softmax = graph.in_edges(labels["normalize softmax axis=1"], data="shape")
    assert [shape for _, _, shape in into_softmax] == ["6x6"]


def test_profiled_run_puts_times_on_ops() -> None:
    graph = _attention_runner(profile=True).explain().graph()
    timed = [d["label"] for _, d in graph.nodes(data=True) if d["label"].endswith(" ms")]
    assert len(timed) == 3, "two einsums and the softmax ran as steps"


def test_fixpoint_is_a_cluster() -> None:
    runner = Program(CLOSURE).compile()
    runner.run({"Edge": np.eye(5, k=1, dtype=np.float32)})
    graph = runner.explain().graph()
    clusters = {data["cluster"] for _, data in graph.nodes(data=True)} - {None}
    assert clusters == {"fixpoint Path (semi_naive)"}
    state = [d["label"] for _, d in graph.nodes(data=True) if d["kind"] == "state"]
    assert sorted(label.split("\n")[0] for label in state) == ["Path", "change of Path"]
    [export] = [n for n, d in graph.nodes(data=True) if d["label"] == "export Path"]
    [(source, _)] = graph.in_edges(export)
    assert graph.nodes[source]["cluster"] is not None, "the result comes out of the loop body"


def test_svg_is_xml_with_text(tmp_path: Path) -> None:
    report = _attention_runner().explain()
    svg = report.to_svg(tmp_path / "plan.svg")
    assert (tmp_path / "plan.svg").read_text() == svg
    root = ElementTree.fromstring(svg)
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "export Y" in texts and "einsum" in texts
    assert report._repr_svg_() == svg


def test_cli_explain_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = tmp_path / "closure.fuse"
    program.write_text(CLOSURE)
    picture = tmp_path / "plan.svg"
    assert main(["explain", str(program), "--shape", "Edge=4x4", "--graph", str(picture)]) == 0
    assert "equations" in capsys.readouterr().out
    assert "fixpoint Path" in picture.read_text()
    assert main(["explain", str(program), "--shape", "Edge=4x4", "--graph", "x.png"]) == 1
    assert "name it *.svg" in capsys.readouterr().err
