"""Reading sources and writing sinks, chosen by file extension.

`T[i, j] = "file"` reads a tensor, `"file" = expr` writes one. Paths are
relative to the program file's directory (`base_dir`). All problems are
`FuseError`s naming the file, and the line where one is known.

Sources
-------
* `.npy`: `np.load(allow_pickle=False)`, optionally memory-mapped (read-only);
  the stored dtype is kept (numeric dtypes only).
* `.npz`: never unpickled. One array: that array. Several: the one named
  like the tensor, else an error listing the keys.
* `.csv` (comma, CSV quoting) / `.tsv` (tab, no quoting): blank lines are
  skipped, cells are stripped, rows must have equal lengths. By content:
  all numbers -> a float32 matrix; a first row with a non-number followed
  by rows of numbers -> a matrix with a header row (skipped); otherwise,
  when some column holds no number -> a *relation*: each row is a fact of
  symbols (no header), giving a Boolean float32 tensor of rank = columns
  over the shared `entity` symbol table. Numbers with a stray non-number
  are an error at that cell. `kind="numeric"|"relation"` forces a reading
  (so integer ids can be symbols).
* `.txt`: whitespace-separated tokens, as written (no lowercasing) -> a
  Boolean float32 position x token matrix over the shared `token` table
  (the vocabulary), positions over the whole file.
* `.json`: a number or a rectangular nested list of numbers -> float32.
* `.jsonl`: one JSON value per non-blank line: either every line a row
  (a number or nested list; rows stacked along a new first axis) or every
  line a record, `{"indices": [...], "value": v}` (value defaults to 1;
  an index is a position >= 0 or a symbol of the `entity` table; a later
  record for the same indices replaces an earlier one) or
  `{"position": p, "token": t, "score": s}` (a top-k sink's output; tokens
  in the `token` table). An integer dimension's size is its largest index + 1.

Symbols: one `SymbolRegistry` per run; symbols are numbered in order of first
appearance (sources in the order given, rows top to bottom, cells left to
right), and a table's size is the size of every dimension over it, so all
symbol sources are scanned before any tensor is built (`load_all`). A
program's sources take the tables of its domains instead (`SourceSpec.tables`:
the front end numbered their symbols when it checked the program, reading
them with `symbol_file`).

Sinks
-----
Written atomically (a temporary file in the target's directory, then
`os.replace`; missing parent directories are created).

* `.npy`; `.npz` with key = the sink's key (the tensor name when the caller
  gives one, else the file's stem); several sinks to one `.npz` in
  `write_all` become one archive.
* `.csv`/`.tsv`: when every dimension has a symbol table, one row of
  symbols per non-zero entry (plus a value column if any value is not 0/1);
  otherwise a numeric matrix (rank <= 2; rank 1 is one value per line).
* `.json`: nested lists. `.jsonl`: a position x vocabulary matrix ->
  top-k records sorted by score; a tensor with other symbolic dimensions ->
  `{"indices", "value"}` records of its non-zero entries; otherwise one row
  per line.
* `.txt`: a position x vocabulary matrix -> each position's best token.

Floats are written in the shortest form that reads back to the same value.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import glob
import math
import os
import re
import stat
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import ArrayLike

from fuse.errors import Diagnostic, FuseError
from fuse.frontend.domains import SymbolFile
from fuse.runtime import formats
from fuse.runtime.formats import Kind, Records, Table, file_error
from fuse.runtime.symbols import ENTITY, TOKEN, SymbolRegistry, SymbolTable

__all__ = [
    "SINK_FORMATS",
    "SOURCE_FORMATS",
    "IOContext",
    "Kind",
    "SinkSpec",
    "SourceLoader",
    "SourceSpec",
    "atomic_write",
    "load_source",
    "write_sink",
]

SOURCE_FORMATS = (".npy", ".npz", ".csv", ".tsv", ".txt", ".json", ".jsonl")
SINK_FORMATS = SOURCE_FORMATS

_DELIMITERS = {".csv": ",", ".tsv": "\t"}
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
# Distinct loads a context keeps built (a runner loads its sources, and
# reads single sources for its weight policies).
_LOADS_KEPT = 8
_DENSE_LIMIT = 1 << 31  # elements; a relation larger than this is refused, not swapped


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


@dataclass(frozen=True)
class SourceSpec:
    """One source statement: tensor `name` with index names `dims` reads `path`."""

    name: str
    path: str
    dims: tuple[str, ...] | None = None
    kind: Kind = "auto"
    # Where the program names the file: a problem with the file that has no
    # place of its own in it (a missing file, a wrong shape) is shown there.
    statement: Diagnostic | None = None
    # The symbol table of each dimension (None: integer positions), where
    # the program's domains number the file's symbols; else the shared
    # `entity`/`token` tables do.
    tables: tuple[SymbolTable | None, ...] | None = None


@dataclass(frozen=True)
class SinkSpec:
    """One sink statement: `path` receives `array`, whose dimensions are
    named `dims`; `key` names it inside a `.npz`. `tables`, when given,
    are the symbol tables of its dimensions (instead of looking `dims` up)."""

    path: str
    array: ArrayLike
    dims: tuple[str, ...] = ()
    key: str | None = None
    tables: tuple[SymbolTable | None, ...] | None = None


class IOContext:
    """Reads sources and writes sinks for one program run.

    Holds the base directory, the run's `SymbolRegistry` and parsed text
    files (a file is parsed once even when scanned and then loaded).
    Load through `load_all` (or `scan` every source before the first
    `load`): tensors over a symbol table are sized by the whole table.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str] = ".",
        symbols: SymbolRegistry | None = None,
        *,
        mmap: bool = False,
    ):
        self.base_dir = Path(base_dir)
        self.symbols = symbols if symbols is not None else SymbolRegistry()
        self.mmap = mmap
        self._parsed: dict[tuple[Path, str], tuple[tuple[int, int], object]] = {}
        self._loaded: dict[tuple, dict[str, np.ndarray]] = {}

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """`path` relative to the base directory (absolute paths and `~` as given)."""
        return self.base_dir / Path(path).expanduser()

    # --- sources --------------------------------------------------------

    def load_all(self, sources: Iterable[SourceSpec]) -> dict[str, np.ndarray]:
        """Every source, symbols first: all files are scanned in order, then
        the tensors are built, so every tensor over a symbol table has its
        final size.

        A load of files unchanged since the same load before (same paths,
        modification times and sizes, same symbol tables) returns the
        tensors it built then, as a runner's weights are read once: a
        100,000-row relation costs seconds to intern and build, on every
        run. The tensors are shared between runs; backends do not write
        their inputs."""
        specs = list(sources)
        files = self._file_stamps(specs)
        kept = self._loaded.get((files, self._symbol_counts())) if files is not None else None
        if kept is not None:
            return dict(kept)
        loaded = self._load_specs(specs)
        if files is not None:
            if len(self._loaded) >= _LOADS_KEPT:
                self._loaded.clear()
            # Keyed by the tables as this load left them: the next identical
            # load finds them so, having interned nothing new.
            self._loaded[files, self._symbol_counts()] = loaded
        return dict(loaded)

    def _symbol_counts(self) -> tuple[tuple[str, int], ...]:
        return tuple((name, len(table)) for name, table in self.symbols.tables.items())

    def _file_stamps(self, specs: Sequence[SourceSpec]) -> tuple | None:
        """What a load of `specs` reads: each file with its modification
        time and size; None where a source is not a regular file that
        exists (a pipe reads differently each time; the load reports a
        missing file)."""
        files = []
        for spec in specs:
            target = self.resolve(spec.path)
            try:
                info = target.stat()
            except OSError:
                return None
            if not stat.S_ISREG(info.st_mode):
                return None
            tables = None if spec.tables is None else tuple(map(id, spec.tables))
            files.append(
                (spec.name, target, info.st_mtime_ns, info.st_size, spec.kind, spec.dims, tables)
            )
        return tuple(files)

    def _load_specs(self, specs: Sequence[SourceSpec]) -> dict[str, np.ndarray]:
        for spec in specs:
            with _located_at(spec.statement):
                if spec.tables is None:
                    self.scan(spec.path, kind=spec.kind)
                else:
                    _check_file(self.resolve(spec.path))
        loaded = {}
        for spec in specs:
            with _located_at(spec.statement):
                loaded[spec.name] = self.load(
                    spec.name, spec.path, dims=spec.dims, kind=spec.kind, tables=spec.tables
                )
        return loaded

    def symbol_file(self, path: str | os.PathLike[str]) -> SymbolFile | None:
        """The symbols of a `.tsv`/`.csv` relation (its rank and its cells,
        row by row) or of a `.txt` text (rank 2: each token after its
        position), for the program's domain table; None for a file of
        another format or holding numbers, one outside the base directory's
        tree (only the run may read where `allow_paths` permits) and one
        that cannot be read now (the run reports why)."""
        target = self.resolve(path)
        inside = target.resolve().is_relative_to(self.base_dir.resolve())
        if not inside or not target.is_file():  # a pipe or a device is never read here
            return None
        ext = target.suffix.lower()
        try:
            if ext in _DELIMITERS:
                table = self._table(target, ext)
                if not table.rows or formats.classify(table, "auto")[0] != "relation":
                    return None
                formats.check_symbols(table)
                return len(table.rows[0]), [cell for row in table.rows for cell in row]
            if ext == ".txt":
                tokens = self._tokens(target)
                return 2, [c for position, token in enumerate(tokens) for c in (position, token)]
        except FuseError:
            return None
        return None

    def scan(self, path: str | os.PathLike[str], *, kind: Kind = "auto") -> None:
        """Adds the symbols of a symbol source (relation, text, symbol
        records) to its table without building a tensor; other formats are
        only checked to exist."""
        target = self.resolve(path)
        ext = _extension(target, SOURCE_FORMATS, "source")
        if ext in _DELIMITERS:
            table = self._table(target, ext)
            if formats.classify(table, kind)[0] == "relation":
                entities = self.symbols.table(ENTITY)
                _intern_relation(table, [entities] * len(table.rows[0] if table.rows else ()))
        elif ext == ".txt":
            _intern_tokens(str(target), self._tokens(target), self.symbols.table(TOKEN))
        elif ext == ".jsonl":
            parsed = self._jsonl(target)
            if isinstance(parsed, Records):
                _intern_records(str(target), parsed, self.symbols)
        else:
            _check_file(target)  # a missing file is reported now, not after other scans

    def load(
        self,
        name: str | None,
        path: str | os.PathLike[str],
        *,
        dims: Sequence[str] | None = None,
        kind: Kind = "auto",
        tables: Sequence[SymbolTable | None] | None = None,
    ) -> np.ndarray:
        """Tensor `name`'s value, read from `path`. `name` picks an array in a several-array
        `.npz` and names the tensor in errors; `dims` (the tensor's index
        names) fixes the rank (size-1 axes are dropped to fit, so a
        one-column CSV reads as a vector) and records which index names
        range over a symbol table, for sinks. `tables` number a relation's
        or a text's symbols per dimension instead of the shared tables."""
        target = self.resolve(path)
        ext = _extension(target, SOURCE_FORMATS, "source")
        shown = str(target)
        if ext == ".npy":
            array = _load_npy(target, self.mmap)
        elif ext == ".npz":
            array = _load_npz(target, name)
        elif ext in _DELIMITERS:
            table = self._table(target, ext)
            reading, start = formats.classify(table, kind)
            if reading == "relation":
                return self._relation(table, dims, name, tables)
            array = formats.numeric_matrix(table, start)
        elif ext == ".txt":
            return self._text(target, dims, name, tables)
        elif ext == ".json":
            array = formats.parse_json(shown, _read_text(target))
        else:
            parsed = self._jsonl(target)
            if isinstance(parsed, Records):
                return self._records(shown, parsed, dims, name)
            array = parsed
        if array.dtype.kind == "f" and array.dtype.itemsize > 4:  # a float64 .npy/.npz
            formats.check_fp32_range(shown, array)
        return _fit_rank(shown, array, dims, name)

    def _parse(self, target: Path, ext: str, parse: Callable[[str, str], object]) -> object:
        """`parse(path, text)`, cached until the file's size or mtime changes."""
        try:
            info = target.stat()
        except OSError as error:
            raise _read_error(target, error) from None
        stamp = (info.st_mtime_ns, info.st_size)
        cached = self._parsed.get((target, ext))
        if cached is None or cached[0] != stamp:
            cached = self._parsed[(target, ext)] = (stamp, parse(str(target), _read_text(target)))
        return cached[1]

    def _table(self, target: Path, ext: str) -> Table:
        delimiter = _DELIMITERS[ext]
        return self._parse(target, ext, lambda p, t: formats.parse_table(p, t, delimiter))  # type: ignore[return-value]

    def _tokens(self, target: Path) -> list[str]:
        return self._parse(target, ".txt", lambda _, text: formats.tokenize(text))  # type: ignore[return-value]

    def _jsonl(self, target: Path) -> np.ndarray | Records:
        return self._parse(target, ".jsonl", formats.parse_jsonl)  # type: ignore[return-value]

    def _relation(
        self,
        table: Table,
        dims: Sequence[str] | None,
        name: str | None,
        tables: Sequence[SymbolTable | None] | None = None,
    ) -> np.ndarray:
        rank = len(table.rows[0]) if table.rows else None
        if rank is None:
            if dims is None:
                raise file_error(
                    table.path,
                    "is empty: give the tensor's indices to read it as an empty relation",
                )
            rank = len(dims)
        if dims is not None and len(dims) != rank:
            raise file_error(
                table.path,
                f"holds a relation of {rank} columns, but {_who(name)} has {len(dims)} indices",
            )
        columns = list(tables) if tables is not None else [self.symbols.table(ENTITY)] * rank
        if len(columns) != rank or any(t is None for t in columns):
            raise file_error(
                table.path,
                f"holds a relation of {rank} columns of symbols, but the program numbered "
                f"{len(columns)} columns of symbols when it was checked (did the file change?)",
            )
        positions = _intern_relation(table, columns)  # type: ignore[arg-type]
        for dim, column in zip(dims or (), columns, strict=False):
            self.symbols.bind(dim, column.domain)  # type: ignore[union-attr]
        return _tensor(table.path, positions, columns, [0] * rank)

    def _text(
        self,
        target: Path,
        dims: Sequence[str] | None,
        name: str | None,
        tables: Sequence[SymbolTable | None] | None = None,
    ) -> np.ndarray:
        if dims is not None and len(dims) != 2:
            raise file_error(
                str(target),
                f"a .txt source is a position x token matrix, but "
                f"{_who(name)} has {len(dims)} indices",
            )
        vocabulary = tables[1] if tables is not None else self.symbols.table(TOKEN)
        assert vocabulary is not None
        tokens = self._tokens(target)
        ids = _intern_tokens(str(target), tokens, vocabulary)
        positions = [[p, token] for p, token in enumerate(ids)]
        if dims is not None:
            self.symbols.bind(dims[1], vocabulary.domain)
        return _tensor(str(target), positions, [None, vocabulary], [len(tokens), 0])

    def _records(
        self, shown: str, records: Records, dims: Sequence[str] | None, name: str | None
    ) -> np.ndarray:
        rank = len(records.symbolic)
        if dims is not None and len(dims) != rank:
            raise file_error(
                shown, f"records have {rank} indices, but {_who(name)} has {len(dims)}"
            )
        tables = _intern_records(shown, records, self.symbols)
        for dim, table in zip(dims or (), tables, strict=False):
            if table is not None:
                self.symbols.bind(dim, table.domain)
        entries: dict[tuple[int, ...], float] = {}  # a later record replaces an earlier one
        for indices, value in records.entries:
            at = tuple(
                t.index(i) if t is not None else i  # type: ignore[arg-type]
                for t, i in zip(tables, indices, strict=True)
            )
            entries[at] = value
        sizes = [max((at[axis] + 1 for at in entries), default=0) for axis in range(rank)]
        return _tensor(shown, list(entries), tables, sizes, list(entries.values()))

    # --- sinks ----------------------------------------------------------

    def write(
        self,
        path: str | os.PathLike[str],
        array: ArrayLike,
        *,
        dims: Sequence[str] = (),
        key: str | None = None,
        tables: Sequence[SymbolTable | None] | None = None,
    ) -> Path:
        """Writes one sink and returns the path written. `dims` are the index
        names of the array's dimensions; a dimension whose index name ranges
        over a symbol table of the same size is written as symbols.
        `tables` gives the tables per dimension directly instead."""
        given = tuple(tables) if tables is not None else None
        return self.write_all([SinkSpec(os.fspath(path), array, tuple(dims), key, given)])[0]

    def write_all(self, sinks: Iterable[SinkSpec]) -> list[Path]:
        """Writes every sink; sinks naming one `.npz` share one archive, two
        sinks writing any other file are an error (before anything is written)."""
        archives: dict[Path, dict[str, np.ndarray]] = {}
        others: dict[Path, tuple[str, np.ndarray, list[SymbolTable | None]]] = {}
        for sink in sinks:
            target = self.resolve(sink.path)
            ext = _extension(target, SINK_FORMATS, "sink")
            shown = str(target)
            array = _numeric(shown, np.asarray(sink.array))
            if sink.dims and len(sink.dims) != array.ndim:
                raise file_error(
                    shown,
                    f"sink names {len(sink.dims)} indices, but its value "
                    f"has shape {list(array.shape)}",
                )
            if ext == ".npz":
                members = archives.setdefault(target, {})
                member = sink.key or target.stem
                if member in members:
                    raise file_error(shown, f"two sinks write the key {member!r}")
                members[member] = array
                continue
            if target in others:
                raise file_error(shown, "two sinks write this file")
            if sink.tables is not None:
                if len(sink.tables) != array.ndim:
                    raise file_error(
                        shown,
                        f"{len(sink.tables)} symbol tables given for a tensor of rank {array.ndim}",
                    )
                per_dim = list(sink.tables)
            elif sink.dims:
                per_dim = self.symbols.tables_for(sink.dims, array.shape)
            else:
                per_dim = [None] * array.ndim
            others[target] = (ext, array, per_dim)
        written: list[Path] = []
        for target, members in archives.items():
            atomic_write(target, lambda f, members=members: _save_npz(f, members))
            written.append(target)
        for target, (ext, array, per_dim) in others.items():
            atomic_write(target, _renderer(str(target), ext, array, per_dim))
            written.append(target)
        return written


