"""Checks `fuse-opt` runs on IR text and on the parsed module, so that odd
input ends in a located diagnostic rather than a hang or a pass crash.

* `check_text` runs before xDSL sees the text: an unterminated string
  literal makes xDSL 0.73's lexer backtrack for minutes, and a dense literal
  of a huge type makes its parser build a list of that many elements.
* `check_dominance` runs after parsing: xDSL resolves forward references in
  a block, so an op that uses its own result, or a value used before its
  definition, passes the verifier and then hangs or crashes passes that walk
  operands. Every block here is straight-line (no registered dialect has
  branches), so a value must be a block argument of an enclosing block or be
  defined earlier in the same or an enclosing block.
* `check_blocks` runs after parsing too: a label on a region's only block
  (`fuse.program {\n^bb0:\n ...}`) is valid MLIR and accepted, but a second
  block (which no op here can branch to) and block arguments on a body that
  takes none (`fuse.program`, `fuse.rule`, `fuse.sink`) are errors at the
  label, rather than an unlocated verifier message or arguments silently
  kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from xdsl.ir import Block, BlockArgument, Operation, SSAValue

from fuse.errors import Diagnostic, FuseError, SourceText
from fuse.frontend.ast import Span

# A dense literal may hold at most this many elements (a splat is expanded).
MAX_DENSE_ELEMENTS = 1 << 24

_DENSE_TYPE = re.compile(r"dense<[^>]*>\s*:\s*(?:tensor|vector)<((?:\d+\s*x\s*)+)")
_SSA_NAME = re.compile(r"%[\w$.-]+")
_NUMERIC_BLOCK_LABEL = re.compile(r"\^\d[\w$.-]*")
_LABEL = re.compile(r"\s*(\^[\w$.-]+)\s*(\()?")
_OP_NAME = re.compile(r"\s*(?:%[\w$.:-]+(?:\s*,\s*%[\w$.:-]+)*\s*=\s*)?([A-Za-z_][\w.]*)")
# Ops whose body is a list of statements or an expression: no block arguments.
_BODIES_WITHOUT_ARGUMENTS = ("fuse.program", "fuse.rule", "fuse.sink")
_RESULT_LIST = re.compile(r"^\s*((?:%[\w$.-]+(?::\d+)?\s*,\s*)*%[\w$.-]+(?::\d+)?)\s*=(?!=)")


def _error(source: SourceText, message: str, line: int, col: int, width: int = 1) -> FuseError:
    span = Span(source.file, line, col, line, col + width)
    return FuseError([source.diagnostic(message, span)])


def _code_spans(line: str) -> Iterator[tuple[int, str]]:
    """(column, character) of a line's code: strings blanked, comments cut.
    Raises ValueError(column) at a string literal left open."""
    quoted = escaped = False
    start = 0
    for col, char in enumerate(line):
        if quoted:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
            yield col, " "
        elif char == '"':
            quoted, start = True, col
            yield col, " "
        elif line.startswith("//", col):
            return
        else:
            yield col, char
    if quoted:
        raise ValueError(start)


def code_lines(source: SourceText) -> list[str]:
    """Each line with string contents blanked and comments removed; an
    unterminated string literal (MLIR strings do not span lines) is an error
    located at its opening quote."""
    lines: list[str] = []
    for number, line in enumerate(source.lines, start=1):
        try:
            lines.append("".join(char for _, char in _code_spans(line)))
        except ValueError as open_quote:
            raise _error(
                source, "unterminated string literal", number, open_quote.args[0] + 1
            ) from None
    return lines


def check_text(source: SourceText) -> None:
    """Rejects what xDSL's parser cannot handle in bounded time and memory,
    or at all: a block label that starts with a digit (`^5`, valid MLIR)
    makes xDSL 0.73 raise a bare ValueError."""
    for number, line in enumerate(code_lines(source), start=1):
        for match in _NUMERIC_BLOCK_LABEL.finditer(line):
            raise _error(
                source,
                f"block label '{match.group()}' starts with a digit, which fuse-opt's parser "
                f"(xDSL) does not accept: name it like '^bb{match.group()[1:]}'",
                number,
                match.start() + 1,
                len(match.group()),
            )
        for match in _DENSE_TYPE.finditer(line):
            dims = [int(d) for d in re.findall(r"\d+", match.group(1))]
            if math.prod(dims) > MAX_DENSE_ELEMENTS:
                raise _error(
                    source,
                    f"dense literal of shape {'x'.join(map(str, dims))} has "
                    f"{math.prod(dims)} elements, more than the {MAX_DENSE_ELEMENTS} allowed",
                    number,
                    match.start() + 1,
                    len("dense"),
                )


def _misplaced_operand(block: Block, visible: set[SSAValue]) -> tuple[Operation, SSAValue] | None:
    """The first op whose operand does not dominate it, with that operand."""
    visible_here = set(block.args)
    scope = visible | visible_here
    for op in block.ops:
        for operand in op.operands:
            if operand not in scope:
                return op, operand
        for region in op.regions:
            for inner in region.blocks:
                if (found := _misplaced_operand(inner, scope)) is not None:
                    return found
        scope.update(op.results)
    return None


def _value_words(op: Operation, value: SSAValue) -> str:
    if isinstance(value, BlockArgument):
        return "a block argument of a block that does not enclose it"
    if value.owner is op:
        return "its own result"
    return f"the result of '{value.owner.name}' before that is defined"


def _locate_use_before_def(source: SourceText, lines: list[str]) -> tuple[int, int, str] | None:
    """Where the text first uses an SSA name that no earlier line of an
    enclosing `{...}` defines (a result of the same line counts as later)."""
    scopes: list[set[str]] = [set()]
    pending: set[str] = set()  # function arguments, visible in the next region
    for number, line in enumerate(lines, start=1):
        results = _RESULT_LIST.match(line)
        defined = set(_SSA_NAME.findall(results.group(1))) if results else set()
        arguments = (
            {m.group() for m in re.finditer(r"%[\w$.-]+(?=\s*:)", line)}
            if "^" in line or "func.func" in line
            else set()
        )
        if "func.func" in line:
            pending |= arguments
        else:
            scopes[-1] |= arguments
        body_start = results.end() if results else 0
        for col, char in enumerate(line):
            if char == "{":
                scopes.append(set(pending))
                pending = set()
            elif char == "}" and len(scopes) > 1:
                scopes.pop()
            elif char == "%" and col >= body_start:
                name = _SSA_NAME.match(line, col)
                if name is None or name.group() in arguments or name.group() in pending:
                    continue
                if not any(name.group() in scope for scope in scopes):
                    return number, col + 1, name.group()
        scopes[-1] |= defined
    return None


def check_dominance(module: Operation, source: SourceText) -> None:
    """Every operand is defined before its use; see the module docstring."""
    for region in module.regions:
        for block in region.blocks:
            found = _misplaced_operand(block, set())
            if found is None:
                continue
            op, value = found
            words = _value_words(op, value)
            located = _locate_use_before_def(source, code_lines(source))
            if located is None:
                raise FuseError([Diagnostic(f"{source.file}: '{op.name}' uses {words}")])
            line, col, name = located
            raise _error(source, f"'{op.name}' uses {name}, {words}", line, col, len(name))


@dataclass(frozen=True)
class _Label:
    """A block label in the text, and the region it opens a block of."""

    line: int
    col: int
    name: str
    has_arguments: bool
    region_op: str  # the op whose `{` encloses it, as the text names it
    first_in_region: bool


def _labels(lines: list[str]) -> Iterator[_Label]:
    regions: list[tuple[str, bool]] = []  # (op name, has anything been seen in it)
    for number, line in enumerate(lines, start=1):
        label = _LABEL.match(line)
        if label is not None and regions:
            op, seen = regions[-1]
            yield _Label(
                number, label.start(1) + 1, label.group(1), bool(label.group(2)), op, not seen
            )
        for char in line:
            if char == "{":
                opener = _OP_NAME.match(line)
                regions.append((opener.group(1) if opener else "", False))
            elif char == "}" and regions:
                regions.pop()
            elif not char.isspace() and regions:
                regions[-1] = (regions[-1][0], True)


def check_blocks(module: Operation, source: SourceText) -> None:
    """Regions hold one block; see the module docstring."""
    second_block = any(len(r.blocks) > 1 for op in module.walk() for r in op.regions)
    arguments = any(
        op.name in _BODIES_WITHOUT_ARGUMENTS and any(block.args for block in op.regions[0].blocks)
        for op in module.walk()
    )
    if not (second_block or arguments):
        return
    for label in _labels(code_lines(source)):
        if not label.first_in_region:
            message = (
                f"block {label.name} is a second block in a '{label.region_op}' region; "
                "regions in Fuse IR hold a single block"
            )
        elif label.has_arguments and label.region_op in _BODIES_WITHOUT_ARGUMENTS:
            message = f"the body of '{label.region_op}' takes no block arguments"
        else:
            continue
        raise _error(source, message, label.line, label.col, len(label.name))
    what = "a region with several blocks" if second_block else "block arguments on a body"
    raise FuseError([Diagnostic(f"{source.file}: {what}; regions in Fuse IR hold one block")])
