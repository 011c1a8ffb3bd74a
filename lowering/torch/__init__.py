"""The torch backend: the dataflow level as a `torch.fx.GraphModule`.

    exe = TorchBackend().compile(module, ExecutionConfig(device="cpu"))
    [y] = exe([x, w])          # torch tensors (NumPy arrays accepted as inputs)
    exe.fx_module              # the GraphModule: export it, compile it, read its code

Files: `graph.py` (IR walk -> FX graph), `kernels.py` (torch
code per op kind, recorded into the graph), `fixpoint.py` (the fixpoint
module: a host loop eagerly, `while_loop` under compile/export),
`device.py` (device and precision from the config), `executable.py` (the
callable), `saved.py` (an executable as bytes, for the artifact cache).
Design notes and measurements: docs/torch_backend.md.

Importing this package does not import torch; constructing a
`TorchBackend` (as compiling a program for it does) does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xdsl.dialects.builtin import ModuleOp

from fuse.config import ExecutionConfig
from fuse.lowering.symbolic_sizes import SizeReader

if TYPE_CHECKING:
    from torch.fx import GraphModule

    from .executable import TorchExecutable

__all__ = ["TorchBackend", "fx_code", "graph_code"]


class TorchBackend:
    name = "torch"
    takes_sparse_relations = False

    def __init__(self) -> None:
        # Imported once here, not in `prepare_input`: the runner calls that
        # for every runtime input of every run, and an import statement there
        # costs about 1 us a call. Constructing the backend imports torch.
        from .executable import as_tensor

        self._as_tensor = as_tensor

    def compile(self, module: ModuleOp, config: ExecutionConfig) -> TorchExecutable:
        from .executable import build_executable

        return build_executable(module, config)

    def compile_symbolic(
        self, module: ModuleOp, config: ExecutionConfig, sizes: SizeReader | None
    ) -> TorchExecutable:
        """`module` is a plan at probe sizes that `sizes` reads back: the
        executable's graph reads those sizes from its inputs
        (`symbolic.py`), for `torch.export` with symbolic shapes. With
        `sizes` None, the plan is lowered as it would be, its sizes left as
        numbers, for its text (from which fuse.runtime.export reads them)."""
        from .executable import build_executable
        from .symbolic import generalize

        executable = build_executable(module, config, sizes, probe=True)
        if sizes is not None:
            generalize(executable.fx_module, executable.arg_shapes, sizes)
        return executable

    def save(self, executable: TorchExecutable) -> bytes | None:
        """`executable`'s code, buffers and signature, which `load` reads
        back; None for a program with fixpoints (see `saved.py`)."""
        from .executable import save_executable

        return save_executable(executable)

    def load(self, data: bytes, config: ExecutionConfig) -> TorchExecutable:
        """The executable `save` stored, on `config`'s device."""
        from .executable import load_executable

        return load_executable(data, config)

    def prepare_input(self, value: Any) -> Any:
        """A runtime input as the executable takes it: a float32 tensor that
        keeps the caller's device and autograd graph (never detached), so a
        run is differentiable with respect to its inputs."""
        return self._as_tensor(value)


def fx_code(module: ModuleOp, config: ExecutionConfig) -> str:
    """The generated Python of the program (`fuse compile --emit fx`)."""
    return graph_code(TorchBackend().compile(module, config).fx_module)


def graph_code(root: GraphModule) -> str:
    """The code of a program's GraphModule, followed by that of each
    fixpoint region's GraphModule under a `# <submodule path>` line."""
    import torch

    parts = [root.code.strip()]
    for name, submodule in root.named_modules():
        if isinstance(submodule, torch.fx.GraphModule) and submodule is not root:
            parts.append(f"# {name}\n{submodule.code.strip()}")
    return "\n\n".join(parts) + "\n"