# --- one-off helpers ---------------------------------------------------------------


def load_source(
    path: str | os.PathLike[str],
    *,
    base_dir: str | os.PathLike[str] = ".",
    name: str | None = None,
    dims: Sequence[str] | None = None,
    kind: Kind = "auto",
    symbols: SymbolRegistry | None = None,
    mmap: bool = False,
) -> np.ndarray:
    """Reads one source (see `IOContext.load`); pass a shared `symbols` when
    several symbol files must agree, and scan them all first."""
    context = IOContext(base_dir, symbols, mmap=mmap)
    context.scan(path, kind=kind)
    return context.load(name, path, dims=dims, kind=kind)


def write_sink(
    path: str | os.PathLike[str],
    array: ArrayLike,
    dims: Sequence[str] = (),
    symbols: SymbolRegistry | None = None,
    *,
    base_dir: str | os.PathLike[str] = ".",
    key: str | None = None,
) -> Path:
    """Writes one sink (see `IOContext.write`)."""
    return IOContext(base_dir, symbols).write(path, array, dims=dims, key=key)


def atomic_write(target: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Calls `write` on a temporary file beside `target`, then renames it over
    `target`: readers see the old file or the whole new one, never half of
    one, and a failure leaves `target` untouched and no temporary file.
    Temporaries of `target` that an interrupted earlier write left (a
    killed process cannot clean up) are removed first, once older than
    `STALE_TEMPORARY_SECONDS` so a concurrent writer's is left alone."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(target)
        mode = target.stat().st_mode & 0o7777 if target.exists() else _FILE_MODE
        fd, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as error:
        raise file_error(str(target), f"cannot write: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise file_error(str(target), f"cannot write: {error.strerror or error}") from None
        raise


# A sink write takes well under this; an older temporary is a leftover.
STALE_TEMPORARY_SECONDS = 60.0


def _remove_stale_temporaries(target: Path) -> None:
    """Removes `atomic_write`'s leftover temporaries of `target`."""
    cutoff = time.time() - STALE_TEMPORARY_SECONDS
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if leftover.is_file() and leftover.stat().st_mtime < cutoff:
                leftover.unlink()


# --- internals ---------------------------------------------------------------------


def _who(name: str | None) -> str:
    return f"tensor {name}" if name else "the tensor"


def _extension(target: Path, known: Sequence[str], role: str) -> str:
    ext = target.suffix.lower()
    if ext not in known:
        raise file_error(
            str(target),
            f"unknown {role} format {ext or '(no extension)'!r}; known: {' '.join(known)}",
        )
    return ext


def _read_error(target: Path, error: OSError) -> FuseError:
    if isinstance(error, FileNotFoundError):
        return file_error(str(target), "no such file")
    if isinstance(error, IsADirectoryError):
        return file_error(str(target), "is a directory, not a file")
    return file_error(str(target), f"cannot read: {error.strerror or error}")


def _read_bytes(target: Path, limit: int = -1) -> bytes:
    """The file's bytes (the first `limit` only, when given)."""
    try:
        with target.open("rb") as stream:
            return stream.read(limit)
    except OSError as error:
        raise _read_error(target, error) from None


def _check_file(target: Path) -> None:
    """Raises what reading `target` would for a missing file or a directory."""
    try:
        if stat.S_ISDIR(target.stat().st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    except OSError as error:
        raise _read_error(target, error) from None


def _read_text(target: Path) -> str:
    data = _read_bytes(target)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise file_error(str(target), "is not UTF-8 text", line) from None


def _magic(target: Path, expected: bytes, what: str) -> None:
    """Checks the file's first bytes: NumPy would try to unpickle anything
    that is neither .npy nor .npz, and report that confusingly."""
    if _read_bytes(target, len(expected)) != expected:
        raise file_error(str(target), f"is not a {what}")


def _numeric(shown: str, array: np.ndarray, where: str = "") -> np.ndarray:
    if array.dtype.kind not in "biuf":
        raise file_error(
            shown,
            f"{where}holds dtype {array.dtype}; tensors are numeric (bool, int, uint or float)",
        )
    return array


def _refusal(shown: str, error: Exception) -> FuseError:
    if "pickle" in str(error).lower() or "object arrays" in str(error).lower():
        return file_error(
            shown,
            "holds pickled Python objects, which Fuse never loads (save plain numeric arrays)",
        )
    return file_error(shown, f"is not a valid NumPy file: {error}")


def _load_npy(target: Path, mmap: bool) -> np.ndarray:
    """One open: the magic bytes checked, then the array read from the same
    stream (`np.load` would open the file again)."""
    try:
        with target.open("rb") as stream:
            if stream.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                raise file_error(str(target), "is not a .npy file (bad magic bytes)")
            if mmap:
                array = np.load(target, mmap_mode="r", allow_pickle=False)
            else:
                array = _read_plain_npy(stream)
                if array is None:
                    stream.seek(0)
                    array = np.lib.format.read_array(stream, allow_pickle=False)
    except (ValueError, EOFError) as error:
        raise _refusal(str(target), error) from None
    except OSError as error:
        raise _read_error(target, error) from None
    return _numeric(str(target), array)


# The header NumPy writes for a numeric array in format 1.0. Reading it
# with a pattern rather than `ast.literal_eval` (what NumPy's reader does)
# halves the time to read a small array; any other header goes to NumPy.
_PLAIN_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|=]?[biuf]\d+)', 'fortran_order': (False|True), "
    rb"'shape': \(((?:\d+, ?)*\d*)\), \} *\n"
)


