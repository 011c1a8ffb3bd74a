"""`fuse-opt`: reads Fuse IR as MLIR text, runs passes, prints the result.

It is xDSL's `xdsl-opt` narrowed to what Fuse needs, so every pass can be
tested alone with lit/FileCheck:

* only the dialects Fuse IR uses are registered (builtin, func, arith, fuse,
  and stablehlo when xdsl-jax is installed), so a typo in an op name is a
  parse error rather than a silently accepted foreign op;
* only Fuse's passes and xDSL's `cse`, `dce` and `canonicalize`;
* MLIR's `--pass-pipeline='builtin.module(...)'` besides xDSL's `-p`, and
  mlir-opt's IR dumps, timing report and `--dump-pass-pipeline`
  (`fuse.pass_instrumentation`);
* every user error (unknown pass, bad pipeline, unreadable file, parse or
  verifier failure) is a short message and exit status 1, never a Python
  traceback; a traceback always means a bug in Fuse;
* `-o FILE` is written through a temporary file renamed on success, so a
  failed run never leaves a truncated or half-written FILE behind.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from importlib.util import find_spec
from io import StringIO
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Dialect
from xdsl.passes import ModulePass, PassPipeline
from xdsl.printer import Printer
from xdsl.utils.arg_spec import ArgSpec, parse_pipeline
from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException, ParseError
from xdsl.utils.target import Target
from xdsl.xdsl_opt_main import xDSLOptMain

from fuse.errors import Diagnostic, FuseError, SourceText
from fuse.frontend.ast import Span
from fuse.ir_checks import check_blocks, check_dominance, check_text
from fuse.pass_instrumentation import PassInstrumentation, display_name
from fuse.pass_instrumentation import register_arguments as register_instrumentation_arguments
from fuse.passes.registry import all_passes
from fuse.universe import fuse_dialect

PROG = "fuse-opt"
_PASS_LOCATION = re.compile(
    r"(?P<where>[^\s:][^:\n]*:\d+:\d+): (?!error: )(?P<message>.*)", re.DOTALL
)
ANCHOR = "builtin.module"


class FuseOptError(Exception):
    """A user error that `main` reports as one line, `fuse-opt: error: ...`."""


# --- registration ------------------------------------------------------------------


def _builtin() -> Dialect:
    from xdsl.dialects.builtin import Builtin

    return Builtin


def _func() -> Dialect:
    from xdsl.dialects.func import Func

    return Func


def _arith() -> Dialect:
    from xdsl.dialects.arith import Arith

    return Arith


def available_dialects() -> dict[str, Callable[[], Dialect]]:
    """The dialects `fuse-opt` parses, each loaded on first use. stablehlo is
    offered only when xdsl-jax is installed, so the jax extra stays optional."""
    dialects = {"builtin": _builtin, "func": _func, "arith": _arith, "fuse": fuse_dialect}
    if find_spec("xdsl_jax") is not None:
        from xdsl_jax.dialects import get_all_dialects

        if "stablehlo" in (jax_dialects := get_all_dialects()):
            dialects["stablehlo"] = jax_dialects["stablehlo"]
    return dialects


def _cse() -> type[ModulePass]:
    from xdsl.transforms.common_subexpression_elimination import (
        CommonSubexpressionElimination,
    )

    return CommonSubexpressionElimination


def _dce() -> type[ModulePass]:
    from xdsl.transforms.dead_code_elimination import DeadCodeElimination

    return DeadCodeElimination


def _canonicalize() -> type[ModulePass]:
    from xdsl.transforms.canonicalize import CanonicalizePass

    return CanonicalizePass


def available_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """xDSL's generic cleanups plus every pass of `fuse.passes.registry`."""
    return {"cse": _cse, "dce": _dce, "canonicalize": _canonicalize, **all_passes()}


# --- pipelines ------------------------------------------------------------------------


