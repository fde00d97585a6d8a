"""Checks on a training run's inputs and outcome that warn or refuse when the evidence is
clear: inputs far outside the usual range, a loss that ends far above its start, and
probabilities that overflowed to NaN."""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.typing import NDArray

from fastmlp.errors import TrainingWarning

__all__ = ["check_probabilities", "warn_if_exploded", "warn_if_unscaled"]

#: A run whose last epoch's loss is this many times its starting loss (and worse than
#: guessing uniformly) went wrong: no working learning rate ends there.
EXPLODED_FACTOR = 3.0
#: Inputs whose 99th percentile of magnitude exceeds this are far outside the usual range
#: ([0, 1] pixels, standardised features): unscaled 0..255 pixels reach 255.
UNSCALED_LIMIT = 10.0
#: At most this many values are looked at for that percentile.
SAMPLE_VALUES = 1 << 17


def warn_if_unscaled(arg: str, x: NDArray) -> None:
    """A :class:`TrainingWarning` when ``x`` (n, features) is mostly far outside [-10, 10].

    A scipy.sparse ``x`` is judged by its stored values (its zeros are in range)."""
    # order="K": the values in memory order, a view (no copy) of a Fortran-ordered x too.
    flat = np.asarray(x.data) if _is_sparse(x) else np.ravel(x, order="K")
    step = max(1, flat.size // SAMPLE_VALUES)
    sample = np.abs(flat[::step])
    # The 99th percentile interpolates between the sorted values at floor(p) and ceil(p),
    # p = 0.99 (n - 1): it can only exceed the limit when the one at ceil(p) does, that is
    # when at least n - ceil(p) values do (one fewer here, against p's rounding). Counting
    # them is far cheaper than the percentile. No values (a sparse x of zeros): in range.
    above_needed = sample.size - math.ceil(0.99 * (sample.size - 1)) - 1
    if sample.size == 0 or np.count_nonzero(sample > UNSCALED_LIMIT) < above_needed:
        return
    magnitude = float(np.percentile(sample, 99))
    if magnitude > UNSCALED_LIMIT:
        warnings.warn(
            f"{arg}: 1% of the inputs are {magnitude:g} or more in magnitude (largest "
            f"{float(np.abs(flat).max()):g}); networks train badly on unscaled inputs. Pixels "
            "0..255? fastmlp.datasets.prepare(images) scales uint8 images to [0, 1]; scale "
            "other features to about [-1, 1] (e.g. standardise them)",
            TrainingWarning,
            stacklevel=3,
        )


def warn_if_exploded(start: float, end: float, classes: int, lr: float) -> None:
    """A :class:`TrainingWarning` when the loss ``end`` is far above ``start`` (finite both)."""
    if end > EXPLODED_FACTOR * start and end > math.log(classes):
        warnings.warn(
            f"the loss ended at {end:.4g}, {end / start:.0f} times its starting value "
            f"{start:.4g}: training diverged without reaching NaN; the model is likely no "
            f"better than a guess. Try a smaller learning rate than lr={lr:g}",
            TrainingWarning,
            stacklevel=3,
        )


def check_probabilities(arg: str, p: NDArray, x: NDArray, offset: int = 0) -> None:
    """Raise ``ValueError`` naming the rows of ``x`` whose probabilities ``p`` are not finite."""
    bad = np.flatnonzero(~np.isfinite(p).all(axis=1))
    if bad.size:
        first = int(bad[0])
        row = x[first].toarray() if _is_sparse(x) else x[first]
        largest = float(np.abs(row).max()) if np.isfinite(row).all() else math.inf
        raise ValueError(
            f"{arg}: the class probabilities of {bad.size} row(s) are NaN (first: row "
            f"{first + offset}, inputs up to {largest:g}): the logits overflowed "
            f"{p.dtype.name}. Inputs this large are far outside what the model was trained "
            "on; scale them as the training data was"
        )


def _is_sparse(x: object) -> bool:
    """Whether ``x`` is a scipy.sparse matrix or array (without importing scipy)."""
    return type(x).__module__.startswith("scipy.sparse")
