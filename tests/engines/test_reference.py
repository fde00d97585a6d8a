"""Tests for fastmlp.reference, the plain-NumPy engine that serves as the oracle.

Everything else is checked against this module, so it is checked against
things that do not depend on it: hand-written formulas, hand-computed values
and central finite differences of the loss.
"""

import itertools

import numpy as np
import pytest

import fastmlp.reference as ref

DTYPES = [np.float32, np.float64]
ACTIVATION_NAMES = ["relu", "tanh", "sigmoid"]

# Finite-difference gradient check, in float64.
FD_STEP = 1e-6
GRAD_RTOL = 1e-6
GRAD_ATOL = 1e-8
# For relu, every hidden pre-activation must stay at least this far from the
# kink at 0, so that a step of FD_STEP in any parameter cannot cross it.
RELU_MARGIN = 1e-3


def make_network(sizes, dtype, rng, scale=0.5):
    """Random weights (fan_in, fan_out) and biases (fan_out,) for layer sizes."""
    weights = [
        rng.normal(0.0, scale, size=(fan_in, fan_out)).astype(dtype)
        for fan_in, fan_out in itertools.pairwise(sizes)
    ]
    biases = [rng.normal(0.0, scale, size=fan_out).astype(dtype) for fan_out in sizes[1:]]
    return weights, biases


def make_data(n, n_features, n_classes, dtype, rng):
    """Random inputs (n, n_features), labels (n,) and one-hot targets (n, n_classes)."""
    x = rng.normal(0.0, 1.0, size=(n, n_features)).astype(dtype)
    labels = rng.integers(0, n_classes, size=n)
    y = np.zeros((n, n_classes), dtype=dtype)
    y[np.arange(n), labels] = 1
    return x, labels, y


def copy_arrays(arrays):
    return [a.copy() for a in arrays]


def mean_loss(weights, biases, x, y, activation):
    return ref.cross_entropy(ref.forward(weights, biases, x, activation)[-1], y)


def pre_activations(weights, biases, x, activation):
    """Return z = a @ W + b for every hidden layer, computed apart from backward."""
    outputs = ref.forward(weights, biases, x, activation)
    return [outputs[layer] @ weights[layer] + biases[layer] for layer in range(len(weights) - 1)]


def finite_difference_grads(weights, biases, x, y, activation):
    """Central differences (J(t + h) - J(t - h)) / 2h for every weight and bias."""

    def numeric_grad(param):
        grad = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + FD_STEP
            loss_plus = mean_loss(weights, biases, x, y, activation)
            param[index] = saved - FD_STEP
            loss_minus = mean_loss(weights, biases, x, y, activation)
            param[index] = saved
            grad[index] = (loss_plus - loss_minus) / (2 * FD_STEP)
        return grad

    return [numeric_grad(w) for w in weights], [numeric_grad(b) for b in biases]


def gradient_check_problem(activation, n_hidden):
    """Build a small float64 problem: sizes 5, then 4, 3, 4 (n_hidden of them), 3.

    For relu, seeds are tried in turn until no hidden pre-activation is within
    RELU_MARGIN of 0 (deterministic: the same seed is found every run).
    """
    sizes = [5, *[4, 3, 4][:n_hidden], 3]
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        weights, biases = make_network(sizes, np.float64, rng)
        x, _, y = make_data(6, sizes[0], sizes[-1], np.float64, rng)
        zs = pre_activations(weights, biases, x, activation)
        if activation != "relu" or all(np.abs(z).min() > RELU_MARGIN for z in zs):
            return weights, biases, x, y
    raise AssertionError("no seed keeps the relu pre-activations away from 0")


