"""Where a torch run happens and in which element type.

Both choices are made once per compile, from `ExecutionConfig`, so a
request the machine cannot honour fails before any work, with a
`ValueError` naming the field (the same rule as every other config error):

* `device`: `auto` is CUDA if available, else MPS if available, else CPU;
  `cuda`, `cuda:N` and `mps` must exist.
* `precision`: `fp32` (default); `bf16`; `fp16` on CUDA or MPS only (CPU
  kernels for half are slow and round differently, so it is refused there);
  `auto` is bf16 on a CUDA device that supports it, else fp32.
"""

from __future__ import annotations

import torch

from fuse.config import ExecutionConfig


def resolve_device(config: ExecutionConfig) -> torch.device:
    requested = config.device
    cuda = torch.cuda.is_available()
    mps = torch.backends.mps.is_available()
    if requested == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if requested.startswith("cuda"):
        if not cuda:
            raise ValueError(
                f"ExecutionConfig.device={requested!r}: torch sees no CUDA device here; "
                "use 'auto' or 'cpu'"
            )
        device = torch.device(requested)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"ExecutionConfig.device={requested!r}: torch sees "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
        return device
    if requested == "mps" and not mps:
        raise ValueError(
            f"ExecutionConfig.device={requested!r}: torch has no MPS device here; "
            "use 'auto' or 'cpu'"
        )
    return torch.device(requested)


def resolve_dtype(config: ExecutionConfig, device: torch.device) -> torch.dtype:
    """The element type of the program's floating-point work."""
    precision = config.precision
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(
                f"ExecutionConfig.precision='bf16': {torch.cuda.get_device_name(device)} "
                "does not support bfloat16; use 'fp32' or 'fp16'"
            )
        return torch.bfloat16
    if precision == "fp16":
        if device.type == "cpu":
            raise ValueError(
                "ExecutionConfig.precision='fp16' is refused on CPU (slow, differently "
                "rounded kernels); use 'bf16' or 'fp32', or a CUDA/MPS device"
            )
        return torch.float16
    # auto
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32
