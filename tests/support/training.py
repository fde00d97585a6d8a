"""Shared by the ``MLP`` training tests: the engines and dtypes by name, the agreement
bounds between them, the bundled sample prepared once, random data, and parameter checks."""

from __future__ import annotations

import functools
from types import ModuleType

import numpy as np

from fastmlp import MLP, kernels, reference
from fastmlp.datasets import load, prepare

ENGINE_NAMES = ["rust", "numpy"]
DTYPE_NAMES = ["float32", "float64"]
ENGINE_MODULES: dict[str, ModuleType] = {"rust": kernels, "numpy": reference}

# The Rust engine against the NumPy engine after two epochs of mini-batch SGD from the same
# seed. Measured on mnist-sample (784-32-16-10, 2000 rows, batch 64, relu/tanh/sigmoid): the
# largest difference of any weight was 1.8e-7 in float32 and 2.2e-16 in float64 (weights of
# magnitude up to 1.5). The bounds leave a margin of about 100x and 4500x.
ENGINE_AGREEMENT = {
    "float32": {"rtol": 1e-4, "atol": 2e-5},
    "float64": {"rtol": 1e-10, "atol": 1e-12},
}
# One forward pass computed in pieces or in one go: a few ulps (BLAS picks its kernels by the
# number of rows, so the NumPy engine is not bit-identical across row counts).
FORWARD_AGREEMENT = {
    "float32": {"rtol": 1e-5, "atol": 1e-7},
    "float64": {"rtol": 1e-12, "atol": 1e-15},
}


@functools.cache
def mnist_sample(
    dtype: str = "float32",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The bundled 5,000 digits, prepared: (x_train, y_train, x_test, y_test). Read-only."""
    data = load("mnist-sample")
    arrays = (prepare(data.x_train, dtype), data.y_train, prepare(data.x_test, dtype), data.y_test)
    for array in arrays:
        array.flags.writeable = False  # tests share them: a test that writes fails loudly
    return arrays


def synthetic(
    n: int = 96, features: int = 20, classes: int = 4, dtype: str = "float32", seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs in [0, 1) (n, features) and integer labels (n,)."""
    rng = np.random.default_rng(seed)
    return rng.random((n, features)).astype(dtype), rng.integers(0, classes, size=n)


def parameters(model: MLP) -> list[np.ndarray]:
    return [*model.weights, *model.biases]


def snapshot(model: MLP) -> list[np.ndarray]:
    return [a.copy() for a in parameters(model)]


def assert_identical(actual: list[np.ndarray], expected: list[np.ndarray]) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert a.dtype == e.dtype and a.shape == e.shape
        np.testing.assert_array_equal(a, e, strict=True)


def assert_close(actual: list[np.ndarray], expected: list[np.ndarray], tol: dict) -> None:
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        assert a.dtype == e.dtype and a.shape == e.shape
        np.testing.assert_allclose(a, e, **tol)


def all_finite(model: MLP) -> bool:
    return all(bool(np.isfinite(a).all()) for a in parameters(model))
