"""The state of a REPL session and its commands, without a terminal."""

from __future__ import annotations

import functools
import io
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from fuse.config import ExecutionConfig
from fuse.errors import FuseError
from fuse.frontend import ast, parse, read_source
from fuse.repl.incremental import IncrementalProgram, try_build
from fuse.runtime.answers import format_answer, query_outputs
from fuse.runtime.runner import BACKEND_NAMES, Runner, to_host

# Compiled programs kept for re-asked queries (each distinct program text and
# query is one entry); older ones are dropped first.
RUNNER_CACHE_SIZE = 16

HELP = """\
Type a fact, rule or equation to add it; type a query (ending in '?') to answer it.
  :load FILE      add the statements of FILE (its queries are answered)
  :backend NAME   run on NAME (numpy, torch, jax)
  :explain        what each equation of the last query became
  :ir             the program at the declarative level (fuse dialect)
  :reset          forget every statement
  :save FILE      write the statements typed so far to FILE
  :help           this text
  :quit           end the session (Ctrl-D too; Ctrl-C cancels a line)"""


class Session:
    """A program grown one statement at a time; queries are answered, not kept."""

    def __init__(self, backend: str = "numpy", config: ExecutionConfig | None = None) -> None:
        self.backend = backend
        self.config = config or ExecutionConfig(progress=False)
        self.text = ""  # the statements so far, one per line, queries left out
        self.finished = False
        self._runners: OrderedDict[str, Runner] = OrderedDict()
        self._last_runner: Runner | None = None
        self._program = None  # fuse.program.Program of `text`, once checked
        # The program with fact relations as runtime inputs and the values
        # computed so far, for facts and queries that need no recompile
        # (None: every line goes the slow way).
        self._incremental: IncrementalProgram | None = None

    # --- input ----------------------------------------------------------------

    def submit(self, text: str) -> str:
        """What to print for one line typed at the prompt: the answers of a
        query, a command's output, an error (the session goes on), or ""."""
        text = text.strip()
        if not text or text.startswith("//"):
            return ""
        try:
            if text.startswith(":"):
                return self._command(text)
            return self.add(text)
        except FuseError as error:
            return error.render()
        except ValueError as error:  # a bad option value, as `fuse run` reports it
            return f"error: {error}"

    def add(self, text: str, file: str = "<repl>") -> str:
        """Adds `text`'s statements to the program and answers its queries.
        Nothing is added when any of it is wrong."""
        statements = parse(text, file).statements
        if self._incremental is not None:
            answers = self._without_recompiling(text, statements)
            if answers is not None:
                return answers
        queries = [s for s in statements if isinstance(s, ast.Query)]
        kept = _without_lines(text, [(q.span.line, q.span.end_line) for q in queries])
        program = self._checked(_joined(self.text, text))  # the queries checked in place
        self._incremental = try_build(program, self.config, self._incremental)
        answers = self._answer(program, queries) if queries else ""
        self.text = _joined(self.text, kept)
        self._program = None
        return answers

    def _without_recompiling(self, text: str, statements: list[ast.Statement]) -> str | None:
        """A line of facts only, or of queries only, taken by the
        `IncrementalProgram` (see fuse.repl.incremental); None where it must
        go the slow way."""
        assert self._incremental is not None
        if all(isinstance(s, ast.Query) for s in statements):
            return self._answered_incrementally(statements)
        if not self._incremental.add_facts(statements):
            return None
        self.text = _joined(self.text, text)
        self._program = None
        return ""

    def _checked(self, text: str):  # -> fuse.program.Program
        from fuse.program import Program

        return Program(text, "<repl>")

    def _answered_incrementally(self, queries: Sequence[ast.Query]) -> str | None:
        """The queries' answers from the `IncrementalProgram`, or None where
        one of them is not a query it can take."""
        assert self._incremental is not None
        answers = [self._incremental.answer(q, self.backend) for q in queries]
        if None in answers:
            return None
        self._last_runner = self._incremental.last_runner
        return "\n".join(cast(list[str], answers))

    def _answer(self, program, queries: Sequence[ast.Query]) -> str:
        """The program's queries (its `queries`), answered on the session's
        backend: incrementally where they can be, else by running the whole
        program."""
        if self._incremental is not None:
            answers = self._answered_incrementally(queries)
            if answers is not None:
                return answers
        runner = self._runner(program)
        exports = runner.run()
        self._last_runner = runner
        domains = runner.program.ast.domains
        return "\n".join(
            format_answer(query, to_host(exports[name]), domains)
            for query, name in query_outputs(runner.program.ast, exports)
        )

    def _runner(self, program) -> Runner:
        """The compiled runner for `program`, reused while its text recurs."""
        key = f"{self.backend}\n{program.text}"
        runner = self._runners.get(key)
        if runner is None:
            runner = program.compile(backend=self.backend, config=self.config)
            self._runners[key] = runner
            if len(self._runners) > RUNNER_CACHE_SIZE:
                self._runners.popitem(last=False)
        self._runners.move_to_end(key)
        return runner

    @property
    def recomputed(self) -> tuple[str, ...]:
        """The tensors the last incrementally answered query computed; the
        others it read were kept from earlier answers or are fact
        relations (fuse.repl.incremental)."""
        return self._incremental.last_computed if self._incremental is not None else ()

    @property
    def program(self):  # -> fuse.program.Program
        """The statements so far, checked (what `:ir` prints)."""
        if self._program is None:
            self._program = self._checked(self.text)
        return self._program

    def names(self) -> list[str]:
        """The tensors the statements so far name (for completion)."""
        return list(_named_tensors(self.text))

    # --- commands ---------------------------------------------------------------

    def _command(self, line: str) -> str:
        name, _, argument = line.partition(" ")
        command = COMMANDS.get(name)
        if command is None:
            raise FuseError(f"unknown command '{name}' (commands: {', '.join(COMMANDS)})")
        return command(self, argument.strip())

    def load(self, path: str) -> str:
        """`:load FILE`: its statements added, its queries answered."""
        if not path:
            raise FuseError(":load needs a file: :load FILE.fuse")
        return self.add(read_source(path), str(path))

    def set_backend(self, name: str) -> str:
        if name not in BACKEND_NAMES:
            raise FuseError(f":backend {name or '?'}: choose one of {', '.join(BACKEND_NAMES)}")
        from fuse.runtime.runner import get_backend

        get_backend(name)  # a backend that is not installed fails here, not at the next query
        self.backend = name
        self._last_runner = None
        return f"backend: {name}"

    def explain(self, _: str = "") -> str:
        if self._last_runner is None:
            raise FuseError(":explain describes the last query: ask one first")
        return str(self._last_runner.explain())

    def ir(self, _: str = "") -> str:
        from xdsl.context import Context
        from xdsl.targets.mlir import MLIRTarget

        stream = io.StringIO()
        MLIRTarget().emit(Context(), self.program.declarative_module(), stream)
        return stream.getvalue().rstrip("\n")

    def reset(self, _: str = "") -> str:
        self.text = ""
        self._incremental = None
        self._program = None
        self._last_runner = None
        self._runners.clear()
        return "(empty program)"

    def save(self, path: str) -> str:
        if not path:
            raise FuseError(":save needs a file: :save FILE.fuse")
        try:
            Path(path).write_text(self.text + "\n" if self.text else "", encoding="utf-8")
        except OSError as error:
            raise FuseError(f"cannot write {path}: {error.strerror}") from None
        return f"saved {len(self.text.splitlines())} lines to {path}"

    def quit(self, _: str = "") -> str:
        self.finished = True
        return ""