def mlir_pipeline_to_xdsl(pipeline: str) -> str:
    """`builtin.module(p1, p2{opt=v})` -> `p1,p2{opt=v}` (xDSL's spec syntax).

    Options inside `{...}` already use xDSL's syntax and are kept verbatim.
    Every Fuse pass is a module pass, so a nested pipeline such as
    `builtin.module(func.func(cse))` is rejected rather than silently run
    on the whole module."""
    text = pipeline.strip()
    prefix = f"{ANCHOR}("
    if not (text.startswith(prefix) and text.endswith(")")):
        raise FuseOptError(
            f"bad pass pipeline '{pipeline}': expected '{ANCHOR}(pass1,pass2{{option=value}})'"
        )
    inner = text[len(prefix) : -1]
    out: list[str] = []
    braces = 0
    quoted = escaped = False
    for i, char in enumerate(inner):
        if quoted:
            quoted = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            quoted = True
        elif char in "{}":
            braces += 1 if char == "{" else -1
        elif braces == 0 and char == "(":
            anchor = re.search(r"[\w.$-]*$", inner[:i])
            name = anchor.group() if anchor else ""
            raise FuseOptError(
                f"nested pass pipeline '{name}(...)' is not supported: Fuse passes run on "
                f"the whole module, list them directly in '{ANCHOR}(...)'"
            )
        elif braces == 0 and char == ")":
            raise FuseOptError(f"bad pass pipeline '{pipeline}': unbalanced ')'")
        elif braces == 0 and char.isspace():
            continue  # MLIR allows `p1, p2`; xDSL's lexer does not
        out.append(char)
    return "".join(out)


