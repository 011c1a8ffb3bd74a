"""AST -> `fuse` dialect, declarative level.

One `fuse.tensor` per tensor the program mentions, one `fuse.rule` per
equation, one `fuse.sink` per sink, one `fuse.export` per export and one
`fuse.query` per query, each carrying its source location. Rule bodies mirror the right-hand side:
builtin calls stay calls (their lowering is `fuse-stratify`'s job), except
two that are pure sugar for constructs the dialect already has:
`reduce_max`/`reduce_mean` become `fuse.project`, and `tucker_dense` becomes
the join of its arguments. Projections of the projection rule are left
implicit here; `fuse-canonicalize-projections` makes them explicit.

The builder trusts the front end's semantic checks (`fuse.frontend.check`)
for what they cover; what only shows while building (a `const` literal of
the wrong rank, say) is reported as a `FuseError` with the location.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

import numpy as np
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    FileLineColLoc,
    IntegerAttr,
    ModuleOp,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from fuse.collector import cyclic_gc_paused
from fuse.dialects.fuse import (
    ArithOp,
    CallOp,
    ExportOp,
    ExprType,
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
from fuse.dialects.fuse.affine import IndexPosition, SliceIndex, affine_position
from fuse.dialects.fuse.attributes import (
    ProjectionKind,
    expr_type,
    f32_attr,
    f32_tensor,
    int_attr,
    keyword,
)
from fuse.dialects.fuse.declarative import concat_part
from fuse.dialects.fuse.scan import STEPS
from fuse.errors import Diagnostic, FuseError, SourceText
from fuse.frontend import ast
from fuse.frontend.builtins import ALIASES, Builtin, BuiltinKind, lookup
from fuse.frontend.domains import DomainTable
from fuse.frontend.index_arith import IndexArithmeticError, fold_index, slice_bounds
from fuse.passes.resolve_symbols import DOMAINS_ATTRIBUTE, domains_attribute

PROJECTION_OF_OPERATOR: dict[str, ProjectionKind] = {
    "=": ProjectionKind.SUM,
    "+=": ProjectionKind.SUM,
    "max=": ProjectionKind.MAX,
    "avg=": ProjectionKind.MEAN,
}

_ARITH_OF_OPERATOR = {"+": "add", "-": "sub", "*": "mul", "join": "mul", "/": "div", "^": "pow"}

_Folded = TypeVar("_Folded", bound=ast.Index)
_Result = TypeVar("_Result")

_REDUCTIONS = {"reduce_max": ProjectionKind.MAX, "reduce_mean": ProjectionKind.MEAN}


@dataclass
class TensorInfo:
    """What the program says about one tensor."""

    name: str
    rank: int
    indices: tuple[str, ...] = ()
    defined: bool = False
    boolean: bool = False
    source: str | None = None
    facts: ast.FactTable | None = None
    first_seen: int = 0
    names_from_lhs: bool = False

    @property
    def is_input(self) -> bool:
        """Only read, never defined nor sourced nor given by facts:
        `run(inputs=...)` supplies it."""
        return not self.defined and self.source is None and self.facts is None


def _canonical_names(positions: Sequence[ast.Index]) -> tuple[str, ...]:
    """Index names for a declaration: the access's names where they are
    distinct names, `d<N>` where a position is a constant or a repeat."""
    names: list[str] = []
    for n, position in enumerate(positions):
        if isinstance(position, ast.IndexVar) and position.name not in names:
            names.append(position.name)
        else:
            names.append(f"d{n}")
    if len(set(names)) != len(names):  # a generated name collided with a user's
        names = [f"d{n}" for n in range(len(names))]
    return tuple(names)


def _location(span: ast.Span) -> FileLineColLoc:
    return FileLineColLoc(keyword(span.file), int_attr(span.line), int_attr(span.col))


def _unknown_tensor_type(rank: int) -> TensorType:
    return f32_tensor((DYNAMIC_INDEX,) * rank)


@dataclass
class _Collector:
    """First pass: every tensor's rank, canonical indices and origin."""

    tensors: dict[str, TensorInfo] = field(default_factory=dict)

    def see(self, name: str, positions: Sequence[ast.Index], *, lhs: bool) -> TensorInfo:
        info = self.tensors.get(name)
        if info is None:
            info = TensorInfo(name, len(positions), first_seen=len(self.tensors))
            self.tensors[name] = info
        if (lhs and not info.names_from_lhs) or not info.indices:
            info.indices = _canonical_names(positions)
            info.names_from_lhs = lhs
        return info

    def collect(self, program: ast.Program) -> None:
        for statement in program.statements:
            match statement:
                case ast.Equation(lhs=lhs, rhs=rhs):
                    info = self.see(lhs.name, lhs.indices, lhs=True)
                    info.defined = True
                    info.boolean |= lhs.boolean
                    self.visit(rhs)
                case ast.Source(lhs=lhs, path=path):
                    info = self.see(lhs.name, lhs.indices, lhs=True)
                    info.source = path
                    info.boolean |= lhs.boolean
                case ast.FactTable(lhs=lhs):
                    info = self.see(lhs.name, lhs.indices, lhs=True)
                    info.facts = statement
                    info.boolean = True
                case ast.Sink(rhs=rhs):
                    self.visit(rhs)
                case ast.Query(tensor=name, indices=indices):
                    self.see(name, indices, lhs=False)
                case ast.Export():
                    pass

    def visit(self, expr: ast.Expr) -> None:
        match expr:
            case ast.TensorRef(name=name, indices=indices):
                self.see(name, indices, lhs=False)
            case ast.BinaryOp(lhs=lhs, rhs=rhs):
                self.visit(lhs)
                self.visit(rhs)
            case ast.Negate(operand=operand) | ast.Not(operand=operand):
                self.visit(operand)
            case ast.Call(func=func, args=args, kwargs=kwargs):
                builtin = lookup(func)
                if builtin is None or not builtin.index_args:
                    for arg in args:
                        self.visit(arg)
                for keyword in kwargs:
                    if keyword.name not in ("axis", "pos"):
                        self.visit(keyword.value)
            case ast.ListLiteral(items=items) | ast.TupleLiteral(items=items):
                for item in items:
                    self.visit(item)
            case _:
                pass


