"""The lexer of the Fuse DSL: text to a flat list of tokens with positions.

Newlines are significant only at bracket depth 0, so a statement continues
across lines while a `(`, `[` or `{` is open; the lexer emits one NEWLINE
token per run of statement-ending line breaks and the parser never sees
the others. Lexical errors become `Diagnostic`s plus an ERROR token in the
stream: the parser drops the statement that holds it without reporting it
a second time, and goes on with the next one.
"""

from __future__ import annotations

import itertools
import operator
import re
from enum import Enum
from typing import NamedTuple, cast

import numpy as np

from fuse.errors import Diagnostic, SourceText
from fuse.frontend.ast import Span


class TokenKind(Enum):
    NAME = "name"
    NUMBER = "number"
    STRING = "string"
    OP = "operator"
    NEWLINE = "end of line"
    EOF = "end of file"
    ERROR = "error"
    FACTS = "facts"


class Token(NamedTuple):
    """One token. A NamedTuple (not a dataclass) because a program has tens
    of thousands of them and tuples are the cheapest objects to build.

    `text` is the source spelling; `value` the decoded literal for NUMBER
    and STRING tokens. `spaced` says whether whitespace, a comment or a line
    break precedes the token: `Fact(i)` is an access or a call while
    `A (B[i])` is a juxtaposition.
    """

    kind: TokenKind
    text: str
    value: int | float | str | FactRun | None
    file: str
    line: int
    col: int
    end_col: int
    spaced: bool

    @property
    def span(self) -> Span:
        return Span(self.file, self.line, self.col, self.line, self.end_col)

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind is TokenKind.NAME:
            return f"name '{self.text}'"
        if self.kind in (TokenKind.NUMBER, TokenKind.STRING):
            return f"{self.kind.value} {self.text}"
        if self.kind is TokenKind.OP:
            return f"'{self.text}'"
        return self.kind.value


# One match per token, with the blanks before it; `end` matches only once
# the text is exhausted.
_TOKEN_RE = re.compile(
    r"""
    [ \t\r\f\v]*
    (?:
        (?P<number>(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?)
      | (?P<op>max=|avg=|\+=|<-|:-|:=|←|[-=+*/^()\[\]{},.?:!])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*'*)
      | (?P<newline>\n)
      | (?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\\n]|\\[^\n])*")
      | (?P<unterminated>"(?:[^"\\\n]|\\[^\n])*\\?)
      | (?P<end>\Z)
      | (?P<bad>.)
    )
    """,
    re.VERBOSE,
)

# A run of lines that are each one fact of constants, `Parent(P123, P456).`
# or `X(1, 2)`: Datalog programs carry their data as thousands of such
# lines, so a run is read by a few regular expression scans instead of
# token by token (see `FactRun`). The run's pattern is loose (any names,
# digits and commas between the parentheses); `_fact_constants` then checks
# that every argument is a constant, a symbol (uppercase first) or an
# integer of at most nine digits (no range check needed), and that every
# fact of a relation has the first one's rank. A run that fails the check,
# or holds anything else (primes, strings, `= 0.5`), is lexed as usual.
_FACT_RUN_RE = re.compile(
    r"(?:^[ \t]*[A-Za-z_][A-Za-z0-9_]*\([A-Za-z0-9_ \t,]*\)[ \t]*\.?[ \t\r]*(?:\#[^\n]*)?"
    r"(?:\n|\Z))+",
    re.MULTILINE,
)
# One fact at the start of a line (never one inside a trailing comment).
_FACT_RE = re.compile(r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)\(([^)\n]*)\)", re.MULTILINE)
_CONSTANT = r"(?:[A-Z][A-Za-z0-9_]*|[0-9]{1,9})"
_BLANKS = str.maketrans("", "", " \t")
_INTEGER_ARGUMENT_RE = re.compile(r"(?:^|[,\n])[0-9]")


class FactRun(NamedTuple):
    """Consecutive fact lines of one relation, the value of a FACTS token:
    their constants, `rank` a fact, in reading order (symbols as strings,
    integers as ints); fact k stands on line `first_line + k`."""

    relation: str
    rank: int
    constants: list[str | int]
    first_line: int


