"""Each function of the engine contract: both engines against plain formulas, and the Rust
engine against the NumPy oracle across dtypes, activations, layer stacks and batch sizes."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from fastmlp import kernels, reference
from tests.support.networks import (
    EPOCH_TOLERANCE,
    STACKS,
    TOLERANCE,
    copy_params,
    make_data,
    make_params,
)

BATCH_SIZES = [1, 7, 33, 64, 128, 256]


def assert_close(actual: np.ndarray, expected: np.ndarray, dtype: type, tol=TOLERANCE) -> None:
    assert actual.dtype == np.dtype(dtype), f"dtype {actual.dtype}, expected {np.dtype(dtype)}"
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, **tol[dtype])


# ---- kernels against formulas (both engines) -------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 1, 1), (7, 13, 5), (128, 784, 128), (3, 0, 4), (0, 5, 2)])
def test_matmul_is_the_matrix_product(engine: ModuleType, dtype: type, shape) -> None:
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.normal(size=(m, k)).astype(dtype)
    b = rng.normal(size=(k, n)).astype(dtype)
    expected = (a.astype(np.float64) @ b.astype(np.float64)).astype(dtype)
    # Error bound of a length-k dot product in this precision, per unit magnitude.
    eps = np.finfo(dtype).eps * max(k, 1) * 4
    result = engine.matmul(a, b)
    assert result.dtype == np.dtype(dtype) and result.shape == (m, n)
    np.testing.assert_allclose(result, expected, rtol=0, atol=eps * np.sqrt(max(k, 1)))


def test_matmul_reads_transposed_views_correctly(dtype: type) -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=(30, 20)).astype(dtype)
    b = rng.normal(size=(30, 10)).astype(dtype)
    # a.T is Fortran-ordered: the wrapper copies it to C order rather than misreading it.
    assert_close(kernels.matmul(a.T, b), a.T @ b, dtype)


@pytest.mark.parametrize(
    ("name", "formula"),
    [
        ("relu", lambda z: np.maximum(z, 0)),
        ("tanh", np.tanh),
        ("sigmoid", lambda z: 1 / (1 + np.exp(-z.astype(np.float64)))),
    ],
)
def test_activations_match_their_formulas(engine, dtype, name, formula) -> None:
    z = np.linspace(-30, 30, 231).astype(dtype).reshape(11, 21, 1)
    result = getattr(engine, name)(z)
    assert result.shape == z.shape and result.dtype == np.dtype(dtype)
    np.testing.assert_allclose(result, formula(z).astype(dtype), **TOLERANCE[dtype])


def test_sigmoid_does_not_overflow(engine, dtype) -> None:
    z = np.array([-1e4, -800.0, 0.0, 800.0, 1e4], dtype=dtype)
    with np.errstate(over="raise", invalid="raise"):  # underflow to 0 is the right answer
        result = engine.sigmoid(z)
    np.testing.assert_array_equal(result, np.array([0, 0, 0.5, 1, 1], dtype=dtype))


def test_softmax_is_stable_for_extreme_logits(engine, dtype) -> None:
    z = np.array([[1e4, -1e4, 0.0], [5.0, 5.0, 5.0], [-1e4, -1e4, -1e4 + 1]], dtype=dtype)
    p = engine.softmax(z)
    assert p.dtype == np.dtype(dtype)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(p[0], [1, 0, 0])
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(p[2], np.exp([-1, -1, 0]) / np.exp([-1, -1, 0]).sum(), rtol=1e-6)


def test_softmax_matches_the_formula(engine, dtype) -> None:
    z = np.random.default_rng(2).normal(scale=5, size=(50, 10)).astype(dtype)
    e = np.exp(z.astype(np.float64))
    assert_close(engine.softmax(z), (e / e.sum(axis=1, keepdims=True)).astype(dtype), dtype)


def test_cross_entropy_is_finite_at_zero_probability(engine, dtype) -> None:
    p = np.array([[0.0, 1.0], [0.25, 0.75]], dtype=dtype)
    y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    loss = engine.cross_entropy(p, y)
    expected = (-np.log(np.finfo(dtype).tiny) - np.log(0.75)) / 2
    assert isinstance(loss, float) and np.isfinite(loss)
    assert loss == pytest.approx(expected, rel=1e-6)


# ---- the network: Rust against the oracle ------------------------------------------------------


@pytest.mark.parametrize("sizes", STACKS, ids=lambda s: f"{len(s) - 2}hidden")
@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_forward_matches_the_oracle(dtype, activation, sizes, batch) -> None:
    weights, biases = make_params(sizes, dtype)
    x, _, _ = make_data(batch, sizes[0], sizes[-1], dtype)
    got = kernels.forward(weights, biases, x, activation)
    want = reference.forward(weights, biases, x, activation)
    assert len(got) == len(sizes) and got[0] is x
    for g, w in zip(got[1:], want[1:], strict=False):
        assert_close(g, w, dtype)


@pytest.mark.parametrize("sizes", STACKS, ids=lambda s: f"{len(s) - 2}hidden")
@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_backward_matches_the_oracle(dtype, activation, sizes, batch) -> None:
    weights, biases = make_params(sizes, dtype)
    x, _, y = make_data(batch, sizes[0], sizes[-1], dtype)
    outputs = reference.forward(weights, biases, x, activation)
    got_w, got_b = kernels.backward(weights, outputs, y, activation)
    want_w, want_b = reference.backward(weights, outputs, y, activation)
    for g, w in zip(got_w + got_b, want_w + want_b, strict=False):
        # Gradients are differences of O(1) terms: compare on the scale of the largest entry.
        scale = float(np.abs(w).max()) if w.size else 1.0
        np.testing.assert_allclose(
            g, w, rtol=TOLERANCE[dtype]["rtol"], atol=10 * TOLERANCE[dtype]["rtol"] * scale
        )
        assert g.dtype == np.dtype(dtype) and g.shape == w.shape


@pytest.mark.parametrize("sizes", STACKS, ids=lambda s: f"{len(s) - 2}hidden")
@pytest.mark.parametrize("batch", [1, 33, 128])
def test_sgd_step_matches_the_oracle_in_place(dtype, activation, sizes, batch) -> None:
    weights, biases = make_params(sizes, dtype)
    x, _, y = make_data(batch, sizes[0], sizes[-1], dtype)
    w_rust, b_rust = copy_params(weights), copy_params(biases)
    ids = [id(a) for a in w_rust + b_rust]
    loss_rust = kernels.sgd_step(w_rust, b_rust, x, y, 0.5, activation)
    loss_ref = reference.sgd_step(weights, biases, x, y, 0.5, activation)
    assert [id(a) for a in w_rust + b_rust] == ids
    assert loss_rust == pytest.approx(loss_ref, rel=TOLERANCE[dtype]["rtol"] * 10)
    for g, w in zip(w_rust + b_rust, weights + biases, strict=False):
        assert_close(g, w, dtype)


@pytest.mark.parametrize(
    "sizes",
    [[20, 10], [20, 16, 10], [20, 16, 12, 8, 10], [784, 128, 10]],
    ids=["0hidden", "1hidden", "3hidden", "784-128-10"],
)
@pytest.mark.parametrize("batch", BATCH_SIZES)
def test_train_epoch_matches_the_oracle_over_many_batches(dtype, activation, sizes, batch) -> None:
    n = 600
    weights, biases = make_params(sizes, dtype, seed=3)
    x, labels, _ = make_data(n, sizes[0], sizes[-1], dtype, seed=4)
    order = np.random.default_rng(5).permutation(n)
    w_rust, b_rust = copy_params(weights), copy_params(biases)
    # A stable learning rate: in a chaotic run any rounding difference grows without bound.
    lr = 0.1 if sizes[0] < 100 else 0.02
    loss_rust = kernels.train_epoch(w_rust, b_rust, x, labels, order, lr, batch, activation)
    loss_ref = reference.train_epoch(weights, biases, x, labels, order, lr, batch, activation)
    assert loss_rust == pytest.approx(loss_ref, rel=EPOCH_TOLERANCE[dtype]["rtol"])
    for g, w in zip(w_rust + b_rust, weights + biases, strict=False):
        assert_close(g, w, dtype, tol=EPOCH_TOLERANCE)


def test_train_epoch_stats_counts_correct_predictions_like_the_oracle(dtype) -> None:
    sizes = [20, 16, 10]
    weights, biases = make_params(sizes, dtype, seed=6)
    x, labels, _ = make_data(300, 20, 10, dtype, seed=7)
    order = np.arange(300)
    w2, b2 = copy_params(weights), copy_params(biases)
    loss_r, correct_r = kernels.train_epoch_stats(
        weights, biases, x, labels, order, 0.1, 32, "tanh"
    )
    loss_n, correct_n = reference.train_epoch_stats(w2, b2, x, labels, order, 0.1, 32, "tanh")
    assert correct_r == correct_n and 0 <= correct_r <= 300
    assert loss_r == pytest.approx(loss_n, rel=1e-4)


def test_train_epoch_accepts_any_integer_labels_and_order(dtype) -> None:
    sizes = [20, 10]
    weights, biases = make_params(sizes, dtype)
    x, labels, _ = make_data(50, 20, 10, dtype)
    w2, b2 = copy_params(weights), copy_params(biases)
    order = np.arange(50)
    kernels.train_epoch(
        weights, biases, x, labels.astype(np.uint8), order.astype(np.int32), 0.1, 8, "relu"
    )
    kernels.train_epoch(w2, b2, x, labels, order, 0.1, 8, "relu")
    for a, b in zip(weights + biases, w2 + b2, strict=False):
        np.testing.assert_array_equal(a, b)


def test_same_inputs_give_bit_identical_results(dtype) -> None:
    sizes = [784, 64, 10]
    x, labels, _ = make_data(1000, 784, 10, dtype)
    order = np.random.default_rng(0).permutation(1000)
    runs = []
    for _ in range(2):
        weights, biases = make_params(sizes, dtype)
        kernels.train_epoch(weights, biases, x, labels, order, 0.1, 64, "relu")
        runs.append(weights + biases)
    for a, b in zip(*runs, strict=False):
        np.testing.assert_array_equal(a, b)
