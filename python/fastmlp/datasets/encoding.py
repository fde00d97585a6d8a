"""Turning a dataset's arrays into network inputs: scaled pixels and one-hot targets."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .dataset import IMAGE_SHAPE, PIXELS

Layout = Literal["rows", "columns"]
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_dtype(dtype: DTypeLike, argument: str = "dtype") -> np.dtype:
    """Return ``dtype`` as ``np.dtype``; raise ``ValueError`` unless it is float32 or float64."""
    try:
        resolved = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"{argument} must be 'float32' or 'float64', got {dtype!r}") from exc
    if resolved not in FLOAT_DTYPES:
        raise ValueError(f"{argument} must be 'float32' or 'float64', got {resolved}")
    return resolved


def _check_layout(layout: str) -> None:
    if layout not in ("rows", "columns"):
        raise ValueError(f"layout must be 'rows' or 'columns', got {layout!r}")


def prepare(
    images: ArrayLike,
    dtype: DTypeLike = "float32",
    layout: Layout = "rows",
) -> np.ndarray:
    """Flatten images and scale their pixels to [0, 1].

    Args:
        images: uint8 pixels 0..255 of shape (n, 28, 28) or (n, 784) -- e.g.
            ``Dataset.x_train`` -- or floats already in [0, 1] of the same shapes, which are
            only cast (and not copied when dtype and layout already match).
        dtype: ``"float32"`` or ``"float64"`` (or the NumPy types).
        layout: ``"rows"`` gives (n, 784), one sample per row, as the engines take it;
            ``"columns"`` gives (784, n), one sample per column, as some seed notebooks use.

    Returns:
        A C-contiguous ``dtype`` array of shape (n, 784) or (784, n) with values in [0, 1].
        uint8 input is divided by 255 in ``dtype``, so the result equals the seeds'
        ``x.reshape(n, -1).astype(dtype) / 255.0`` bit for bit.

    Raises:
        TypeError: ``images`` is neither uint8 nor floating point (e.g. int64 or bool).
        ValueError: wrong shape, float values outside [0, 1] or not finite, or an invalid
            ``dtype``/``layout``.
    """
    target = float_dtype(dtype)
    _check_layout(layout)
    x = np.asarray(images)
    if x.ndim == 3 and x.shape[1:] == IMAGE_SHAPE:
        x = x.reshape(len(x), PIXELS)
    if x.ndim != 2 or x.shape[1] != PIXELS:
        raise ValueError(
            f"images must have shape (n, 28, 28) or (n, 784), got {x.shape}"
            + (" (for one image use images[None])" if x.shape in ((28, 28), (PIXELS,)) else "")
        )
    if x.dtype == np.uint8:
        out = x.astype(target)
        out /= target.type(255)
    elif x.dtype.kind == "f":
        if x.size:
            low, high = float(np.min(x)), float(np.max(x))
            if not (np.isfinite(low) and np.isfinite(high)):
                raise ValueError("images: float pixels must be finite, found NaN or inf")
            if low < 0.0 or high > 1.0:
                hint = " (unscaled 0..255 pixels? pass the uint8 array)" if high > 1.0 else ""
                raise ValueError(
                    f"images: float pixels must lie in [0, 1], found {low:g}..{high:g}{hint}"
                )
        out = x.astype(target, copy=False)
    else:
        raise TypeError(
            f"images must be uint8 (0..255) or float (0..1), got dtype {x.dtype}; "
            "convert integer pixels with images.astype(np.uint8) after checking the range"
        )
    if layout == "columns":
        return np.ascontiguousarray(out.T)
    return np.ascontiguousarray(out)


def one_hot(
    labels: ArrayLike,
    num_classes: int | None = None,
    layout: Layout = "rows",
    dtype: DTypeLike = "float32",
) -> np.ndarray:
    """One-hot encode integer class labels.

    Args:
        labels: integers in [0, num_classes), shape (n,), e.g. ``Dataset.y_train``.
        num_classes: the number of classes C; default: ``labels.max() + 1``.
        layout: ``"rows"`` gives (n, C); ``"columns"`` gives (C, n).
        dtype: ``"float32"`` or ``"float64"``.

    Returns:
        A C-contiguous ``dtype`` array of zeros with a single 1 per sample.

    Raises:
        ValueError: labels not 1-D or not of an integer dtype, a negative label, a label
            >= ``num_classes``, ``num_classes`` not a positive integer, no labels to infer
            ``num_classes`` from, or an invalid ``dtype``/``layout``.
    """
    target = float_dtype(dtype)
    _check_layout(layout)
    y = np.asarray(labels)
    if y.dtype.kind not in "ui":
        raise ValueError(f"labels must have an integer dtype, got {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"labels must have shape (n,), got {y.shape}")
    if num_classes is None:
        if y.size == 0:
            raise ValueError("num_classes must be given when labels is empty")
        num_classes = int(y.max()) + 1
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes}")
    if y.size:
        negative = np.flatnonzero(y < 0)
        if negative.size:
            i = int(negative[0])
            raise ValueError(f"labels must be >= 0, found {y[i]} at index {i}")
        too_big = np.flatnonzero(y >= num_classes)
        if too_big.size:
            i = int(too_big[0])
            raise ValueError(
                f"labels must be < num_classes={num_classes}, found {y[i]} at index {i} "
                f"(largest label {y.max()})"
            )
    n = len(y)
    if layout == "rows":
        out = np.zeros((n, num_classes), dtype=target)
        out[np.arange(n), y] = 1
    else:
        out = np.zeros((num_classes, n), dtype=target)
        out[y, np.arange(n)] = 1
    return out