def _fact_constants(arguments: list[str]) -> tuple[int, list[str | int]] | None:
    """The rank and the constants of facts from their argument texts
    (`P1, P2`), or None if one is not a constant or has another rank than
    the first."""
    blob = "\n".join(arguments).translate(_BLANKS)
    rank = arguments[0].count(",") + 1
    row = rf"{_CONSTANT}" + rf"(?:,{_CONSTANT})" * (rank - 1)
    if re.fullmatch(rf"{row}(?:\n{row})*", blob) is None:
        return None
    constants: list[str | int] = blob.replace("\n", ",").split(",")  # type: ignore[assignment]
    if _INTEGER_ARGUMENT_RE.search(blob) is not None:
        constants = [int(c) if c[0] <= "9" else c for c in constants]  # type: ignore[index]
    return rank, constants


# What a file decoded with errors="surrogateescape" holds for invalid bytes;
# no file name or output can carry it.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_ESCAPE_RE = re.compile(r"\\(.)")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
_BRACKETS = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}


# Every number is computed in fp32: a literal beyond its range could only
# become infinity, so it is rejected where it is written.
FP32_MAX = float(np.finfo(np.float32).max)


def _number_value(text: str) -> int | float | None:
    """The value of a NUMBER token, or None when it is beyond fp32's range.
    Integer digits are counted before converting, as Python refuses to
    convert integer strings of more than 4,300 digits."""
    if text.isdigit():
        if len(text.lstrip("0")) > len(str(int(FP32_MAX))):
            return None
        value: int | float = int(text)
    else:
        value = float(text)
    return value if value <= FP32_MAX else None


