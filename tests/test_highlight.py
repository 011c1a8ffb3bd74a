"""Syntax highlighting: the Pygments lexer and the TextMate grammar."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String

from fuse.frontend.builtins import BUILTINS
from fuse.frontend.desugar import PAPER_SPELLINGS
from fuse.highlight import FuseLexer

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = sorted(ROOT.glob("examples/**/*.fuse"))
GRAMMAR = json.loads((ROOT / "editors" / "fuse.tmLanguage.json").read_text())


def test_pygments_finds_the_lexer_by_name_and_file() -> None:
    """Through the `pygments.lexers` entry point, as `pygmentize -l fuse` does."""
    assert isinstance(get_lexer_by_name("fuse"), FuseLexer)
    assert isinstance(get_lexer_for_filename("family.fuse"), FuseLexer)


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_examples_lex_losslessly_without_errors(path: Path) -> None:
    text = path.read_text()
    tokens = list(FuseLexer().get_tokens(text))
    assert "".join(value for _, value in tokens) == text.rstrip("\n") + "\n"
    assert not [value for kind, value in tokens if kind in Error]


def test_token_kinds() -> None:
    text = (
        "Aunt(x, z) <- Sister(x, y), Parent(y, z).\n"
        "Y[i] max= sig(W[i, j] X[j], T=2) + 1.5  # note\n"
        'X[i, *t+1] = H(A[p\']) softsign(B[i])\n"y.npy" = Y\nexport Y\n'
    )
    kinds = {value: kind for kind, value in FuseLexer().get_tokens(text) if value.strip()}
    assert kinds["Aunt"] in Name.Class and kinds["x"] in Name.Variable
    assert kinds["<-"] in Operator and kinds["max="] in Operator
    assert kinds["sig"] in Name.Builtin and kinds["H"] in Name.Builtin
    assert kinds["softsign"] in Name.Function
    assert kinds["p'"] in Name.Variable and kinds["t"] in Name.Variable
    assert kinds["1.5"] in Number and kinds['"y.npy"'] in String
    assert kinds["export"] in Keyword
    assert kinds["# note"] in Comment


def test_grammar_names_what_the_compiler_knows() -> None:
    """The editor grammar and the compiler agree on builtins and keywords."""
    repository = GRAMMAR["repository"]
    builtins = re.search(r"\(\?:(.*)\)\(\?=", repository["builtin"]["match"]).group(1)
    assert set(builtins.split("|")) == {*BUILTINS, *PAPER_SPELLINGS}
    assert repository["keyword"]["match"] == r"\b(?:export|not)\b"
    for rule in repository.values():
        re.compile(rule["match"])  # the patterns use the subset Python and Oniguruma share
    assert GRAMMAR["scopeName"] == "source.fuse"
