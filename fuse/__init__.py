"""Fuse: a compiler for tensor logic.

```python
from fuse import Program, ExecutionConfig
runner = Program.from_file("examples/attention/attention.fuse").compile(backend="numpy")
print(runner.run())
```
"""

from fuse.config import ExecutionConfig
from fuse.errors import FuseError
from fuse.program import Program

__all__ = ["ExecutionConfig", "FuseError", "Program"]