def _spec_error(spec: str, error: ArgSpecParseError) -> FuseOptError:
    """xDSL's multi-line pipeline diagnostic as one line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    where = re.search(r":1:(\d+)$", lines[1]) if len(lines) > 1 else None
    column = f" (column {where.group(1)})" if where else ""
    reason = lines[-1][:1].lower() + lines[-1][1:] if lines else "syntax error"
    return FuseOptError(f"bad pass pipeline '{spec}': {reason}{column}")


# --- the driver ---------------------------------------------------------------------------


class FuseOptMain(xDSLOptMain):
    """`xdsl-opt` with Fuse's dialects, passes and MLIR-compatible options."""

    def __init__(self, args: Sequence[str] | None = None):
        self._temporary_output: str | None = None
        super().__init__(description="Fuse IR optimizer driver", args=args)

    def register_all_dialects(self) -> None:
        for name, factory in available_dialects().items():
            self.ctx.register_dialect(name, factory)

    def register_all_passes(self) -> None:
        for name, factory in available_passes().items():
            self.register_pass(name, factory)

    def register_all_targets(self) -> None:
        def mlir() -> type[Target]:  # new-style xDSL target: a factory without arguments
            from xdsl.targets.mlir import MLIRTarget

            return MLIRTarget

        self.available_targets["mlir"] = mlir

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        arg_parser.prog = PROG
        arg_parser.add_argument(
            "--pass-pipeline",
            type=str,
            default=None,
            help="MLIR-style pipeline, e.g. 'builtin.module(cse,fuse-einsum-path{strategy=greedy})'",
        )
        register_instrumentation_arguments(arg_parser)

    # -- pipeline

    def pipeline_spec(self) -> str:
        """The pipeline in xDSL syntax, from `-p` or `--pass-pipeline`."""
        if self.args.pass_pipeline is None:
            return self.args.passes
        if self.args.passes:
            raise FuseOptError("give either -p or --pass-pipeline, not both")
        return mlir_pipeline_to_xdsl(self.args.pass_pipeline)

    def setup_pipeline(self) -> None:
        spec = self.pipeline_spec()
        try:
            specs: list[ArgSpec] = list(parse_pipeline(spec))
        except ArgSpecParseError as error:  # a BaseException: catch it by name
            raise _spec_error(spec, error) from None
        passes: list[ModulePass] = []
        for pass_spec in specs:
            factory = self.available_passes.get(pass_spec.name)
            if factory is None:
                raise FuseOptError(f"unknown pass '{pass_spec.name}'")
            try:
                passes.append(factory().from_pass_spec(pass_spec))
            except (ValueError, TypeError) as error:
                raise FuseOptError(
                    f"invalid options for pass '{pass_spec.name}': {error}"
                ) from None
        unknown = self.instrumentation.check_pass_names(set(self.available_passes))
        if unknown:
            raise FuseOptError(f"unknown pass '{unknown[0]}' in an IR-printing option")
        self.pipeline = PassPipeline(tuple(passes), self._between_passes)
        self.instrumentation.dump_pipeline(self.pipeline.passes, ANCHOR)
        self._current_pass: ModulePass | None = None
        self._pass_start = time.perf_counter()

    @cached_property
    def instrumentation(self) -> PassInstrumentation:
        def print_module(module: ModuleOp, stream: IO[str], generic: bool) -> None:
            self._print_module(module, stream, generic=generic)

        return PassInstrumentation(self.args, print_module)

    def _between_passes(
        self, previous: ModulePass | None, module: ModuleOp, following: ModulePass | None
    ) -> None:
        """Verifies the IR before the first pass and after each one, and
        prints it / times passes as the options ask. IR that a pass broke is
        still dumped, in generic form (as MLIR does), before the error."""
        now = time.perf_counter()
        if previous is not None:
            self.instrumentation.record(display_name(previous), now - self._pass_start)
            if self.args.time_passes:
                print(f"Pass {previous.name} took {now - self._pass_start} seconds")
        broken: DiagnosticException | None = None
        if not self.args.disable_verify:
            with self.instrumentation.timed("Verifier"):
                try:
                    module.verify()
                except DiagnosticException as error:
                    broken = error
        if previous is not None:
            self.instrumentation.after(previous, module, broken=broken is not None)
            if following is not None and self.args.print_between_passes:
                print(f"IR after {previous.name}:")
                self._print_module(module, sys.stdout, generic=broken is not None)
                print("\n\n\n")
        if broken is not None:
            raise broken
        if following is not None:
            self.instrumentation.before(following, module)
        self._current_pass = following
        self._pass_start = time.perf_counter()

    def apply_passes(self, prog: ModuleOp) -> None:
        """Runs the pipeline; an unexpected exception inside a pass is a bug in
        Fuse, reported as one line naming the pass instead of a traceback."""
        try:
            super().apply_passes(prog)
        except (DiagnosticException, FuseError, FuseOptError):
            self._dump_after_failure(prog)
            raise
        except Exception as error:  # the last line of defense
            self._dump_after_failure(prog)
            current = self._current_pass
            where = f" in pass {current.name}" if current is not None else ""
            raise FuseOptError(f"internal error{where}: {type(error).__name__}: {error}") from error

    def _dump_after_failure(self, module: ModuleOp) -> None:
        if self._current_pass is not None:
            self.instrumentation.failed(self._current_pass, module)

    def _print_module(self, module: ModuleOp, stream: IO[str], *, generic: bool) -> None:
        generic = generic or self.args.print_op_generic
        Printer(stream=stream, print_generic_format=generic).print_op(module)

    # -- input and output

    def get_input_stream(self) -> tuple[IO[str], str]:
        """Like xdsl-opt, but `-` is stdin and any file is read as MLIR
        unless a frontend claims its extension (as mlir-opt does)."""
        if self.args.input_file == "-":
            self.args.input_file = None
        stream, extension = super().get_input_stream()
        return stream, extension if extension in self.available_frontends else "mlir"

    def parse_chunk(
        self, chunk: IO[str], file_extension: str, start_offset: int = 0
    ) -> ModuleOp | None:
        """Parses after `check_text` and checks blocks and SSA dominance after, so odd IR
        is a located error rather than a parser or pass that never ends."""
        name = self.get_input_name()
        text = chunk.read()
        # Line numbers of a `--split-input-file` chunk count from the file's start.
        source = SourceText("\n" * start_offset + text, name)
        check_text(source)
        try:
            with self.instrumentation.timed("Parser"):
                module = super().parse_chunk(StringIO(text), file_extension, start_offset)
        except ParseError:
            raise
        except DiagnosticException as error:  # an attribute verifier, run while parsing
            if self.args.verify_diagnostics:
                raise  # xdsl-opt prints it as the expected diagnostic
            raise FuseOptError(f"{name}: {error}") from None
        except (OverflowError, MemoryError, RecursionError) as error:
            raise FuseOptError(
                f"{name}: IR too large or too deeply nested to parse: {error}"
            ) from None
        except ValueError as error:  # xDSL's own checks while building ops, unlocated
            reason = error.args[0] if error.args else type(error).__name__
            raise FuseOptError(f"{name}: the IR cannot be parsed: {reason}") from None
        if module is not None:
            check_blocks(module, source)
            check_dominance(module, source)
        return module

    def prepare_output(self) -> IO[str]:
        if self.args.output_file is None:
            return sys.stdout
        target = os.path.abspath(self.args.output_file)
        try:
            # xDSLOptMain.run closes the stream; run() below renames or removes it.
            stream = tempfile.NamedTemporaryFile(  # noqa: SIM115
                "w",
                dir=os.path.dirname(target),
                prefix=f".{os.path.basename(target)}.",
                suffix=".tmp",
                delete=False,
            )
        except OSError as error:
            raise FuseOptError(
                f"cannot write '{self.args.output_file}': {error.strerror or error}"
            ) from None
        self._temporary_output = stream.name
        return stream

    def output_resulting_program(self, prog: ModuleOp) -> str:
        with self.instrumentation.timed("Output"):
            return super().output_resulting_program(prog)

    def run(self) -> None:
        try:
            super().run()
        except BaseException:
            self._discard_output()
            raise
        finally:
            self.instrumentation.report_timing()
        self._commit_output()

    def _commit_output(self) -> None:
        if self._temporary_output is None:
            return
        target = os.path.abspath(self.args.output_file)
        os.chmod(self._temporary_output, _new_file_mode(target))
        os.replace(self._temporary_output, target)
        self._temporary_output = None

    def _discard_output(self) -> None:
        if self._temporary_output is not None:
            os.unlink(self._temporary_output)
            self._temporary_output = None


