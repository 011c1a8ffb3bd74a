"""`%load_ext fuse`: the `%%fuse` cell magic and rich displays for notebooks.

```
%%fuse --backend numpy
Y[i] = relu(W[i, j] X[j])
export Y
```

runs the cell as a Fuse program. Notebook variables named like the
program's runtime inputs (`W`, `X`) are its inputs; each export becomes a
notebook variable of its name (or, with `--out VAR`, one dict `VAR` of
them all); query answers are printed by name, as `fuse run` prints them.
An error in the program is shown located, without a traceback.
"""

from __future__ import annotations

import argparse
import html
import shlex
from typing import Any

from fuse.errors import FuseError


def highlighted_html(text: str) -> str:
    """`text` as HTML highlighted by the Fuse Pygments lexer (inline styles,
    so it needs no stylesheet)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter

    from fuse.highlight import FuseLexer

    return highlight(text, FuseLexer(), HtmlFormatter(noclasses=True, nowrap=False))


def runner_html(runner: Any) -> str:
    """A Runner in a notebook: backend, inputs, then its program."""
    inputs = ", ".join(html.escape(d.name) for d in runner.declarations) or "none"
    heading = (
        f"<p><b>Fuse runner</b> on <code>{html.escape(runner.backend_name)}</code>; "
        f"inputs and sources: {inputs}</p>"
    )
    return heading + highlighted_html(runner.program.text)


def _arguments(line: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="%%fuse", add_help=False, exit_on_error=False)
    parser.add_argument("--backend", default="numpy", choices=("numpy", "torch", "jax", "xla"))
    parser.add_argument("--out", metavar="VAR")
    try:
        return parser.parse_args(shlex.split(line))
    except (argparse.ArgumentError, SystemExit) as error:
        raise FuseError(f"%%fuse {line}: {error}; usage: {parser.format_usage()}") from None


def fuse_cell(line: str, cell: str, namespace: dict[str, Any]) -> str:
    """Runs `cell` with inputs from `namespace` and puts the exports back;
    returns the printed query answers."""
    from fuse.program import Program
    from fuse.runtime.answers import format_answer, query_outputs
    from fuse.runtime.runner import to_host

    arguments = _arguments(line)
    runner = Program(cell, "<cell>").compile(backend=arguments.backend)
    inputs = {
        d.name: namespace[d.name]
        for d in runner.declarations
        if d.source is None and d.name in namespace
    }
    exports = runner.run(inputs)
    answers = query_outputs(runner.program.ast, exports)
    answered = {name for _, name in answers}
    values = {name: to_host(v) for name, v in exports.items() if name not in answered}
    if arguments.out:
        namespace[arguments.out] = values
    else:
        namespace.update(values)
    domains = runner.program.ast.domains
    return "\n".join(format_answer(q, to_host(exports[n]), domains) for q, n in answers)


def load_ipython_extension(ipython: Any) -> None:
    from IPython.core.error import UsageError

    def fuse(line: str, cell: str) -> None:
        try:
            printed = fuse_cell(line, cell, ipython.user_ns)
        except FuseError as error:
            raise UsageError(error.render()) from None
        if printed:
            print(printed)

    ipython.register_magic_function(fuse, magic_kind="cell", magic_name="fuse")