def _no_argument(
    name: str, command: Callable[[Session, str], str]
) -> Callable[[Session, str], str]:
    def checked(session: Session, argument: str) -> str:
        if argument:
            raise FuseError(f"{name} takes no argument, got '{argument}'")
        return command(session, argument)

    return checked


COMMANDS: dict[str, Callable[[Session, str], str]] = {
    ":load": Session.load,
    ":backend": Session.set_backend,
    ":explain": _no_argument(":explain", Session.explain),
    ":ir": _no_argument(":ir", Session.ir),
    ":reset": _no_argument(":reset", Session.reset),
    ":save": Session.save,
    ":help": _no_argument(":help", lambda session, _: HELP),
    ":quit": _no_argument(":quit", Session.quit),
}


@functools.lru_cache(maxsize=1)
def _named_tensors(text: str) -> tuple[str, ...]:
    """The tensors `text`'s statements name, read from the statements as
    typed, so a relation given by bulk facts counts and the front end's own
    tables (`<R>_facts`) do not. Cached: completion asks on every key."""
    try:
        statements = parse(text, "<repl>").statements
    except FuseError:
        return ()
    names = set()
    for statement in statements:
        if isinstance(statement, ast.Fact | ast.Facts):
            names.add(statement.relation)
        elif isinstance(statement, ast.Equation):
            names.add(statement.lhs.name)
        elif isinstance(statement, ast.Source):
            names.add(statement.tensor)
    return tuple(sorted(names))


def _joined(program: str, addition: str) -> str:
    return "\n".join(part for part in (program, addition) if part)


def _without_lines(text: str, ranges: list[tuple[int, int]]) -> str:
    """`text` without the lines in `ranges` (1-based, inclusive): a
    statement ends at its line's end, so a query owns its lines."""
    dropped = {n for first, last in ranges for n in range(first, last + 1)}
    lines = [line for n, line in enumerate(text.splitlines(), 1) if n not in dropped]
    return "\n".join(line for line in lines if line.strip())
