"""Values given in `run(inputs=...)`: the one check every backend applies,
and the conversions between the caller's arrays and the backends'.

Backends compute in fp32 and take runtime inputs as real numbers. A value
that is not one (complex, strings, objects, a ragged nested list) or that
only becomes one by losing information (a finite float64 beyond the fp32
range, which the conversion turns into inf) is refused here, with the
tensor's name, before any backend converts it: NumPy and torch would
otherwise drop an imaginary part with at most a warning, and raise errors
that do not say which input was at fault. Infinities and NaNs the caller
passes are values like any other (an `-inf` mask) and pass unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from fuse.errors import FuseError

_FP32_MAX = float(np.finfo(np.float32).max)
# NumPy dtype kinds of real numbers: bool, signed and unsigned integers, floats.
_REAL_KINDS = frozenset("biuf")


def checked_input(name: str, value: Any) -> Any:
    """`value` if it is a real array (NumPy, torch or JAX; returned as is so
    the backend keeps its device and autograd graph) whose finite values fit
    fp32; a Python scalar or (nested) list comes back as a NumPy array.
    Anything else is a `FuseError` naming input `name`."""
    if isinstance(value, np.ndarray) and value.dtype == np.float32:
        return value  # the common case: nothing to check
    if sp.issparse(value):  # a relation given sparse: its stored values are checked
        checked_input(name, value.data)
        return value
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        value = _as_array(name, value)
        dtype = value.dtype
    if _is_torch_dtype(dtype):
        _check_torch(name, value)
        return value
    dtype = np.dtype(dtype)
    if dtype.kind not in _REAL_KINDS:
        raise FuseError(
            f"input '{name}' has {_describe(dtype)} values (dtype {dtype}); "
            "runtime inputs are real numbers (bool, integer or float arrays)"
        )
    if dtype.kind == "f" and dtype.itemsize > 4:
        _check_range(name, np.abs(np.asarray(value)))
    return value


def _as_array(name: str, value: Any) -> np.ndarray:
    """A Python scalar or nested list as an array; a ragged list is an error."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as error:
        raise FuseError(
            f"input '{name}' is not a rectangular array of numbers ({error}); "
            "nested lists must have the same length at each level"
        ) from None


def _describe(dtype: np.dtype) -> str:
    kinds = {"c": "complex", "O": "Python object", "U": "string", "S": "bytes string"}
    return kinds.get(dtype.kind, "non-numeric")


def _check_range(name: str, magnitudes: Any) -> None:
    """A finite magnitude beyond fp32's range would silently become inf."""
    finite = magnitudes[(magnitudes == magnitudes) & (magnitudes != float("inf"))]  # no NaN
    largest = float(finite.max()) if len(finite) else 0.0
    if largest > _FP32_MAX:
        raise FuseError(
            f"input '{name}' holds the finite value {largest:g}, beyond the float32 range "
            f"(largest {_FP32_MAX:g}); it would become inf. Scale it, or pass inf explicitly"
        )


def _is_torch_dtype(dtype: Any) -> bool:
    return type(dtype).__module__ == "torch"


def _check_torch(name: str, tensor: Any) -> None:
    if tensor.dtype.is_complex:
        raise FuseError(
            f"input '{name}' has complex values (dtype {tensor.dtype}); "
            "runtime inputs are real numbers (bool, integer or float tensors)"
        )
    if tensor.dtype.is_floating_point and tensor.dtype.itemsize > 4:
        _check_range(name, tensor.detach().abs())


def to_host(value: Any) -> np.ndarray:
    """A NumPy array of a result or input from any backend (torch tensors,
    possibly on a device or requiring grad; JAX arrays; NumPy arrays)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def defensive_copy(value: Any) -> Any:
    """`ExecutionConfig(zero_copy=False)`: results the caller owns outright
    (a backend may hand back read-only or shared buffers, e.g. constants),
    and inputs the backend cannot alias."""
    if hasattr(value, "clone"):
        return value.clone()
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


def as_float32(value: Any) -> Any:
    """How backends without their own `prepare_input` take runtime inputs: a
    scipy.sparse matrix (given only to a backend that takes sparse
    relations) as fp32 CSR, a copy the run may canonicalize, anything else
    as an fp32 NumPy array."""
    if sp.issparse(value):
        return sp.csr_array(value, dtype=np.float32, copy=True)
    return np.asarray(to_host(value), dtype=np.float32)
