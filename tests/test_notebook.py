"""`%load_ext fuse`: the `%%fuse` cell magic, directly and in a notebook
executed headlessly (nbclient with an IPython kernel), and the rich
displays of `Program` and `Runner`."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from fuse import FuseError, Program
from fuse.repl.notebook import fuse_cell

W = np.array([[1.0, -2.0], [3.0, 4.0]], np.float32)
X = np.array([1.0, 1.0], np.float32)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_a_cell_takes_notebook_arrays_and_gives_back_its_exports(backend: str) -> None:
    namespace = {"W": W, "X": X, "unrelated": 3}
    printed = fuse_cell(f"--backend {backend}", "Y[i] = relu(W[i, j] X[j])\nexport Y\n", namespace)
    assert printed == ""
    np.testing.assert_allclose(namespace["Y"], np.maximum(W @ X, 0))


def test_out_collects_the_exports_and_queries_are_printed_by_name() -> None:
    namespace: dict[str, object] = {}
    cell = "Parent(Alice, Bob).\nAncestor(x, y) <- Parent(x, y).\nexport Ancestor\nAncestor(Alice, x)?\n"
    printed = fuse_cell("--out kb", cell, namespace)
    assert printed == "Ancestor(Alice, x)?\n  x = Bob"
    assert list(namespace) == ["kb"]
    # x and y are two domains here (no rule joins them): {Alice} x {Bob}
    np.testing.assert_array_equal(namespace["kb"]["Ancestor"], [[1.0]])


@pytest.mark.parametrize(
    ("line", "cell", "message"),
    [
        ("", "Y[i] = W[i, j\n", "<cell>:1:14: error"),
        ("", "Y[i] = W[i, j] X[j]\nexport Y\n", "missing runtime input 'W'"),
        ("--backend tpu", "export Y\n", "%%fuse --backend tpu"),
    ],
)
def test_a_bad_cell_is_one_located_error(line: str, cell: str, message: str) -> None:
    with pytest.raises(FuseError) as raised:
        fuse_cell(line, cell, {})
    assert message in raised.value.render()


def test_program_and_runner_display_as_highlighted_html() -> None:
    program = Program("Ancestor(x, y) <- Parent(x, y).\n")
    assert "Ancestor" in program._repr_html_() and "<span" in program._repr_html_()
    runner = program.compile()
    assert runner._repr_html_().startswith("<p><b>Fuse runner</b> on <code>numpy</code>")


def test_a_notebook_runs_the_cell_magic_end_to_end() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "%load_ext fuse\nimport numpy as np\n"
            "W = np.array([[1., -2.], [3., 4.]])\nX = np.array([1., 1.])"
        ),
        nbformat.v4.new_code_cell("%%fuse\nY[i] = relu(W[i, j] X[j])\nexport Y"),
        nbformat.v4.new_code_cell("print(Y.tolist())"),
        nbformat.v4.new_code_cell(
            "%%fuse\nParent(Alice, Bob).\nParent(Bob, Carol).\n"
            "Ancestor(x, y) <- Parent(x, y).\nAncestor(x, z) <- Ancestor(x, y), Parent(y, z).\n"
            "Ancestor(Alice, x)?"
        ),
        nbformat.v4.new_code_cell("%%fuse\nY[i] = W[i, j"),
        nbformat.v4.new_code_cell("from fuse import Program\nProgram('A(x) <- B(x).')"),
    ]
    NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True).execute()
    outputs = [cell.outputs for cell in notebook.cells]
    assert outputs[2][0]["text"] == f"{np.maximum(W @ X, 0).tolist()}\n"
    assert outputs[3][0]["text"] == "Ancestor(Alice, x)?\n  x = Bob\n  x = Carol\n"
    # IPython shows a UsageError as a message on stderr, without a traceback
    error = outputs[4][0]
    assert error["name"] == "stderr" and "<cell>:1:14: error" in error["text"]
    assert "Traceback" not in error["text"]
    assert "text/html" in outputs[5][0]["data"]
