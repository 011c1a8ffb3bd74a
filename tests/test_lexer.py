"""Unit tests of the lexer: token kinds, literal values, positions, and the
bracket-depth rule that makes newlines significant only outside brackets."""

from __future__ import annotations

import pytest

from fuse.errors import SourceText
from fuse.frontend.lexer import Token, TokenKind, tokenize

K = TokenKind


def lex(text: str) -> list[Token]:
    tokens, diagnostics = tokenize(SourceText(text, "t.fuse"))
    assert diagnostics == []
    return tokens


def kinds_texts(text: str) -> list[tuple[TokenKind, str]]:
    return [(t.kind, t.text) for t in lex(text)]


def test_equation_tokens() -> None:
    assert kinds_texts("Y[i, j] = A[i, k] B[k, j]") == [
        (K.NAME, "Y"), (K.OP, "["), (K.NAME, "i"), (K.OP, ","), (K.NAME, "j"), (K.OP, "]"),
        (K.OP, "="),
        (K.NAME, "A"), (K.OP, "["), (K.NAME, "i"), (K.OP, ","), (K.NAME, "k"), (K.OP, "]"),
        (K.NAME, "B"), (K.OP, "["), (K.NAME, "k"), (K.OP, ","), (K.NAME, "j"), (K.OP, "]"),
        (K.EOF, ""),
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["p", "p'", "d''", "_x1", "Q_k'''", "x9"])
def test_identifiers_keep_their_primes(name: str) -> None:
    assert kinds_texts(name) == [(K.NAME, name), (K.EOF, "")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("42", 42),
        ("3.5", 3.5),
        ("3.", 3.0),
        (".25", 0.25),
        ("1e3", 1000.0),
        ("2.5E-2", 0.025),
        ("7e+1", 70.0),
        ("123456789012345678901234567890", 123456789012345678901234567890),
    ],
)
def test_numbers(text: str, value: float) -> None:
    token = lex(text)[0]
    assert token.kind is K.NUMBER
    assert token.value == value
    assert type(token.value) is type(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"a/b.npy"', "a/b.npy"),
        ('""', ""),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"tab\tnl\ncr\r"', "tab\tnl\ncr\r"),
        ('"# not a comment"', "# not a comment"),
    ],
)
def test_strings_decode_escapes(text: str, value: str) -> None:
    token = lex(text)[0]
    assert token.kind is K.STRING
    assert token.value == value
    assert token.text == text


@pytest.mark.parametrize("op", ["=", "+=", "max=", "avg=", "+", "-", "*", "/", "^", "(", ")",
                                "[", "]", "{", "}", ",", ".", "?", ":"])  # fmt: skip
def test_operators(op: str) -> None:
    assert kinds_texts(op)[0] == (K.OP, op)


def test_max_and_avg_are_operators_only_when_glued_to_the_equals_sign() -> None:
    assert kinds_texts("M max= X")[1] == (K.OP, "max=")
    assert kinds_texts("max = 1")[:2] == [(K.NAME, "max"), (K.OP, "=")]
    assert kinds_texts("maxi= 1")[:2] == [(K.NAME, "maxi"), (K.OP, "=")]
    assert kinds_texts("xavg= 1")[:2] == [(K.NAME, "xavg"), (K.OP, "=")]


def test_comments_are_skipped() -> None:
    assert kinds_texts("# header\nA = B # trailing\n") == [
        (K.NAME, "A"), (K.OP, "="), (K.NAME, "B"), (K.NEWLINE, "\n"), (K.EOF, ""),
    ]  # fmt: skip


def test_newlines_collapse_and_never_lead() -> None:
    assert kinds_texts("\n\nA = 1\n\n\nB = 2") == [
        (K.NAME, "A"), (K.OP, "="), (K.NUMBER, "1"), (K.NEWLINE, "\n"),
        (K.NAME, "B"), (K.OP, "="), (K.NUMBER, "2"), (K.EOF, ""),
    ]  # fmt: skip


def test_newlines_inside_brackets_do_not_end_a_statement() -> None:
    text = 'Y[i,\n  j] = f(A[i, j],\n   # comment\n   axis="j")\nZ = 1\n'
    newlines = [t for t in lex(text) if t.kind is K.NEWLINE]
    assert [t.line for t in newlines] == [4, 5]


def test_stray_closer_does_not_make_depth_negative() -> None:
    tokens, _ = tokenize(SourceText("A = B)\nC = D\n", "t.fuse"))
    assert [t.line for t in tokens if t.kind is K.NEWLINE] == [1, 2]


def test_positions_are_one_based_lines_and_columns() -> None:
    tokens = lex("A = 1\n  Bee[p'] = 2")
    bee = tokens[4]
    assert (bee.text, bee.line, bee.col, bee.end_col) == ("Bee", 2, 3, 6)
    prime = tokens[6]
    assert (prime.text, prime.line, prime.col, prime.end_col) == ("p'", 2, 7, 9)
    assert bee.span.location() == "t.fuse:2:3"
    assert (bee.span.end_line, bee.span.end_col) == (2, 6)


def test_crlf_line_endings() -> None:
    tokens = lex("A = 1\r\nB = 2\r\n")
    assert [(t.kind, t.line, t.col) for t in tokens if t.kind is K.NAME] == [
        (K.NAME, 1, 1),
        (K.NAME, 2, 1),
    ]


def test_spaced_tells_a_call_from_a_juxtaposition() -> None:
    glued = lex("f(x)")
    spaced = lex("f (x)")
    assert not glued[1].spaced
    assert spaced[1].spaced
    assert lex("a")[0].spaced  # the start of the text counts as a blank


def test_eof_is_placed_just_past_the_last_token() -> None:
    eof = lex("A = 1\nB[i,\n\n")[-1]
    assert (eof.kind, eof.line, eof.col) == (K.EOF, 2, 5)
    assert lex("")[-1].kind is K.EOF


def test_unexpected_character_is_a_diagnostic_and_an_error_token() -> None:
    tokens, diagnostics = tokenize(SourceText("A = 1\nB = $ C\n", "t.fuse"))
    assert [d.render().splitlines()[0] for d in diagnostics] == [
        "t.fuse:2:5: error: unexpected character '$'"
    ]
    assert [t.kind for t in tokens if t.line == 2][:3] == [K.NAME, K.OP, K.ERROR]


def test_unterminated_string_stops_at_the_end_of_the_line() -> None:
    tokens, diagnostics = tokenize(SourceText('A = "abc\nB = 2\n', "t.fuse"))
    assert diagnostics[0].message == "unterminated string literal"
    assert diagnostics[0].span is not None
    assert (diagnostics[0].span.line, diagnostics[0].span.col) == (1, 5)
    assert [t.text for t in tokens if t.line == 2] == ["B", "=", "2", "\n", ""]


def test_unknown_escape_is_reported_at_the_backslash() -> None:
    tokens, diagnostics = tokenize(SourceText('A = "x\\qy"', "t.fuse"))
    assert diagnostics[0].message == "unknown escape sequence '\\q' in string"
    assert diagnostics[0].span is not None
    assert (diagnostics[0].span.col, diagnostics[0].span.end_col) == (7, 9)
    assert tokens[2].kind is K.STRING  # parsing can go on


def test_describe_names_tokens_for_error_messages() -> None:
    tokens = lex('x 1 "s" + \n')
    assert [t.describe() for t in tokens] == [
        "name 'x'",
        "number 1",
        'string "s"',
        "'+'",
        "end of line",
        "end of file",
    ]
