"""What every engine is timed on: the same rows, initial weights and row orders.

Each engine's process builds them itself from the same description (kind, rows, dtype,
seed), so every engine sees identical arrays without sending them between processes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from fastmlp import datasets
from fastmlp.engine import FloatArray

__all__ = [
    "CLASSES",
    "DATA_KINDS",
    "INPUTS",
    "check_data_kind",
    "init_params",
    "load_data",
    "load_images",
    "row_order",
]

INPUTS = 784  # pixels per MNIST-like row
CLASSES = 10
#: ``"random:D"`` (for a density D in (0, 1]) is also accepted: random rows, about D nonzero.
DATA_KINDS = ("random", "mnist-like", "fashion-mnist")


def _density(kind: str) -> float | None:
    """D of ``"random:D"``; None for the other kinds."""
    if not kind.startswith("random:"):
        return None
    try:
        density = float(kind.split(":", 1)[1])
    except ValueError:
        density = math.nan
    if not 0 < density <= 1:
        raise ValueError(f"data: expected random:D with 0 < D <= 1, got {kind!r}")
    return density


def check_data_kind(kind: str) -> str:
    """``kind`` if :func:`load_data` knows it, else a ValueError listing the kinds."""
    if kind in DATA_KINDS or _density(kind) is not None:
        return kind
    raise ValueError(f"data: expected one of {', '.join(DATA_KINDS)} or random:D, got {kind!r}")


def _tile(images: np.ndarray, labels: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``rows`` rows of ``images``/``labels`` repeated as often as needed."""
    index = np.arange(rows) % len(images)
    return images[index], labels[index]


def load_data(kind: str, rows: int, dtype: str, seed: int = 0) -> tuple[FloatArray, np.ndarray]:
    """``rows`` input rows (rows, 784) in ``dtype`` with values in [0, 1], and int64 labels.

    Args:
        kind: ``"random"`` (uniform pixels, uniform labels: the cost does not depend on
            the values for dense inputs), ``"random:D"`` (the same with only about a share
            D of the pixels nonzero), ``"mnist-like"`` (the bundled 5,000-digit
            ``mnist-sample``, training then test split, tiled to ``rows``) or
            ``"fashion-mnist"`` (found on disk by :func:`fastmlp.datasets.load`, never
            downloaded here; training then test split, tiled if ``rows`` exceeds them).
        rows: how many rows.
        dtype: ``"float32"`` or ``"float64"``.
        seed: for the random kinds.

    Raises:
        ValueError: an unknown ``kind`` or ``rows`` < 1.
        fastmlp.datasets.DatasetNotFoundError: ``"fashion-mnist"`` is not on this machine.
    """
    if rows < 1:
        raise ValueError(f"rows: expected a positive integer, got {rows}")
    check_data_kind(kind)
    if kind == "random" or kind.startswith("random:"):
        rng = np.random.default_rng(seed)
        x = rng.random((rows, INPUTS), dtype=np.dtype(dtype).type)
        density = _density(kind)
        if density is not None:
            x *= rng.random((rows, INPUTS), dtype=np.dtype(dtype).type) < density
        labels = rng.integers(0, CLASSES, size=rows, dtype=np.int64)
        return x, labels
    images, labels = load_images(kind, rows)
    return datasets.prepare(images, dtype=dtype), labels


def load_images(kind: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The uint8 images (rows, 28, 28) and int64 labels that :func:`load_data` prepares, for
    ``"mnist-like"`` and ``"fashion-mnist"`` (e.g. to write them to a file for the CLI)."""
    if kind not in ("mnist-like", "fashion-mnist"):
        raise ValueError(f"data: expected mnist-like or fashion-mnist, got {kind!r}")
    name = "mnist-sample" if kind == "mnist-like" else "fashion-mnist"
    data = datasets.load(name, download=False)
    images = np.concatenate([data.x_train, data.x_test])
    labels = np.concatenate([data.y_train, data.y_test]).astype(np.int64)
    return _tile(images, labels, rows)


def init_params(
    sizes: Sequence[int], dtype: str, seed: int
) -> tuple[list[FloatArray], list[FloatArray]]:
    """He-normal weights (fan_in, fan_out) and zero biases (fan_out,) in ``dtype``."""
    rng = np.random.default_rng(seed)
    weights = [
        rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out)).astype(dtype)
        for fan_in, fan_out in itertools.pairwise(sizes)
    ]
    biases = [np.zeros(fan_out, dtype=dtype) for fan_out in sizes[1:]]
    return weights, biases


def row_order(rows: int, seed: int, repetition: int) -> np.ndarray:
    """The int64 row order (rows,) of one repetition (0 is the warm-up): the same for every
    engine and thread count."""
    return np.random.default_rng([seed + 1, repetition]).permutation(rows).astype(np.int64)