class _RuleBodyBuilder:
    """Builds the body of one rule or sink from its right-hand side."""

    def __init__(self, builder: IRBuilder, lhs: ast.Lhs | None, block: Block):
        self.outer = builder
        self.lhs = lhs
        self.block = block

    def insert(self, op: Operation) -> SSAValue:
        self.block.add_op(op)
        return op.results[0]

    def build(self, expr: ast.Expr) -> SSAValue:
        match expr:
            case ast.TensorRef(name=name, indices=indices, span=span):
                positions = [self.read_position(p, k) for k, p in enumerate(indices)]
                load = LoadOp(name, positions)
                load.location = _location(span)  # shape errors point at the access
                return self.insert(load)
            case ast.Number(value=value):
                return self.insert(LiteralOp(f32_attr(float(value)), expr_type(())))
            case ast.BinaryOp(op=op, lhs=lhs, rhs=rhs):
                return self.insert(
                    ArithOp(_ARITH_OF_OPERATOR[op], self.build(lhs), self.build(rhs))
                )
            case ast.Negate(operand=operand):
                return self.insert(NegateOp(self.build(operand)))
            case ast.Not(operand=operand):
                one = self.insert(LiteralOp(f32_attr(1.0), expr_type(())))
                return self.insert(ArithOp("sub", one, self.build(operand)))
            case ast.Call():
                return self.build_call(expr)
            case _:
                raise self.outer.error(
                    f"{type(expr).__name__.lower()} literal is only allowed as a call argument",
                    expr.span,
                )

    def read_position(self, index: ast.Index, k: int) -> IndexPosition:
        """Position `k` of a right-hand-side access; a slice binds to the
        left-hand-side index at the same position."""
        if not isinstance(index, ast.IndexSlice):
            return self.outer.position(index)
        target = self.lhs.indices[k] if self.lhs is not None and k < len(self.lhs.indices) else None
        if not isinstance(target, ast.IndexVar) or ast.is_constant_name(target.name):
            raise self.outer.error(
                f"slice in position {k + 1} binds to the left-hand-side index at the same "
                "position, and there is no index variable there",
                index.span,
            )
        start, stop = self.outer.checked(slice_bounds, index)
        return SliceIndex(target.name, start, stop)

    def build_call(self, call: ast.Call) -> SSAValue:
        builtin = lookup(call.func)
        assert builtin is not None, "the front end rejects unknown builtins"
        name = ALIASES.get(builtin.name, builtin.name)
        keywords = {k.name: k.value for k in call.kwargs}
        if builtin.kind is BuiltinKind.INDEX:
            return self.build_index_call(name, call, keywords)
        if name in _REDUCTIONS:
            return self.build_reduction(name, call, keywords)
        if name == "const":
            return self.build_const(call)
        axis = self.index_name(keywords["axis"]) if "axis" in keywords else None
        if name == "concat" and axis is not None:
            # Each argument's stretch of the axis has a size of its own.
            args = [
                self.build(_rename_index(arg, axis, concat_part(axis, n)))
                for n, arg in enumerate(call.args)
            ]
        else:
            args = [self.build(arg) for arg in call.args[: builtin.max_args]]
        for tensor_keyword, value in self.tensor_keywords(builtin, call, keywords):
            if _is_number(value):
                keywords[tensor_keyword] = value
            else:  # a tensor expression: an operand, so the graph sees what it reads
                args.append(self.build(value))
        if name == "grad":
            return self.insert(CallOp(name, args, expr_type(_names(args[1]))))
        if name == "tucker_dense":
            result = args[0]
            for arg in args[1:]:
                result = self.insert(ArithOp("mul", result, arg))
            return result
        if builtin.kind is BuiltinKind.NORMALIZE and "axis" not in keywords:
            dotted = self.dotted_axis()
            if dotted is not None:
                keywords["axis"] = ast.String(dotted)
        merged: list[str] = []
        if name == "concat" and len(args) == 1 and "axis" not in keywords:
            merged = self.head_merge(call, _names(args[0]), keywords)
        if "axis" in keywords:
            axis = self.index_name(keywords["axis"])
        result_indices = CallOp.infer_indices(
            name, [_names(a) for a in args], axis=axis, merged=merged
        )
        return self.insert(
            CallOp(
                name,
                args,
                expr_type(result_indices),
                keywords={k: self.keyword_attribute(v) for k, v in keywords.items()} or None,
            )
        )

    def head_merge(
        self, call: ast.Call, names: tuple[str, ...], keywords: dict[str, ast.Expr]
    ) -> list[str]:
        """`Merge[b, p, d_m] = concat(Attn[b, h, p, d_v])`: the argument's
        indices the left-hand side lacks (h, d_v, head-major) flatten into
        the one left-hand-side index the argument lacks (d_m). Sets the
        call's `axis` and `merge` keywords; returns the merged indices."""
        kept = self.lhs_names()
        merged = [n for n in names if n not in kept]
        targets = [n for n in kept if n not in names]
        if len(targets) != 1 or not merged:
            raise self.outer.error(
                "concat with one argument flattens the argument's indices that the "
                "left-hand side lacks into the one left-hand-side index the argument "
                f"lacks; here the left-hand side has {len(targets)} new indices and the "
                f"argument {len(merged)} extra ones",
                call.span,
            )
        keywords["axis"] = ast.String(targets[0])
        keywords["merge"] = ast.TupleLiteral(tuple(ast.String(n) for n in merged))
        return merged

    @staticmethod
    def tensor_keywords(
        builtin: Builtin, call: ast.Call, keywords: dict[str, ast.Expr]
    ) -> list[tuple[str, ast.Expr]]:
        """The keywords that may be tensor expressions (`sig`'s `T`), given
        by name or positionally after the arguments, taken out of
        `keywords`: a number stays an attribute, anything else becomes an
        operand of the call."""
        positional = call.args[builtin.max_args or 0 :]
        given = dict(zip(builtin.positional_keywords, positional, strict=False))
        for name in builtin.tensor_keywords:
            if name in keywords:
                given[name] = keywords.pop(name)
        return [(name, given[name]) for name in builtin.positional_keywords if name in given]

    def dotted_axis(self) -> str | None:
        if self.lhs is None:
            return None
        for position in self.lhs.indices:
            if isinstance(position, ast.IndexVar) and position.dotted:
                return position.name
        return None

    def build_index_call(
        self, name: str, call: ast.Call, keywords: dict[str, ast.Expr]
    ) -> SSAValue:
        indices = [self.index_name(arg) for arg in call.args]
        if "axis" in keywords:
            indices.append(self.index_name(keywords["axis"]))
        return self.insert(CallOp(name, [], expr_type(tuple(indices)), index_args=indices))

    def index_name(self, expr: ast.Expr) -> str:
        if isinstance(expr, ast.TensorRef) and not expr.indices:
            return expr.name
        if isinstance(expr, ast.String):
            return expr.value
        raise self.outer.error("expected an index name", expr.span)

    def build_reduction(self, name: str, call: ast.Call, keywords: dict[str, ast.Expr]) -> SSAValue:
        operand = self.build(call.args[0])
        if "axis" in keywords:
            axis_expr = keywords["axis"]
            items = (
                axis_expr.items
                if isinstance(axis_expr, ast.TupleLiteral | ast.ListLiteral)
                else (axis_expr,)
            )
            axes = [self.index_name(item) for item in items]
        else:
            kept = self.lhs_names()
            axes = [n for n in _names(operand) if n not in kept]
        missing = [a for a in axes if a not in _names(operand)]
        if missing:
            raise self.outer.error(
                f"{name} over '{missing[0]}', which its argument does not mention", call.span
            )
        return self.insert(ProjectOp(_REDUCTIONS[name], axes, operand))

    def lhs_names(self) -> tuple[str, ...]:
        if self.lhs is None:
            return ()
        return tuple(
            dict.fromkeys(v.name for p in self.lhs.indices for v in ast.index_variables(p))
        )

    def build_const(self, call: ast.Call) -> SSAValue:
        value = _literal_value(call.args[0])
        if value is None:
            raise self.outer.error("const takes a number or a nested list of numbers", call.span)
        try:
            array = np.asarray(value, dtype=np.float32)
        except ValueError:  # NumPy's words (ragged, too many dimensions) name no place
            raise self.outer.error(
                "const literal is not a rectangular array: every list at one nesting level "
                f"needs the same length, and there are at most {_MAX_ARRAY_RANK} levels",
                call.span,
            ) from None
        if array.ndim == 0:
            return self.insert(LiteralOp(f32_attr(float(array)), expr_type(())))
        names = self.lhs_names()
        if len(names) < array.ndim:
            raise self.outer.error(
                f"const literal of rank {array.ndim} needs {array.ndim} left-hand side "
                f"indices to vary over, found {len(names)}",
                call.span,
            )
        tensor_type = f32_tensor(array.shape)
        dense = DenseIntOrFPElementsAttr.from_list(tensor_type, array.ravel().tolist())
        literal = LiteralOp(dense, expr_type(names[: array.ndim]))
        literal.location = _location(call.span)
        return self.insert(literal)

    def keyword_attribute(self, value: ast.Expr) -> Attribute:
        match value:
            case ast.String(value=text):
                return keyword(text)
            case ast.TensorRef(name=name, indices=()):
                return keyword(name)
            # A count (`k=`, checked to fit) is an integer; a number such as
            # `sig`'s T is a float even when written as a 20-digit integer.
            case ast.Number(value=number) if isinstance(number, int) and -(2**63) <= number < 2**63:
                return IntegerAttr(number, 64)
            case ast.Number(value=number):
                return f32_attr(float(number))
            case ast.Negate(operand=ast.Number(value=number)):
                return f32_attr(-float(number))
            case ast.TupleLiteral(items=items) | ast.ListLiteral(items=items):
                return ArrayAttr([self.keyword_attribute(item) for item in items])
        raise self.outer.error("keyword values must be literals or index names", value.span)


