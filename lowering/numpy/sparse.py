"""Kernels for values that may be `scipy.sparse` relations.

`relations.py` decides which values are held sparse; this module runs them.
A sparse value is always a *canonical* `scipy.sparse.csr_array`: float32
data, sorted column indices, no duplicates. scipy merges two canonical
matrices (`+`, `-`, `maximum`, `multiply`) in one linear pass, two to three
times faster than its general path, so every kernel here returns canonical
CSR or a dense ndarray, and nothing sorts a value another may share.

The kernels are polymorphic: an operand the plan marks "maybe sparse" can
arrive as CSR or as an ndarray (an input whose density check kept it
dense), and one closure handles both. They exist for the ops relations
flow through: joins on one letter (`A @ B`, any transposes, also against a
vector), joins on all letters (`multiply`, the other side possibly
broadcast), one-operand projections, `add`/`sub`/`max`/`min`/`mul`, and
`step`. Any other op gets its operands densified first (`densified`):
correct, at the cost of an n^2 array.

Only rank 2 is held sparse: scipy's CSR is two-dimensional, and its n-D
COO arrays lack the products that joins need, so relations of higher rank
stay dense.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from fuse.dialects.fuse.subscripts import parse_subscripts
from fuse.lowering.einsum_plan import identity
from fuse.lowering.subscripts import align

from . import kernels
from .kernels import Array, Kernel, Shape, Transform, aligner

Sparse = sp.csr_array
Value = Any  # an ndarray or a canonical csr_array

_ZERO = np.float32(0.0)


def to_dense(x: Value) -> Array:
    return x.toarray() if sp.issparse(x) else x


def to_csr(x: Array | Sparse) -> Sparse:
    """A dense matrix as canonical CSR. The positions come from a Boolean
    mask's `flatnonzero`, several times faster than scipy's conversion
    (`np.nonzero` of the float matrix); in row-major order, they are sorted.
    A sparse matrix (a relation given sparse) is made canonical in place."""
    if sp.issparse(x):
        x.sum_duplicates()
        x.eliminate_zeros()
        return x
    rows, cols = x.shape
    positions = np.flatnonzero(x != _ZERO)
    index = np.int32 if max(len(positions), cols) < 2**31 else np.int64
    indptr = np.searchsorted(positions, np.arange(rows + 1) * cols).astype(index)
    indices = (positions % cols).astype(index)
    result = sp.csr_array((x.ravel()[positions], indices, indptr), shape=x.shape)
    result.has_canonical_format = True
    return result


def zeros(shape: Shape) -> Sparse:
    return sp.csr_array(shape, dtype=np.float32)


def settle(x: Value) -> Value:
    """A fresh kernel result in canonical form: CSR from CSC/COO (what
    transposes and elementwise products give), indices sorted; an ndarray
    as is. Sorts in place, so only for results, never for operands."""
    if not sp.issparse(x):
        return x
    x = x.tocsr()
    if not x.has_canonical_format:
        x.sum_duplicates()
    return x


def densified(kernel: Kernel, maybe_sparse: Sequence[bool]) -> Kernel:
    """`kernel` (a dense one) with its maybe-sparse operands made dense."""
    if len(maybe_sparse) == 1:
        return lambda x: kernel(to_dense(x))
    flags = tuple(maybe_sparse)
    return lambda *xs: kernel(*(to_dense(x) if s else x for x, s in zip(xs, flags, strict=True)))


def take(dim: int, position: int) -> Kernel:
    """`fuse.take` of a maybe-sparse matrix: one row or column, dense (a
    vector is never held sparse), read from CSR without densifying the
    matrix (`Ancestor(Alice, x)?` over a closure of millions of pairs)."""
    dense = kernels.take(dim, position)

    def run(x: Array) -> Array:
        if not sp.issparse(x):
            return dense(x)
        line = x[[position], :] if dim == 0 else x[:, [position]]
        return line.toarray().reshape(-1)

    return run


# --- step ------------------------------------------------------------------------

_ones_buffer = np.ones(0, dtype=np.float32)


def _ones(count: int) -> Array:
    """`count` ones: a read-only view of one shared buffer. The data of
    every sparse step is all ones; a fresh array per step would cost an
    nnz-sized, page-faulting write per fixpoint iteration (a tenth of a
    transitive closure), and a write into the shared one raises rather than
    corrupts."""
    global _ones_buffer
    if len(_ones_buffer) < count:
        _ones_buffer = np.ones(count, dtype=np.float32)
        _ones_buffer.setflags(write=False)
    return _ones_buffer[:count]


def step(x: Value) -> Sparse:
    """`fuse.unary step` into CSR: 1 where x > 0. From CSR, the positive
    entries; when all are positive (a union of facts: the usual case) the
    result shares the operand's index arrays, which nothing mutates, and
    costs one pass over the data."""
    if not sp.issparse(x):
        return to_csr((x > _ZERO).astype(np.float32))
    if not x.nnz or x.data.min() > _ZERO:
        result = sp.csr_array((_ones(x.nnz), x.indices, x.indptr), shape=x.shape)
        result.has_canonical_format = True
        return result
    result = x.copy()
    result.data = (x.data > _ZERO).astype(np.float32)
    result.eliminate_zeros()
    return result


# --- elementwise -------------------------------------------------------------------


def _transpose(x: Value) -> Value:
    return x.T


def _layout(letters: str, output: str, shape: Shape, maybe_sparse: bool) -> Transform | None:
    """Lays an operand out along `output`: a maybe-sparse one must hold every
    output letter (a transpose at most), a dense one broadcasts."""
    if not maybe_sparse:
        return aligner(align(letters, output), shape)
    if len(letters) != 2 or sorted(letters) != sorted(output):
        return None
    return identity if letters == output else _transpose


def _symmetric(
    method: str, dense: Callable[[Value, Value], Value]
) -> Callable[[Value, Value], Value]:
    """A commutative operation: the sparse operand's `method` when either
    operand is sparse (scipy keeps the result sparse), else `dense`."""

    def apply(x: Value, y: Value) -> Value:
        if sp.issparse(x):
            return getattr(x, method)(y)
        if sp.issparse(y):
            return getattr(y, method)(x)
        return dense(x, y)

    return apply


_multiply = _symmetric("multiply", np.multiply)
_maximum = _symmetric("maximum", np.maximum)
_minimum = _symmetric("minimum", np.minimum)


# Zero is absorbing or neutral for these, so sparse in, sparse out; `div`
# and `pow` would turn the implicit zeros into NaN or 1 and stay dense.
_BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": _multiply,
    "max": _maximum,
    "min": _minimum,
}


def _elementwise(
    fn: Callable[[Value, Value], Value],
    inputs: Sequence[str],
    output: str,
    shapes: Sequence[Shape],
    maybe_sparse: Sequence[bool],
) -> Kernel | None:
    lhs, rhs = (
        _layout(letters, output, shape, s)
        for letters, shape, s in zip(inputs, shapes, maybe_sparse, strict=True)
    )
    if lhs is None or rhs is None:
        return None
    if fn is not _multiply and _transpose not in (lhs, rhs):
        # scipy merges two canonical CSR operands into canonical CSR: no
        # need to scan the (possibly large) result again
        return lambda x, y: fn(lhs(x), rhs(y))
    return lambda x, y: settle(fn(lhs(x), rhs(y)))


def binary(
    fn: str, subscripts: str, shapes: Sequence[Shape], maybe_sparse: Sequence[bool]
) -> Kernel | None:
    """`fuse.binary` over maybe-sparse operands, or None (densify)."""
    if fn not in _BINARY:
        return None
    inputs, output = parse_subscripts(subscripts)
    return _elementwise(_BINARY[fn], inputs, output, shapes, maybe_sparse)


# --- einsum ------------------------------------------------------------------------


def einsum(
    inputs: Sequence[str],
    output: str,
    kind: str,
    shapes: Sequence[Shape],
    maybe_sparse: Sequence[bool],
) -> Kernel | None:
    """A `sum` einsum of one or two operands without diagonals, over
    maybe-sparse operands; None where it has no sparse form (densify).
    `fuse-einsum-path` splits longer joins into such binary steps."""
    if kind != "sum" or any(len(set(letters)) != len(letters) for letters in inputs):
        return None
    if len(inputs) == 1:
        return _project(inputs[0], output)
    if len(inputs) != 2:
        return None
    if set(output) == set("".join(inputs)):  # a join on every shared letter
        return _elementwise(_multiply, inputs, output, shapes, maybe_sparse)
    return _matmul(inputs[0], inputs[1], output, maybe_sparse)


def _project(letters: str, output: str) -> Kernel | None:
    """`ij->ji`, `ij->i`, `ij->`: a transpose or row/column/total sums."""
    if len(letters) != 2:
        return None
    if len(output) == 2:
        return identity if output == letters else lambda x: settle(x.T)
    if len(output) == 1:
        axis = 1 - letters.index(output)
        return lambda x: np.asarray(x.sum(axis=axis), dtype=np.float32)
    return lambda x: np.asarray(x.sum(), dtype=np.float32)


def _matmul(a: str, b: str, output: str, maybe_sparse: Sequence[bool]) -> Kernel | None:
    """`ij,jk->ik` up to transposes of either side and of the result, where
    either side may also be a vector (`j,jk->k`): one `@`."""
    shared = set(a) & set(b)
    if len(shared) != 1 or set(output) != set(a) ^ set(b):
        return None
    if any(s and len(letters) != 2 for letters, s in zip((a, b), maybe_sparse, strict=True)):
        return None
    (k,) = shared
    left = _transpose if len(a) == 2 and a[0] == k else identity
    right = _transpose if len(b) == 2 and b[1] == k else identity
    rows = a.replace(k, "")
    finish = _transpose if len(output) == 2 and output[0] != rows else identity
    return lambda x, y: settle(finish(left(x) @ right(y)))
