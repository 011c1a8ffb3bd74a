"""Syntax highlighting for `.fuse` programs: a Pygments lexer.

Registered through Pygments' `pygments.lexers` entry point, so once Fuse
is installed `pygmentize -l fuse program.fuse` (and anything built on
Pygments: Sphinx, MkDocs, Jupyter, the REPL) highlights Fuse:

* tensor names (a capital first letter) as classes, index variables
  (lowercase, with primes: `p'`) as variables, `*t` virtual markers;
* builtins and the paper's spellings (`sig`, `H`, `Even`) as builtins when
  called, `export`/`not` as keywords;
* the projection operators (`=`, `+=`, `max=`, `avg=`), Datalog's `<-`,
  `:-`, `←`, definitions `:=`, queries `?`;
* numbers, strings (file names) and `#` comments.

The word lists come from the compiler's own tables, so a new builtin is
highlighted without editing this file. The editor grammar in
`editors/fuse.tmLanguage.json` follows the same rules.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

from fuse.frontend.builtins import BUILTINS
from fuse.frontend.desugar import PAPER_SPELLINGS

KEYWORDS = ("export", "not")
CALLABLES = tuple(sorted({*BUILTINS, *PAPER_SPELLINGS}, key=len, reverse=True))


class FuseLexer(RegexLexer):
    """Pygments lexer for Fuse, the tensor-logic language."""

    name = "Fuse"
    aliases = ["fuse", "tensor-logic"]
    filenames = ["*.fuse"]
    mimetypes = ["text/x-fuse"]
    url = "https://arxiv.org/abs/2510.12269"

    tokens = {
        "root": [
            (r"[ \t\r\f\v]+", Whitespace),
            (r"\n", Whitespace),
            (r"#.*?$", Comment.Single),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            (r"(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?", Number),
            (r"max=|avg=|\+=|<-|:-|:=|←", Operator),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(CALLABLES, suffix=r"(?=\s*\()"), Name.Builtin),
            (r"[a-z_][A-Za-z0-9_]*'*(?=\s*\()", Name.Function),
            (r"(\*)([a-z_][A-Za-z0-9_]*'*)", bygroups(Operator, Name.Variable)),
            (r"[A-Z][A-Za-z0-9_]*'*", Name.Class),
            (r"[a-z_][A-Za-z0-9_]*'*", Name.Variable),
            (r"[-=+*/^?!.:]", Operator),
            (r"[()\[\]{},]", Punctuation),
            (r".", Text),
        ]
    }
