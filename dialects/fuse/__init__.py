"""The `fuse` dialect: tensor logic at two levels.

* declarative (`declarative.py`): a `fuse.program` of tensor declarations,
  one rule per equation, sinks, exports and queries; order-free, tensors by
  symbol.
* dataflow: SSA tensors inside `func.func @main`, one module per op family:
  `einsum.py` (join and projection), `elementwise.py` (arithmetic, `case`,
  functions, normalization), `constants.py` (literal and index-built
  tensors), `structural.py` (take, gather, concat, topk), `sampling.py`,
  `index_arithmetic.py` (`fuse.window`/`fuse.place`), `window.py`
  (convolution and pooling), `fixpoint.py` (recursion) and `scan.py`
  (recurrences along one index as loops). `subscripts.py` checks the einsum
  subscripts that align their operands.

This package is the import point for the ops; helpers come from their
modules (`fuse.dialects.fuse.subscripts.parse_subscripts`).
"""

from xdsl.ir import Dialect

from .attributes import ExprType, IndexListAttr
from .constants import ConstantOp, IndexFnOp
from .declarative import (
    ArithOp,
    CallOp,
    ExportOp,
    FactsOp,
    LiteralOp,
    LoadOp,
    NegateOp,
    ProgramOp,
    ProjectOp,
    QueryOp,
    RuleOp,
    SinkOp,
    TensorOp,
    YieldOp,
)
from .einsum import EinsumOp
from .elementwise import BinaryOp, NormalizeOp, SelectOp, UnaryOp
from .fixpoint import FixpointOp
from .index_arithmetic import PlaceOp, WindowOp
from .sampling import SampleOp
from .scan import ScanOp
from .structural import ConcatOp, GatherOp, TakeOp, TopKOp
from .window import ConvOp, PoolKindAttr, PoolOp

Fuse = Dialect(
    "fuse",
    [
        ProgramOp,
        TensorOp,
        RuleOp,
        SinkOp,
        ExportOp,
        FactsOp,
        QueryOp,
        LoadOp,
        LiteralOp,
        ArithOp,
        NegateOp,
        ProjectOp,
        CallOp,
        YieldOp,
        EinsumOp,
        BinaryOp,
        SelectOp,
        UnaryOp,
        NormalizeOp,
        ConstantOp,
        IndexFnOp,
        TakeOp,
        ConcatOp,
        TopKOp,
        SampleOp,
        GatherOp,
        WindowOp,
        PlaceOp,
        FixpointOp,
        ConvOp,
        PoolOp,
        ScanOp,
    ],
    [IndexListAttr, ExprType, PoolKindAttr],
)
