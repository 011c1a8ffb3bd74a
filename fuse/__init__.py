"""Fuse: a compiler for tensor logic.

```python
from fuse import Program, ExecutionConfig
runner = Program.from_file("examples/attention/attention.fuse").compile(backend="numpy")
print(runner.run())
```

In IPython or Jupyter, `%load_ext fuse` adds the `%%fuse` cell magic
(fuse/repl/notebook.py). The public names are imported on first use, so tools that only need a
sub-package (`fuse-opt` importing the dialect and passes) start fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fuse.config import ExecutionConfig
    from fuse.errors import FuseError
    from fuse.program import Program
    from fuse.runtime.policies import RuntimePolicies

__all__ = ["ExecutionConfig", "FuseError", "Program", "RuntimePolicies"]

_HOMES = {
    "ExecutionConfig": "fuse.config",
    "FuseError": "fuse.errors",
    "Program": "fuse.program",
    "RuntimePolicies": "fuse.runtime.policies",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'fuse' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext fuse`: the `%%fuse` cell magic."""
    from fuse.repl.notebook import load_ipython_extension as load

    load(ipython)
