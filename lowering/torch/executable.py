"""The callable a `TorchBackend` compile returns."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from xdsl.dialects.builtin import ModuleOp

from fuse.config import ExecutionConfig
from fuse.errors import FuseError
from fuse.lowering.backend import FixpointDivergence, main_function, unique_names
from fuse.lowering.symbolic_sizes import SizeReader

from . import saved
from .device import resolve_device, resolve_dtype
from .graph import Settings, StatusRow, arg_names, lower_main, static_shape
from .saved import SavedModule


def as_tensor(value: Any) -> torch.Tensor:
    """A runtime input as a float32 tensor. A tensor keeps its device and its
    autograd history (a dtype change is a differentiable `.to`); anything
    else goes through NumPy. A read-only array is copied: torch cannot wrap
    one without warning, although no kernel writes into its inputs."""
    if isinstance(value, torch.Tensor):
        # `.to` costs microseconds even when it changes nothing; runs of
        # small programs feel it, so only convert what needs converting.
        return value if value.dtype == torch.float32 else value.to(torch.float32)
    array = np.asarray(value, dtype=np.float32)
    return torch.from_numpy(array if array.flags.writeable else array.copy())


def build_executable(
    module: ModuleOp,
    config: ExecutionConfig,
    sizes: SizeReader | None = None,
    probe: bool = False,
) -> TorchExecutable:
    """The executable of `module`; with `probe`, a plan at probe sizes that
    `sizes` reads back, or that is lowered for its text before they are
    read (`sizes` None; fuse.lowering.torch.symbolic)."""
    device = resolve_device(config)
    settings = Settings(
        resolve_dtype(config, device),
        config.tolerance,
        config.max_iters,
        config.block_size,
        config.progress,
        probe,
        sizes,
    )
    main = main_function(module)
    lowered = lower_main(main, settings)
    return TorchExecutable(
        lowered.module.to(device),
        tuple(arg_names(main)),
        tuple(static_shape(arg) for arg in main.body.block.args),
        len(main.function_type.outputs.data),
        lowered.rows,
        device,
        compile=config.compile,
    )


def save_executable(executable: TorchExecutable) -> bytes | None:
    """`executable` as `load_executable` reads it back; None for a program
    with fixpoints (see `saved.py`)."""
    if executable._rows:
        return None
    signature = {
        "arg_names": executable.arg_names,
        "arg_shapes": executable.arg_shapes,
        "result_count": executable._result_count,
    }
    return saved.save(executable.fx_module, signature)


def load_executable(data: bytes, config: ExecutionConfig) -> TorchExecutable:
    device = resolve_device(config)
    module, signature = saved.load(data, device)
    return TorchExecutable(
        module,
        tuple(signature["arg_names"]),
        tuple(tuple(shape) for shape in signature["arg_shapes"]),
        signature["result_count"],
        [],
        device,
        compile=config.compile,
    )


class TorchExecutable:
    """Runs one program: `executable([x, w]) -> [y]`, arguments and results
    in `@main` order.

    Arguments may be NumPy arrays (or anything `np.asarray` takes) or torch
    tensors; they are moved to the program's device as fp32, and a tensor
    that requires grad keeps its graph, so gradients flow through a run.
    Results are fp32 torch tensors on that device (not NumPy arrays: that
    would cut autograd and force a copy off the device).

    `fx_module` is the program as a `torch.fx.GraphModule` with the same
    signature; when the program has fixpoints it returns one more output,
    their status rows (see `fixpoint.py`). With `compile=True` runs go
    through `torch.compile(module.forward)`. After each run,
    `fixpoint_iterations` maps each fixpoint's tensor names (joined by ", ")
    to its iteration count, as on the NumPy backend.

    `module` is the GraphModule, or the `saved.SavedModule` that an
    artifact cache entry holds (the same code and buffers, no graph); then
    `fx_module` is traced from it when first read.
    """

    def __init__(
        self,
        module: torch.fx.GraphModule | SavedModule,
        arg_names: tuple[str, ...],
        arg_shapes: tuple[tuple[int, ...], ...],
        result_count: int,
        rows: list[StatusRow],
        device: torch.device,
        *,
        compile: bool,
    ):
        self.module = module
        self.arg_names = arg_names
        self.arg_shapes = arg_shapes
        self.device = device
        self._result_count = result_count
        self._rows = rows
        # Runs call the bound `forward`, compiled or not, rather than the
        # module: nn.Module's call dispatch (hook checks, GraphModule's call
        # wrapper) costs about 2 us a call eagerly and 10-15 us through
        # the module wrapper torch.compile returns, and the module is built
        # here with no hooks to dispatch to.
        forward = module.forward
        self._run = torch.compile(forward) if compile else forward
        self._iterations: dict[str, int] = {}

    @functools.cached_property
    def fx_module(self) -> torch.fx.GraphModule:
        if isinstance(self.module, torch.fx.GraphModule):
            return self.module
        return torch.fx.symbolic_trace(self.module)

    @property
    def symbolic_text(self) -> str:
        """The generated code and the buffers' shapes (and the values of
        scalars, such as a scale that may follow the sizes), to compare two
        probes' lowerings by (fuse.runtime.export)."""
        from . import graph_code

        buffers = [
            f"# {name}: {tuple(b.shape)}" + (f" = {b.item()}" if b.numel() == 1 else "")
            for name, b in self.fx_module.named_buffers()
        ]
        return "\n".join([graph_code(self.fx_module), *buffers])

    def __call__(self, args: Sequence[Any]) -> list[torch.Tensor]:
        if len(args) != len(self.arg_shapes):
            raise FuseError(f"the program takes {len(self.arg_shapes)} inputs, got {len(args)}")
        tensors = []
        for name, arg, shape in zip(self.arg_names, args, self.arg_shapes, strict=True):
            tensor = as_tensor(arg)
            if tensor.device != self.device:
                tensor = tensor.to(self.device)
            if tensor.shape != shape:  # a torch.Size is a tuple
                raise FuseError(
                    f"input {name} has shape {tuple(tensor.shape)}, but the program expects {shape}"
                )
            tensors.append(tensor)
        outputs = self._run(*tensors)
        if self._rows:
            self._check(outputs[self._result_count])
        return list(outputs[: self._result_count])

    def _check(self, status: torch.Tensor) -> None:
        rows = status.tolist()
        self._iterations = {}
        for row, (_, iterations, _) in zip(self._rows, rows, strict=True):
            key = ", ".join(row.tensors)
            self._iterations[key] = self._iterations.get(key, 0) + int(iterations)
        for row, (hit_bound, _, change) in zip(self._rows, rows, strict=True):
            if hit_bound:
                raise FixpointDivergence(row.tensors, row.max_iters, change)

    @property
    def status_names(self) -> list[str]:
        """One name per status row of `fx_module`'s last output: the
        fixpoint's tensors, joined by ", "."""
        return unique_names(", ".join(row.tensors) for row in self._rows)

    @property
    def fixpoint_iterations(self) -> dict[str, int]:
        return dict(self._iterations)
