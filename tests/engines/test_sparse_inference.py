"""Inference's first hidden layer through the sparse kernels (``input_path`` of the native
``forward``; ``"auto"``, what ``kernels.forward`` and ``MLP.predict_proba`` take, chooses it
on mostly-zero rows): the same outputs as the dense path and the NumPy oracle, for both
dtypes, every hidden activation, dense and sparse rows, inputs around the chunks of 32 and
row counts around the blocks of 128 rows; and the finite check ``MLP.predict_proba`` leaves
to it."""

from __future__ import annotations

import numpy as np
import pytest

import fastmlp
from fastmlp import _native, kernels, reference
from fastmlp.names import ACTIVATIONS
from tests.support.networks import TOLERANCE, make_params

# 0.0: all zeros; 0.19: MNIST's share of nonzero pixels; 1.0: no zeros at all.
DENSITIES = [0.0, 0.05, 0.19, 0.6, 1.0]
ROWS = [0, 1, 7, 127, 128, 129, 257, 600]
PATHS = ["dense", "sparse", "auto"]


def rows_of_density(n: int, features: int, density: float, dtype: type, seed: int = 0):
    """Rows in [0, 1) with about ``density`` of the values nonzero (some negative)."""
    rng = np.random.default_rng(seed)
    x = (rng.random((n, features)) - 0.2) * (rng.random((n, features)) < density)
    return np.ascontiguousarray(x.astype(dtype))


def assert_forward_matches(outputs, expected, dtype) -> None:
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected, strict=True):
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **TOLERANCE[dtype])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("output", ["softmax", "logistic", "identity", "exp"])
def test_each_path_matches_the_oracle(dtype, activation, density, path, output) -> None:
    x = rows_of_density(300, 40, density, dtype)
    weights, biases = make_params([40, 24, 12, 10], dtype, seed=3)
    expected = reference.forward(weights, biases, x, activation, output=output)
    outputs = _native.forward(weights, biases, x, activation, output, input_path=path)
    assert_forward_matches(outputs, expected, dtype)


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("density", [0.19, 1.0])
def test_row_counts_around_the_blocks(dtype, rows, density) -> None:
    x = rows_of_density(rows, 784, density, dtype, seed=rows)
    weights, biases = make_params([784, 128, 10], dtype, seed=4)
    expected = reference.forward(weights, biases, x, "relu")
    for path in PATHS:
        assert_forward_matches(
            _native.forward(weights, biases, x, "relu", input_path=path), expected, dtype
        )


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_sparse_path_is_the_same_on_any_thread_count(threads) -> None:
    x = rows_of_density(1000, 784, 0.19, np.float32, seed=5)
    weights, biases = make_params([784, 64, 10], np.float32, seed=6)
    before = fastmlp.get_num_threads()
    try:
        fastmlp.set_num_threads(1)
        one = _native.forward(weights, biases, x, "relu", input_path="sparse")
        fastmlp.set_num_threads(threads)
        many = _native.forward(weights, biases, x, "relu", input_path="sparse")
    finally:
        fastmlp.set_num_threads(before)
    for a, b in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, b)  # each block of rows is computed alone


def test_without_hidden_layers_every_path_is_the_dense_product(dtype) -> None:
    x = rows_of_density(50, 30, 0.1, dtype)
    weights, biases = make_params([30, 10], dtype, seed=7)
    dense = _native.forward(weights, biases, x, "relu", input_path="dense")
    for path in ("sparse", "auto"):
        for a, b in zip(
            _native.forward(weights, biases, x, "relu", input_path=path), dense, strict=True
        ):
            np.testing.assert_array_equal(a, b)


def test_an_unknown_path_is_a_value_error() -> None:
    weights, biases = make_params([8, 4, 2], np.float32)
    x = np.zeros((3, 8), np.float32)
    with pytest.raises(ValueError, match="input_path"):
        _native.forward(weights, biases, x, "relu", input_path="fast")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_counts_the_bad_values(dtype, path, bad) -> None:
    x = rows_of_density(40, 784, 0.19, dtype)
    x[3, 100] = bad
    x[39, 783] = bad
    weights, biases = make_params([784, 16, 10], dtype)
    with pytest.raises(ValueError, match=r"^x: contains 2 NaN or infinite values; clean"):
        _native.forward(weights, biases, x, "relu", input_path=path, check_finite=True)
    assert (
        len(_native.forward(weights, biases, x, "relu", input_path=path)) == 3
    )  # unchecked: computed


