"""The terminal around a `Session`: prompt_toolkit line editing with a
history file, completion and highlighting by the Fuse Pygments lexer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory
from prompt_toolkit.lexers import PygmentsLexer

from fuse.frontend.builtins import BUILTINS
from fuse.highlight import FuseLexer
from fuse.repl.session import COMMANDS, Session

PROMPT = "fuse> "
WORD = re.compile(r":?\w+$")


def history_file() -> Path:
    """Where typed lines are kept between sessions: the user's cache dir."""
    from platformdirs import user_cache_dir

    directory = Path(user_cache_dir("fuse"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory / "repl_history"


class SessionCompleter(Completer):
    """Commands at the start of a line; tensor names of the program so far
    and builtins elsewhere."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterator[Completion]:
        match = WORD.search(document.text_before_cursor)
        if match is None:
            return
        word = match.group()
        if word.startswith(":"):
            words = list(COMMANDS) if match.start() == 0 else []
        else:
            words = [*self.session.names(), *sorted(BUILTINS)]
        for candidate in words:
            if candidate.startswith(word) and candidate != word:
                yield Completion(candidate, start_position=-len(word))


def run(session: Session) -> None:
    """Reads lines until `:quit` or Ctrl-D; Ctrl-C drops the line being typed."""
    prompt = PromptSession(
        history=FileHistory(str(history_file())),
        completer=SessionCompleter(session),
        lexer=PygmentsLexer(FuseLexer),
        complete_while_typing=False,
    )
    print("Fuse REPL: statements are added, queries (ending in '?') answered; :help for commands")
    while not session.finished:
        try:
            line = prompt.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        output = session.submit(line)
        if output:
            print(output, flush=True)
