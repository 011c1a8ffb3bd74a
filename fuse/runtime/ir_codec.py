"""A compact binary form of dataflow-level modules, for the artifact cache.

xDSL's parser reads the cached generic IR at roughly a millisecond per op,
which made a warm compile barely faster than a cold one. This form is
`MAGIC` followed by one `marshal`ed tree of tuples, strings, numbers and
bytes (no pickled xDSL objects), and decodes by building ops with
`OpClass.create` and attributes straight from Python values.

* op: `(name, operand indices, result types, result name hints,
  properties, attributes, regions)`; an operand is the index of a value in
  the order values are defined (block arguments, then each op's results
  after those of the ops in its regions);
* region: a tuple of blocks `(argument types, argument name hints, ops)`;
* attribute: a tuple tagged by its first item (see `_encode_attribute`).
  Floats are stored as `float.hex()`, exact for every value, -0.0 and NaN.

Only the attributes the dataflow level uses are known (`StringAttr`,
`IntegerAttr`, `FloatAttr`, `ArrayAttr`, `DictionaryAttr`,
`DenseIntOrFPElementsAttr`, `TensorType`, `FunctionType`, `UnitAttr`, the
`AffineMapAttr`s of `fuse.window`/`fuse.place` (as their linear forms), the
`DenseArrayBase`s (strides of `fuse.conv`/`fuse.pool`, `in_axes` and
operand segment sizes of `fuse.scan`), `#fuse.pool_kind`, and
integer, index and float element types); anything else, an unknown op or a
malformed blob raises `CodecError`, which the cache treats as a damaged
entry.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterable

from xdsl.dialects.arith import Arith
from xdsl.dialects.builtin import (
    AffineMapAttr,
    ArrayAttr,
    BFloat16Type,
    Builtin,
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    DictionaryAttr,
    Float16Type,
    Float32Type,
    Float64Type,
    FloatAttr,
    FunctionType,
    IndexType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    NoneAttr,
    Signedness,
    StringAttr,
    TensorType,
    UnitAttr,
)
from xdsl.dialects.func import Func
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from fuse.dialects.fuse import Fuse
from fuse.dialects.fuse.affine import LinearForm, affine_map_of, linear_forms
from fuse.dialects.fuse.attributes import ProjectionKind
from fuse.dialects.fuse.window import PoolKindAttr

__all__ = ["CodecError", "decode", "encode"]

MAGIC = b"fuse-ir/1\n"

_SCALAR_TYPES: dict[str, Attribute] = {
    "f16": Float16Type(),
    "bf16": BFloat16Type(),
    "f32": Float32Type(),
    "f64": Float64Type(),
    "index": IndexType(),
}
_SCALAR_NAMES = {type(attribute): name for name, attribute in _SCALAR_TYPES.items()}

_OPS: dict[str, type[Operation]] = {
    op.name: op for dialect in (Builtin, Func, Arith, Fuse) for op in dialect.operations
}


class CodecError(ValueError):
    """A module this codec cannot encode, or bytes it cannot decode."""


# --- encoding -----------------------------------------------------------------


def encode(module: ModuleOp) -> bytes:
    """`module` in the codec form (see the module docstring)."""
    return MAGIC + marshal.dumps(_Encoder().op(module))


class _Encoder:
    def __init__(self) -> None:
        self.values: dict[SSAValue, int] = {}

    def define(self, values: Iterable[SSAValue]) -> None:
        for value in values:
            self.values[value] = len(self.values)

    def op(self, op: Operation) -> tuple:
        if op.successors:
            raise CodecError(f"{op.name}: successors are not supported")
        try:
            operands = tuple(self.values[operand] for operand in op.operands)
        except KeyError:
            raise CodecError(f"{op.name}: an operand is used before its definition") from None
        regions = tuple(
            tuple(self.block(block) for block in region.blocks) for region in op.regions
        )
        self.define(op.results)
        return (
            op.name,
            operands,
            tuple(_encode_attribute(result.type) for result in op.results),
            tuple(result.name_hint for result in op.results),
            _encode_items(op.properties),
            _encode_items(op.attributes),
            regions,
        )

    def block(self, block: Block) -> tuple:
        self.define(block.args)
        return (
            tuple(_encode_attribute(arg.type) for arg in block.args),
            tuple(arg.name_hint for arg in block.args),
            tuple(self.op(op) for op in block.ops),
        )


def _encode_items(attributes: dict[str, Attribute]) -> tuple:
    return tuple((name, _encode_attribute(value)) for name, value in attributes.items())


def _encode_attribute(attribute: Attribute) -> tuple:
    """A tagged tuple: `s` string, `i` integer, `f` float, `a` array, `d`
    dictionary, `e` dense elements, `A` dense array, `t` tensor type, `F`
    function type, `u` unit, `m` affine map, `P` pool kind, `I` integer
    type, `T` index or float type."""
    match attribute:
        case StringAttr():
            return ("s", attribute.data)
        case IntegerAttr():
            return ("i", attribute.value.data, _encode_attribute(attribute.type))
        case FloatAttr():
            return ("f", attribute.value.data.hex(), _encode_attribute(attribute.type))
        case ArrayAttr():
            return ("a", tuple(_encode_attribute(item) for item in attribute.data))
        case DictionaryAttr():
            return ("d", _encode_items(attribute.data))
        case DenseIntOrFPElementsAttr():
            return ("e", _encode_attribute(attribute.type), attribute.data.data)
        case DenseArrayBase():
            return ("A", _encode_attribute(attribute.elt_type), attribute.data.data)
        case PoolKindAttr():
            return ("P", attribute.data.value)
        case TensorType() if isinstance(attribute.encoding, NoneAttr):
            shape = tuple(dim.data for dim in attribute.shape.data)
            return ("t", shape, _encode_attribute(attribute.element_type))
        case FunctionType():
            inputs = tuple(_encode_attribute(t) for t in attribute.inputs.data)
            return ("F", inputs, tuple(_encode_attribute(t) for t in attribute.outputs.data))
        case UnitAttr():
            return ("u",)
        case AffineMapAttr():
            forms = tuple(
                (f.coefficients, f.constant, f.divisor) for f in linear_forms(attribute.data)
            )
            return ("m", attribute.data.num_dims, forms)
        case IntegerType():
            return ("I", attribute.width.data, attribute.signedness.data.value)
        case _ if type(attribute) in _SCALAR_NAMES:
            return ("T", _SCALAR_NAMES[type(attribute)])
    raise CodecError(f"attribute {attribute} ({type(attribute).__name__}) is not supported")


# --- decoding -----------------------------------------------------------------


def decode(data: bytes) -> ModuleOp:
    """The module `encode` turned into `data`; CodecError when `data` is not
    a module in this form (another version, or damaged)."""
    if not data.startswith(MAGIC):
        raise CodecError("not a fuse IR blob of this version")
    try:
        module = _Decoder().op(marshal.loads(data[len(MAGIC) :]))
    except CodecError:
        raise
    except Exception as error:  # malformed bytes or tree: any shape mismatch lands here
        raise CodecError(f"malformed fuse IR blob ({error!r})") from None
    if not isinstance(module, ModuleOp):
        raise CodecError(f"the blob holds {module.name}, not a module")
    return module


class _Decoder:
    def __init__(self) -> None:
        self.values: list[SSAValue] = []
        self.attributes: dict[tuple, Attribute] = {}  # equal attributes are shared

    def op(self, encoded: tuple) -> Operation:
        name, operands, result_types, result_names, properties, attributes, regions = encoded
        op_class = _OPS.get(name)
        if op_class is None:
            raise CodecError(f"unknown op '{name}'")
        op = op_class.create(
            operands=[self.values[index] for index in operands],
            result_types=[self.attribute(t) for t in result_types],
            properties=self.items(properties),
            attributes=self.items(attributes),
            regions=[Region([self.block(block) for block in region]) for region in regions],
        )
        for result, hint in zip(op.results, result_names, strict=True):
            result.name_hint = hint
        self.values.extend(op.results)
        return op

    def block(self, encoded: tuple) -> Block:
        arg_types, arg_names, ops = encoded
        block = Block(arg_types=[self.attribute(t) for t in arg_types])
        for arg, hint in zip(block.args, arg_names, strict=True):
            arg.name_hint = hint
        self.values.extend(block.args)
        block.add_ops(self.op(op) for op in ops)
        return block

    def items(self, encoded: tuple) -> dict[str, Attribute]:
        return {name: self.attribute(value) for name, value in encoded}

    def attribute(self, encoded: tuple) -> Attribute:
        attribute = self.attributes.get(encoded)
        if attribute is None:
            attribute = self.attributes[encoded] = self.build(encoded)
        return attribute

    def build(self, encoded: tuple) -> Attribute:
        match encoded:
            case ("s", str() as text):
                return StringAttr(text)
            case ("i", int() as value, type_):
                return IntegerAttr(value, self.attribute(type_))
            case ("f", str() as value, type_):
                return FloatAttr(float.fromhex(value), self.attribute(type_))
            case ("a", items):
                return ArrayAttr(tuple(self.attribute(item) for item in items))
            case ("d", items):
                return DictionaryAttr(self.items(items))
            case ("e", type_, bytes() as data):
                return DenseIntOrFPElementsAttr(self.attribute(type_), BytesAttr(data))
            case ("A", element_type, bytes() as data):
                return DenseArrayBase(self.attribute(element_type), BytesAttr(data))
            case ("P", str() as kind):
                return PoolKindAttr(ProjectionKind(kind))
            case ("t", shape, element_type):
                return TensorType(self.attribute(element_type), shape)
            case ("F", inputs, outputs):
                return FunctionType.from_lists(
                    [self.attribute(t) for t in inputs], [self.attribute(t) for t in outputs]
                )
            case ("u",):
                return UnitAttr()
            case ("m", int() as num_dims, forms):
                return AffineMapAttr(affine_map_of([LinearForm(*f) for f in forms], num_dims))
            case ("I", int() as width, int() as signedness):
                return IntegerType(width, Signedness(signedness))
            case ("T", str() as name) if name in _SCALAR_TYPES:
                return _SCALAR_TYPES[name]
        raise CodecError(f"unknown attribute encoding {str(encoded)[:80]}")