def _read_plain_npy(stream: IO[bytes]) -> np.ndarray | None:
    """The array after the magic bytes of `stream`, if its header is one
    `_PLAIN_NPY_HEADER` matches; None (the stream partly read) otherwise."""
    version = stream.read(2)
    if version != b"\x01\x00":
        return None
    length = int.from_bytes(stream.read(2), "little")
    header = _PLAIN_NPY_HEADER.fullmatch(stream.read(length))
    if header is None:
        return None
    dtype = np.dtype(header[1].decode())
    shape = tuple(int(size) for size in header[3].split(b",") if size.strip())
    data = bytearray(math.prod(shape) * dtype.itemsize)  # writable, unlike bytes
    if stream.readinto(data) != len(data):
        raise EOFError("the file ends before its array does")
    order = "F" if header[2] == b"True" else "C"
    return np.frombuffer(data, dtype=dtype).reshape(shape, order=order)


def _load_npz(target: Path, name: str | None) -> np.ndarray:
    shown = str(target)
    _magic(target, _ZIP_MAGIC, ".npz archive (not a zip file)")
    try:
        with np.load(target, allow_pickle=False) as archive:
            keys = list(archive.files)
            if len(keys) == 1:
                key = keys[0]
            elif name is not None and name in keys:
                key = name
            elif not keys:
                raise file_error(shown, "is an empty archive")
            else:
                wanted = f"no array named {name!r}" if name else "several arrays"
                raise file_error(shown, f"has {wanted}; its keys: {', '.join(keys)}")
            array = archive[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise _refusal(shown, error) from None
    return _numeric(shown, array, f"key {key!r} ")


def _save_npz(stream: IO[bytes], members: dict[str, np.ndarray]) -> None:
    """`np.savez` without its keyword clash (a key named `file`) and never pickling."""
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in members.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


@contextlib.contextmanager
def _located_at(statement: Diagnostic | None) -> Iterator[None]:
    """Gives the unlocated diagnostics of a `FuseError` raised inside the
    place of `statement` (the source statement that names the file)."""
    try:
        yield
    except FuseError as error:
        if statement is None or all(d.span is not None for d in error.diagnostics):
            raise
        raise FuseError(
            d if d.span is not None else dataclasses.replace(statement, message=d.message)
            for d in error.diagnostics
        ) from None


def _fit_rank(
    shown: str, array: np.ndarray, dims: Sequence[str] | None, name: str | None
) -> np.ndarray:
    """Drops leading size-1 axes until the array has the tensor's rank."""
    if dims is None or array.ndim == len(dims):
        return array
    fitted = array
    while fitted.ndim > len(dims) and 1 in fitted.shape:
        fitted = fitted.squeeze(axis=fitted.shape.index(1))
    if fitted.ndim != len(dims):
        raise file_error(
            shown,
            f"holds an array of shape {list(array.shape)}, but "
            f"{_who(name)} has {len(dims)} indices",
        )
    return fitted


def _check_dense(shown: str, sizes: Sequence[int]) -> None:
    if int(np.prod(sizes, dtype=np.float64)) > _DENSE_LIMIT:
        raise file_error(shown, f"a dense tensor of shape {list(sizes)} is too large")


def _tensor(
    shown: str,
    positions: Sequence[Sequence[int]],
    tables: Sequence[SymbolTable | None],
    sizes: Sequence[int],
    values: Sequence[float] | None = None,
) -> np.ndarray:
    """A float32 tensor with `values` (ones by default) at distinct
    `positions` and zeros elsewhere. A dimension over a table has the
    table's size, and the table is frozen: that size is now fixed."""
    for table in tables:
        if table is not None:
            table.freeze()
    shape = [len(t) if t is not None else s for t, s in zip(tables, sizes, strict=True)]
    _check_dense(shown, shape)
    array = np.zeros(shape, dtype=np.float32)
    if positions:
        at = tuple(np.array(positions, dtype=np.int64).reshape(len(positions), -1).T)
        array[at] = 1.0 if values is None else formats.fp32_array(shown, values)
    return array


def _intern(table: SymbolTable, symbol: str, error: Callable[[str], FuseError]) -> int:
    """`table.intern`, reporting a symbol that arrives too late at its file."""
    if table.frozen and symbol not in table:
        raise error(
            f"symbol {symbol!r} is new to the {table.domain!r} table after {table.frozen_because}"
        )
    return table.intern(symbol)


def _intern_relation(table: Table, columns: Sequence[SymbolTable]) -> list[list[int]]:
    """Each row's cells as positions in their column's table."""
    formats.check_symbols(table)
    return [
        [
            _intern(columns[c], cell, lambda m, r=r, c=c: table.error(m, r, c))
            for c, cell in enumerate(row)
        ]
        for r, row in enumerate(table.rows)
    ]


def _intern_tokens(shown: str, tokens: list[str], vocabulary: SymbolTable) -> list[int]:
    return [_intern(vocabulary, token, lambda m: file_error(shown, m)) for token in tokens]


def _intern_records(
    shown: str, records: Records, symbols: SymbolRegistry
) -> list[SymbolTable | None]:
    domain = TOKEN if records.style == "topk" else ENTITY
    tables = [symbols.table(domain) if s else None for s in records.symbolic]
    for (indices, _), line in zip(records.entries, records.lines, strict=True):
        for table, index in zip(tables, indices, strict=True):
            if table is not None:
                _intern(table, str(index), lambda m, line=line: file_error(shown, m, line))
    return tables


def _renderer(
    shown: str, ext: str, array: np.ndarray, tables: list[SymbolTable | None]
) -> Callable[[IO[bytes]], None]:
    """Renders the sink's content before the file is opened, so a rendering
    error writes nothing."""
    if ext == ".npy":
        return lambda stream: np.save(stream, array, allow_pickle=False)
    if ext in _DELIMITERS:
        if array.ndim > 0 and all(t is not None for t in tables):
            text = formats.render_relation(shown, array, tables, _DELIMITERS[ext])  # type: ignore[arg-type]
        else:
            text = formats.render_numeric_table(shown, array, _DELIMITERS[ext])
    elif ext == ".json":
        text = formats.render_json(array)
    elif ext == ".jsonl":
        if formats.is_vocabulary_matrix(array, tables):
            text = formats.render_topk(array, tables[1])  # type: ignore[arg-type]
        elif any(t is not None for t in tables):
            text = formats.render_jsonl_records(array, tables)
        else:
            text = formats.render_jsonl_rows(array)
    elif formats.is_vocabulary_matrix(array, tables):  # .txt
        text = formats.render_text(array, tables[1])  # type: ignore[arg-type]
    else:
        raise file_error(
            shown,
            "a .txt sink needs a position x token tensor whose last index "
            "ranges over the text vocabulary",
        )
    data = text.encode("utf-8")
    return lambda stream: stream.write(data)  # type: ignore[return-value]


SourceLoader = IOContext
"""The name `fuse.runtime.runner` imports."""