def _new_file_mode(path: str) -> int:
    """The mode `open(path, "w")` would give: the old file's, or the umask's
    (a temporary file is created 0600, which must not leak to the output)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _parse_diagnostic(error: ParseError) -> Diagnostic:
    """xDSL's parse error in Fuse's format (docs/diagnostics.md):
    `file:line:col: error: message`, the line, a caret under the token."""
    where = error.span.get_location()
    text = error.span.input.content
    start = error.span.start - where.col + 1
    end = text.find("\n", start)
    line = text[start : end if end >= 0 else len(text)]
    width = max(1, min(error.span.len, len(line) - where.col + 1))
    span = Span(where.file, where.line, where.col, where.line, where.col + width)
    message = error.msg.strip()
    if not message or message.startswith("in "):  # xDSL gave only the context
        what = (
            "unexpected end of file" if error.span.start >= len(text.rstrip()) else "syntax error"
        )
        message = f"{what} {message}".strip()
    return Diagnostic(message, span, line)


def _print_diagnostic(error: DiagnosticException) -> None:
    """A verifier or pass failure: the message, then xDSL's IR excerpt. A
    pass error located by its op (`file:line:col: ...`) reads like every
    other located error, `file:line:col: error: ...`."""
    located = _PASS_LOCATION.match(str(error))
    if located is not None:
        print(f"{located['where']}: error: {located['message']}", file=sys.stderr)
    else:
        print(error, file=sys.stderr)
    for note in getattr(error, "__notes__", ()):
        print(note, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `fuse-opt` with `argv` (default: the command line); returns the
    exit status: 0 on success, 1 on an error, 2 on bad command-line usage."""
    try:
        FuseOptMain(args=argv).run()
    except FuseOptError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except ParseError as error:
        print(_parse_diagnostic(error).render(), file=sys.stderr)
        return 1
    except FuseError as error:
        print(error.render(), file=sys.stderr)
        return 1
    except DiagnosticException as error:
        _print_diagnostic(error)
        return 1
    except OSError as error:
        where = f": '{error.filename}'" if error.filename else ""
        print(f"{PROG}: error: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    except SystemExit as exit_:  # argparse usage errors and --help
        return exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