def _is_number(expr: ast.Expr) -> bool:
    """Whether `expr` is a number literal, possibly negated."""
    if isinstance(expr, ast.Negate):
        expr = expr.operand
    return isinstance(expr, ast.Number)


def _rename_index(expr: ast.Expr, old: str, new: str) -> ast.Expr:
    """`expr` with index `old` read as `new` in every tensor access."""
    match expr:
        case ast.TensorRef(indices=indices):
            renamed = tuple(
                dataclasses.replace(p, name=new)
                if isinstance(p, ast.IndexVar) and p.name == old
                else p
                for p in indices
            )
            return dataclasses.replace(expr, indices=renamed)
        case ast.BinaryOp(lhs=lhs, rhs=rhs):
            return dataclasses.replace(
                expr, lhs=_rename_index(lhs, old, new), rhs=_rename_index(rhs, old, new)
            )
        case ast.Negate(operand=operand) | ast.Not(operand=operand):
            return dataclasses.replace(expr, operand=_rename_index(operand, old, new))
        case ast.Call(args=args):
            return dataclasses.replace(expr, args=tuple(_rename_index(a, old, new) for a in args))
    return expr


def _names(value: SSAValue) -> tuple[str, ...]:
    assert isinstance(value.type, ExprType)
    return value.type.names


