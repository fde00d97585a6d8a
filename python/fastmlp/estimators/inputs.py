"""The estimators' inputs, converted once per call as scikit-learn does.

Lists, pandas DataFrames (whose column names become ``feature_names_in_``), any real dtype,
C or Fortran order: one conversion to a C-ordered array of the estimator's dtype
(scikit-learn's ``validate_data``, which also checks shapes, NaN and infinities and sets
``n_features_in_``). scipy.sparse CSR and CSC stay sparse (CSC becomes CSR: a sparse copy);
other sparse formats are converted to CSR. The engines train on them without densifying the
matrix (see :mod:`fastmlp.kernels`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.utils.validation import validate_data

from fastmlp.reference_outputs import check_sample_weight

__all__ = ["as_rows", "dtype_for", "validate_sample_weight", "validate_x", "validate_x_y"]

# When the estimator's dtype is None: scikit-learn's rule (float32 stays, else float64).
_SKLEARN_DTYPES = (np.float64, np.float32)


def dtype_for(fixed: np.dtype | None) -> Any:
    """The ``dtype`` argument of ``validate_data`` for an estimator dtype (None: sklearn's)."""
    return _SKLEARN_DTYPES if fixed is None else fixed


def as_rows(x: Any) -> Any:
    """A validated ``x`` as the engines take it: C-ordered dense, or CSR."""
    if hasattr(x, "format") and x.format != "csr":
        return x.tocsr()
    return x


def validate_x_y(
    estimator: Any, x: Any, y: Any, *, dtype: Any, reset: bool, y_numeric: bool
) -> tuple[Any, NDArray]:
    """``(x, y)`` checked and converted; ``y`` (n,) or (n, outputs) as given otherwise."""
    x, y = validate_data(
        estimator,
        x,
        y,
        reset=reset,
        accept_sparse=["csr", "csc"],
        multi_output=True,
        y_numeric=y_numeric,
        dtype=dtype,
        order="C",
    )
    return as_rows(x), y


def validate_x(estimator: Any, x: Any, dtype: np.dtype) -> Any:
    """``x`` for prediction: checked against the fitted features, in the model's dtype."""
    x = validate_data(
        estimator, x, reset=False, accept_sparse=["csr", "csc"], dtype=dtype, order="C"
    )
    return as_rows(x)


def validate_sample_weight(sample_weight: Any, rows: int, dtype: np.dtype) -> NDArray | None:
    """Row weights (rows,) in ``dtype``, or None when absent or all 1 (the same fit, exactly:
    then every batch's weighted mean is its plain mean). Weights must be finite, >= 0 and not
    all 0."""
    if sample_weight is None:
        return None
    if np.isscalar(sample_weight):
        sample_weight = np.full(rows, sample_weight, dtype=np.float64)
    weights = check_sample_weight(np.asarray(sample_weight), rows, dtype)
    assert weights is not None
    if not weights.any():
        raise ValueError("sample_weight: the weights are all zero; at least one must be positive")
    if (weights == 1).all():
        return None
    return weights
