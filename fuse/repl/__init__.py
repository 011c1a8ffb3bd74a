"""`fuse repl`: a Fuse session typed one statement at a time.

`Session` holds the program typed so far (facts, rules, equations; never
queries) and answers each query as it comes, by compiling the program with
that query added. It knows nothing of terminals: `submit(text)` returns what
to print, so it is tested directly; `fuse.repl.terminal` puts a
prompt_toolkit line editor around it. docs/repl.md says what is recomputed
when.
"""

from fuse.repl.session import COMMANDS, Session

__all__ = ["COMMANDS", "Session"]
