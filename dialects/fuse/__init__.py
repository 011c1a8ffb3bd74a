"""The `fuse` dialect: tensor logic at two levels.

* declarative (`declarative.py`): a `fuse.program` of tensor declarations,
  one rule per equation, sinks, exports and queries; order-free, tensors by
  symbol.
* dataflow (`dataflow.py`): SSA tensors inside `func.func @main`; einsums,
  elementwise and normalization ops, `fuse.window`/`fuse.place` for index
  arithmetic, and `fuse.fixpoint` for recursion;
* scan (`scan.py`): `fuse.scan`, recurrences along one index as loops.
"""

from xdsl.ir import Dialect

from .attributes import ExprType, IndexListAttr
from .constants import ConstantOp, IndexFnOp
from .dataflow import (
    FixpointOp,
)
from .declarative import (
    ArithOp,
    CallOp,
    ExportOp,
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
