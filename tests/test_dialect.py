"""The `fuse` dialect from Python: every op built with its constructor
verifies, prints, and parses back to the same text in both the custom
(pretty) and the generic form; malformed ops fail verification with a
message naming the problem.

The lit suite (`lit_tests/dialect`) covers the text side; these tests cover
the constructors the IR builder and the passes use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from io import StringIO

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.ir.affine import AffineMap
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.test_value import create_ssa_value

from fuse.dialects.fuse import (
    ArithOp,
    BinaryOp,
    CallOp,
    ConcatOp,
    ConstantOp,
    ConvOp,
    EinsumOp,
    ExportOp,
    ExprType,
    FactsOp,
    FixpointOp,
    Fuse,
    GatherOp,
    IndexFnOp,
    LiteralOp,
    LoadOp,
    NegateOp,
    NormalizeOp,
    PlaceOp,
    PoolOp,
    ProgramOp,
    ProjectOp,
    QueryOp,
    RuleOp,
    SampleOp,
    ScanOp,
    SelectOp,
    SinkOp,
    TakeOp,
    TensorOp,
    TopKOp,
    UnaryOp,
    WindowOp,
    YieldOp,
)
from fuse.dialects.fuse.attributes import f32_attr, f32_dense
from fuse.dialects.fuse.declarative import programs
from fuse.dialects.fuse.window import ConvLayout
from fuse.opt import available_dialects

F32 = Float32Type()


DYN = -1  # spelled -1 here, for brevity; `tensor` maps it to xDSL's marker


def tensor(*shape: int) -> TensorType:
    return TensorType(F32, [DYNAMIC_INDEX if size == DYN else size for size in shape])


def expr(*names: str) -> ExprType:
    return ExprType(names)


def body(*ops: Operation) -> Region:
    return Region(Block(ops))


def dense(shape: Sequence[int], values: Sequence[float]) -> DenseIntOrFPElementsAttr:
    return DenseIntOrFPElementsAttr.from_list(tensor(*shape), values)


def func(name: str, arg_types: Sequence[Attribute], build: Callable[..., list[Operation]]):
    """`func.func @name` whose body is `build(*args)` (ending in a return)."""
    block = Block(arg_types=arg_types)
    ops = build(*block.args)
    block.add_ops(ops)
    results = ops[-1].operands if isinstance(ops[-1], ReturnOp) else ()
    return FuncOp(name, (arg_types, [r.type for r in results]), Region(block))


# --- IR built from constructors, one module per family --------------------------------


def program_module() -> ModuleOp:
    """fuse.program, tensor, rule, sink, export, load, yield and the
    rule-body ops literal, arith, negate, project, call."""
    a, b = LoadOp("A", ["i", "k"]), LoadOp("B", ["k", "j"])
    product = ArithOp("mul", a.result, b.result)
    projected = ProjectOp("sum", ["k"], product.result)
    matmul = RuleOp(
        "C", ["i", "j"], "sum", body(a, b, product, projected, YieldOp(projected.result))
    )

    x = LoadOp("X", ["p", "t"])
    two = LiteralOp(FloatAttr(2.0, F32), expr())
    row = LiteralOp(dense([2], [1.0, 2.0]), expr("t"))
    scaled = ArithOp("pow", x.result, two.result)
    shifted = ArithOp("sub", scaled.result, row.result)
    negated = NegateOp(shifted.result)
    soft = CallOp("softmax", [negated.result], expr("p", "t"), keywords={"axis": StringAttr("t")})
    sig = CallOp("sig", [soft.result], expr("p", "t"), keywords={"T": FloatAttr(0.5, F32)})
    mask = CallOp("causal_mask", [], expr("p", "t"), index_args=["p", "t"])
    masked = ArithOp("mul", sig.result, mask.result)
    best = ProjectOp("max", ["t"], masked.result)
    softmax_rule = RuleOp(
        "Y",
        ["p", "p'"],
        "max",
        body(
            x,
            two,
            row,
            scaled,
            shifted,
            negated,
            soft,
            sig,
            mask,
            masked,
            best,
            YieldOp(best.result),
        ),
    )
    softmax_rule.attributes["origin"] = StringAttr("line 2")

    obs = LoadOp("Obs", [0, "o"])
    mean = ProjectOp("mean", ["o"], obs.result)
    sink = SinkOp("out.npy", body(obs, mean, YieldOp(mean.result)))

    program = ProgramOp(
        [
            TensorOp("A", ["i", "k"], tensor(-1, -1), is_input=True),
            TensorOp("B", ["k", "j"], tensor(8, 3), source="b.npy"),
            TensorOp("C", ["i", "j"], tensor(-1, 3), boolean=True),
            TensorOp("X", ["p", "t"], tensor(-1, 2), is_input=True),
            TensorOp("Y", ["p", "p'"], tensor(-1, -1)),
            TensorOp("Obs", ["t", "o"], tensor(-1, -1), is_input=True),
            matmul,
            softmax_rule,
            sink,
            ExportOp("C"),
            QueryOp("C", [2, "j"]),
        ]
    )
    return ModuleOp([program])


def einsum_module() -> ModuleOp:
    def build(a: SSAValue, b: SSAValue, v: SSAValue) -> list[Operation]:
        matmul = EinsumOp("ik,kj->ij", "sum", [a, b], tensor(4, 3))
        best = EinsumOp("ik,kj->ij", "max", [a, b], tensor(4, 3))
        best.properties["path"] = ArrayAttr([ArrayAttr([IntegerAttr(0, 64), IntegerAttr(1, 64)])])
        best.properties["flops"] = IntegerAttr(96, 64)
        best.attributes["note"] = StringAttr("kept")
        mean = EinsumOp("ik,k->i", "mean", [a, v], tensor(4))
        return [matmul, best, mean, ReturnOp(matmul.result)]

    return ModuleOp([func("einsum", [tensor(4, 8), tensor(8, 3), tensor(-1)], build)])


def elementwise_module() -> ModuleOp:
    def build(x: SSAValue, b: SSAValue) -> list[Operation]:
        add = BinaryOp("add", "ij,j->ij", x, b, tensor(4, 3))
        low = BinaryOp("min", "ij,ij->ij", add.result, x, tensor(4, 3))
        pick = SelectOp("ij,ij,j->ij", low.result, x, b, tensor(4, 3))
        relu = UnaryOp("relu", pick.result)
        sig = UnaryOp("sig", relu.result, temperature=0.5)
        sig.attributes["note"] = IntegerAttr(1, 64)
        return [add, low, pick, relu, sig, ReturnOp(sig.result)]

    return ModuleOp([func("elementwise", [tensor(4, 3), tensor(3)], build)])


def normalize_module() -> ModuleOp:
    def build(x: SSAValue, m: SSAValue) -> list[Operation]:
        soft = NormalizeOp("softmax", 1, x)
        masked = NormalizeOp("softmax", 1, x, mask=m)
        norm = NormalizeOp("lnorm", 0, masked.result, eps=1e-5)
        return [soft, masked, norm, ReturnOp(norm.result)]

    return ModuleOp([func("normalize", [tensor(4, 6), tensor(4, 6)], build)])


def constant_module() -> ModuleOp:
    def build() -> list[Operation]:
        value = ConstantOp(dense([2, 2], [1.0, 2.0, 3.0, 4.0]))
        causal = IndexFnOp("causal", tensor(8, 8))
        even = IndexFnOp("even", tensor(-1))
        hot = IndexFnOp("onehot", tensor(5), position=3)
        return [value, causal, even, hot, ReturnOp(value.result)]

    return ModuleOp([func("constants", [], build)])


def structural_module() -> ModuleOp:
    def build(a: SSAValue, b: SSAValue) -> list[Operation]:
        row = TakeOp(a, 0, 3, tensor(4))
        joined = ConcatOp(1, [a, b], tensor(5, 7))
        top = TopKOp(joined.result, 2, 1)
        return [row, joined, top, ReturnOp(top.result)]

    return ModuleOp([func("structural", [tensor(5, 4), tensor(5, 3)], build)])


def index_arithmetic_module() -> ModuleOp:
    def build(image: SSAValue, features: SSAValue) -> list[Operation]:
        window = WindowOp(
            image, AffineMap.from_callable(lambda d0, d1: (d0 + d1 + 1,)), tensor(6, 3)
        )
        pooled = PlaceOp(features, AffineMap.from_callable(lambda d0: (d0 // 2,)), "max", tensor(4))
        return [window, pooled, ReturnOp(window.result, pooled.result)]

    return ModuleOp([func("index_arithmetic", [tensor(9), tensor(7)], build)])


def convolution_module() -> ModuleOp:
    def build(image: SSAValue, kernel: SSAValue) -> list[Operation]:
        layout = ConvLayout.parse("b01f,01io->fb01")
        conv = ConvOp(image, kernel, layout, [2, 1], [1, 2], tensor(4, 2, 3, 4))
        pooled = PoolOp("mean", conv.result, [1, 1, 2, 3], [1, 1, 2, 1], tensor(4, 2, 2, 2))
        return [conv, pooled, ReturnOp(pooled.result)]

    return ModuleOp([func("convolution", [tensor(2, 7, 8, 3), tensor(3, 3, 3, 4)], build)])


def sampling_module() -> ModuleOp:
    def build(q: SSAValue, x: SSAValue) -> list[Operation]:
        idx = SampleOp(q, 16, 7)
        idx.attributes["note"] = StringAttr("drawn")
        taken = GatherOp(x, 1, idx.result)
        return [idx, taken, ReturnOp(taken.result)]

    return ModuleOp([func("sampling", [tensor(100), tensor(4, 100)], build)])


def fixpoint_module() -> ModuleOp:
    square = tensor(5, 5)

    def naive(edges: SSAValue) -> list[Operation]:
        block = Block(arg_types=[square])
        step = EinsumOp("xy,yz->xz", "sum", [block.args[0], edges], square)
        closed = UnaryOp("step", step.result)
        block.add_ops([step, closed, YieldOp(closed.result)])
        fixpoint = FixpointOp("naive", ["Path"], [square], Region(block))
        fixpoint.properties["max_iters"] = IntegerAttr(100, 64)
        return [fixpoint, ReturnOp(fixpoint.results[0])]

    def semi_naive(edges: SSAValue) -> list[Operation]:
        block = Block(arg_types=[square, square])
        step = EinsumOp("xy,yz->xz", "sum", [block.args[1], edges], square)
        merged = BinaryOp("max", "xz,xz->xz", step.result, block.args[0], square)
        block.add_ops([step, merged, YieldOp(merged.result)])
        init = body(YieldOp(edges))
        fixpoint = FixpointOp("semi_naive", ["Path"], [square], Region(block), init)
        fixpoint.properties["deltas"] = ArrayAttr([StringAttr("changed")])
        fixpoint.properties["tolerance"] = FloatAttr(0.0, F32)
        return [fixpoint, ReturnOp(fixpoint.results[0])]

    return ModuleOp([func("naive", [square], naive), func("semi_naive", [square], semi_naive)])


def scan_module() -> ModuleOp:
    state = tensor(3)

    def stored(weights: SSAValue, inputs: SSAValue, x0: SSAValue) -> list[Operation]:
        block = Block(arg_types=[state, state])
        step = EinsumOp("ab,b->a", "sum", [weights, block.args[0]], state)
        added = BinaryOp("add", "a,a->a", step.result, block.args[1], state)
        block.add_ops([step, added, YieldOp(added.result)])
        scan = ScanOp(["X"], [x0], [inputs], [1], 4, Region(block), axis=1)
        return [scan, ReturnOp(scan.results[0])]

    def virtual(x0: SSAValue) -> list[Operation]:
        block = Block(arg_types=[state])
        doubled = BinaryOp("add", "a,a->a", block.args[0], block.args[0], state)
        block.add_ops([doubled, YieldOp(doubled.result)])
        scan = ScanOp(["P"], [x0], [], [], 6, Region(block), virtual=True, reverse=True)
        return [scan, ReturnOp(scan.results[0])]

    return ModuleOp(
        [
            func("stored", [tensor(3, 3), tensor(3, 4), state], stored),
            func("virtual", [state], virtual),
        ]
    )


def facts_module() -> ModuleOp:
    """A relation given by facts: its coordinate list beside its declaration."""
    coordinates = np.array([[0, 1], [1, 2]], np.int64)
    return ModuleOp(
        [
            ProgramOp(
                [
                    TensorOp("Parent", ["a", "b"], tensor(3, 3), boolean=True),
                    FactsOp("Parent", coordinates, np.array([1.0, 0.5], np.float32)),
                ]
            )
        ]
    )


def _facts(coordinates: list[list[int]], values: list[float], shape: Sequence[int]) -> ProgramOp:
    return ProgramOp(
        [
            TensorOp("R", [f"i{k}" for k in range(len(shape))], tensor(*shape)),
            FactsOp("R", np.array(coordinates, np.int64), np.array(values, np.float32)),
        ]
    )


MODULES: dict[str, Callable[[], ModuleOp]] = {
    "program": program_module,
    "facts": facts_module,
    "einsum": einsum_module,
    "elementwise": elementwise_module,
    "normalize": normalize_module,
    "constant": constant_module,
    "structural": structural_module,
    "index_arithmetic": index_arithmetic_module,
    "convolution": convolution_module,
    "sampling": sampling_module,
    "fixpoint": fixpoint_module,
    "scan": scan_module,
}


# --- round trips ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ctx() -> Context:
    """The dialects `fuse-opt` parses, so the tests read IR as it does."""
    context = Context()
    for name, factory in available_dialects().items():
        context.register_dialect(name, factory)
    return context


def render(op: Operation, *, generic: bool) -> str:
    stream = StringIO()
    Printer(stream=stream, print_generic_format=generic).print_op(op)
    return stream.getvalue()


@pytest.mark.parametrize("build", MODULES.values(), ids=MODULES.keys())
@pytest.mark.parametrize("generic", [False, True], ids=["pretty", "generic"])
def test_round_trip(ctx: Context, build: Callable[[], ModuleOp], generic: bool) -> None:
    module = build()
    module.verify()
    text = render(module, generic=generic)
    parsed = Parser(ctx, text).parse_module()
    parsed.verify()
    assert render(parsed, generic=generic) == text
    assert parsed.is_structurally_equivalent(module)
    # Each form also reads back what the other one printed.
    assert (
        render(Parser(ctx, render(parsed, generic=not generic)).parse_module(), generic=generic)
        == text
    )


def test_every_op_is_covered() -> None:
    built = {op.name for build in MODULES.values() for op in build().walk()}
    missing = sorted(op.name for op in Fuse.operations if op.name not in built)
    assert not missing, f"no round-trip test builds {missing}"


def test_pretty_syntax_is_readable() -> None:
    text = render(einsum_module(), generic=False)
    assert 'fuse.einsum "ik,kj->ij" sum (%0, %1)' in text
    assert '{note = "kept", path = [[0 : i64, 1 : i64]], flops = 96 : i64}' in text


# --- verifier negative cases ----------------------------------------------------------


def value(type_: Attribute) -> SSAValue:
    return create_ssa_value(type_)


def in_program(*ops: Operation) -> Operation:
    """Verifies `ops` where declarations can be looked up."""
    return ProgramOp([TensorOp("A", ["i", "j"], tensor(-1, -1)), *ops])


def sink_of(*ops: Operation) -> SinkOp:
    return SinkOp("out.npy", body(*ops))


def _semi_naive_without_init() -> FixpointOp:
    block = Block(arg_types=[tensor(4), tensor(4)])
    block.add_op(YieldOp(block.args[0]))
    op = FixpointOp("semi_naive", ["P"], [tensor(4)], Region(block))
    op.properties["deltas"] = ArrayAttr([StringAttr("changed")])
    return op


def _naive_with_arity(count: int) -> FixpointOp:
    block = Block(arg_types=[tensor(4)] * count)
    block.add_op(YieldOp(block.args[0]))
    return FixpointOp("naive", ["P"], [tensor(4)], Region(block))


def _sink_loading(tensor_name: str, indices: Sequence[str | int]) -> SinkOp:
    load = LoadOp(tensor_name, indices)
    return sink_of(load, YieldOp(load.result))


NEGATIVE: list[tuple[str, Callable[[], Operation], str]] = [
    (
        "facts rank",
        lambda: _facts([[0, 1]], [1.0], [3]),
        "facts of @R: coordinates of rank 2, but the relation has rank 1",
    ),
    (
        "facts values",
        lambda: _facts([[0], [1]], [1.0], [3]),
        "facts of @R: 2 coordinate rows need as many f32 values",
    ),
    (
        "facts outside",
        lambda: _facts([[0, 1], [2, 3]], [1.0, 1.0], [3, 3]),
        "facts of @R: fact 1 at [2, 3] is outside the relation's shape [3, 3]",
    ),
    (
        "facts dynamic shape",
        lambda: _facts([[0]], [1.0], [-1]),
        "facts of @R: the relation needs a static shape",
    ),
    (
        "tensor rank",
        lambda: ProgramOp([TensorOp("A", ["i", "j"], tensor(-1))]),
        "tensor @A has 2 indices but type tensor<?xf32> has rank 1",
    ),
    (
        "tensor repeated index",
        lambda: ProgramOp([TensorOp("A", ["i", "i"], tensor(-1, -1))]),
        "tensor @A must declare distinct index names",
    ),
    (
        "tensor source and input",
        lambda: ProgramOp([TensorOp("A", ["i"], tensor(-1), source="a.npy", is_input=True)]),
        "cannot be both a file source and a runtime input",
    ),
    (
        "rule on undeclared tensor",
        lambda: in_program(RuleOp("Nope", ["i"], "sum", body(YieldOp(value(expr("i")))))),
        "rule refers to undeclared tensor @Nope",
    ),
    (
        "rule rank",
        lambda: in_program(RuleOp("A", ["i"], "sum", body(YieldOp(value(expr("i")))))),
        "rule accesses @A with 1 indices, but it is declared with rank 2",
    ),
    (
        "rule projection",
        lambda: in_program(RuleOp("A", ["i", "j"], "prod", body(YieldOp(value(expr("i")))))),
        "unknown projection 'prod', expected one of sum, max, mean",
    ),
    (
        "rule without value",
        lambda: in_program(RuleOp("A", ["i", "j"], "sum", body(YieldOp()))),
        "fuse.rule body must end in fuse.yield of one value",
    ),
    (
        "sink of a non-expression",
        lambda: in_program(sink_of(YieldOp(value(F32)))),
        "the value yielded by fuse.sink must be a !fuse.expr, got f32",
    ),
    (
        "export of undeclared tensor",
        lambda: in_program(ExportOp("Nope")),
        "export of undeclared tensor @Nope",
    ),
    (
        "load of undeclared tensor",
        lambda: in_program(_sink_loading("Nope", ["i"])),
        "fuse.load refers to undeclared tensor @Nope",
    ),
    (
        "load rank",
        lambda: in_program(_sink_loading("A", ["i"])),
        "fuse.load accesses @A with 1 indices, but it is declared with rank 2",
    ),
    (
        "scalar literal with indices",
        lambda: LiteralOp(FloatAttr(1.0, F32), expr("i")),
        "a scalar fuse.literal must have type !fuse.expr<>",
    ),
    (
        "literal rank",
        lambda: LiteralOp(dense([2], [1.0, 2.0]), expr("i", "j")),
        "fuse.literal of rank 1 cannot vary over ['i', 'j']",
    ),
    (
        "arith function",
        lambda: ArithOp("mod", value(expr("i")), value(expr("i"))),
        "unknown fuse.arith function 'mod'",
    ),
    (
        "project over absent index",
        lambda: ProjectOp("sum", ["k"], value(expr("i", "j"))),
        "fuse.project over 'k', which the operand ['i', 'j'] does not vary over",
    ),
    (
        "project kind",
        lambda: ProjectOp("prod", ["i"], value(expr("i"))),
        "unknown projection 'prod'",
    ),
    (
        "call of unknown builtin",
        lambda: CallOp("frobnicate", [value(expr("i"))], expr("i")),
        "fuse.call of unknown builtin 'frobnicate'",
    ),
    (
        "call arity",
        lambda: CallOp("relu", [value(expr("i")), value(expr("i"))], expr("i")),
        "builtin 'relu' takes 1 arguments, got 2",
    ),
    (
        "call keyword",
        lambda: CallOp(
            "softmax", [value(expr("i"))], expr("i"), keywords={"temp": StringAttr("x")}
        ),
        "builtin 'softmax' has no keyword 'temp'",
    ),
    (
        "call index arity",
        lambda: CallOp("causal_mask", [], expr("i"), index_args=["i"]),
        "builtin 'causal_mask' takes 2 arguments, got 1",
    ),
    (
        "call index names on an operand builtin",
        lambda: CallOp("relu", [], expr("i"), index_args=["i"]),
        "builtin 'relu' takes operands, not index names",
    ),
    (
        "einsum rank",
        lambda: EinsumOp(
            "ikl,kj->ij", "sum", [value(tensor(4, 8)), value(tensor(8, 3))], tensor(4, 3)
        ),
        "fuse.einsum subscripts 'ikl' have rank 3, but the type tensor<4x8xf32> has rank 2",
    ),
    (
        "einsum sizes",
        lambda: EinsumOp(
            "ik,kj->ij", "sum", [value(tensor(4, 8)), value(tensor(4, 3))], tensor(4, 3)
        ),
        "fuse.einsum dimension 'k' has sizes 8 and 4",
    ),
    (
        "einsum kind",
        lambda: EinsumOp("i->i", "prod", [value(tensor(4))], tensor(4)),
        "unknown projection 'prod'",
    ),
    (
        "einsum operand count",
        lambda: EinsumOp("i->i", "sum", [value(tensor(4)), value(tensor(4))], tensor(4)),
        "fuse.einsum subscripts 'i->i' name 1 operands, but it has 2",
    ),
    (
        "einsum without arrow",
        lambda: EinsumOp("i", "sum", [value(tensor(4))], tensor(4)),
        "subscripts 'i' must contain one '->'",
    ),
    (
        "binary projects",
        lambda: BinaryOp("add", "ij,j->i", value(tensor(4, 3)), value(tensor(3)), tensor(4)),
        "fuse.binary cannot project away 'j'",
    ),
    (
        "binary function",
        lambda: BinaryOp("mod", "i,i->i", value(tensor(4)), value(tensor(4)), tensor(4)),
        "unknown binary function 'mod'",
    ),
    (
        "select operand count",
        lambda: SelectOp("i,i->i", value(tensor(4)), value(tensor(4)), value(tensor(4)), tensor(4)),
        "fuse.select subscripts 'i,i->i' name 2 operands, but it has 3",
    ),
    (
        "unary function",
        lambda: UnaryOp("softplus", value(tensor(4))),
        "unknown unary function 'softplus'",
    ),
    (
        "temperature on relu",
        lambda: UnaryOp("relu", value(tensor(4)), temperature=1.0),
        "only 'sig' takes a temperature",
    ),
    (
        "normalize axis",
        lambda: NormalizeOp("softmax", 2, value(tensor(4, 3))),
        "fuse.normalize axis 2 is out of range for rank 2",
    ),
    (
        "lnorm mask",
        lambda: NormalizeOp("lnorm", 1, value(tensor(4, 3)), mask=value(tensor(4, 3))),
        "only softmax takes a mask",
    ),
    (
        "index function rank",
        lambda: IndexFnOp("causal", tensor(4)),
        "index function 'causal' has rank 2, but the result has rank 1",
    ),
    (
        "onehot without position",
        lambda: IndexFnOp("onehot", tensor(4)),
        "'onehot', and only 'onehot', takes a position",
    ),
    (
        "take out of range",
        lambda: TakeOp(value(tensor(5, 4)), 0, 5, tensor(4)),
        "fuse.take index 5 is out of range for dimension of size 5",
    ),
    (
        "take dim",
        lambda: TakeOp(value(tensor(5, 4)), 2, 0, tensor(4)),
        "fuse.take dim 2 is out of range for rank 2",
    ),
    (
        "concat axis",
        lambda: ConcatOp(2, [value(tensor(2, 3)), value(tensor(2, 3))], tensor(2, 6)),
        "fuse.concat axis 2 is out of range for rank 2",
    ),
    (
        "concat sizes",
        lambda: ConcatOp(1, [value(tensor(2, 3)), value(tensor(2, 3))], tensor(2, 7)),
        "fuse.concat result has size 7 along axis 1, but its operands add up to 6",
    ),
    ("topk k", lambda: TopKOp(value(tensor(4, 3)), 0, 1), "fuse.topk needs k >= 1"),
    ("topk axis", lambda: TopKOp(value(tensor(4, 3)), 1, 2), "fuse.topk axis 2 is out of range"),
    ("sample rank", lambda: SampleOp(value(tensor(4, 3)), 8, 1), "rank-1 tensor of weights"),
    ("sample seed", lambda: SampleOp(value(tensor(4)), 8, -1), "needs a seed >= 0, got -1"),
    (
        "gather indices",
        lambda: GatherOp(value(tensor(4, 3)), 0, value(tensor(2))),
        "fuse.gather indices must be a rank-1 integer tensor",
    ),
    (
        "naive fixpoint arity",
        lambda: _naive_with_arity(2),
        "a naive fuse.fixpoint body takes 1 arguments of the result types",
    ),
    (
        "semi_naive without init",
        _semi_naive_without_init,
        "a semi_naive fuse.fixpoint needs an init region without arguments",
    ),
]


@pytest.mark.parametrize(
    ("build", "message"), [(b, m) for _, b, m in NEGATIVE], ids=[n for n, _, _ in NEGATIVE]
)
def test_verifier_rejects(build: Callable[[], Operation], message: str) -> None:
    with pytest.raises(VerifyException, match=re.escape(message)):
        build().verify()


def test_lookup_tensor_follows_declarations_added_and_erased() -> None:
    """`ProgramOp.lookup_tensor` indexes names (linear compile time); the
    index must see declarations a pass adds, renames or erases."""
    first = TensorOp("A", ["i"], tensor(-1))
    program = ProgramOp([first])
    assert program.lookup_tensor("A") is first
    assert program.lookup_tensor("B") is None
    added = TensorOp("B", ["i"], tensor(-1))
    program.body.block.add_op(added)
    assert program.lookup_tensor("B") is added
    first.detach()
    first.erase()
    assert program.lookup_tensor("A") is None
    added.sym_name = StringAttr("C")
    assert program.lookup_tensor("B") is None
    assert program.lookup_tensor("C") is added


def test_programs_are_found_in_walk_order_without_walking_their_bodies(monkeypatch) -> None:
    """Passes find programs with `programs`, which must find what a walk
    finds (programs in nested modules, in order) without entering a
    program: that walk cost each pass as much as walking all the IR."""
    first, second = ProgramOp([TensorOp("A", ["i"], tensor(-1))]), ProgramOp()
    module = ModuleOp([first, ModuleOp([second])])
    expected = [op for op in module.walk() if isinstance(op, ProgramOp)]

    def no_walk(self: Block, **_: object) -> None:
        raise AssertionError("walked a program's body")

    monkeypatch.setattr(Block, "walk", no_walk)
    assert programs(module) == expected == [first, second]


def test_shared_scalar_attributes_keep_the_sign_of_zero() -> None:
    """Scalar literals are interned (compile time); `-0.0 == 0.0` in
    Python, but the two divide differently, so they are not shared."""
    assert f32_attr(-0.0) is not f32_attr(0.0)
    assert str(f32_attr(-0.0)) == "-0.000000e+00 : f32"
    assert f32_attr(0.5) is f32_attr(0.5)
    assert str(f32_dense(np.float32(-0.0))) != str(f32_dense(np.float32(0.0)))
