"""Text formats of sources and sinks: parsing into plain Python/NumPy values
and rendering arrays back to text.

This module knows nothing about files, paths or symbol tables beyond what it
is handed: `fuse.runtime.io` reads the bytes, interns symbols and writes
atomically. Keeping the format rules here keeps them in one readable place
(the decisions are listed in `fuse.runtime.io`'s docstring).

Every problem is a `FuseError` pointing at `path:line:col` where a line is
known, with the offending line and a caret, like program diagnostics.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from fuse.errors import Diagnostic, FuseError
from fuse.frontend.ast import Span
from fuse.runtime.symbols import SymbolTable

Kind = Literal["auto", "numeric", "relation"]
"""How to read a .csv/.tsv: by content (`auto`), or forced."""

_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.IGNORECASE
)


def is_number(cell: str) -> bool:
    """Whether a cell is a decimal number (also `nan`, `inf`, `-inf`)."""
    return _NUMBER.fullmatch(cell) is not None


def file_error(
    path: str,
    message: str,
    line: int | None = None,
    col: int = 1,
    source_line: str | None = None,
    width: int = 1,
) -> FuseError:
    """A `FuseError` at `path:line:col` (or just `path` when no line is known)."""
    if line is None:
        return FuseError(f"{path}: {message}")
    span = Span(path, line, col, line, col + max(1, width))
    if source_line is not None:
        # One column per character, so the caret lines up under a tab too.
        source_line = source_line.replace("\t", " ")
    return FuseError([Diagnostic(message, span, source_line)])


_FP32_MAX = float(np.finfo(np.float32).max)


def fp32_array(path: str, values: object) -> np.ndarray:
    """A source's numbers (nested lists or an array) as float32. A finite
    value beyond fp32's range would become inf with no more than a NumPy
    warning, so it is an error naming the file, as it is for a runtime
    input (fuse.runtime.inputs); infinities written as such pass."""
    try:
        wide = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer of hundreds of digits
        raise file_error(path, "holds a number beyond the float32 range") from None
    check_fp32_range(path, wide)
    return wide.astype(np.float32)


def check_fp32_range(path: str, array: np.ndarray) -> None:
    """Refuses a float array (float64 from a .npy, say) holding a finite
    value that fp32, which every backend computes in, would make inf."""
    magnitudes = np.abs(array)
    finite = magnitudes[np.isfinite(magnitudes)]
    if finite.size and finite.max() > _FP32_MAX:
        raise file_error(
            path,
            f"holds the finite value {finite.max():g}, beyond the float32 range "
            f"(largest {_FP32_MAX:g}); it would become inf",
        )


def _line_of(text_lines: Sequence[str], line: int) -> str | None:
    return text_lines[line - 1] if 1 <= line <= len(text_lines) else None


# --- .csv / .tsv --------------------------------------------------------------


@dataclass
class Table:
    """The non-blank rows of a .csv/.tsv file, cells stripped of surrounding
    blanks, with the (1-based) line number of each row."""

    path: str
    rows: list[list[str]]
    lines: list[int]
    text_lines: list[str] = field(repr=False)

    def error(self, message: str, row: int, column: int | None = None) -> FuseError:
        line = self.lines[row]
        source = _line_of(self.text_lines, line)
        col, width = 1, 1
        if column is not None and source is not None:
            col, width = _cell_position(source, self.rows[row], column)
        return file_error(self.path, message, line, col, source, width)


def _cell_position(source: str, cells: Sequence[str], column: int) -> tuple[int, int]:
    """Column and width of `cells[column]` in its source line, found by
    searching the cells left to right (approximate for quoted CSV cells)."""
    start = 0
    for k, cell in enumerate(cells[: column + 1]):
        found = source.find(cell, start) if cell else start
        if found < 0:
            return 1, 1
        if k == column:
            return found + 1, len(cell)
        start = found + len(cell)
    return 1, 1


def parse_table(path: str, text: str, delimiter: str) -> Table:
    """Splits a .csv (`,`, with CSV quoting) or .tsv (tab, no quoting) file
    into rows. Blank lines are skipped; rows of different lengths are an
    error at the first row that differs."""
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    text_lines = text.splitlines()
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        for raw in reader:
            cells = [cell.strip() for cell in raw]
            if not any(cells) and len(cells) <= 1:
                continue
            rows.append(cells)
            lines.append(reader.line_num)
    except csv.Error as error:
        line = reader.line_num
        raise file_error(
            path, f"malformed CSV: {error}", line, 1, _line_of(text_lines, line)
        ) from None
    table = Table(path, rows, lines, text_lines)
    for r, cells in enumerate(rows):
        if len(cells) != len(rows[0]):
            raise table.error(
                f"row has {len(cells)} cells, expected {len(rows[0])} as on line {lines[0]}", r
            )
    return table


def classify(table: Table, kind: Kind) -> tuple[Literal["numeric", "relation"], int]:
    """Decides whether a table holds numbers or symbols; returns the kind
    and the index of its first data row (1 when row 0 is a header).

    * every cell a number: a numeric matrix;
    * a first row with a non-number followed only by rows of numbers: a
      numeric matrix with a header row, which is skipped;
    * otherwise, when some column holds no number at all: a relation of
      symbols (no header: every row is a fact);
    * otherwise (numbers with a stray non-number): an error at that cell.
    """
    if kind == "relation":
        return "relation", 0
    if not table.rows:
        return ("numeric" if kind == "numeric" else "relation"), 0
    numeric = [[is_number(cell) for cell in row] for row in table.rows]
    if all(all(flags) for flags in numeric):
        return "numeric", 0
    if len(numeric) > 1 and all(all(flags) for flags in numeric[1:]):
        return "numeric", 1
    columns = len(table.rows[0])
    if kind == "auto" and any(not any(row[c] for row in numeric) for c in range(columns)):
        return "relation", 0
    # The first offending cell after row 0 (row 0 may be a header); row 0's
    # when the table has a single row.
    for r in [*range(1, len(numeric)), 0]:
        if not all(numeric[r]):
            c = numeric[r].index(False)
            hint = (
                ""
                if kind == "numeric"
                else " (a relation of symbols needs at least one column without numbers)"
            )
            raise table.error(
                f"non-numeric cell {table.rows[r][c]!r} in a table of numbers{hint}", r, c
            )
    raise AssertionError("unreachable")


def numeric_matrix(table: Table, start: int) -> np.ndarray:
    """The rows from `start` on as a float32 matrix (rows x columns)."""
    rows = table.rows[start:]
    values = fp32_array(table.path, [[float(cell) for cell in row] for row in rows])
    return values.reshape(len(rows), len(table.rows[0]) if table.rows else 0)


def check_symbols(table: Table) -> None:
    """A relation's cells are non-empty symbols."""
    for r, row in enumerate(table.rows):
        for c, cell in enumerate(row):
            if not cell:
                raise table.error("empty cell in a relation of symbols", r, c)