# --------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_activations_match_formulas(dtype):
    z = np.linspace(-6, 6, 49).astype(dtype).reshape(7, 7)
    z64 = z.astype(np.float64)
    tol = {"rtol": 1e-6, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-15}

    np.testing.assert_array_equal(ref.relu(z), np.where(z > 0, z, 0))
    expected_tanh = (np.exp(z64) - np.exp(-z64)) / (np.exp(z64) + np.exp(-z64))
    np.testing.assert_allclose(ref.tanh(z), expected_tanh, **tol)
    np.testing.assert_allclose(ref.sigmoid(z), 1 / (1 + np.exp(-z64)), **tol)


def test_sigmoid_extreme_inputs_no_overflow():
    for dtype in DTYPES:
        z = np.array([-1e4, -800.0, -100.0, 0.0, 100.0, 800.0, 1e4], dtype=dtype)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            s = ref.sigmoid(z)
        assert s.dtype == dtype
        assert np.all(np.isfinite(s))
        assert np.all((s >= 0) & (s <= 1))
        assert s[0] == 0
        assert s[-1] == 1
        assert s[3] == 0.5
        # symmetric: sigmoid(-z) = 1 - sigmoid(z)
        np.testing.assert_allclose(s[::-1], 1 - s, atol=np.finfo(dtype).eps)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_derivative_from_output_matches_finite_difference_in_z(activation):
    act, derivative_from_output = ref.ACTIVATIONS[activation]
    z = np.linspace(-3, 3, 40)  # float64, never exactly 0
    h = 1e-6
    numeric = (act(z + h) - act(z - h)) / (2 * h)
    np.testing.assert_allclose(derivative_from_output(act(z)), numeric, rtol=1e-6, atol=1e-9)


def test_relu_derivative_is_zero_at_zero_output():
    a = np.array([0.0, 0.5, 0.0, 2.0])
    np.testing.assert_array_equal(ref.relu_derivative_from_output(a), [0.0, 1.0, 0.0, 1.0])


def test_activation_table_has_the_four_names():
    assert set(ref.ACTIVATIONS) == {"relu", "tanh", "sigmoid", "identity"}


