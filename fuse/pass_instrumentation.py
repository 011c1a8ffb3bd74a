"""What `fuse-opt` shows around each pass: MLIR's IR dumps and timing report.

The options and their output follow `mlir-opt`, so scripts and habits carry
over:

* `--mlir-print-ir-before=PASS` / `--mlir-print-ir-before-all`,
  `--mlir-print-ir-after=PASS` / `--mlir-print-ir-after-all` (also spelled
  `--print-ir-after-all`), `--mlir-print-ir-after-change` (only dumps after
  passes that changed the IR) and `--mlir-print-ir-after-failure` (the IR a
  failing pass left, with an `After ... Failed` header): each dump goes to
  stderr under MLIR's header,

      // -----// IR Dump After CommonSubexpressionElimination (cse) //----- //

  naming the pass class and, in parentheses, its command-line argument;
* `--mlir-timing`: a wall-time report per pass, parsing and output, in
  MLIR's layout, on stderr after the run;
* `--dump-pass-pipeline`: the pipeline about to run, in MLIR syntax.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import StringIO
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

RULE = "===" + "-" * 73 + "==="


def display_name(pass_: ModulePass) -> str:
    """The pass's class name without a trailing `Pass`, as MLIR shows it."""
    name = type(pass_).__name__
    return name.removesuffix("Pass") or name


def dump_header(pass_: ModulePass, when: str, *, failed: bool = False) -> str:
    """MLIR's dump header, e.g. `// -----// IR Dump After CSE (cse) //----- //`
    (`After CSE Failed (cse)` for the IR a failing pass left)."""
    outcome = " Failed" if failed else ""
    return f"// -----// IR Dump {when} {display_name(pass_)}{outcome} ({pass_.name}) //----- //"


def pipeline_text(passes: tuple[ModulePass, ...], anchor: str) -> str:
    """The pipeline as `--pass-pipeline` spells it, options included."""
    return f"{anchor}({','.join(str(p.pipeline_pass_spec()) for p in passes)})"


def register_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds MLIR's instrumentation options to `fuse-opt`'s command line."""
    parser.add_argument(
        "--mlir-print-ir-before",
        action="append",
        default=[],
        metavar="PASS",
        help="print the IR to stderr before each run of PASS (repeatable)",
    )
    parser.add_argument(
        "--mlir-print-ir-before-all",
        action="store_true",
        help="print the IR to stderr before every pass",
    )
    parser.add_argument(
        "--mlir-print-ir-after",
        action="append",
        default=[],
        metavar="PASS",
        help="print the IR to stderr after each run of PASS (repeatable)",
    )
    parser.add_argument(
        "--mlir-print-ir-after-all",
        "--print-ir-after-all",
        dest="print_ir_after_all",
        action="store_true",
        help="print the IR to stderr after every pass, MLIR style",
    )
    parser.add_argument(
        "--mlir-print-ir-after-change",
        action="store_true",
        help="with an after-dump option: skip the dump when the pass left the IR unchanged",
    )
    parser.add_argument(
        "--mlir-print-ir-after-failure",
        action="store_true",
        help="print the IR a failing pass left to stderr",
    )
    parser.add_argument(
        "--mlir-timing",
        action="store_true",
        help="print a wall-time report per pass to stderr after the run",
    )
    parser.add_argument(
        "--dump-pass-pipeline",
        action="store_true",
        help="print the pass pipeline to stderr before running it",
    )


Printer = Callable[[ModuleOp, IO[str], bool], None]
"""Prints a module to a stream; the flag asks for the generic form."""


@dataclass
class PassInstrumentation:
    """Dumps and times around each pass, driven by `fuse-opt`'s options.

    `fuse-opt` calls `before` and `after` around every pass and `failed` when
    one raises; `timed` wraps parsing and output so the report covers the
    whole run."""

    args: argparse.Namespace
    print_module: Printer
    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    timings: dict[str, float] = field(default_factory=dict)
    _before_text: str | None = None

    def check_pass_names(self, known: set[str]) -> list[str]:
        """Pass names given to `--mlir-print-ir-before/after` that no pass has."""
        named = [*self.args.mlir_print_ir_before, *self.args.mlir_print_ir_after]
        return [name for name in named if name not in known]

    def dump_pipeline(self, passes: tuple[ModulePass, ...], anchor: str) -> None:
        if self.args.dump_pass_pipeline:
            print(f"Pass Manager with {len(passes)} passes:", file=self.stream)
            print(pipeline_text(passes, anchor), file=self.stream)

    def before(self, pass_: ModulePass, module: ModuleOp) -> None:
        if self.args.mlir_print_ir_before_all or pass_.name in self.args.mlir_print_ir_before:
            self._dump(module, dump_header(pass_, "Before"), generic=False)
        if self.args.mlir_print_ir_after_change:
            self._before_text = self._text(module)

    def after(self, pass_: ModulePass, module: ModuleOp, *, broken: bool) -> None:
        """`broken`: the IR no longer verifies, so it is dumped in generic form."""
        wanted = self.args.print_ir_after_all or pass_.name in self.args.mlir_print_ir_after
        if not wanted:
            return
        changed_only = self.args.mlir_print_ir_after_change and not broken
        if changed_only and self._text(module) == self._before_text:
            return
        self._dump(module, dump_header(pass_, "After"), generic=broken)

    def failed(self, pass_: ModulePass, module: ModuleOp) -> None:
        if self.args.mlir_print_ir_after_failure:
            self._dump(module, dump_header(pass_, "After", failed=True), generic=True)

    def record(self, name: str, seconds: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(name, time.perf_counter() - start)

    def report_timing(self) -> None:
        """MLIR's `--mlir-timing` report: wall time per step and its share."""
        if not self.args.mlir_timing:
            return
        total = sum(self.timings.values())
        lines = [
            RULE,
            "... Execution time report ...".center(len(RULE)).rstrip(),
            RULE,
            f"  Total Execution Time: {total:.4f} seconds",
            "",
            "  ----Wall Time----  ----Name----",
        ]
        for name, seconds in [*self.timings.items(), ("Total", total)]:
            share = 100.0 * seconds / total if total else 0.0
            lines.append(f"  {seconds:8.4f} ({share:5.1f}%)  {name}")
        print("\n".join(lines), file=self.stream)

    def _text(self, module: ModuleOp) -> str:
        buffer = StringIO()
        self.print_module(module, buffer, False)
        return buffer.getvalue()

    def _dump(self, module: ModuleOp, header: str, *, generic: bool) -> None:
        print(header, file=self.stream)
        self.print_module(module, self.stream, generic)
        print("\n", file=self.stream)