class _Lexer:
    def __init__(self, source: SourceText):
        self.source = source
        self.tokens: list[Token] = []
        self.diagnostics: list[Diagnostic] = []
        self.line = 1
        self.line_start = 0
        self.depth = 0
        self.spaced = True

    def run(self) -> None:
        """Lexes the text between runs of fact lines token by token; a run
        where a statement may begin (at bracket depth 0, after a line
        break) becomes FACTS tokens, anywhere else it is lexed as usual."""
        text = self.source.text
        pos = 0
        for run in _FACT_RUN_RE.finditer(text):
            self._lex(pos, run.start())
            pos = run.start()
            if self.depth == 0 and (not self.tokens or self.tokens[-1].kind is TokenKind.NEWLINE):
                pos = self._facts(run)
        self._lex(pos, len(text))
        self._end()

    def _facts(self, run: re.Match[str]) -> int:
        """One FACTS token (and a NEWLINE) per relation in the run; returns
        where lexing goes on. A run where some fact is not all constants,
        or changes rank, is read line by line instead."""
        facts = _FACT_RE.findall(run.string, run.start(), run.end())
        groups = [
            (relation, _fact_constants([arguments for _, arguments in group]))
            for relation, group in itertools.groupby(facts, key=operator.itemgetter(0))
        ]
        if any(parsed is None for _, parsed in groups):
            self._facts_line_by_line(run)
            return run.end()
        first = _FACT_RE.search(run.string, run.start())
        assert first is not None
        col = first.start(1) - run.start() + 1
        for relation, parsed in groups:
            assert parsed is not None
            self._fact_token(relation, *parsed, col)
            col = 1
        if not run.group().endswith("\n"):
            self.line -= 1  # the run ends the text: no line break after its last fact
        self.line_start = run.end()
        self.spaced = True
        return run.end()

    def _facts_line_by_line(self, run: re.Match[str]) -> None:
        """Each line of the run read in bulk if it is a fact of constants
        by itself (joining the previous line's FACTS token when it continues
        its relation at its rank), lexed as usual otherwise: whether a line
        is read in bulk never depends on its neighbours."""
        text = run.string
        for fact in _FACT_RE.finditer(text, run.start(), run.end()):
            start = fact.start()
            end = text.find("\n", fact.end(), run.end())
            end = run.end() if end < 0 else end + 1
            parsed = _fact_constants([fact.group(2)])
            if parsed is None:
                self._lex(start, end)
                continue
            self._fact_token(fact.group(1), *parsed, fact.start(1) - start + 1)
            if not text.endswith("\n", start, end):
                self.line -= 1
            self.line_start = end
            self.spaced = True

    def _fact_token(self, relation: str, rank: int, constants: list[str | int], col: int) -> None:
        """A FACTS token for facts on consecutive lines from `self.line` on,
        and a NEWLINE; a continuation of the previous token's relation (same
        rank, on the next line) extends that token instead."""
        count = len(constants) // rank
        if len(self.tokens) >= 2 and self.tokens[-2].kind is TokenKind.FACTS:
            previous = cast(FactRun, self.tokens[-2].value)
            previous_count = len(previous.constants) // previous.rank
            if (previous.relation, previous.rank) == (
                relation,
                rank,
            ) and previous.first_line + previous_count == self.line:
                previous.constants.extend(constants)
                self.line += count
                return
        file = self.source.file
        value = FactRun(relation, rank, constants, self.line)
        end_col = col + len(relation)
        self.tokens.append(
            Token(TokenKind.FACTS, relation, value, file, self.line, col, end_col, True)
        )
        self.tokens.append(Token(TokenKind.NEWLINE, "\n", None, file, self.line, 1, 1, False))
        self.line += count

    def _lex(self, pos: int, endpos: int) -> None:
        # Names and operators are most of the tokens: they are built inline,
        # which halves the time to lex a large program.
        file = self.source.file
        append = self.tokens.append
        for match in _TOKEN_RE.finditer(self.source.text, pos, endpos):
            kind = cast(str, match.lastgroup)  # every alternative is a named group
            start = match.start(kind)
            spaced = self.spaced or start > match.start()
            if kind == "name" or kind == "op":
                text = match.group(kind)
                if kind == "op" and text in _BRACKETS:
                    self.depth = max(0, self.depth + _BRACKETS[text])
                col = start - self.line_start + 1
                token_kind = TokenKind.NAME if kind == "name" else TokenKind.OP
                append(Token(token_kind, text, None, file, self.line, col, col + len(text), spaced))
                self.spaced = False
            elif kind == "newline":
                self._newline(start)
            elif kind == "comment":
                self.spaced = True
            elif kind == "end":
                return
            else:
                self.spaced = spaced
                self._literal_or_error(kind, match.group(kind), start)

    def _end(self) -> None:
        """Emits EOF just past the last token, where "found end of file"
        should point: trailing blank lines have no source line to show."""
        last = self.tokens[-1] if self.tokens else None
        line, col = (last.line, last.end_col) if last is not None else (1, 1)
        self.tokens.append(Token(TokenKind.EOF, "", None, self.source.file, line, col, col, True))

    def _newline(self, start: int) -> None:
        if self.depth == 0 and self.tokens and self.tokens[-1].kind is not TokenKind.NEWLINE:
            self._emit(TokenKind.NEWLINE, "\n", None, start)
        self.line += 1
        self.line_start = start + 1
        self.spaced = True

    def _literal_or_error(self, kind: str, text: str, start: int) -> None:
        if kind == "number":
            value = _number_value(text)
            if value is None:
                self._error(
                    f"number literal out of range: its magnitude exceeds the largest fp32 "
                    f"value {FP32_MAX:.7g}",
                    text,
                    start,
                )
            else:
                self._emit(TokenKind.NUMBER, text, value, start)
        elif kind == "string" and _SURROGATE_RE.search(text):
            self._error(
                "string literal holds a lone surrogate (was the file not valid UTF-8?)",
                text,
                start,
            )
        elif kind == "string":
            self._emit(TokenKind.STRING, text, self._decode(text, start), start)
        elif kind == "unterminated":
            self._error("unterminated string literal", text, start)
        else:
            self._error(f"unexpected character {text!r}", text, start)

    def _decode(self, text: str, start: int) -> str:
        """The value of a string literal; an unknown escape is reported and
        kept verbatim so that parsing can go on."""
        body = text[1:-1]
        if "\\" not in body:
            return body

        def replace(escape: re.Match[str]) -> str:
            char = escape.group(1)
            if char in _ESCAPES:
                return _ESCAPES[char]
            col = start + 1 + escape.start() - self.line_start + 1
            self._diagnose(f"unknown escape sequence '\\{char}' in string", col, col + 2)
            return escape.group()

        return _ESCAPE_RE.sub(replace, body)

    def _error(self, message: str, text: str, start: int) -> None:
        col = start - self.line_start + 1
        self._diagnose(message, col, col + len(text))
        self._emit(TokenKind.ERROR, text, None, start)

    def _diagnose(self, message: str, col: int, end_col: int) -> None:
        span = Span(self.source.file, self.line, col, self.line, end_col)
        self.diagnostics.append(self.source.diagnostic(message, span))

    def _emit(
        self, kind: TokenKind, text: str, value: int | float | str | None, start: int
    ) -> None:
        col = start - self.line_start + 1
        self.tokens.append(
            Token(kind, text, value, self.source.file, self.line, col, col + len(text), self.spaced)
        )
        self.spaced = False


def tokenize(source: SourceText) -> tuple[list[Token], list[Diagnostic]]:
    """The tokens of `source`, ending with an EOF token, and the lexical
    errors found on the way (each also left as an ERROR token)."""
    lexer = _Lexer(source)
    lexer.run()
    return lexer.tokens, lexer.diagnostics