_MAX_ARRAY_RANK = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32


def _literal_value(expr: ast.Expr) -> object | None:
    match expr:
        case ast.Number(value=value):
            return value
        case ast.Negate(operand=ast.Number(value=value)):
            return -value
        case ast.ListLiteral(items=items) | ast.TupleLiteral(items=items):
            values = [_literal_value(item) for item in items]
            return None if any(v is None for v in values) else values
    return None


class IRBuilder:
    """Lowers one checked `ast.Program` to a module holding a `fuse.program`."""

    def __init__(self, source: SourceText | None = None):
        self.source = source

    def error(self, message: str, span: ast.Span | None) -> FuseError:
        if self.source is not None:
            return FuseError([self.source.diagnostic(message, span)])
        return FuseError([Diagnostic(message, span)])

    def checked(self, fold: Callable[[_Folded], _Result], index: _Folded) -> _Result:
        """`fold(index)`, its `IndexArithmeticError` as a located error."""
        try:
            return fold(index)
        except IndexArithmeticError as error:
            raise self.error(error.message, error.span) from None

    def position(self, index: ast.Index) -> IndexPosition:
        """An index position of the AST (named constants already integers)
        as the IR spells it: a name, an integer or an `AffineIndex`."""
        if isinstance(index, ast.IndexVar) and not index.virtual:
            return index.name  # what the affine form of a lone variable comes to
        if isinstance(index, ast.IndexConst):
            return index.value
        if isinstance(index, ast.IndexSlice):
            raise self.error(
                "a slice reads a range of a tensor: it belongs on a right-hand side", index.span
            )
        form = self.checked(fold_index, index)
        return affine_position(form.terms, form.constant, form.divisor, form.virtual)

    def build(self, program: ast.Program) -> ModuleOp:
        domains = cast(DomainTable | None, program.domains)
        tensors = collect_tensors(program)
        ops: list[Operation] = [self.declaration(info, domains) for info in tensors]
        for statement in program.statements:
            op = self.statement(statement)
            if op is not None:
                op.location = _location(statement.span)
                ops.append(op)
        program_op = ProgramOp(ops)
        if domains is not None:
            table = domains_attribute(domains, ((info.name, info.rank) for info in tensors))
            if table.data:
                program_op.attributes[DOMAINS_ATTRIBUTE] = table
        return ModuleOp([program_op])

    @staticmethod
    def declaration(info: TensorInfo, domains: DomainTable | None = None) -> TensorOp:
        tensor_type = _unknown_tensor_type(info.rank)
        if info.facts is not None:  # a relation given by facts: sized by its domains
            tensor_type = f32_tensor(tuple(info.facts.shape))
        elif domains is not None and info.defined:
            # A position an equation writes at a symbol (`D[A, y] = ...`)
            # is as large as the symbol's domain, not as the largest
            # position written.
            tensor_type = f32_tensor(
                tuple(
                    domains.domain(info.name, k).size
                    if (info.name, k) in domains.symbol_written
                    else DYNAMIC_INDEX
                    for k in range(info.rank)
                )
            )
        return TensorOp(
            info.name,
            info.indices,
            tensor_type,
            source=info.source,
            is_input=info.is_input,
            boolean=info.boolean,
        )

    def statement(self, statement: ast.Statement) -> Operation | None:
        match statement:
            case ast.Equation(lhs=lhs, op=op, rhs=rhs, steps=steps):
                indices = [self.position(p) for p in lhs.indices]
                rule = RuleOp(lhs.name, indices, PROJECTION_OF_OPERATOR[op], self.body(rhs, lhs))
                if steps:
                    rule.attributes[STEPS] = DictionaryAttr(
                        {name: IntegerAttr(count, i64) for name, count in steps}
                    )
                return rule
            case ast.Sink(path=path, rhs=rhs):
                return SinkOp(path, self.body(rhs, None))
            case ast.Export(name=name):
                return ExportOp(name)
            case ast.Query(tensor=name, indices=indices):
                for index in indices:
                    if not isinstance(index, ast.IndexVar | ast.IndexConst):
                        raise self.error(
                            "a query takes index names and integers, not index arithmetic",
                            index.span,
                        )
                return QueryOp(name, [self.position(p) for p in indices])
            case ast.FactTable(lhs=lhs, coordinates=coordinates, values=values):
                return FactsOp(lhs.name, coordinates, values)
            case ast.Source() | ast.FunctionDef():
                return None  # recorded on the declaration; inlined by the front end
        raise AssertionError(f"unhandled statement {statement!r}")

    def body(self, rhs: ast.Expr, lhs: ast.Lhs | None) -> Region:
        block = Block()
        value = _RuleBodyBuilder(self, lhs, block).build(rhs)
        block.add_op(YieldOp(value))
        return Region(block)


def collect_tensors(program: ast.Program) -> list[TensorInfo]:
    """Every tensor `program` mentions, in the order of its declarations:
    the builder's first pass, also what the runtime lists inputs from."""
    collector = _Collector()
    collector.collect(program)
    return list(collector.tensors.values())


@cyclic_gc_paused()
def build_module(program: ast.Program, source: SourceText | None = None) -> ModuleOp:
    """The declarative-level module of a checked program."""
    return IRBuilder(source).build(program)
