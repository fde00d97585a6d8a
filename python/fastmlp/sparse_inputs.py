"""scipy.sparse inputs as both engines take them: any format as CSR (CSC's ``tocsr()`` is a
sparse-to-sparse conversion), and the checks a CSR matrix must pass, never densified.

:func:`check_csr` is the Rust core's ``check_csr`` (``rust/core/src/sparse/csr.rs``) in plain
NumPy, with the same messages in the same order: the reference engine calls it, the Rust
engine's ``SparseRows.from_csr`` makes the same checks, so both refuse the same bad matrix
with the same ``ValueError``. scipy is never imported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["as_csr", "check_csr", "check_csr_width", "csr_arrays", "is_scipy_sparse"]


def is_scipy_sparse(value: object) -> bool:
    """Whether ``value`` is a scipy.sparse matrix or array (without importing scipy)."""
    return type(value).__module__.startswith("scipy.sparse") and hasattr(value, "tocsr")


def as_csr(x: Any) -> Any:
    """A scipy.sparse ``x`` in CSR format: itself, or its sparse conversion (CSC, COO, ...)."""
    if getattr(x, "ndim", 2) != 2:
        raise ValueError(f"x: expected a 2-D matrix, got shape {x.shape}")
    return x if x.format == "csr" else x.tocsr()


def csr_arrays(csr: Any) -> tuple[NDArray[np.int64], NDArray[Any], NDArray[Any]]:
    """``(indptr, indices, data)`` of a CSR matrix as ``SparseRows.from_csr`` takes them:
    ``indptr`` int64; ``indices`` int32 or int64 as stored (other integer types as int64);
    all C-ordered in this machine's byte order. The arrays are views where they can be."""
    indptr = _native_int(np.asarray(csr.indptr), np.int64)
    indices = np.asarray(csr.indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"x: expected integer column indices, got dtype {indices.dtype}")
    keep = indices.dtype.newbyteorder("=") in (np.dtype(np.int32), np.dtype(np.int64))
    indices = _native_int(indices, indices.dtype.newbyteorder("=") if keep else np.int64)
    data = np.asarray(csr.data)
    if data.dtype.byteorder not in "=|":
        data = data.astype(data.dtype.newbyteorder("="))
    return indptr, indices, np.ascontiguousarray(data)


def _native_int(array: NDArray[Any], dtype: Any) -> NDArray[Any]:
    """``array`` as a C-ordered ``dtype`` array; unsigned values beyond int64 are an error."""
    if array.dtype.kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError("x: an index of the sparse matrix exceeds the int64 range")
    return np.ascontiguousarray(array, dtype=dtype)


def check_csr(x: Any) -> None:
    """The Rust core's checks of a CSR matrix ``x``, with its messages (see the module)."""
    rows, inputs = x.shape
    indptr = np.asarray(x.indptr).astype(np.int64)
    indices = np.asarray(x.indices).astype(np.int64)
    data = np.asarray(x.data)
    if inputs > np.iinfo(np.uint32).max:
        raise ValueError(f"x: {inputs} columns do not fit 32-bit indices")
    if len(indptr) != rows + 1:
        raise ValueError(f"x: expected indptr of {rows + 1} entries (rows + 1), got {len(indptr)}")
    if len(indices) != len(data):
        raise ValueError(
            f"x: expected as many indices as data values, got {len(indices)} and {len(data)}"
        )
    if indptr[0] != 0:
        raise ValueError(f"x: expected indptr[0] = 0, got {indptr[0]}")
    falls = np.flatnonzero(indptr[1:] < indptr[:-1])
    if falls.size:
        i = int(falls[0])
        raise ValueError(
            f"x: indptr decreases: indptr[{i + 1}] = {indptr[i + 1]} < indptr[{i}] = {indptr[i]}"
        )
    stored = int(indptr[rows])
    if stored > len(indices):
        raise ValueError(f"x: indptr[{rows}] = {stored} exceeds the {len(indices)} stored entries")
    outside = np.flatnonzero((indices[:stored] < 0) | (indices[:stored] >= inputs))
    if outside.size:
        entry = int(outside[0])
        raise ValueError(
            f"x: column index {indices[entry]} of row {_row_of(indptr, entry)} is outside "
            f"[0, {inputs})"
        )
    bad = np.flatnonzero(~np.isfinite(data[:stored]))
    if bad.size:
        entry = int(bad[0])
        raise ValueError(
            f"x: the stored value at row {_row_of(indptr, entry)}, column {indices[entry]} is "
            "NaN or infinite"
        )


def check_csr_width(x: Any, width: int) -> None:
    """The Rust engine's error for a matrix whose columns are not ``weights[0]``'s rows."""
    if x.shape[1] != width:
        raise ValueError(f"x: expected {width} columns (weights[0]'s fan_in), got {x.shape[1]}")


def _row_of(indptr: NDArray[np.int64], entry: int) -> int:
    """The row whose entries include stored entry ``entry``."""
    return int(np.searchsorted(indptr, entry, side="right")) - 1