def test_unknown_activation_is_a_value_error_listing_allowed_names():
    weights, biases = make_network([3, 2, 2], np.float64, np.random.default_rng(0))
    x, labels, y = make_data(4, 3, 2, np.float64, np.random.default_rng(1))
    calls = [
        lambda: ref.forward(weights, biases, x, "softplus"),
        lambda: ref.backward(weights, ref.forward(weights, biases, x, "relu"), y, "softplus"),
        lambda: ref.sgd_step(weights, biases, x, y, 0.1, "softplus"),
        lambda: ref.train_epoch(weights, biases, x, labels, np.arange(4), 0.1, 2, "softplus"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="softplus") as excinfo:
            call()
        for name in ("relu", "tanh", "sigmoid"):
            assert name in str(excinfo.value)


def test_unknown_activation_rejected_even_without_hidden_layers():
    weights, biases = make_network([3, 2], np.float64, np.random.default_rng(0))
    with pytest.raises(ValueError, match="activation"):
        ref.forward(weights, biases, np.ones((1, 3)), "Relu")


# --------------------------------------------------------------------------
# Softmax and cross-entropy
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_matches_formula(dtype):
    z = np.random.default_rng(0).normal(0, 3, size=(6, 5)).astype(dtype)
    e = np.exp(z.astype(np.float64))
    expected = e / e.sum(axis=1, keepdims=True)
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(ref.softmax(z), expected, rtol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_extreme_logits_are_finite_and_rows_sum_to_one(dtype):
    z = np.array(
        [
            [1e4, -1e4, 0.0],
            [-1e4, -1e4, -1e4],
            [1e4, 1e4, 1e4],
            [7.0, 7.0, 7.0],
            [-1e4, 1e4, 1e4],
        ],
        dtype=dtype,
    )
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = ref.softmax(z)
    assert p.dtype == dtype
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=0, atol=4 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(p[0], [1, 0, 0])
    np.testing.assert_allclose(p[1:4], 1 / 3, rtol=2 * np.finfo(dtype).eps)
    np.testing.assert_allclose(p[4], [0, 0.5, 0.5], rtol=0, atol=np.finfo(dtype).eps)


def test_cross_entropy_hand_computed():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    expected = -(np.log(0.7) + np.log(0.8)) / 2  # = 0.2899092476264711
    loss = ref.cross_entropy(p, y)
    assert type(loss) is float
    assert loss == pytest.approx(expected, rel=1e-15)
    assert loss == pytest.approx(0.2899092476264711, rel=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_finite_when_a_probability_is_zero(dtype):
    tiny = np.finfo(dtype).tiny
    # A zero on a non-target class contributes nothing (no 0 * -inf = nan) ...
    p = np.array([[1.0, 0.0], [0.5, 0.5]], dtype=dtype)
    y = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    with np.errstate(divide="raise", invalid="raise"):
        loss = ref.cross_entropy(p, y)
    assert loss == pytest.approx(np.log(2) / 2, rel=1e-6)
    # ... and a zero on the target class costs -log(tiny), finite.
    p = np.array([[0.0, 1.0], [0.0, 1.0]], dtype=dtype)
    y = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=dtype)
    with np.errstate(divide="raise", invalid="raise"):
        loss = ref.cross_entropy(p, y)
    assert np.isfinite(loss)
    assert loss == pytest.approx(-np.log(float(tiny)), rel=1e-6)


def test_cross_entropy_zero_probability_from_softmax_underflow():
    # exp(-1e4) underflows to exactly 0 in both dtypes: the loss stays finite.
    for dtype in DTYPES:
        p = ref.softmax(np.array([[0.0, 1e4]], dtype=dtype))
        assert p[0, 0] == 0
        loss = ref.cross_entropy(p, np.array([[1.0, 0.0]], dtype=dtype))
        assert np.isfinite(loss)
        assert loss > 80  # -log(tiny) is about 87.3 (float32) or 708.4 (float64)


# --------------------------------------------------------------------------
# dtype preservation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_function_keeps_the_dtype(dtype):
    rng = np.random.default_rng(3)
    weights, biases = make_network([5, 4, 3, 3], dtype, rng)
    x, labels, y = make_data(8, 5, 3, dtype, rng)
    z = x[:, :3]

    assert ref.matmul(x, weights[0]).dtype == dtype
    for fn in (ref.relu, ref.tanh, ref.sigmoid, ref.softmax):
        assert fn(z).dtype == dtype, fn.__name__
    for _, derivative in ref.ACTIVATIONS.values():
        assert derivative(ref.sigmoid(z)).dtype == dtype
    p = ref.softmax(z)
    assert type(ref.cross_entropy(p, y)) is float

    for activation in ACTIVATION_NAMES:
        outputs = ref.forward(weights, biases, x, activation)
        assert [o.dtype for o in outputs] == [dtype] * 4
        weight_grads, bias_grads = ref.backward(weights, outputs, y, activation)
        assert [g.dtype for g in weight_grads + bias_grads] == [dtype] * 6
        assert type(ref.sgd_step(weights, biases, x, y, 0.1, activation)) is float
        epoch_loss = ref.train_epoch(weights, biases, x, labels, np.arange(8), 0.1, 3, activation)
        assert type(epoch_loss) is float
        assert [w.dtype for w in weights + biases] == [dtype] * 6


def test_float32_cross_entropy_is_computed_in_float32():
    p = ref.softmax(np.random.default_rng(4).normal(size=(50, 7)).astype(np.float32))
    y = np.eye(7, dtype=np.float32)[np.arange(50) % 7]
    log_p = np.log(np.maximum(p, np.finfo(np.float32).tiny))
    expected = float(np.float32(-(y * log_p).sum(axis=1).mean()))
    assert ref.cross_entropy(p, y) == expected


def test_float32_sgd_step_does_not_upcast_a_float64_learning_rate():
    # np.float64(lr) * float32 array would be float64; the update must instead
    # be done in float32, bit for bit: W - float32(lr) * gW.
    rng = np.random.default_rng(5)
    weights, biases = make_network([6, 5, 4], np.float32, rng)
    x, _, y = make_data(10, 6, 4, np.float32, rng)
    lr = np.float64(0.1)
    outputs = ref.forward(weights, biases, x, "tanh")
    weight_grads, bias_grads = ref.backward(weights, outputs, y, "tanh")
    expected_w = [w - np.float32(lr) * g for w, g in zip(weights, weight_grads, strict=True)]
    expected_b = [b - np.float32(lr) * g for b, g in zip(biases, bias_grads, strict=True)]

    ref.sgd_step(weights, biases, x, y, lr, "tanh")
    for got, want in zip(weights + biases, expected_w + expected_b, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------
# forward and backward
# --------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("n_hidden", [0, 1, 2, 3])
def test_forward_structure(activation, n_hidden):
    sizes = [5, *[4, 3, 4][:n_hidden], 3]
    rng = np.random.default_rng(6)
    weights, biases = make_network(sizes, np.float64, rng)
    x, _, _ = make_data(7, 5, 3, np.float64, rng)
    act, _ = ref.ACTIVATIONS[activation]

    outputs = ref.forward(weights, biases, x, activation)
    assert len(outputs) == len(weights) + 1
    assert outputs[0] is x
    assert [o.shape for o in outputs] == [(7, size) for size in sizes]
    # layer by layer, straight from the definition
    a = x
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = a @ w + b
        a = ref.softmax(z) if layer == len(weights) - 1 else act(z)
        np.testing.assert_allclose(outputs[layer + 1], a, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(outputs[-1].sum(axis=1), 1, rtol=1e-14)


def test_zero_hidden_layers_is_softmax_regression():
    rng = np.random.default_rng(7)
    weights, biases = make_network([5, 3], np.float64, rng)
    x, _, y = make_data(9, 5, 3, np.float64, rng)
    outputs = ref.forward(weights, biases, x, "relu")
    np.testing.assert_array_equal(outputs[1], ref.softmax(x @ weights[0] + biases[0]))
    weight_grads, bias_grads = ref.backward(weights, outputs, y, "relu")
    delta = (outputs[1] - y) / 9
    np.testing.assert_allclose(weight_grads[0], x.T @ delta, rtol=1e-14)
    np.testing.assert_allclose(bias_grads[0], delta.sum(axis=0), rtol=1e-14, atol=1e-17)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("n_hidden", [0, 1, 2, 3])
def test_backward_matches_finite_differences(activation, n_hidden):
    weights, biases, x, y = gradient_check_problem(activation, n_hidden)
    outputs = ref.forward(weights, biases, x, activation)
    weight_grads, bias_grads = ref.backward(weights, outputs, y, activation)

    assert [g.shape for g in weight_grads] == [w.shape for w in weights]
    assert [g.shape for g in bias_grads] == [b.shape for b in biases]

    numeric_w, numeric_b = finite_difference_grads(weights, biases, x, y, activation)
    for layer in range(len(weights)):
        np.testing.assert_allclose(
            weight_grads[layer], numeric_w[layer], rtol=GRAD_RTOL, atol=GRAD_ATOL
        )
        np.testing.assert_allclose(
            bias_grads[layer], numeric_b[layer], rtol=GRAD_RTOL, atol=GRAD_ATOL
        )


def test_gradient_check_catches_tanh_applied_twice(monkeypatch):
    # Seed notebook 002 wrote the tanh derivative as 1 - tanh(a)**2 where a is
    # already tanh(z): tanh applied twice. The reference does NOT do that; this
    # test swaps that mistake into the activation table (for this test only) to
    # show the finite-difference check above would fail on it.
    weights, biases, x, y = gradient_check_problem("tanh", 1)
    numeric_w, _ = finite_difference_grads(weights, biases, x, y, "tanh")

    def tanh_applied_twice(a):
        return 1 - np.tanh(a) ** 2

    monkeypatch.setitem(ref.ACTIVATIONS, "tanh", (ref.tanh, tanh_applied_twice))
    outputs = ref.forward(weights, biases, x, "tanh")
    wrong_w, _ = ref.backward(weights, outputs, y, "tanh")
    assert not np.allclose(wrong_w[0], numeric_w[0], rtol=GRAD_RTOL, atol=GRAD_ATOL)


def test_backward_does_not_modify_its_inputs():
    weights, biases, x, y = gradient_check_problem("sigmoid", 2)
    outputs = ref.forward(weights, biases, x, "sigmoid")
    before = copy_arrays(weights) + copy_arrays(outputs) + [y.copy()]
    ref.backward(weights, outputs, y, "sigmoid")
    for got, want in zip(weights + outputs + [y], before, strict=True):
        np.testing.assert_array_equal(got, want)


# --------------------------------------------------------------------------
# sgd_step
# --------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_sgd_step_updates_in_place_and_returns_the_loss_before(activation):
    rng = np.random.default_rng(8)
    weights, biases = make_network([5, 4, 3, 3], np.float64, rng)
    x, _, y = make_data(10, 5, 3, np.float64, rng)
    lr = 0.05
    weight_ids = [id(w) for w in weights]
    bias_ids = [id(b) for b in biases]
    weights_before, biases_before = copy_arrays(weights), copy_arrays(biases)
    outputs = ref.forward(weights_before, biases_before, x, activation)
    loss_before = ref.cross_entropy(outputs[-1], y)
    weight_grads, bias_grads = ref.backward(weights_before, outputs, y, activation)

    returned = ref.sgd_step(weights, biases, x, y, lr, activation)

    assert returned == loss_before
    assert [id(w) for w in weights] == weight_ids
    assert [id(b) for b in biases] == bias_ids
    for layer in range(len(weights)):
        assert not np.array_equal(weights[layer], weights_before[layer])
        np.testing.assert_array_equal(
            weights[layer], weights_before[layer] - lr * weight_grads[layer]
        )
        np.testing.assert_array_equal(biases[layer], biases_before[layer] - lr * bias_grads[layer])


def test_sgd_step_changes_arrays_held_elsewhere():
    # The caller's own references see the update (no copy is made anywhere).
    rng = np.random.default_rng(9)
    w0, w1 = make_network([4, 3, 2], np.float32, rng)[0]
    b0, b1 = np.zeros(3, np.float32), np.zeros(2, np.float32)
    x, _, y = make_data(5, 4, 2, np.float32, rng)
    w0_before = w0.copy()
    ref.sgd_step((w0, w1), (b0, b1), x, y, 0.5, "relu")  # tuples work too
    assert not np.array_equal(w0, w0_before)
    assert np.any(b1 != 0)


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_sgd_step_with_a_small_lr_decreases_the_loss(activation, dtype):
    rng = np.random.default_rng(10)
    weights, biases = make_network([5, 6, 4, 3], dtype, rng)
    x, _, y = make_data(20, 5, 3, dtype, rng)
    loss_before = ref.sgd_step(weights, biases, x, y, 0.01, activation)
    loss_after = mean_loss(weights, biases, x, y, activation)
    assert loss_after < loss_before


# --------------------------------------------------------------------------
# train_epoch
# --------------------------------------------------------------------------


def test_one_hot_helper():
    y = ref._one_hot(np.array([2, 0, 1, 2]), 3, np.float32)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_train_epoch_equals_a_loop_of_sgd_steps(activation, dtype):
    rng = np.random.default_rng(11)
    n, batch_size, lr = 30, 7, 0.2
    weights, biases = make_network([5, 4, 3], dtype, rng)
    x, labels, _ = make_data(n, 5, 3, dtype, rng)
    # a subset with repeats, 23 rows: batches of 7, 7, 7 and a short one of 2
    order = rng.integers(0, n, size=23).astype(np.int64)
    x_before, labels_before, order_before = x.copy(), labels.copy(), order.copy()

    manual_w, manual_b = copy_arrays(weights), copy_arrays(biases)
    batch_losses, batch_lengths = [], []
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        y_batch = np.eye(3, dtype=dtype)[labels[rows]]
        batch_losses.append(ref.sgd_step(manual_w, manual_b, x[rows], y_batch, lr, activation))
        batch_lengths.append(len(rows))
    assert batch_lengths == [7, 7, 7, 2]
    expected = sum(
        loss * length for loss, length in zip(batch_losses, batch_lengths, strict=True)
    ) / len(order)

    weight_ids = [id(w) for w in weights + biases]
    result = ref.train_epoch(weights, biases, x, labels, order, lr, batch_size, activation)

    assert [id(w) for w in weights + biases] == weight_ids  # updated in place
    for got, want in zip(weights + biases, manual_w + manual_b, strict=True):
        np.testing.assert_array_equal(got, want)  # bit-identical
    assert result == expected
    # the weighting matters: the plain mean of the batch losses is different
    assert result != pytest.approx(np.mean(batch_losses), rel=1e-9)
    # the inputs are left alone
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(labels, labels_before)
    np.testing.assert_array_equal(order, order_before)


def test_train_epoch_with_one_batch_is_one_sgd_step():
    rng = np.random.default_rng(12)
    weights, biases = make_network([4, 3, 3], np.float64, rng)
    x, labels, y = make_data(10, 4, 3, np.float64, rng)
    manual_w, manual_b = copy_arrays(weights), copy_arrays(biases)
    expected = ref.sgd_step(manual_w, manual_b, x, y, 0.3, "sigmoid")
    result = ref.train_epoch(weights, biases, x, labels, np.arange(10), 0.3, 64, "sigmoid")
    assert result == expected
    for got, want in zip(weights + biases, manual_w + manual_b, strict=True):
        np.testing.assert_array_equal(got, want)


def test_train_epoch_follows_the_order():
    # Reversing the order gives different batches, hence different weights.
    rng = np.random.default_rng(13)
    weights, biases = make_network([4, 3, 3], np.float64, rng)
    x, labels, _ = make_data(12, 4, 3, np.float64, rng)
    other_w, other_b = copy_arrays(weights), copy_arrays(biases)
    ref.train_epoch(weights, biases, x, labels, np.arange(12), 0.5, 4, "tanh")
    ref.train_epoch(other_w, other_b, x, labels, np.arange(12)[::-1].copy(), 0.5, 4, "tanh")
    assert not np.allclose(weights[0], other_w[0])


def test_train_epoch_rejects_empty_order_and_bad_batch_size():
    rng = np.random.default_rng(14)
    weights, biases = make_network([4, 3], np.float64, rng)
    x, labels, _ = make_data(5, 4, 3, np.float64, rng)
    with pytest.raises(ValueError, match="order"):
        ref.train_epoch(weights, biases, x, labels, np.array([], np.int64), 0.1, 2, "relu")
    for bad in (0, -3):
        with pytest.raises(ValueError, match="batch_size"):
            ref.train_epoch(weights, biases, x, labels, np.arange(5), 0.1, bad, "relu")


@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_a_few_epochs_learn_a_separable_problem(activation):
    # Three well-separated clusters: the epoch loss must fall a lot.
    rng = np.random.default_rng(15)
    centers = np.array([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    labels = rng.integers(0, 3, size=300)
    x = centers[labels] + rng.normal(0, 0.5, size=(300, 2))
    weights, biases = make_network([2, 8, 3], np.float64, rng, scale=0.3)
    losses = [
        ref.train_epoch(weights, biases, x, labels, rng.permutation(300), 0.5, 32, activation)
        for _ in range(10)
    ]
    assert losses[-1] < 0.25 * losses[0]
    predictions = ref.forward(weights, biases, x, activation)[-1].argmax(axis=1)
    assert np.mean(predictions == labels) > 0.95
