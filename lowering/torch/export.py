"""The torch side of `runner.export(format="torch")`.

`torch.export` traces an `nn.Module`; the program's GraphModule takes every
argument positionally (sources included) and returns a tuple. This wrapper
gives it the artifact's calling convention (fuse.runtime.export): a dict of
runtime inputs in, a dict of exports and sinks out, with sources held as
buffers and fixpoint status rows returned rather than raised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from fuse.lowering.backend import EXPORT_STATUS_KEY


class ExportableProgram(torch.nn.Module):
    """`forward({input: tensor}) -> {export or sink path: tensor}`."""

    def __init__(
        self,
        program: torch.nn.Module,
        arguments: Sequence[str],
        constants: Mapping[str, np.ndarray],
        output_names: Sequence[str],
        status_names: Sequence[str],
    ):
        super().__init__()
        self.program = program
        self.arguments = tuple(arguments)
        self.output_names = tuple(output_names)
        self.status_names = tuple(status_names)
        self.buffer_of: dict[str, str] = {}
        for number, (name, value) in enumerate(constants.items()):
            self.buffer_of[name] = f"constant{number}"
            self.register_buffer(self.buffer_of[name], torch.as_tensor(np.asarray(value)))

    def forward(self, inputs: dict[str, Tensor]) -> dict[str, object]:
        args = [
            getattr(self, self.buffer_of[name]) if name in self.buffer_of else inputs[name]
            for name in self.arguments
        ]
        outputs = self.program(*args)
        count = len(self.output_names)
        results: dict[str, object] = dict(zip(self.output_names, outputs[:count], strict=True))
        if self.status_names:
            rows = outputs[count]
            results[EXPORT_STATUS_KEY] = {name: rows[n] for n, name in enumerate(self.status_names)}
        return results
