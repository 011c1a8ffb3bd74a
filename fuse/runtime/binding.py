"""Binding a run's inputs: runtime values, weights and file sources.

`RunnerInputs` is the part of `fuse.runtime.runner.Runner` that turns what a
caller gives (`run(inputs=...)`, `input_shapes=`, the policies' weights) and
what the program reads (file sources, facts) into the fp32 arrays and shapes
a plan is compiled for, and that numbers the symbols of source files with
the program's domains. It holds no state of its own: the runner sets the
attributes declared below in its `__post_init__`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from fuse.config import ExecutionConfig
from fuse.errors import FuseError
from fuse.frontend import ast
from fuse.lowering.backend import Backend
from fuse.runtime.declarations import TensorDeclaration
from fuse.runtime.inputs import as_float32, checked_input, defensive_copy
from fuse.runtime.io import IOContext, SourceSpec
from fuse.runtime.policies import Weights
from fuse.runtime.symbols import SymbolTable


class RunnerInputs:
    """The inputs of a program's runs (a mixin of `Runner`)."""

    program: Any  # fuse.program.Program
    backend: Backend
    config: ExecutionConfig
    io: IOContext
    # The tensors a run binds: runtime inputs, file sources and facts.
    declarations: list[TensorDeclaration]
    weights: Weights
    input_shapes: Mapping[str, Sequence[int]] | None
    # Relations given by facts, by name and form, built on first use: the
    # facts are part of the program, the same on every run.
    facts_values: dict[tuple[str, bool], Any]

    def bind_inputs(
        self, inputs: Mapping[str, Any] | None, *, missing_ok: bool = False
    ) -> dict[str, np.ndarray]:
        """Every input and source as an fp32 array: runtime inputs override
        the policies' weights, which override file sources. With
        `missing_ok`, a runtime input not given is left out rather than an
        error (the plan for these shapes may not need it)."""
        inputs = dict(inputs or {})
        known = {d.name for d in self.declarations}
        unknown = sorted(set(inputs) - known)
        if unknown:
            raise FuseError(
                f"unknown input '{unknown[0]}': the program's inputs are "
                f"{', '.join(sorted(known)) or 'none'}"
            )
        # With every declaration given at run time (the names are known and
        # distinct, so counting them suffices) there is nothing to load, and
        # skipping the loader's bookkeeping saves about 1 us a run.
        stored = (
            self._stored_values(inputs, sparse_facts=self.backend.takes_sparse_relations)
            if len(inputs) < len(self.declarations)
            else {}
        )
        prepare = getattr(self.backend, "prepare_input", as_float32)
        if not self.config.zero_copy:
            inputs = {name: defensive_copy(value) for name, value in inputs.items()}
        bound: dict[str, np.ndarray] = {}
        for declaration in self.declarations:
            if declaration.name in inputs:
                value = checked_input(declaration.name, inputs[declaration.name])
                if sp.issparse(value) and not self.backend.takes_sparse_relations:
                    value = value.toarray()
                array = prepare(value)
            elif declaration.name in stored:
                array = stored[declaration.name]
            elif missing_ok:
                continue
            else:
                raise self._missing_input(declaration.name)
            if array.ndim != declaration.rank:
                message = (
                    f"input '{declaration.name}' has rank {array.ndim} "
                    f"(shape {tuple(array.shape)}), but the program uses it with rank "
                    f"{declaration.rank}"
                )
                raise FuseError([self.program.source.diagnostic(message, declaration.span)])
            bound[declaration.name] = array
        return bound

    def load_sources(
        self, overridden: Collection[str], *, require_all: bool = True
    ) -> dict[str, np.ndarray]:
        """Every weight and file source not `overridden` by a runtime input.
        With `require_all`, a runtime input missing from `overridden` is an
        error."""
        if require_all:
            for declaration in self.declarations:
                if (
                    declaration.input
                    and declaration.name not in overridden
                    and declaration.name not in self.weights.supplied
                ):
                    raise self._missing_input(declaration.name)
        return self._stored_values(overridden)

    def _stored_values(
        self, overridden: Collection[str], *, sparse_facts: bool = False
    ) -> dict[str, Any]:
        """fp32 values of the inputs not `overridden`: from the policies
        (weight store, dequantized, adapted) where they supply one, else from
        the source file or the program's facts. Sources are read in one pass
        so relation files share symbol tables. With `sparse_facts`, a binary
        relation given by facts is CSR (a relation of 100,000 facts over
        4,096 people would be 16 million dense elements, which the NumPy
        backend scans for their density on every run)."""
        supplied = self.weights.supplied
        loaded = self.io.load_all(
            self._source_spec(d)
            for d in self.declarations
            if d.source is not None and d.name not in overridden and d.name not in supplied
        )
        values = {name: np.asarray(array, dtype=np.float32) for name, array in loaded.items()}
        values.update(
            (d.name, self._facts_value(d, sparse_facts))
            for d in self.declarations
            if d.facts is not None and d.name not in overridden and d.name not in supplied
        )
        values.update((n, self.weights.value(n)) for n in supplied if n not in overridden)
        return values

    def _facts_value(self, declaration: TensorDeclaration, sparse: bool) -> Any:
        """The relation `declaration`'s facts give, built once: CSR where
        `sparse` and it is binary, else dense."""
        facts = declaration.facts
        assert facts is not None
        key = (declaration.name, sparse and len(facts.shape) == 2)
        value = self.facts_values.get(key)
        if value is None:
            value = self.facts_values[key] = _sparse(facts) if key[1] else facts.dense()
        return value

    def _read_source(self, name: str) -> tuple[np.ndarray, str] | None:
        """Tensor `name`'s source file, read for the policies, and its path."""
        for declaration in self.declarations:
            if declaration.name == name and declaration.source is not None:
                spec = self._source_spec(declaration)
                return self.io.load_all([spec])[name], str(self.io.resolve(declaration.source))
        return None

    def _source_spec(self, declaration: TensorDeclaration) -> SourceSpec:
        assert declaration.source is not None
        return SourceSpec(
            declaration.name,
            declaration.source,
            dim_keys(declaration.name, declaration.rank),
            statement=self.program.source.diagnostic("", declaration.span),
            tables=self._domain_tables(declaration),
        )

    def _domain_tables(
        self, declaration: TensorDeclaration
    ) -> tuple[SymbolTable | None, ...] | None:
        """The tables of the program's domains that number a symbol file's
        dimensions (None at integer positions), if the front end read it
        and every dimension holding symbols has one."""
        table_of = self.program.ast.domains
        if table_of is None or declaration.name not in table_of.symbol_sources:
            return None
        names = self._program_domains()
        tables = []
        for k in range(declaration.rank):
            name = names.get((declaration.name, k))
            if name is None and table_of.domain(declaration.name, k).symbols:
                return None  # symbols beside integers: the loader numbers them
            tables.append(self.io.symbols.table(name) if name is not None else None)
        return tuple(tables)

    def known_shapes(self, inputs: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
        """Shapes of the given inputs, of `input_shapes` and of every file
        source, for compiling without running (`fuse compile`); other inputs
        stay dynamic."""
        declared = self.checked_shapes(self.input_shapes)
        sources = self.load_sources({*declared, *inputs}, require_all=False)
        given = {name: np.shape(value) for name, value in {**sources, **inputs}.items()}
        facts = {d.name: d.facts.shape for d in self.declarations if d.facts is not None}
        return {**facts, **declared, **given}

    def checked_shapes(
        self, shapes: Mapping[str, Sequence[int]] | None
    ) -> dict[str, tuple[int, ...]]:
        """`input_shapes` checked against the program: known input names,
        ranks as the program uses them, positive sizes."""
        ranks = {d.name: d.rank for d in self.declarations}
        checked = {}
        for name, shape in (shapes or {}).items():
            if name not in ranks:
                raise FuseError(
                    f"input_shapes names '{name}', which is not an input of the program "
                    f"(its inputs are {', '.join(sorted(ranks)) or 'none'})"
                )
            sizes = tuple(int(size) for size in shape)
            if len(sizes) != ranks[name]:
                raise FuseError(
                    f"input_shapes gives '{name}' the shape {sizes}, but the program uses it "
                    f"with rank {ranks[name]}"
                )
            if any(size <= 0 for size in sizes):
                raise FuseError(
                    f"input_shapes gives '{name}' the shape {sizes}: sizes must be positive"
                )
            checked[name] = sizes
        return checked

    def source_domains(self) -> dict[tuple[str, int], str]:
        """Symbol domains of source dimensions: the program's domains for
        relations given by facts and for the symbol files the front end
        read, the loader's tables for the other symbol sources."""
        domains = self._program_domains()
        for declaration in self.declarations:
            for k, key in enumerate(dim_keys(declaration.name, declaration.rank)):
                table = self.io.symbols.table_for(key)
                if table is not None and (declaration.name, k) not in domains:
                    self._refuse_mixed_numbering(declaration, k)
                    domains[(declaration.name, k)] = table.domain
        return domains

    def _refuse_mixed_numbering(self, declaration: TensorDeclaration, k: int) -> None:
        """A dimension the loader numbered (a `.jsonl` of symbol records, or
        a symbol file outside the program's tree, which the front end does
        not read) that shares a domain with the program's symbols: a join
        between them would pair unrelated symbols, so it is refused."""
        table_of, source = self.program.ast.domains, declaration.name
        if table_of is not None and table_of.domain(source, k).symbols:
            message = (
                f"source '{source}' reads symbols into position {k + 1}, which shares a domain "
                "with symbols the program numbered when it was checked (facts, or symbol files "
                "in its directory); the symbols of this file are not among them (give them as "
                "a .tsv/.csv/.txt file in the program's directory, or as facts)"
            )
            raise FuseError([self.program.source.diagnostic(message, declaration.span)])

    def _program_domains(self) -> dict[tuple[str, int], str]:
        """The dimensions of relations given by facts and of symbol files
        the front end read, each over its domain's table in the loader's
        registry (the front end's symbols, in their order), so those files
        load with the program's numbering and sinks write names."""
        table_of = self.program.ast.domains
        domains: dict[tuple[str, int], str] = {}
        if table_of is None:
            return domains
        for declaration in self.declarations:
            if declaration.facts is None and declaration.name not in table_of.symbol_sources:
                continue
            for k in range(declaration.rank):
                domain = table_of.domain(declaration.name, k)
                if not domain.symbols or domain.size != len(domain.symbols):
                    continue  # integers, or integers beside symbols: written as positions
                name = f"domain:{table_of.key(declaration.name, k)}"
                table = self.io.symbols.table(name)
                source = declaration.source or ""
                table.vocabulary |= k == 1 and source.lower().endswith(".txt")
                if not len(table):
                    for symbol in domain.symbols:
                        table.intern(symbol)
                    table.freeze(
                        "the program was checked, which numbered the symbols of its files "
                        "(did the file change since?)"
                    )
                domains[(declaration.name, k)] = name
        return domains

    def _missing_input(self, name: str) -> FuseError:
        """Located at the input's first access: a mistyped name shows there."""
        span = next((d.span for d in self.declarations if d.name == name), None)
        message = f"missing runtime input '{name}': pass it in run(inputs=...)"
        return FuseError([self.program.source.diagnostic(message, span)])


def dim_keys(tensor: str, rank: int) -> tuple[str, ...]:
    """Loader index names unique to each source dimension, so the symbol
    registry records domains per (tensor, dimension)."""
    return tuple(f"{tensor}#{k}" for k in range(rank))


def _sparse(facts: ast.FactTable) -> sp.csr_array:
    rows, columns = facts.coordinates.T
    return sp.csr_array((facts.values, (rows, columns)), facts.shape, dtype=np.float32)
