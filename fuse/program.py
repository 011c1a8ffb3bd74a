"""The Python compile API: `Program` -> `Runner`.

```python
from fuse import Program, ExecutionConfig
prog = Program.from_file("examples/attention.fuse")
runner = prog.compile(backend="numpy", config=ExecutionConfig())
out = runner.run(inputs={"X": x})        # {exported name: array}
print(runner.explain())
```

IR is built in memory and never re-parsed from text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp

from fuse.config import ExecutionConfig
from fuse.errors import Diagnostic, SourceText
from fuse.frontend import ast, load, read_source
from fuse.lowering.ir_builder import build_module
from fuse.runtime.policies import RuntimePolicies


class Program:
    """A parsed and checked Fuse program."""

    def __init__(
        self, text: str, file: str = "<string>", base_dir: str | os.PathLike | None = None
    ):
        from fuse.runtime.io import IOContext

        self.text = text
        self.file = file
        self.source = SourceText(text, file)
        self.base_dir = (
            Path(base_dir)
            if base_dir is not None
            else (Path(file).resolve().parent if file != "<string>" else Path.cwd())
        )
        # Symbol files are read into the program's domains now, from its own
        # directory tree only (fuse.runtime.confinement).
        self.ast: ast.Program = load(text, file, IOContext(self.base_dir).symbol_file)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        """Located warnings about a program that runs but likely not as
        meant (a lowercase index variable that is also a symbol)."""
        return self.ast.warnings

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> Program:
        return cls(read_source(path), str(path))

    def _repr_html_(self) -> str:
        """In a notebook: the program, highlighted."""
        from fuse.repl.notebook import highlighted_html

        return highlighted_html(self.text)

    def declarative_module(self) -> ModuleOp:
        """The program at the declarative level (a fresh module each call)."""
        return build_module(self.ast, self.source)

    def compile(
        self,
        backend: str = "numpy",
        config: ExecutionConfig | None = None,
        cache_dir: str | os.PathLike | None = None,
        policies: RuntimePolicies | None = None,
        allow_paths: Iterable[str | os.PathLike] = (),
        input_shapes: Mapping[str, Sequence[int]] | None = None,
    ):  # -> Runner (imported lazily: the runtime pulls in backends)
        """A runner for `backend`. `cache_dir` keeps compile artifacts on disk
        across processes; `policies` supply weights; the program's sources
        and sinks may use its own directory tree and the `allow_paths`
        directories (see docs/runtime.md). `input_shapes` gives sizes of
        runtime inputs before any run (for `fx_module`, `export`)."""
        from fuse.runtime.runner import Runner

        return Runner(
            self,
            backend,
            config or ExecutionConfig(),
            cache_dir,
            policies or RuntimePolicies(),
            tuple(allow_paths),
            input_shapes,
        )
