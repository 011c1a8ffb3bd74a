"""Which files a program may touch: its own directory tree, the directories
the user allows, and never a file the same run reads as a sink; leftover
temporaries of interrupted sink writes are cleaned on the next write."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from fuse import Program
from fuse.cli import main
from fuse.errors import FuseError
from fuse.runtime.io import STALE_TEMPORARY_SECONDS, atomic_write


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """`tmp_path/prog/` holds the program; `tmp_path/outside/` a file next to it."""
    (tmp_path / "prog").mkdir()
    (tmp_path / "outside").mkdir()
    np.save(tmp_path / "outside" / "w.npy", np.arange(3, dtype=np.float32))
    np.save(tmp_path / "prog" / "w.npy", np.ones(3, dtype=np.float32))
    return tmp_path


def _program(tree: Path, text: str) -> Program:
    path = tree / "prog" / "p.fuse"
    path.write_text(text)
    return Program.from_file(path)


@pytest.mark.parametrize(
    "path",
    ["../outside/w.npy", "{tree}/outside/w.npy", "sub/../../outside/w.npy", "link/w.npy"],
    ids=["dotdot", "absolute", "dotdot-inside", "symlink"],
)
def test_a_source_outside_the_tree_is_an_error_at_its_statement(tree: Path, path: str) -> None:
    (tree / "prog" / "link").symlink_to(tree / "outside")
    path = path.format(tree=tree)
    program = _program(tree, f'Y[i] = X[i]\nX[i] = "{path}"\nexport Y\n')
    with pytest.raises(FuseError) as caught:
        program.compile()
    message = str(caught.value)
    assert message.startswith(f"{program.file}:2:1: error: source '{path}' (")
    assert str(tree / "outside" / "w.npy") in message
    assert "allow_paths=" in message and "--allow-path" in message
    assert message.splitlines()[1:] == [f'X[i] = "{path}"', "^" + "~" * (len(path) + 8)]


def test_a_sink_outside_the_tree_is_an_error_and_writes_nothing(tree: Path) -> None:
    home = Path("~").expanduser()
    for path in ["../outside/y.npy", "~/fuse-confinement-test.npy"]:
        program = _program(tree, f'Y[i] = X[i]\nX[i] = "w.npy"\n"{path}" = Y[i]\n')
        with pytest.raises(FuseError, match=f"3:1: error: sink '{path}'.*is outside"):
            program.compile()
    assert not (tree / "outside" / "y.npy").exists()
    assert not (home / "fuse-confinement-test.npy").exists()


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_allow_paths_widens_the_tree(tree: Path, backend: str) -> None:
    text = 'Y[i] = X[i] + 1\nX[i] = "../outside/w.npy"\n"../outside/y.npy" = Y[i]\nexport Y\n'
    runner = _program(tree, text).compile(backend=backend, allow_paths=[tree / "outside"])
    np.testing.assert_array_equal(np.asarray(runner.run()["Y"]), [1, 2, 3])
    np.testing.assert_array_equal(np.load(tree / "outside" / "y.npy"), [1, 2, 3])


def test_subdirectories_of_the_tree_are_allowed_and_created(tree: Path) -> None:
    program = _program(tree, 'Y[i] = X[i]\nX[i] = "w.npy"\n"runs/a/y.npy" = Y[i]\n')
    program.compile().run()
    np.testing.assert_array_equal(np.load(tree / "prog" / "runs" / "a" / "y.npy"), np.ones(3))


@pytest.mark.parametrize(
    ("sink", "what"),
    [("w.npy", "source of X"), ("./sub/../w.npy", "source of X"), ("p.fuse", "the program file")],
)
def test_a_sink_may_not_overwrite_what_the_run_reads(tree: Path, sink: str, what: str) -> None:
    program = _program(tree, f'Y[i] = X[i]\nX[i] = "w.npy"\n"{sink}" = Y[i]\n')
    with pytest.raises(FuseError, match=f"3:1: error: sink '{sink}' would overwrite {what}"):
        program.compile()


def test_a_program_given_as_text_uses_its_base_dir(tree: Path) -> None:
    text = 'Y[i] = X[i]\nX[i] = "../outside/w.npy"\nexport Y\n'
    with pytest.raises(
        FuseError, match=re.escape("<string>:2:1: error: source '../outside/w.npy'")
    ):
        Program(text, base_dir=tree / "prog").compile()
    runner = Program(text.replace("../", ""), base_dir=tree).compile()
    np.testing.assert_array_equal(runner.run()["Y"], [0, 1, 2])


def test_cli_allow_path_and_user_named_files(tree: Path, capsys: pytest.CaptureFixture) -> None:
    text = 'Y[i] = X[i] + V[i]\nX[i] = "../outside/w.npy"\nexport Y\n'
    program = tree / "prog" / "p.fuse"
    program.write_text(text)
    elsewhere = tree / "outside"
    command = ["run", str(program), "--input", f"V={elsewhere / 'w.npy'}"]
    command += ["--out", str(elsewhere / "out.npy")]
    assert main(command) == 1
    assert "--allow-path" in capsys.readouterr().err
    assert main([*command, "--allow-path", str(elsewhere)]) == 0
    np.testing.assert_array_equal(np.load(elsewhere / "out.npy"), [0, 2, 4])


def test_stale_temporaries_are_removed_on_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "y.npy"
    stale, fresh = tmp_path / ".y.npy.abc.tmp", tmp_path / ".y.npy.def.tmp"
    other = tmp_path / ".z.npy.abc.tmp"
    for leftover in (stale, fresh, other):
        leftover.write_bytes(b"partial")
    old = time.time() - 2 * STALE_TEMPORARY_SECONDS
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write(target, lambda stream: np.save(stream, np.zeros(2)))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".y.npy.def.tmp",
        ".z.npy.abc.tmp",
        "y.npy",
    ]