# --- .txt ---------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Whitespace-separated tokens, exactly as written (no lowercasing, no
    punctuation splitting: preprocessing is the author's choice)."""
    return text.split()


# --- .json / .jsonl -----------------------------------------------------------


class _Shape(Exception):
    """A value that is not a rectangular nested list of numbers."""


def _shape_of(value: object, where: str) -> tuple[int, ...]:
    if isinstance(value, bool | int | float):
        return ()
    if isinstance(value, list):
        shapes = [_shape_of(item, f"{where}[{i}]") for i, item in enumerate(value)]
        for i, shape in enumerate(shapes):
            if shape != shapes[0]:
                raise _Shape(
                    f"{where}[{i}] has shape {list(shape)} but {where}[0] has shape "
                    f"{list(shapes[0])} (the array must be rectangular)"
                )
        return (len(value), *(shapes[0] if shapes else ()))
    kind = "null" if value is None else type(value).__name__
    raise _Shape(f"{where or 'the value'} is a JSON {kind}, expected a number or a list of numbers")


def _json_value(path: str, text: str, line: int | None, source: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        row = error.lineno if line is None else line
        shown = _line_of(source.splitlines(), error.lineno) if line is None else text
        raise file_error(path, f"invalid JSON: {error.msg}", row, error.colno, shown) from None


def parse_json(path: str, text: str) -> np.ndarray:
    """A .json source: a number (rank 0) or a rectangular nested list of
    numbers (booleans count as 0/1), read as float32."""
    value = _json_value(path, text, None, text)
    try:
        _shape_of(value, "")
    except _Shape as error:
        raise file_error(path, str(error)) from None
    return fp32_array(path, value)


Index = int | str


@dataclass
class Records:
    """The records of a .jsonl file: `(indices, value)` entries.

    `style` is `indices` for `{"indices": [...], "value": v}` records (each
    index a non-negative integer position or a symbol) and `topk` for
    `{"position": p, "token": t, "score": s}` records (what a top-k sink
    writes). `symbolic[c]` says whether column `c` holds symbols.
    """

    style: Literal["indices", "topk"]
    entries: list[tuple[tuple[Index, ...], float]]
    lines: list[int]
    symbolic: list[bool]


_RECORD_FORMS = '{"indices": [...], "value": v} or {"position": p, "token": t, "score": s}'


def _number(value: object) -> bool:
    return isinstance(value, int | float)


def _record(value: dict[str, object]) -> tuple[str, tuple[object, ...], object] | None:
    keys = set(value)
    if "indices" in keys and keys <= {"indices", "value"}:
        indices = value["indices"]
        if isinstance(indices, list):
            return "indices", tuple(indices), value.get("value", 1.0)
        return None
    if {"position", "token"} <= keys <= {"position", "token", "score"}:
        return "topk", (value["position"], value["token"]), value.get("score", 1.0)
    return None


def parse_jsonl(path: str, text: str) -> np.ndarray | Records:
    """A .jsonl source: one JSON value per non-blank line, either

    * every line a number or a nested list (one row each): stacked into an
      array of shape (lines, *row shape), float32; or
    * every line a record (see `Records`).
    """
    rows: list[object] = []
    records: list[tuple[str, tuple[object, ...], object]] = []
    lines: list[int] = []
    texts: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        value = _json_value(path, line, number, text)
        if isinstance(value, dict):
            record = _record(value)
            if record is None:
                raise file_error(path, f"a record is {_RECORD_FORMS}", number, 1, line)
            if rows:
                raise file_error(
                    path,
                    f"a record among rows of numbers (line {lines[0]} is a row)",
                    number,
                    1,
                    line,
                )
            if records and record[0] != records[0][0]:
                forms = f"{record[0]!r} here, {records[0][0]!r} on line {lines[0]}"
                raise file_error(path, f"records mix forms ({forms})", number, 1, line)
            records.append(record)
        else:
            if records:
                raise file_error(
                    path, f"a row among records (line {lines[0]} is a record)", number, 1, line
                )
            rows.append(value)
        lines.append(number)
        texts.append(line)
    if records:
        return _check_records(path, records, lines, texts)
    shape: tuple[int, ...] | None = None
    for row, number, line in zip(rows, lines, texts, strict=True):
        try:
            row_shape = _shape_of(row, "")
        except _Shape as error:
            raise file_error(path, str(error), number, 1, line) from None
        if shape is not None and row_shape != shape:
            raise file_error(
                path,
                f"row has shape {list(row_shape)} but line {lines[0]} has shape {list(shape)}",
                number,
                1,
                line,
            )
        shape = row_shape
    return fp32_array(path, rows).reshape(len(rows), *(shape or ()))


def _check_records(
    path: str,
    records: list[tuple[str, tuple[object, ...], object]],
    lines: list[int],
    texts: list[str],
) -> Records:
    style = records[0][0]
    rank = len(records[0][1])
    symbolic = [isinstance(index, str) for index in records[0][1]]
    entries: list[tuple[tuple[Index, ...], float]] = []
    for (_, indices, value), number, line in zip(records, lines, texts, strict=True):

        def bad(message: str, line: str = line, number: int = number) -> FuseError:
            return file_error(path, message, number, 1, line)

        if len(indices) != rank:
            raise bad(f"record has {len(indices)} indices, line {lines[0]} has {rank}")
        if not _number(value):
            raise bad(f"record value {value!r} is not a number")
        for c, index in enumerate(indices):
            ok = (
                isinstance(index, str) and index != ""
                if symbolic[c]
                else isinstance(index, int) and not isinstance(index, bool) and index >= 0
            )
            if not ok:
                want = (
                    "a symbol (a non-empty string)"
                    if symbolic[c]
                    else "a position (an integer >= 0)"
                )
                raise bad(
                    f"index {c} is {json.dumps(index)}, expected {want} as on line {lines[0]}"
                )
        entries.append((indices, float(value)))  # type: ignore[arg-type]
    if style == "topk" and symbolic != [False, True]:
        raise file_error(
            path,
            "a top-k record's position is an integer and its token a string",
            lines[0],
            1,
            texts[0],
        )
    return Records(style, entries, lines, symbolic)  # type: ignore[arg-type]


# --- rendering sinks ------------------------------------------------------------


def python_values(array: np.ndarray) -> list | float | int:
    """The array as nested Python numbers; floats keep the shortest decimal
    that reads back to the same value in the array's precision (0.1 in
    float32 is written `0.1`, not `0.10000000149011612`)."""
    if array.dtype.kind == "b":
        return array.astype(np.int64).tolist()
    if array.dtype.kind in "iu" or array.dtype == np.float64:
        return array.tolist()
    shortest = np.array([float(s) for s in array.ravel().astype(str)], dtype=np.float64)
    return shortest.reshape(array.shape).tolist()


def format_number(value: float | int) -> str:
    return repr(value)


def render_numeric_table(path: str, array: np.ndarray, delimiter: str) -> str:
    """Rank 0: one cell; rank 1: one value per line; rank 2: one row per line."""
    if array.ndim > 2:
        raise file_error(
            path,
            f"a .csv/.tsv holds at most 2 dimensions; this tensor has "
            f"shape {list(array.shape)} (write .npy, .npz or .json instead)",
        )
    matrix = array.reshape(-1, 1) if array.ndim < 2 else array
    values = python_values(matrix)
    return "".join(delimiter.join(map(format_number, row)) + "\n" for row in values)


def _symbol_or_position(table: SymbolTable | None, position: int) -> Index:
    return table.symbol(position) if table is not None else position


def render_relation(
    path: str, array: np.ndarray, tables: Sequence[SymbolTable], delimiter: str
) -> str:
    """One row of symbols per non-zero entry, in row-major order. A tensor
    with values other than 0/1 gets one more column holding the value, so
    writing a weighted relation loses nothing."""
    coordinates = np.argwhere(array != 0)
    weighted = bool(np.any((array != 0) & (array != 1)))
    values = python_values(array[array != 0])
    out = io.StringIO()
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator="\n")
    try:
        for coordinate, value in zip(coordinates, values, strict=True):  # type: ignore[arg-type]
            row = [tables[axis].symbol(int(p)) for axis, p in enumerate(coordinate)]
            writer.writerow([*row, format_number(value)] if weighted else row)
    except csv.Error as error:
        raise file_error(
            path, f"cannot write a symbol as TSV ({error}); write .csv instead"
        ) from None
    return out.getvalue()


