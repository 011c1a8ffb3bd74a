"""The declarative level's statements: `fuse.program` and what it holds.

One `fuse.tensor` declaration per tensor, one `fuse.rule` per equation,
`fuse.facts` tables, `fuse.sink` / `fuse.export` for outputs and
`fuse.query` for queries; rule and sink bodies end in `fuse.yield`. The
ops that compute inside a body are in `expressions.py`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    StringAttr,
    SymbolRefAttr,
    TensorType,
    UnitAttr,
    f32,
    i64,
)
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import (
    HasParent,
    IsTerminator,
    NoTerminator,
    Pure,
    SymbolOpInterface,
    SymbolTable,
)
from xdsl.utils.exceptions import VerifyException

from ..attributes import (
    ExprType,
    IndexListAttr,
    ProjectionKind,
    check_keyword,
    index_list,
    keyword,
    symbol_ref,
)
from ..construction import init_op
from ..syntax import (
    parse_access,
    parse_bracketed_indices,
    parse_keyword,
    print_access,
    print_bracketed_indices,
    print_keyword,
)


def checked_expr_type(value: SSAValue, what: str) -> ExprType:
    if not isinstance(value.type, ExprType):
        raise VerifyException(f"{what} must be a !fuse.expr, got {value.type}")
    return value.type


# --- program structure -------------------------------------------------------


@irdl_op_definition
class ProgramOp(IRDLOperation):
    """A Fuse program at the declarative level: a symbol table of tensor
    declarations, and the rules, sinks and exports that use them."""

    name = "fuse.program"

    body = region_def("single_block")

    traits = traits_def(SymbolTable(), NoTerminator())

    assembly_format = "attr-dict-with-keyword $body"

    def __init__(self, ops: Sequence[Operation] = ()):
        super().__init__(regions=[Region(Block(ops))])

    def verify_(self) -> None:
        # Passes find programs without walking into them (`programs`).
        parent = self.parent_op()
        while parent is not None:
            if isinstance(parent, ProgramOp):
                raise VerifyException("a fuse.program cannot be nested in another fuse.program")
            parent = parent.parent_op()

    def lookup_tensor(self, name: str) -> TensorOp | None:
        """The declaration of tensor `name`, in amortized constant time.

        `SymbolTable.lookup_symbol` scans the whole body, which made every
        pass quadratic in the number of equations. The index maps each name to
        the first symbol op of that name (what the scan would find); a hit is
        trusted while that op is still in the body under the same name, and
        a miss or stale hit rebuilds the index, so passes that add, rename or
        erase declarations need not invalidate it."""
        index: dict[str, Operation] | None = getattr(self, "_symbol_index", None)
        op = index.get(name) if index is not None else None
        if op is None or not self._is_symbol_here(op, name):
            index = self._rebuild_symbol_index()
            op = index.get(name)
        return op if isinstance(op, TensorOp) else None

    def _is_symbol_here(self, op: Operation, name: str) -> bool:
        if isinstance(op, TensorOp):  # nearly every lookup: no trait to look up
            return op.parent is self.body.block and op.sym_name.data == name
        symbol = op.get_trait(SymbolOpInterface)
        if op.parent_block() is not self.body.block or symbol is None:
            return False
        sym_name = symbol.get_sym_attr_name(op)
        return sym_name is not None and sym_name.data == name

    def _rebuild_symbol_index(self) -> dict[str, Operation]:
        index: dict[str, Operation] = {}
        for op in self.body.block.ops:
            symbol = op.get_trait(SymbolOpInterface)
            if symbol is not None and (sym_name := symbol.get_sym_attr_name(op)) is not None:
                index.setdefault(sym_name.data, op)
        self._symbol_index = index
        return index


def programs(root: Operation) -> list[ProgramOp]:
    """The `fuse.program` ops in `root`, in walk order, found without
    walking their bodies: a program holds no program (its verifier says
    so), and walking every rule body of a large program just to find it
    cost each pass as much as a walk over the whole IR."""
    found: list[ProgramOp] = []
    stack = [root]
    while stack:
        op = stack.pop()
        if isinstance(op, ProgramOp):
            found.append(op)
            continue
        for region in reversed(op.regions):
            for block in reversed(region.blocks):
                stack.extend(reversed(list(block.ops)))
    return found


@irdl_op_definition
class TensorOp(IRDLOperation):
    """Declares a tensor: its canonical index names, its type, whether it is
    Boolean (its combined value goes through `step`), and where its value
    comes from when no rule defines it: a file `source` (which a runtime
    input may override) or a runtime `input`.

    ```mlir
    fuse.tensor @W[i, j] source "w.npy" : tensor<?x?xf32>
    fuse.tensor @Path[x, y] boolean : tensor<?x?xf32>
    ```
    """

    name = "fuse.tensor"

    sym_name = prop_def(StringAttr)
    indices = prop_def(IndexListAttr)
    tensor_type = prop_def(TensorType)
    source = opt_prop_def(StringAttr)
    input = opt_prop_def(UnitAttr)
    boolean = opt_prop_def(UnitAttr)

    traits = traits_def(SymbolOpInterface(), HasParent(ProgramOp))

    def __init__(
        self,
        name: str,
        indices: Sequence[str],
        tensor_type: TensorType,
        *,
        source: str | None = None,
        is_input: bool = False,
        boolean: bool = False,
    ):
        init_op(
            self,
            properties={
                "sym_name": StringAttr(name),
                "indices": index_list(tuple(indices)),
                "tensor_type": tensor_type,
                "source": StringAttr(source) if source is not None else None,
                "input": UnitAttr() if is_input else None,
                "boolean": UnitAttr() if boolean else None,
            },
        )

    @property
    def tensor_name(self) -> str:
        return self.sym_name.data

    def verify_(self) -> None:
        names = self.indices.data
        if not self.indices.is_plain:
            raise VerifyException(
                f"tensor @{self.tensor_name} declares index names, not index arithmetic "
                f"or slices: [{', '.join(map(str, names))}]"
            )
        if any(not isinstance(n, str) for n in names) or len(set(names)) != len(names):
            raise VerifyException(
                f"tensor @{self.tensor_name} must declare distinct index names, got {list(names)}"
            )
        if self.tensor_type.get_num_dims() != len(names):
            raise VerifyException(
                f"tensor @{self.tensor_name} has {len(names)} indices but type "
                f"{self.tensor_type} has rank {self.tensor_type.get_num_dims()}"
            )
        if self.source is not None and self.input is not None:
            raise VerifyException(
                f"tensor @{self.tensor_name} cannot be both a file source and a runtime input"
            )

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_symbol_name(self.tensor_name)
        print_bracketed_indices(printer, self.indices)
        if self.source is not None:
            printer.print_string(" source ")
            printer.print_string_literal(self.source.data)
        if self.input is not None:
            printer.print_string(" input")
        if self.boolean is not None:
            printer.print_string(" boolean")
        printer.print_op_attributes(self.attributes)
        printer.print_string(" : ")
        printer.print_attribute(self.tensor_type)

    @classmethod
    def parse(cls, parser: Parser) -> TensorOp:
        name = parser.parse_symbol_name().data
        indices = parse_bracketed_indices(parser)
        source = None
        if parser.parse_optional_keyword("source") is not None:
            source = parser.parse_str_literal()
        is_input = parser.parse_optional_keyword("input") is not None
        boolean = parser.parse_optional_keyword("boolean") is not None
        attributes = parser.parse_optional_attr_dict()
        parser.parse_punctuation(":")
        tensor_type = parser.parse_type()
        if not isinstance(tensor_type, TensorType):
            parser.raise_error(f"fuse.tensor expects a tensor type, got {tensor_type}")
        op = cls(
            name,
            [str(n) for n in indices.data],
            tensor_type,
            source=source,
            is_input=is_input,
            boolean=boolean,
        )
        op.indices = indices
        op.attributes |= attributes
        return op


def _lookup_declaration(op: Operation, tensor: SymbolRefAttr) -> TensorOp | None:
    program = op.parent_op()
    while program is not None and not isinstance(program, ProgramOp):
        program = program.parent_op()
    if program is None:
        return None
    return program.lookup_tensor(tensor.root_reference.data)


def verify_access(op: Operation, tensor: SymbolRefAttr, indices: IndexListAttr, what: str) -> None:
    """Checks that an access names a declared tensor with the right rank."""
    declaration = _lookup_declaration(op, tensor)
    if declaration is None:
        if op.parent_op() is not None:
            raise VerifyException(
                f"{what} refers to undeclared tensor @{tensor.root_reference.data}"
            )
        return
    rank = len(declaration.indices.data)
    if len(indices.data) != rank:
        raise VerifyException(
            f"{what} accesses @{declaration.tensor_name} with {len(indices.data)} "
            f"indices, but it is declared with rank {rank}"
        )


class _BodyOp(IRDLOperation):
    """A statement whose single-block body computes an indexed expression
    ending in `fuse.yield`."""

    def yielded_type(self) -> ExprType:
        terminator = self.regions[0].block.last_op
        if not isinstance(terminator, YieldOp) or len(terminator.values) != 1:
            raise VerifyException(f"{self.name} body must end in fuse.yield of one value")
        return checked_expr_type(terminator.values[0], f"the value yielded by {self.name}")


@irdl_op_definition
class RuleOp(_BodyOp):
    """One equation `T[idx] op RHS`. The body computes the right-hand side;
    indices it has and the left-hand side lacks are projected with
    `projection` (`=`/`+=`: sum, `max=`: max, `avg=`: mean) wherever the body
    does not already project them explicitly with `fuse.project`.

    ```mlir
    fuse.rule @C[i, j] sum {
      %a = fuse.load @A[i, k] : !fuse.expr<i, k>
      %b = fuse.load @B[k, j] : !fuse.expr<k, j>
      %p = fuse.arith mul %a, %b : !fuse.expr<i, k>, !fuse.expr<k, j>
      fuse.yield %p : !fuse.expr<i, k, j>
    }
    ```
    """

    name = "fuse.rule"

    tensor = prop_def(SymbolRefAttr)
    indices = prop_def(IndexListAttr)
    projection = prop_def(StringAttr)

    body = region_def("single_block")

    traits = traits_def(HasParent(ProgramOp))

    def __init__(
        self,
        tensor: str,
        indices: Sequence[str | int],
        projection: ProjectionKind | str,
        body: Region,
    ):
        init_op(
            self,
            properties={
                "tensor": symbol_ref(tensor),
                "indices": index_list(tuple(indices)),
                "projection": keyword(str(projection)),
            },
            regions=[body],
        )

    @property
    def tensor_name(self) -> str:
        return self.tensor.root_reference.data

    @property
    def projection_kind(self) -> ProjectionKind:
        return ProjectionKind(self.projection.data)

    def verify_(self) -> None:
        check_keyword(self.projection.data, ProjectionKind, "projection")
        verify_access(self, self.tensor, self.indices, "rule")
        self.yielded_type()

    def print(self, printer: Printer) -> None:
        print_access(printer, self.tensor, self.indices)
        print_keyword(printer, self.projection)
        printer.print_op_attributes(self.attributes, print_keyword=True)
        printer.print_string(" ")
        printer.print_region(self.body)

    @classmethod
    def parse(cls, parser: Parser) -> RuleOp:
        tensor, indices = parse_access(parser)
        projection = parse_keyword(parser, "projection kind")
        attributes = parser.parse_optional_attr_dict_with_keyword()
        body = parser.parse_region()
        op = cls(tensor.root_reference.data, (), projection.data, body)
        op.indices = indices
        if attributes is not None:
            op.attributes |= attributes.data
        return op


@irdl_op_definition
class SinkOp(_BodyOp):
    """`"file" = expr`: writes the body's value, over all its free indices in
    order, to a file whose extension picks the format.

    ```mlir
    fuse.sink "out.npy" {
      %0 = fuse.load @Y[i] : !fuse.expr<i>
      fuse.yield %0 : !fuse.expr<i>
    }
    ```
    """

    name = "fuse.sink"

    path = prop_def(StringAttr)
    body = region_def("single_block")

    traits = traits_def(HasParent(ProgramOp))

    def __init__(self, path: str, body: Region):
        super().__init__(properties={"path": StringAttr(path)}, regions=[body])

    def verify_(self) -> None:
        self.yielded_type()

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_string_literal(self.path.data)
        printer.print_op_attributes(self.attributes, print_keyword=True)
        printer.print_string(" ")
        printer.print_region(self.body)

    @classmethod
    def parse(cls, parser: Parser) -> SinkOp:
        path = parser.parse_str_literal()
        attributes = parser.parse_optional_attr_dict_with_keyword()
        op = cls(path, parser.parse_region())
        if attributes is not None:
            op.attributes |= attributes.data
        return op


@irdl_op_definition
class ExportOp(IRDLOperation):
    """`export T`: a run returns tensor `T`.

    ```mlir
    fuse.export @Path
    ```
    """

    name = "fuse.export"

    tensor = prop_def(SymbolRefAttr)

    traits = traits_def(HasParent(ProgramOp))

    assembly_format = "$tensor attr-dict"

    def __init__(self, tensor: str):
        super().__init__(properties={"tensor": SymbolRefAttr(tensor)})

    def verify_(self) -> None:
        if _lookup_declaration(self, self.tensor) is None:
            raise VerifyException(f"export of undeclared tensor @{self.tensor.root_reference.data}")


@irdl_op_definition
class FactsOp(IRDLOperation):
    """The facts of a relation (`Parent(Alice, Bob)`, ...) as a coordinate
    list: row n of `coordinates` is the position of a fact in the
    relation's domains (symbols numbered as the front end's domain table
    numbers them), `values[n]` its value; every other element is zero. The
    relation is declared by a `fuse.tensor` of static shape, so the list
    stays sparse however large its domains are; the runtime scatters it
    into the relation's input when the program runs.

    ```mlir
    fuse.tensor @Parent[a, b] boolean : tensor<3x3xf32>
    fuse.facts @Parent dense<[[0, 1], [1, 2]]> : tensor<2x2xi64> values dense<1.0> : tensor<2xf32>
    ```
    """

    name = "fuse.facts"

    tensor = prop_def(SymbolRefAttr)
    coordinates = prop_def(DenseIntOrFPElementsAttr)
    fact_values = prop_def(DenseIntOrFPElementsAttr, prop_name="values")

    traits = traits_def(HasParent(ProgramOp))

    assembly_format = "$tensor $coordinates `values` $values attr-dict"

    def __init__(self, tensor: str, coordinates: np.ndarray, values: np.ndarray):
        rows, rank = coordinates.shape
        super().__init__(
            properties={
                "tensor": SymbolRefAttr(tensor),
                "coordinates": DenseIntOrFPElementsAttr(
                    TensorType(i64, [rows, rank]),
                    BytesAttr(np.ascontiguousarray(coordinates, np.int64).tobytes()),
                ),
                "values": DenseIntOrFPElementsAttr(
                    TensorType(f32, [len(values)]),
                    BytesAttr(np.ascontiguousarray(values, np.float32).tobytes()),
                ),
            }
        )

    def coordinate_array(self) -> np.ndarray:
        """`coordinates` as an (facts, rank) int64 array (no copy)."""
        shape = self.coordinates.get_shape()
        return np.frombuffer(self.coordinates.data.data, np.int64).reshape(shape)

    def value_array(self) -> np.ndarray:
        return np.frombuffer(self.fact_values.data.data, np.float32)

    def verify_(self) -> None:
        relation = f"facts of @{self.tensor.root_reference.data}"
        coordinates, values = self.coordinates.get_type(), self.fact_values.get_type()
        if coordinates.element_type != i64 or len(coordinates.get_shape()) != 2:
            raise VerifyException(f"{relation}: coordinates must be a tensor<NxRxi64>")
        if values.element_type != f32 or values.get_shape() != coordinates.get_shape()[:1]:
            raise VerifyException(
                f"{relation}: {coordinates.get_shape()[0]} coordinate rows need as many "
                f"f32 values, got {values}"
            )
        declaration = _lookup_declaration(self, self.tensor)
        if declaration is None:
            if self.parent_op() is not None:
                raise VerifyException(f"{relation}: the relation is not declared")
            return
        rank = coordinates.get_shape()[1]
        if rank != len(declaration.indices.data):
            raise VerifyException(
                f"{relation}: coordinates of rank {rank}, but the relation has rank "
                f"{len(declaration.indices.data)}"
            )
        shape = declaration.tensor_type.get_shape()
        if not declaration.tensor_type.has_static_shape():
            raise VerifyException(
                f"{relation}: the relation needs a static shape, got {declaration.tensor_type}"
            )
        array = self.coordinate_array()
        outside = (array < 0) | (array >= np.array(shape, np.int64))
        if outside.any():
            row = int(np.nonzero(outside.any(axis=1))[0][0])
            raise VerifyException(
                f"{relation}: fact {row} at {array[row].tolist()} is outside the relation's "
                f"shape {list(shape)}"
            )


@irdl_op_definition
class QueryOp(IRDLOperation):
    """`Path(3, y)?`: asks for tensor `Path` at the integer positions (bound)
    over the named ones (free). `fuse-demand` answers it: the program then
    computes only what the query reaches and returns the answer alone.

    ```mlir
    fuse.query @Path[3, y]
    ```
    """

    name = "fuse.query"

    tensor = prop_def(SymbolRefAttr)
    indices = prop_def(IndexListAttr)

    traits = traits_def(HasParent(ProgramOp))

    def __init__(self, tensor: str, indices: Sequence[str | int]):
        super().__init__(
            properties={"tensor": symbol_ref(tensor), "indices": index_list(tuple(indices))}
        )

    @property
    def tensor_name(self) -> str:
        return self.tensor.root_reference.data

    def verify_(self) -> None:
        if not self.indices.is_plain:
            raise VerifyException(
                f"fuse.query of @{self.tensor_name} takes index names and integers, "
                f"not index arithmetic or slices: [{', '.join(map(str, self.indices.data))}]"
            )
        verify_access(self, self.tensor, self.indices, "fuse.query")

    def print(self, printer: Printer) -> None:
        print_access(printer, self.tensor, self.indices)
        printer.print_op_attributes(self.attributes)

    @classmethod
    def parse(cls, parser: Parser) -> QueryOp:
        tensor, indices = parse_access(parser)
        op = cls(tensor.root_reference.data, indices.data)
        op.attributes |= parser.parse_optional_attr_dict()
        return op


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends a rule or sink body with its value, or a `fuse.fixpoint` body
    with the component's next values.

    ```mlir
    fuse.yield %0 : !fuse.expr<i, j>
    ```
    """

    name = "fuse.yield"

    values = var_operand_def()

    traits = traits_def(IsTerminator(), Pure())

    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, *values: SSAValue):
        init_op(self, operands=[values])
