"""A torch executable as bytes: what the artifact cache stores for it.

A GraphModule cannot be rebuilt quickly. Constructing one generates and
compiles its code, and unpickling one traces that code again (2.4 ms for the
attention example, as long as lowering its IR). A run needs only the
generated `forward` and the buffers it reads, so that is what is saved: the
code, with the import lines torch's code generator wrote for it, the
buffers' bytes, and the executable's signature. `load` executes the code
into a module of its own (`SavedModule`); the executable traces a
GraphModule from that module only when `fx_module` is first read.

Programs with fixpoints or scans are not saved: their graphs call fixpoint
or scan modules, which hold GraphModules of their own. A warm compile
rebuilds them from the cached IR.

Layout: the header's length (8 bytes, little-endian), the header (JSON),
then each buffer's bytes in header order.
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch
from torch.fx import GraphModule
from torch.fx.graph_module import _format_import_block
from torch.package import sys_importer

_LENGTH_BYTES = 8


class SavedModule(torch.nn.Module):
    """A GraphModule's `forward` and buffers, without its graph: what
    `torch.fx.symbolic_trace` turns back into the same graph."""

    def __init__(self, source: str, buffers: dict[str, torch.Tensor]):
        super().__init__()
        for name, tensor in buffers.items():
            self.register_buffer(name, tensor)
        namespace: dict[str, Any] = {}
        exec(compile(source, "<fuse: cached torch.fx code>", "exec"), namespace)
        # A class per module, as GraphModule does: `forward` is its code.
        self.__class__ = type("SavedModule", (SavedModule,), {"forward": namespace["forward"]})


def save(module: GraphModule, signature: dict[str, Any]) -> bytes | None:
    """`module`'s code and buffers, with `signature` (JSON values) for
    `load` to return; None when the module has submodules (fixpoints, scans)."""
    if any(True for _ in module.children()):
        return None
    code = module.graph.python_code(root_module="self")
    buffers = [(name, tensor.detach().cpu()) for name, tensor in module.named_buffers()]
    header = {
        "source": _format_import_block(code.globals, sys_importer) + code.src,
        "buffers": [
            [name, str(t.dtype).removeprefix("torch."), list(t.shape)] for name, t in buffers
        ],
        "signature": signature,
    }
    encoded = json.dumps(header).encode()
    parts = [len(encoded).to_bytes(_LENGTH_BYTES, "little"), encoded]
    parts += [_raw_bytes(tensor) for _, tensor in buffers]
    return b"".join(parts)


def load(data: bytes, device: torch.device) -> tuple[SavedModule, dict[str, Any]]:
    """The module `save` stored, its buffers on `device`, and its signature."""
    length = int.from_bytes(data[:_LENGTH_BYTES], "little")
    header = json.loads(data[_LENGTH_BYTES : _LENGTH_BYTES + length])
    offset = _LENGTH_BYTES + length
    buffers = {}
    for name, dtype_name, shape in header["buffers"]:
        dtype = getattr(torch, dtype_name)
        size = math.prod(shape) * dtype.itemsize
        raw = bytearray(data[offset : offset + size])  # writable: torch warns on bytes
        flat = torch.frombuffer(raw, dtype=dtype) if size else torch.empty(0, dtype=dtype)
        buffers[name] = flat.reshape(shape).to(device)
        offset += size
    if offset != len(data):
        raise ValueError(f"a saved torch module of {len(data)} bytes holds {offset}")
    return SavedModule(header["source"], buffers), header["signature"]


def _raw_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
