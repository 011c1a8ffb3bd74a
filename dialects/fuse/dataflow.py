"""The dataflow level of the `fuse` dialect.

SSA values are ranked tensors inside `func.func @main`. Operand alignment is
spelled with einsum subscripts (`"ij,j->ij"`): one letter per dimension,
so every op that combines tensors says which dimensions meet, and a backend
aligns operands with one shared helper. Recursion is a `fuse.fixpoint`
region mapping the current values of a strongly connected component to
their next values.

```mlir
func.func @main(%A: tensor<4x8xf32>, %B: tensor<8x3xf32>) -> tensor<4x3xf32> {
  %0 = fuse.einsum "ik,kj->ij" sum (%A, %B) : (tensor<4x8xf32>, tensor<8x3xf32>) -> tensor<4x3xf32>
  %1 = fuse.unary relu %0 : tensor<4x3xf32>
  func.return %1 : tensor<4x3xf32>
}
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    AffineMapAttr,
    ArrayAttr,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    i32,
)
from xdsl.ir import Attribute, Region, SSAValue
from xdsl.ir.affine import AffineMap
from xdsl.irdl import (
    IRDLOperation,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    opt_region_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import Pure, RecursiveMemoryEffect
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from .affine import UnsupportedAffineExpr, linear_forms
from .attributes import FixpointStrategy, ProjectionKind, check_keyword
from .checks import ranked_tensor
from .declarative import YieldOp
from .syntax import (
    parse_keyword,
    parse_signature,
    parse_with_integer_keywords,
    print_keyword,
    print_operand_list,
    print_signature,
    print_with_integer_keywords,
)


def parse_operand_list_unresolved(parser: Parser) -> list:
    return parser.parse_comma_separated_list(
        parser.Delimiter.PAREN, parser.parse_unresolved_operand, "operands"
    )


# --- structural -------------------------------------------------------------------


@irdl_op_definition
class TakeOp(IRDLOperation):
    """Selects one position of one dimension (an integer index on a
    right-hand side, `Obs[0, o]`), dropping that dimension.

    ```mlir
    %1 = fuse.take %0 dim 0 index 3 : tensor<5x4xf32> -> tensor<4xf32>
    ```
    """

    name = "fuse.take"

    dim = prop_def(IntegerAttr)
    position = prop_def(IntegerAttr)
    operand = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    def __init__(self, operand: SSAValue, dim: int, position: int, result_type: TensorType):
        super().__init__(
            properties={
                "dim": IntegerAttr(dim, 64),
                "position": IntegerAttr(position, 64),
            },
            operands=[operand],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        shape = list(self.operand.type.get_shape())
        dim, position = self.dim.value.data, self.position.value.data
        if not 0 <= dim < len(shape):
            raise VerifyException(f"fuse.take dim {dim} is out of range for rank {len(shape)}")
        if position < 0 or (shape[dim] >= 0 and position >= shape[dim]):
            raise VerifyException(
                f"fuse.take index {position} is out of range for dimension of size {shape[dim]}"
            )
        expected = shape[:dim] + shape[dim + 1 :]
        if list(self.result.type.get_shape()) != expected:
            raise VerifyException(f"fuse.take result must have shape {expected}")

    def print(self, printer: Printer) -> None:
        keywords = [("dim", self.dim.value.data), ("index", self.position.value.data)]
        print_with_integer_keywords(printer, self, self.operand, keywords, self.result)

    @classmethod
    def parse(cls, parser: Parser) -> TakeOp:
        operand, (dim, position), attributes, result_type = parse_with_integer_keywords(
            parser, ("dim", "index")
        )
        op = cls(operand, dim, position, result_type)
        op.attributes |= attributes
        return op


@irdl_op_definition
class ConcatOp(IRDLOperation):
    """Concatenates along dimension `axis`.

    ```mlir
    %2 = fuse.concat axis 1 (%0, %1) : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x7xf32>
    ```
    """

    name = "fuse.concat"

    axis = prop_def(IntegerAttr)
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    def __init__(self, axis: int, inputs: Sequence[SSAValue], result_type: TensorType):
        super().__init__(
            properties={"axis": IntegerAttr(axis, 64)},
            operands=[inputs],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        axis = self.axis.value.data
        rank = self.result.type.get_num_dims()
        if not 0 <= axis < rank:
            raise VerifyException(f"fuse.concat axis {axis} is out of range for rank {rank}")
        for n, value in enumerate(self.inputs):
            if ranked_tensor(value, "fuse.concat operand").get_num_dims() != rank:
                raise VerifyException(f"fuse.concat operand #{n} must have rank {rank}")
        # Static sizes must agree: equal off the axis, adding up along it.
        result_shape = self.result.type.get_shape()
        shapes = [value.type.get_shape() for value in self.inputs]
        for dim in range(rank):
            sizes = [shape[dim] for shape in shapes]
            if dim == axis:
                if min([*sizes, result_shape[dim]]) >= 0 and sum(sizes) != result_shape[dim]:
                    raise VerifyException(
                        f"fuse.concat result has size {result_shape[dim]} along axis {axis}, "
                        f"but its operands add up to {sum(sizes)}"
                    )
            elif len(static := {s for s in (*sizes, result_shape[dim]) if s >= 0}) > 1:
                raise VerifyException(
                    f"fuse.concat operands and result disagree on dimension {dim}: "
                    f"sizes {sorted(static)}"
                )

    def print(self, printer: Printer) -> None:
        printer.print_string(f" axis {self.axis.value.data} ")
        print_operand_list(printer, self.inputs)
        printer.print_op_attributes(self.attributes)
        print_signature(printer, [v.type for v in self.inputs], [self.result.type])

    @classmethod
    def parse(cls, parser: Parser) -> ConcatOp:
        parser.parse_keyword("axis")
        axis = parser.parse_integer(allow_boolean=False)
        operands = parse_operand_list_unresolved(parser)
        attributes = parser.parse_optional_attr_dict()
        input_types, output_types = parse_signature(parser)
        op = cls(axis, parser.resolve_operands(operands, input_types, parser.pos), output_types[0])
        op.attributes |= attributes
        return op


@irdl_op_definition
class TopKOp(IRDLOperation):
    """Keeps the `k` largest entries along dimension `axis` and sets the rest
    to zero (ties broken by lower position).

    ```mlir
    %1 = fuse.topk k 5 axis 1 %0 : tensor<4x100xf32>
    ```
    """

    name = "fuse.topk"

    k = prop_def(IntegerAttr)
    axis = prop_def(IntegerAttr)
    T: ClassVar = VarConstraint("T", base(TensorType))
    operand = operand_def(T)
    result = result_def(T)

    traits = traits_def(Pure())

    def __init__(self, operand: SSAValue, k: int, axis: int):
        super().__init__(
            properties={
                "k": IntegerAttr(k, 64),
                "axis": IntegerAttr(axis, 64),
            },
            operands=[operand],
            result_types=[operand.type],
        )

    def verify_(self) -> None:
        rank = self.operand.type.get_num_dims()
        if not 0 <= self.axis.value.data < rank:
            raise VerifyException(f"fuse.topk axis {self.axis.value.data} is out of range")
        if self.k.value.data < 1:
            raise VerifyException("fuse.topk needs k >= 1")

    def print(self, printer: Printer) -> None:
        printer.print_string(f" k {self.k.value.data} axis {self.axis.value.data} ")
        printer.print_operand(self.operand)
        printer.print_op_attributes(self.attributes)
        printer.print_string(" : ")
        printer.print_attribute(self.operand.type)

    @classmethod
    def parse(cls, parser: Parser) -> TopKOp:
        parser.parse_keyword("k")
        k = parser.parse_integer(allow_boolean=False)
        parser.parse_keyword("axis")
        axis = parser.parse_integer(allow_boolean=False)
        operand = parser.parse_unresolved_operand()
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        op = cls(parser.resolve_operand(operand, parser.parse_type()), k, axis)
        op.attributes |= attributes
        return op


# --- sampling -------------------------------------------------------------------


@irdl_op_definition
class SampleOp(IRDLOperation):
    """Draws `samples` positions i.i.d. from the categorical distribution
    proportional to the rank-1 operand `q` (non-negative; the op normalizes
    it), as i32. `fuse-monte-carlo` emits it to estimate projections.

    The draw is a function of `q` and `seed` alone: every run with the same
    `q` gets the same positions, so a compiled program is deterministic.
    Each backend uses its own generator (NumPy `default_rng`, a torch
    `Generator`, StableHLO `rng_bit_generator` with THREE_FRY), so the same
    seed gives different positions on different backends: reproducibility
    is per backend, the distribution is the same everywhere.

    ```mlir
    %idx = fuse.sample %q samples 64 seed 7 : tensor<1000xf32> -> tensor<64xi32>
    ```
    """

    name = "fuse.sample"

    samples = prop_def(IntegerAttr)
    seed = prop_def(IntegerAttr)
    weights = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    def __init__(
        self, weights: SSAValue, samples: int, seed: int, result_type: TensorType | None = None
    ):
        super().__init__(
            properties={"samples": IntegerAttr(samples, 64), "seed": IntegerAttr(seed, 64)},
            operands=[weights],
            result_types=[result_type or TensorType(i32, [samples])],
        )

    def verify_(self) -> None:
        samples, seed = self.samples.value.data, self.seed.value.data
        if samples < 1:
            raise VerifyException(f"fuse.sample needs samples >= 1, got {samples}")
        if seed < 0:
            raise VerifyException(f"fuse.sample needs a seed >= 0, got {seed}")
        if ranked_tensor(self.weights, "fuse.sample operand").get_num_dims() != 1:
            raise VerifyException("fuse.sample draws from a rank-1 tensor of weights")
        if self.result.type != TensorType(i32, [samples]):
            raise VerifyException(
                f"fuse.sample result must be tensor<{samples}xi32>, got {self.result.type}"
            )

    def print(self, printer: Printer) -> None:
        keywords = [("samples", self.samples.value.data), ("seed", self.seed.value.data)]
        print_with_integer_keywords(printer, self, self.weights, keywords, self.result)

    @classmethod
    def parse(cls, parser: Parser) -> SampleOp:
        weights, (samples, seed), attributes, result_type = parse_with_integer_keywords(
            parser, ("samples", "seed")
        )
        op = cls(weights, samples, seed, result_type)
        op.attributes |= attributes
        return op


@irdl_op_definition
class GatherOp(IRDLOperation):
    """Takes the positions `indices` (rank-1, integer) of dimension `dim`:
    `result[..., s, ...] = operand[..., indices[s], ...]`, so that
    dimension's size becomes the number of indices.

    ```mlir
    %g = fuse.gather %X dim 1 (%idx) : (tensor<4x1000xf32>, tensor<64xi32>) -> tensor<4x64xf32>
    ```
    """

    name = "fuse.gather"

    dim = prop_def(IntegerAttr)
    operand = operand_def(TensorType)
    indices = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    def __init__(
        self,
        operand: SSAValue,
        dim: int,
        indices: SSAValue,
        result_type: TensorType | None = None,
    ):
        """`result_type` defaults to the operand's type with `dim` resized."""
        if result_type is None:
            shape = list(operand.type.get_shape())
            shape[dim] = indices.type.get_shape()[0]
            result_type = TensorType(operand.type.element_type, shape)
        super().__init__(
            properties={"dim": IntegerAttr(dim, 64)},
            operands=[operand, indices],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        shape = list(self.operand.type.get_shape())
        dim = self.dim.value.data
        if not 0 <= dim < len(shape):
            raise VerifyException(f"fuse.gather dim {dim} is out of range for rank {len(shape)}")
        indices = ranked_tensor(self.indices, "fuse.gather indices")
        if indices.get_num_dims() != 1 or not isinstance(indices.element_type, IntegerType):
            raise VerifyException(
                f"fuse.gather indices must be a rank-1 integer tensor, got {indices}"
            )
        shape[dim] = indices.get_shape()[0]
        expected = TensorType(self.operand.type.element_type, shape)
        if self.result.type != expected:
            raise VerifyException(f"fuse.gather result must be {expected}, got {self.result.type}")

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_operand(self.operand)
        printer.print_string(f" dim {self.dim.value.data} (")
        printer.print_operand(self.indices)
        printer.print_string(")")
        printer.print_op_attributes(self.attributes)
        print_signature(printer, [self.operand.type, self.indices.type], [self.result.type])

    @classmethod
    def parse(cls, parser: Parser) -> GatherOp:
        operand = parser.parse_unresolved_operand()
        parser.parse_keyword("dim")
        dim = parser.parse_integer(allow_boolean=False)
        parser.parse_punctuation("(")
        indices = parser.parse_unresolved_operand()
        parser.parse_punctuation(")")
        attributes = parser.parse_optional_attr_dict()
        input_types, output_types = parse_signature(parser)
        values = parser.resolve_operands([operand, indices], input_types, parser.pos)
        op = cls(values[0], dim, values[1], output_types[0])
        op.attributes |= attributes
        return op


# --- index arithmetic ------------------------------------------------------------


def _verify_affine_access(
    op: IRDLOperation,
    affine_map: AffineMapAttr,
    space: TensorType,
    tensor: TensorType,
    what: str,
) -> None:
    """Checks that `affine_map` maps the iteration space `space` (its shape:
    one dimension per map input) into the bounds of `tensor`."""
    amap = affine_map.data
    if amap.num_dims != space.get_num_dims():
        raise VerifyException(
            f"{op.name} map takes {amap.num_dims} dimensions, but the {what} has rank "
            f"{space.get_num_dims()}"
        )
    if len(amap.results) != tensor.get_num_dims():
        raise VerifyException(
            f"{op.name} map gives {len(amap.results)} positions, but the indexed tensor has "
            f"rank {tensor.get_num_dims()}"
        )
    try:
        forms = linear_forms(amap)
    except UnsupportedAffineExpr as error:
        raise VerifyException(f"{op.name} map is not supported: {error}") from None
    box = space.get_shape()
    if any(size == DYNAMIC_INDEX for size in (*box, *tensor.get_shape())) or 0 in box:
        return
    for dim, (form, size) in enumerate(zip(forms, tensor.get_shape(), strict=True)):
        low, high = form.bounds(box)
        if low < 0 or high >= size:
            raise VerifyException(
                f"{op.name} map reaches positions {low}..{high} of dimension {dim}, "
                f"which has size {size}"
            )


@irdl_op_definition
class WindowOp(IRDLOperation):
    """Reads a tensor through an affine map: `result[d] = operand[map(d)]`
    for every `d` in the result's shape. An access with index arithmetic
    (`Image[x + dx]`) becomes a window over its index variables, which the
    einsums that follow combine like any plain access
    (docs/index_arithmetic.md).

    ```mlir
    %w = fuse.window %image affine_map<(d0, d1) -> (d0 + d1)> : tensor<8xf32> -> tensor<6x3xf32>
    ```
    """

    name = "fuse.window"

    map = prop_def(AffineMapAttr)
    operand = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    assembly_format = "$operand $map attr-dict `:` type($operand) `->` type($result)"

    def __init__(self, operand: SSAValue, affine_map: AffineMap, result_type: TensorType):
        super().__init__(
            properties={"map": AffineMapAttr(affine_map)},
            operands=[operand],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        _verify_affine_access(self, self.map, self.result.type, self.operand.type, "result")


@irdl_op_definition
class PlaceOp(IRDLOperation):
    """Writes a tensor through an affine map: the result starts at zero and
    each `operand[d]` is combined by `kind` (sum, max, mean) into
    `result[map(d)]`; elements no `d` reaches stay zero. A left-hand side
    with index arithmetic (`X[i, t + 1]`, `Pooled[x floordiv 2]`) places the
    value computed over its index variables.

    ```mlir
    %p = fuse.place %v affine_map<(d0) -> (d0 floordiv 2)> max : tensor<8xf32> -> tensor<4xf32>
    ```
    """

    name = "fuse.place"

    map = prop_def(AffineMapAttr)
    kind = prop_def(StringAttr)
    operand = operand_def(TensorType)
    result = result_def(TensorType)

    traits = traits_def(Pure())

    def __init__(
        self,
        operand: SSAValue,
        affine_map: AffineMap,
        kind: ProjectionKind | str,
        result_type: TensorType,
    ):
        super().__init__(
            properties={"map": AffineMapAttr(affine_map), "kind": StringAttr(str(kind))},
            operands=[operand],
            result_types=[result_type],
        )

    def verify_(self) -> None:
        check_keyword(self.kind.data, ProjectionKind, "fuse.place kind")
        _verify_affine_access(self, self.map, self.operand.type, self.result.type, "operand")

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_operand(self.operand)
        printer.print_string(" ")
        printer.print_attribute(self.map)
        print_keyword(printer, self.kind)
        printer.print_op_attributes(self.attributes)
        printer.print_string(" : ")
        printer.print_attribute(self.operand.type)
        printer.print_string(" -> ")
        printer.print_attribute(self.result.type)

    @classmethod
    def parse(cls, parser: Parser) -> PlaceOp:
        operand = parser.parse_unresolved_operand()
        affine_map = parser.parse_attribute()
        if not isinstance(affine_map, AffineMapAttr):
            parser.raise_error(f"fuse.place expects an affine_map, got {affine_map}")
        kind = parse_keyword(parser, "combining kind (sum, max, mean)")
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        operand_type = parser.parse_type()
        parser.parse_punctuation("->")
        result_type = parser.parse_type()
        if not isinstance(result_type, TensorType):
            parser.raise_error(f"fuse.place expects a tensor result type, got {result_type}")
        op = cls(
            parser.resolve_operand(operand, operand_type), affine_map.data, kind.data, result_type
        )
        op.attributes |= attributes
        return op


# --- recursion ------------------------------------------------------------------


class DeltaKind(StrEnum):
    """How a semi-naive fixpoint derives a tensor's delta from one step."""

    DIFFERENCE = "difference"  # next - current: linear recursion under sum
    CHANGED = "changed"  # next where it differs from current, else 0: OR, max


@irdl_op_definition
class FixpointOp(IRDLOperation):
    """The least fixpoint of a recursive component, for the tensors named in
    `tensors` (in result order). Unset `max_iters`/`tolerance` come from the
    execution config. Iteration stops when no element of any result changes
    by more than the tolerance (0: exactly); reaching `max_iters` is an
    error naming the tensors and the last change.

    `naive`: one region `body`. Starting from zeros, `next = body(current)`.

    `semi_naive` (from `fuse-semi-naive`): `init` computes the first values
    from zeros (no arguments); then `next = body(current..., delta...)`,
    where each delta is derived from the last step as `deltas` says
    (`difference`: next - current; `changed`: next where it differs from
    current, else 0). A fixpoint the pass leaves naive records why in
    `naive_reason`.

    ```mlir
    %p = fuse.fixpoint naive {tensors = ["Path"]} : tensor<5x5xf32> {
    ^bb0(%path: tensor<5x5xf32>):
      %0 = fuse.einsum "xy,yz->xz" sum (%path, %E) : (tensor<5x5xf32>, tensor<5x5xf32>) -> tensor<5x5xf32>
      %1 = fuse.unary step %0 : tensor<5x5xf32>
      fuse.yield %1 : tensor<5x5xf32>
    }
    ```
    """

    name = "fuse.fixpoint"

    strategy = prop_def(StringAttr)
    tensors = prop_def(ArrayAttr[StringAttr])
    deltas = opt_prop_def(ArrayAttr[StringAttr])
    max_iters = opt_prop_def(IntegerAttr)
    tolerance = opt_prop_def(FloatAttr)
    naive_reason = opt_prop_def(StringAttr)
    results_ = var_result_def(TensorType)
    body = region_def("single_block")
    init = opt_region_def("single_block")

    traits = traits_def(RecursiveMemoryEffect())

    OPTIONAL_PROPERTIES: ClassVar[tuple[str, ...]] = (
        "deltas",
        "max_iters",
        "tolerance",
        "naive_reason",
    )

    def __init__(
        self,
        strategy: FixpointStrategy | str,
        tensors: Sequence[str],
        result_types: Sequence[Attribute],
        body: Region,
        init: Region | None = None,
    ):
        super().__init__(
            properties={
                "strategy": StringAttr(str(strategy)),
                "tensors": ArrayAttr([StringAttr(t) for t in tensors]),
            },
            result_types=[result_types],
            regions=[body, [init] if init is not None else []],
        )

    @property
    def tensor_names(self) -> list[str]:
        return [t.data for t in self.tensors.data]

    @property
    def is_semi_naive(self) -> bool:
        return self.strategy.data == FixpointStrategy.SEMI_NAIVE

    @property
    def delta_kinds(self) -> list[DeltaKind]:
        return [DeltaKind(d.data) for d in self.deltas.data] if self.deltas else []

    def verify_(self) -> None:
        check_keyword(self.strategy.data, FixpointStrategy, "fixpoint strategy")
        count = len(self.results_)
        if len(self.tensors.data) != count:
            raise VerifyException(
                f"fuse.fixpoint names {len(self.tensors.data)} tensors but has {count} results"
            )
        result_types = [r.type for r in self.results_]
        arg_types = [a.type for a in self.body.block.args]
        expected_args = result_types * (2 if self.is_semi_naive else 1)
        if arg_types != expected_args:
            raise VerifyException(
                f"a {self.strategy.data} fuse.fixpoint body takes {len(expected_args)} "
                f"arguments of the result types ({', '.join(map(str, expected_args))}), "
                f"got ({', '.join(map(str, arg_types))})"
            )
        regions = [self.body] + ([self.init] if self.init is not None else [])
        for region in regions:
            terminator = region.block.last_op
            if (
                not isinstance(terminator, YieldOp)
                or [v.type for v in terminator.values] != result_types
            ):
                raise VerifyException("fuse.fixpoint regions must yield one value per result")
        if self.is_semi_naive:
            if self.init is None or self.init.block.args:
                raise VerifyException(
                    "a semi_naive fuse.fixpoint needs an init region without arguments"
                )
            if self.deltas is None or len(self.deltas.data) != count:
                raise VerifyException("a semi_naive fuse.fixpoint needs one delta kind per result")
            for kind in self.deltas.data:
                check_keyword(kind.data, DeltaKind, "delta kind")
        elif self.init is not None or self.deltas is not None:
            raise VerifyException("a naive fuse.fixpoint has no init region and no deltas")

    def print(self, printer: Printer) -> None:
        print_keyword(printer, self.strategy)
        optional = {k: self.properties[k] for k in self.OPTIONAL_PROPERTIES if k in self.properties}
        printer.print_op_attributes({"tensors": self.tensors} | optional | dict(self.attributes))
        printer.print_string(" : ")
        printer.print_list([r.type for r in self.results_], printer.print_attribute)
        if self.init is not None:
            printer.print_string(" init ")
            printer.print_region(self.init)
        printer.print_string(" ")
        printer.print_region(self.body, print_entry_block_args=True)

    @classmethod
    def parse(cls, parser: Parser) -> FixpointOp:
        strategy = parse_keyword(parser, "fixpoint strategy")
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        result_types = parser.parse_comma_separated_list(
            parser.Delimiter.NONE, parser.parse_type, "result types"
        )
        init = parser.parse_region() if parser.parse_optional_keyword("init") else None
        body = parser.parse_region()
        tensors = attributes.pop("tensors", None)
        if not isinstance(tensors, ArrayAttr):
            parser.raise_error("fuse.fixpoint needs a 'tensors' array of names")
        op = cls(strategy.data, [t.data for t in tensors.data], result_types, body, init)
        for key in cls.OPTIONAL_PROPERTIES:
            if key in attributes:
                op.properties[key] = attributes.pop(key)
        op.attributes |= attributes
        return op
