"""The one error type users see.

Every layer (front end, IR builder, shape inference, runtime) reports
problems as `Diagnostic`s collected into a `FuseError`, so a program with
several mistakes shows all of them, each as `file:line:col: message` with
the source line and a caret under the offending column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a runtime import would run fuse/frontend/__init__.py: a cycle
    from fuse.frontend.ast import Span


@dataclass(frozen=True)
class Diagnostic:
    message: str
    span: Span | None = None
    source_line: str | None = None
    # "error", or "warning" for a program that runs but likely not as meant
    # (`Program.warnings`; `fuse run` and `fuse compile` print them).
    severity: str = "error"

    def render(self) -> str:
        if self.span is None or self.span.line <= 0:
            return f"{self.severity}: {self.message}"
        text = f"{self.span.location()}: {self.severity}: {self.message}"
        if self.source_line is not None:
            width = (
                max(1, self.span.end_col - self.span.col)
                if self.span.end_line == self.span.line
                else 1
            )
            caret = " " * (self.span.col - 1) + "^" + "~" * (width - 1)
            text += f"\n{self.source_line}\n{caret}"
        return text


class FuseError(Exception):
    """One or more problems in a program, its inputs or its execution."""

    def __init__(self, diagnostics: Iterable[Diagnostic] | str):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(diagnostics)]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__(self.render())

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


class SourceText:
    """The text of one program file, to attach source lines to diagnostics."""

    def __init__(self, text: str, file: str):
        self.text = text
        self.file = file
        self.lines = text.splitlines()

    def line(self, number: int) -> str | None:
        if 1 <= number <= len(self.lines):
            # A lone surrogate (invalid UTF-8 read with surrogateescape) cannot
            # be printed: it is shown escaped.
            return self.lines[number - 1].encode("utf-8", "backslashreplace").decode("utf-8")
        return None

    def diagnostic(self, message: str, span: Span | None) -> Diagnostic:
        line = self.line(span.line) if span is not None else None
        return Diagnostic(message, span, line)


# A pass error names its rule as `file:line:col: ` (the rule op's location) and
# tensors as the IR spells them, `@Name`.
_PASS_LOCATION = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$", re.DOTALL
)
_SYMBOL = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*'*)")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*'*|\S")


def diagnostic_from_pass(message: str, source: SourceText) -> Diagnostic:
    """A pass's error message as the program's author reads it: located at
    the statement it names, with the source line and a caret under its first
    token, and tensors named as the program writes them (`'Sister'`, not the
    IR's `@Sister`)."""
    from fuse.frontend.ast import Span  # a module-level import would be a cycle

    message = _SYMBOL.sub(r"'\1'", message)
    match = _PASS_LOCATION.match(message)
    if match is None or match["file"] != source.file:
        return Diagnostic(message)
    line, col = int(match["line"]), int(match["col"])
    text = source.line(line) or ""
    token = _TOKEN.match(text, col - 1) if col - 1 < len(text) else None
    end_col = col + (len(token.group()) if token is not None else 1)
    return source.diagnostic(match["message"], Span(source.file, line, col, line, end_col))
