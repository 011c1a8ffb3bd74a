"""Which files a program's sources and sinks may touch.

Programs come from other people, so a program reads and writes only inside
its own directory tree (the program file's directory, or `base_dir` for a
program given as text) and the directories the user allows
(`Program.compile(allow_paths=...)`, `fuse run --allow-path DIR`). Paths
the user names outside the program (`fuse run --input/--out`, weight
stores in `RuntimePolicies`) are the user's own choice and not checked.
Symlinks and `..` are resolved before checking, so neither leads out. A
sink may not overwrite a file the same run reads: one of the program's
sources, or the program file itself.

Every path in a program is a literal, so this is checked once, when the
program is compiled for a backend, before anything is read or written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fuse.errors import FuseError
from fuse.frontend import ast
from fuse.runtime.io import IOContext


def allowed_roots(base_dir: Path, allow_paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The program's tree and the allowed directories, resolved."""
    return [base_dir.resolve(), *(Path(p).expanduser().resolve() for p in allow_paths)]


def check_file_access(
    program: Any, io: IOContext, allow_paths: Iterable[str | os.PathLike[str]]
) -> None:
    """Every source and sink of `program` (a `fuse.Program`) lies under an
    allowed root, and no sink writes a file the run reads; else a
    `FuseError` at the statement naming the path."""
    roots = allowed_roots(Path(program.base_dir), allow_paths)
    read: dict[Path, str] = {}
    if program.file != "<string>":
        read[Path(program.file).resolve()] = "the program file"
    statements = [s for s in program.ast.statements if isinstance(s, ast.Source | ast.Sink)]
    for statement in statements:
        target = io.resolve(statement.path).resolve()
        role = "source" if isinstance(statement, ast.Source) else "sink"
        if not any(target.is_relative_to(root) for root in roots):
            raise _error(
                program,
                statement,
                f"{role} '{statement.path}' ({target}) is outside the directories this program "
                f"may use ({', '.join(map(str, roots))}); allow its directory with "
                "allow_paths=[...] or `fuse run --allow-path DIR`",
            )
        if isinstance(statement, ast.Source):
            read.setdefault(target, f"source of {statement.lhs.name}")
    for statement in statements:
        target = io.resolve(statement.path).resolve()
        if isinstance(statement, ast.Sink) and target in read:
            raise _error(
                program,
                statement,
                f"sink '{statement.path}' would overwrite {read[target]} ({target}), "
                "which this run reads",
            )


def _error(program: Any, statement: ast.Source | ast.Sink, message: str) -> FuseError:
    return FuseError([program.source.diagnostic(message, statement.span)])
