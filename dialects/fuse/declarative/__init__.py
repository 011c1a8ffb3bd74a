"""The declarative level of the `fuse` dialect: its statements
(`statements.py`) and the expressions of rule bodies (`expressions.py`).

A `fuse.program` is an order-free set of statements, exactly as written:
one `fuse.tensor` declaration per tensor, one `fuse.rule` per equation,
`fuse.sink` / `fuse.export` for outputs and `fuse.query` for queries. Rule
bodies compute the right-hand side as indexed expressions
(`!fuse.expr<i, k>`): tensors are loaded by symbol and combined by index
name, so no order of evaluation is implied.

```mlir
fuse.program {
  fuse.tensor @Edge[x, y] input boolean : tensor<?x?xf32>
  fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
  fuse.rule @Path[x, y] sum {
    %0 = fuse.load @Edge[x, y] : !fuse.expr<x, y>
    fuse.yield %0 : !fuse.expr<x, y>
  }
  fuse.export @Path
}
```
"""

from .expressions import (
    CONCAT_PART,
    ArithFunction,
    ArithOp,
    CallOp,
    LiteralOp,
    LoadOp,
    NegateOp,
    ProjectOp,
    concat_part,
    ordered_union,
    part_of,
)
from .statements import (
    ExportOp,
    FactsOp,
    ProgramOp,
    QueryOp,
    RuleOp,
    SinkOp,
    TensorOp,
    YieldOp,
    programs,
)

__all__ = [
    "CONCAT_PART",
    "ArithFunction",
    "ArithOp",
    "CallOp",
    "ExportOp",
    "FactsOp",
    "LiteralOp",
    "LoadOp",
    "NegateOp",
    "ProgramOp",
    "ProjectOp",
    "QueryOp",
    "RuleOp",
    "SinkOp",
    "TensorOp",
    "YieldOp",
    "concat_part",
    "ordered_union",
    "part_of",
    "programs",
]
