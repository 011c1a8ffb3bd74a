"""`fuse.runtime.ir_codec`, the artifact cache's form of dataflow IR: every
conformance program round-trips exactly, and what the codec does not know
is a `CodecError` (which the cache treats as a damaged entry), not a crash."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from conformance.programs import CASES, Case
from xdsl.dialects import test as test_dialect
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
    f64,
)
from xdsl.ir import Operation
from xdsl.printer import Printer

from fuse.dialects.fuse import ConstantOp, UnaryOp
from fuse.runtime.ir_codec import MAGIC, CodecError, decode, encode


def generic(module: ModuleOp) -> str:
    stream = io.StringIO()
    Printer(stream=stream, print_generic_format=True).print_op(module)
    return stream.getvalue()


def dataflow_module(case: Case, directory: Path) -> ModuleOp:
    runner = case.program(directory).compile(backend="numpy", config=case.config)
    inputs = {name: np.asarray(value) for name, value in case.inputs.items()}
    module, _, _ = runner.specialized_module(runner.known_shapes(inputs))
    return module


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_conformance_programs_round_trip(case: Case, tmp_path: Path) -> None:
    module = dataflow_module(case, tmp_path)
    decoded = decode(encode(module))
    decoded.verify()
    assert generic(decoded) == generic(module)


def test_floats_and_dense_bytes_are_exact() -> None:
    values = np.array([-0.0, math.inf, 1 / 3, 1e-45], dtype=np.float32)
    dense = DenseIntOrFPElementsAttr(TensorType(f32, [4]), BytesAttr(values.tobytes()))
    constant = ConstantOp.create(properties={"value": dense}, result_types=[dense.type])
    ops: list[Operation] = [constant]
    for temperature in (-0.0, math.nan, 0.1, 1 / 3):
        properties = {"fn": StringAttr("sigmoid"), "temperature": FloatAttr(temperature, f64)}
        ops.append(
            UnaryOp.create(
                operands=[constant.results[0]], result_types=[dense.type], properties=properties
            )
        )
    module = ModuleOp(ops)
    decoded = decode(encode(module))
    assert generic(decoded) == generic(module)
    [dense_back] = [op.value for op in decoded.walk() if isinstance(op, ConstantOp)]
    assert dense_back.data.data == values.tobytes()


def test_unknown_op_or_attribute_is_a_codec_error() -> None:
    unsupported = TensorType(f32, [2], encoding=StringAttr("sparse"))
    with pytest.raises(CodecError, match="not supported"):
        encode(ModuleOp([test_dialect.TestOp.create(result_types=[unsupported])]))
    blob = encode(ModuleOp([test_dialect.TestOp.create()]))
    with pytest.raises(CodecError, match=r"unknown op 'test\.op'"):
        decode(blob)


@pytest.mark.parametrize(
    "blob",
    [b"", b"fuse-ir/0\n", MAGIC, MAGIC + b"\xff\x00garbage", MAGIC + b"\xe9\x01\x00\x00\x00"],
)
def test_malformed_bytes_are_a_codec_error(blob: bytes) -> None:
    with pytest.raises(CodecError):
        decode(blob)


def test_long_programs_do_not_recurse_per_op() -> None:
    """Nesting, not length, sets the codec's recursion depth (pickling xDSL
    IR recursed through its op lists and overflowed on a few hundred ops)."""
    type_ = TensorType(f32, [3])
    ops: list[Operation] = [
        ConstantOp.create(
            properties={"value": DenseIntOrFPElementsAttr(type_, BytesAttr(bytes(12)))},
            result_types=[type_],
        )
    ]
    for _ in range(5000):
        ops.append(
            UnaryOp.create(
                operands=[ops[-1].results[0]],
                result_types=[type_],
                properties={"fn": StringAttr("relu")},
            )
        )
    module = ModuleOp(ops)
    assert generic(decode(encode(module))) == generic(module)