def test_check_finite_accepts_finite_values_whose_sums_overflow() -> None:
    """The sparse path's own finite check looks at the values, not at sums of them."""
    x = np.zeros((16, 784), np.float32)
    x[:, 10] = 3e38  # finite, but 8 of them sum to inf
    weights, biases = make_params([784, 16, 10], np.float32)
    checked = _native.forward(weights, biases, x, "relu", input_path="sparse", check_finite=True)
    unchecked = _native.forward(weights, biases, x, "relu", input_path="sparse")
    np.testing.assert_array_equal(checked[-1], unchecked[-1])


@pytest.mark.parametrize("density", [0.19, 1.0])
def test_predict_matches_the_numpy_engine(dtype, density) -> None:
    x = rows_of_density(523, 784, density, dtype, seed=8)
    models = [
        fastmlp.MLP([784, 32, 10], seed=0, dtype=np.dtype(dtype).name, engine=engine)
        for engine in ("rust", "numpy")
    ]
    rust, numpy = (model.predict_proba(x) for model in models)
    np.testing.assert_allclose(rust, numpy, **TOLERANCE[dtype])
    np.testing.assert_array_equal(models[0].predict(x), numpy.argmax(axis=1))


@pytest.mark.parametrize("engine", ["rust", "numpy"])
@pytest.mark.parametrize("density", [0.19, 1.0])
def test_predict_names_the_bad_values_as_the_numpy_engine_does(engine, density) -> None:
    x = rows_of_density(100, 784, density, np.float32)
    x[[7, 50, 99], [0, 400, 783]] = [np.nan, np.inf, -np.inf]
    model = fastmlp.MLP([784, 32, 10], seed=0, dtype="float32", engine=engine)
    for predict in (model.predict_proba, model.predict):
        with pytest.raises(ValueError, match=r"^x: contains 3 NaN or infinite values; clean"):
            predict(x)


def test_kernels_forward_takes_the_sparse_path_on_images() -> None:
    """``kernels.forward`` is the native forward with ``"auto"``, which takes the sparse
    path on MNIST digits (rows that share their nonzero pixels): the same bits."""
    images = fastmlp.datasets.load("mnist-sample").x_train[:300]
    x = fastmlp.datasets.prepare(images, dtype=np.float32)
    weights, biases = make_params([784, 256, 10], np.float32)
    sparse = _native.forward(weights, biases, x, "relu", input_path="sparse")
    dense = _native.forward(weights, biases, x, "relu", input_path="dense")
    auto = kernels.forward(weights, biases, x, "relu")
    np.testing.assert_array_equal(auto[1], sparse[1])
    assert not np.array_equal(sparse[1], dense[1])  # the paths sum in different orders


def test_auto_keeps_a_narrow_first_layer_dense() -> None:
    """Marking each row's nonzeros costs the same whatever the layer's width: a narrow one
    stays dense."""
    images = fastmlp.datasets.load("mnist-sample").x_train[:300]
    x = fastmlp.datasets.prepare(images, dtype=np.float32)
    weights, biases = make_params([784, 32, 10], np.float32)
    dense = _native.forward(weights, biases, x, "relu", input_path="dense")
    np.testing.assert_array_equal(kernels.forward(weights, biases, x, "relu")[1], dense[1])


@pytest.mark.parametrize(("density", "path"), [(0.19, "sparse"), (0.6, "dense")])
def test_auto_follows_the_density_of_rows(density, path) -> None:
    """Rows are read one by one, so random rows as sparse as MNIST's take the sparse path
    too; rows mostly nonzero stay on the dense GEMM."""
    x = rows_of_density(300, 784, density, np.float32)
    weights, biases = make_params([784, 64, 10], np.float32)
    chosen = _native.forward(weights, biases, x, "relu", input_path=path)
    np.testing.assert_array_equal(kernels.forward(weights, biases, x, "relu")[1], chosen[1])