def render_json(array: np.ndarray) -> str:
    """A number or nested lists (NaN and infinities as Python's json writes them)."""
    return json.dumps(python_values(array)) + "\n"


def render_jsonl_rows(array: np.ndarray) -> str:
    """One line per slice along the first axis (rank 0: one line)."""
    values = python_values(array.reshape(1) if array.ndim == 0 else array)
    return "".join(json.dumps(row) + "\n" for row in values)  # type: ignore[union-attr]


def render_jsonl_records(array: np.ndarray, tables: Sequence[SymbolTable | None]) -> str:
    """`{"indices": [...], "value": v}` per non-zero entry, row-major; an
    index is its symbol where its dimension has a table."""
    coordinates = np.argwhere(array != 0)
    values = python_values(array[array != 0])
    lines = []
    for coordinate, value in zip(coordinates, values, strict=True):  # type: ignore[arg-type]
        indices = [_symbol_or_position(tables[a], int(p)) for a, p in enumerate(coordinate)]
        lines.append(json.dumps({"indices": indices, "value": value}) + "\n")
    return "".join(lines)


def is_vocabulary_matrix(array: np.ndarray, tables: Sequence[SymbolTable | None]) -> bool:
    """A position x token matrix: rank 2, the last dim over the text vocabulary."""
    return array.ndim == 2 and tables[0] is None and tables[1] is not None and tables[1].vocabulary


def render_topk(array: np.ndarray, vocabulary: SymbolTable) -> str:
    """`{"position": p, "token": t, "score": s}` for each non-zero entry,
    positions ascending, then scores descending (ties: vocabulary order).
    Upstream `topk` zeroes all but the k largest of each row."""
    lines = []
    for position, row in enumerate(array):
        columns = np.flatnonzero(row)
        order = columns[np.lexsort((columns, -row[columns].astype(np.float64)))]
        scores = python_values(row[order])
        for column, score in zip(order, scores, strict=True):  # type: ignore[arg-type]
            record = {"position": position, "token": vocabulary.symbol(int(column)), "score": score}
            lines.append(json.dumps(record) + "\n")
    return "".join(lines)


def render_text(array: np.ndarray, vocabulary: SymbolTable) -> str:
    """For each position with a non-zero entry, its highest-scoring token
    (ties: vocabulary order), separated by spaces: a .txt source read back."""
    tokens = [
        vocabulary.symbol(int(np.argmax(np.where(row != 0, row, -np.inf))))
        for row in array.astype(np.float64)
        if np.any(row != 0)
    ]
    return " ".join(tokens) + "\n" if tokens else ""
