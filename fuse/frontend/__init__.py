"""Front end: lexer, parser, printer and semantic checks of the Fuse DSL."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from fuse.collector import cyclic_gc_paused
from fuse.errors import Diagnostic, FuseError, SourceText
from fuse.frontend.ast import Program, Span
from fuse.frontend.desugar import desugar
from fuse.frontend.domains import SymbolReader
from fuse.frontend.parser import parse, parse_partial, sort_diagnostics
from fuse.frontend.printer import dump_ast, print_program
from fuse.frontend.sema import check, diagnose

__all__ = [
    "check",
    "dump_ast",
    "load",
    "load_file",
    "parse",
    "print_program",
    "read_source",
]


@cyclic_gc_paused()
def load(text: str, file: str = "<string>", read_symbols: SymbolReader | None = None) -> Program:
    """Parses and checks `text`. Raises one `FuseError` with the syntax
    errors and the semantic errors of every statement that parsed, so a
    user fixes a file in one round. `read_symbols` reads the symbols of the
    program's `.tsv`/`.csv`/`.txt` sources into its domains (`fuse.Program`
    passes one confined to the program's directory)."""
    source = SourceText(text, file)
    program, diagnostics = parse_partial(source)
    program, problems = desugar(program, source, read_symbols)
    diagnostics += problems
    diagnostics += diagnose(program, source, complete=not diagnostics)
    if diagnostics:
        raise FuseError(sort_diagnostics(diagnostics))
    return program


def read_source(path: str | os.PathLike[str]) -> str:
    """The text of a program file: UTF-8, with a leading byte-order mark
    dropped. An unreadable file, or bytes that are not UTF-8, are a
    `FuseError` naming the file and where the bad bytes are."""
    name = os.fspath(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise FuseError(f"cannot read program {name}: {error.strerror}") from None
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = bom + error.start
        before = data[:offset]
        line = before.count(b"\n") + 1
        col = offset - before.rfind(b"\n")
        message = (
            f"invalid UTF-8 at byte offset {offset} ({error.reason}); a program file must be UTF-8"
        )
        raise FuseError([Diagnostic(message, Span(name, line, col, line, col + 1))]) from None


def load_file(path: str | os.PathLike[str]) -> Program:
    """`load` on the contents of a file; an unreadable file is a `FuseError`."""
    return load(read_source(path), os.fspath(path))
