"""Argument checks for the training API: each failure names the argument, what was expected
and what was given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from fastmlp.names import DTYPES

Name = TypeVar("Name", bound=str)


def check_choice(arg: str, value: object, allowed: Sequence[Name]) -> Name:
    """``value`` if it is one of ``allowed`` (a tuple of :mod:`fastmlp.names`), else a
    ValueError listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{arg}: expected one of {', '.join(map(repr, allowed))}, got {value!r}")
    return cast(Name, value)


def check_dtype(dtype: object) -> np.dtype:
    """float32 or float64 given as a name, a NumPy type or a dtype."""
    try:
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in DTYPES:
        raise ValueError(f"dtype: expected 'float32' or 'float64', got {dtype!r}")
    return resolved


def check_layer_sizes(layer_sizes: object, min_outputs: int = 2) -> list[int]:
    """At least two positive integers: ``[inputs, hidden..., classes]``.

    ``min_outputs``: 2 for a softmax output (classes), 1 for the others.
    """
    if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
        raise TypeError(
            f"layer_sizes: expected a list of integers like [784, 128, 10], got {layer_sizes!r}"
        )
    sizes = list(layer_sizes)
    if len(sizes) < 2 or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in sizes
    ):
        raise ValueError(
            "layer_sizes: expected at least two positive integers [inputs, ..., classes], "
            f"got {sizes!r}"
        )
    if sizes[-1] < min_outputs:
        raise ValueError(f"layer_sizes: the output layer needs at least 2 classes, got {sizes!r}")
    return [int(s) for s in sizes]


def check_positive_int(arg: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{arg}: expected a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{arg}: expected a positive integer, got {value}")
    return int(value)


def check_learning_rate(lr: object, dtype: np.dtype | None = None) -> float:
    """``lr`` as a float: finite, > 0 and, given the model's ``dtype``, representable in it."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
        raise TypeError(f"lr: expected a positive number, got {lr!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a finite number > 0, got {lr}")
    if dtype is not None and lr > float(np.finfo(dtype).max):
        raise ValueError(
            f"lr: {lr} is infinite in the model's dtype {dtype.name} "
            f"(largest: {np.finfo(dtype).max:g})"
        )
    return float(lr)


def check_inputs(
    arg: str, x: object, features: int, dtype: np.dtype, *, finite: bool = True
) -> NDArray:
    """``x`` as a (n, features) array of ``dtype`` with finite values; never converted.

    A scipy.sparse matrix or array is checked the same way (its stored values). With
    ``finite=False`` a dense array's values are left to the caller to check (the Rust
    engine's forward pass does it in its own pass over ``x``, with the same message).
    """
    if type(x).__module__.startswith("scipy.sparse") and hasattr(x, "toarray"):
        return _check_sparse_inputs(arg, x, features, dtype)
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{arg}: expected a numpy.ndarray of {dtype.name}, got {type(x).__name__}; "
            "fastmlp.datasets.prepare(images) makes one"
        )
    if x.dtype != dtype:
        convert = f"convert with {arg}.astype(np.{dtype.name})"
        if x.dtype.kind in "ui":
            hint = "; fastmlp.datasets.prepare(images, dtype=...) scales uint8 images to [0, 1]"
        elif x.dtype.newbyteorder("=") == dtype:  # the model's type, in the other byte order
            raise TypeError(
                f"{arg}: expected dtype {dtype.name} (the model's) in this machine's byte "
                f"order, got {x.dtype.str} (byte order swapped); {convert}"
            )
        elif x.dtype.kind == "f" and x.dtype.newbyteorder("=").name in DTYPES:
            hint = f"; {convert} or build the model with dtype='{x.dtype.name}'"
        elif x.dtype.kind == "f":  # float16, longdouble: no model has those
            hint = f"; {convert} (models are float32 or float64)"
        else:
            hint = ""
        raise TypeError(f"{arg}: expected dtype {dtype.name} (the model's), got {x.dtype}{hint}")
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(
            f"{arg}: expected shape (n, {features}) to match layer_sizes[0], got {x.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{arg}: expected at least one row, got shape {x.shape}")
    if finite and not np.isfinite(x).all():
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise ValueError(f"{arg}: contains {bad} NaN or infinite values; clean the data first")
    return x


def check_labels(arg: str, labels: object, rows: int, classes: int) -> NDArray[np.int64]:
    """Integer class indices (rows,) in [0, classes), as int64."""
    array = np.asarray(labels)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{arg}: expected integer class labels, got dtype {array.dtype}")
    if array.ndim != 1 or array.shape[0] != rows:
        raise ValueError(
            f"{arg}: expected shape ({rows},) (one label per row of x), got {array.shape}"
        )
    if array.size and (array.min() < 0 or array.max() >= classes):
        raise ValueError(
            f"{arg}: expected labels in [0, {classes}) for {classes} output classes, "
            f"got values from {array.min()} to {array.max()}"
        )
    return np.ascontiguousarray(array, dtype=np.int64)


def _check_sparse_inputs(arg: str, x: Any, features: int, dtype: np.dtype) -> Any:
    """A scipy.sparse ``x``: CSR or CSC, (n, features), of ``dtype``, finite; never converted."""
    if x.format not in ("csr", "csc"):
        raise TypeError(
            f"{arg}: expected a scipy.sparse CSR or CSC matrix, got format {x.format!r}; "
            f"convert with {arg}.tocsr()"
        )
    if x.dtype != dtype:
        raise TypeError(
            f"{arg}: expected dtype {dtype.name} (the model's), got {x.dtype}; convert with "
            f"{arg}.astype(np.{dtype.name})"
        )
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(
            f"{arg}: expected shape (n, {features}) to match layer_sizes[0], got {x.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{arg}: expected at least one row, got shape {x.shape}")
    if not np.isfinite(x.data).all():
        bad = int(np.count_nonzero(~np.isfinite(x.data)))
        raise ValueError(f"{arg}: contains {bad} NaN or infinite values; clean the data first")
    return x


def check_targets(arg: str, targets: object, rows: int, outputs: int, dtype: np.dtype) -> NDArray:
    """Real targets (rows, outputs) (or (rows,) for one output) as C-ordered ``dtype``.

    For the outputs other than softmax: 0/1 indicators (logistic), values (identity), counts
    (exp). Unlike ``x``, targets are converted to the model's dtype.
    """
    array = np.asarray(targets)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{arg}: expected real targets, got dtype {array.dtype}")
    if array.ndim == 1 and outputs == 1:
        array = array[:, None]
    if array.shape != (rows, outputs):
        raise ValueError(
            f"{arg}: expected shape ({rows}, {outputs}) (one row of {outputs} targets per row "
            f"of x), got {array.shape}"
        )
    converted = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(converted).all():
        raise ValueError(f"{arg}: contains NaN or infinite values (in {dtype.name})")
    return converted


def check_class_names(names: object, classes: int) -> tuple[str, ...] | None:
    """``None``, or ``classes`` strings as a tuple (a model's ``class_names``)."""
    if names is None:
        return None
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise TypeError(f"class_names: expected a list of {classes} strings, got {names!r}")
    if len(names) != classes or not all(isinstance(n, str) for n in names):
        raise ValueError(
            f"class_names: expected {classes} names (strings), one per class, got {list(names)!r}"
        )
    return tuple(names)


def check_dataset_name(name: object) -> str | None:
    """``None``, or a non-empty string (a model's ``dataset``: a name or a path)."""
    if name is not None and not (isinstance(name, str) and name):
        raise ValueError(f"dataset: expected a dataset name or path, got {name!r}")
    return name
