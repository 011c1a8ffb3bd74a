"""Front end: lexer, parser, printer and semantic checks of the Fuse DSL."""

from __future__ import annotations

import os
from pathlib import Path

from fuse.errors import FuseError, SourceText
from fuse.frontend.ast import Program
from fuse.frontend.desugar import desugar
from fuse.frontend.parser import parse, parse_partial, sort_diagnostics
from fuse.frontend.printer import dump_ast, print_program
from fuse.frontend.sema import check, diagnose

__all__ = ["check", "dump_ast", "load", "load_file", "parse", "print_program"]


def load(text: str, file: str = "<string>") -> Program:
    """Parses and checks `text`. Raises one `FuseError` with the syntax
    errors and the semantic errors of every statement that parsed, so a
    user fixes a file in one round."""
    source = SourceText(text, file)
    program, diagnostics = parse_partial(source)
    program, problems = desugar(program, source)
    diagnostics += problems
    diagnostics += diagnose(program, source, complete=not diagnostics)
    if diagnostics:
        raise FuseError(sort_diagnostics(diagnostics))
    return program


def load_file(path: str | os.PathLike[str]) -> Program:
    """`load` on the contents of a file; an unreadable file is a `FuseError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise FuseError(f"cannot read {os.fspath(path)}: {error}") from error
    return load(text, os.fspath(path))
