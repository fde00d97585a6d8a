"""The two engines, dtypes, activations, layer stacks and tolerances, and small random
networks and data for them."""

from __future__ import annotations

import itertools
from types import ModuleType

import numpy as np

from fastmlp import kernels, names, reference

ENGINES: dict[str, ModuleType] = {"rust": kernels, "numpy": reference}
DTYPES = [np.float32, np.float64]
ACTIVATIONS = list(names.ACTIVATIONS)  # a new activation is tested in both engines at once
# Layer stacks with 0, 1, 2 and 3 hidden layers.
STACKS = [[20, 10], [20, 16, 10], [20, 16, 12, 10], [20, 16, 12, 8, 10]]

# Rust vs the NumPy oracle on one computation: the two sum in different orders, so they
# agree to a few ulps of the accumulated magnitude.
#   float32: rtol 2e-5, atol 2e-6     float64: rtol 1e-11, atol 1e-13
TOLERANCE = {
    np.float32: {"rtol": 2e-5, "atol": 2e-6},
    np.float64: {"rtol": 1e-11, "atol": 1e-13},
}
# After an epoch of many SGD steps the per-step differences compound.
#   float32: rtol 1e-3, atol 1e-4     float64: rtol 1e-9, atol 1e-11
EPOCH_TOLERANCE = {
    np.float32: {"rtol": 1e-3, "atol": 1e-4},
    np.float64: {"rtol": 1e-9, "atol": 1e-11},
}


def make_params(
    sizes: list[int], dtype: type, seed: int = 0, scale: float = 0.5
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Random weights (fan_in, fan_out) and biases (fan_out,) for layer ``sizes``."""
    rng = np.random.default_rng(seed)
    weights = [
        (rng.normal(0.0, scale / np.sqrt(i), size=(i, o))).astype(dtype)
        for i, o in itertools.pairwise(sizes)
    ]
    biases = [rng.normal(0.0, 0.1, size=o).astype(dtype) for o in sizes[1:]]
    return weights, biases


def make_data(
    n: int, features: int, classes: int, dtype: type, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x`` (n, features) in [0, 1), integer ``labels`` (n,), and their one-hot (n, classes)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, features)).astype(dtype)
    labels = rng.integers(0, classes, size=n)
    y = np.zeros((n, classes), dtype=dtype)
    y[np.arange(n), labels] = 1
    return x, labels, y


def copy_params(params: list[np.ndarray]) -> list[np.ndarray]:
    return [p.copy() for p in params]
