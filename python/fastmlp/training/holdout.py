"""The rows early stopping holds out: a stratified random split drawn from the model's generator."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["stratified_holdout"]


def stratified_holdout(
    labels: NDArray[np.int64], fraction: float, rng: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Split the rows into ``(train_rows, validation_rows)``, each sorted, stratified by label.

    ``ceil(fraction * n)`` rows are held out, as scikit-learn's ``train_test_split`` does;
    each class gives its share (rounded down, the remaining rows going to the classes with
    the largest remainders, ties to the lower class), picked at random within the class.

    Raises:
        ValueError: fewer than 2 validation rows, or no training row left.
    """
    n = len(labels)
    held = math.ceil(fraction * n)
    if held < 2:
        raise ValueError(
            f"validation_fraction: {fraction} of {n} rows is {held} row(s): the validation "
            "set needs at least 2; raise validation_fraction or pass validation_data"
        )
    if held >= n:
        raise ValueError(f"validation_fraction: {fraction} of {n} rows leaves no row to train on")
    classes, counts = np.unique(labels, return_counts=True)
    quotas = counts * held / n  # (classes,) each class's exact share
    shares = np.floor(quotas).astype(np.int64)
    remainders = quotas - shares
    # Stable sort on -remainder: the largest remainders first, ties to the lower class.
    for index in np.argsort(-remainders, kind="stable")[: held - int(shares.sum())]:
        shares[index] += 1
    validation = [
        rng.permutation(np.flatnonzero(labels == label))[:share]
        for label, share in zip(classes, shares, strict=True)
    ]
    validation_rows = np.sort(np.concatenate(validation)).astype(np.int64)
    train = np.ones(n, dtype=bool)
    train[validation_rows] = False
    return np.flatnonzero(train).astype(np.int64), validation_rows
