"""The reference's output layers and losses (``fastmlp.reference_outputs``): each kind's
gradient against finite differences, with and without per-row weights; the losses against
scikit-learn's own implementation; weights against repeated rows; scipy.sparse inputs
against dense ones; and training with each kind through ``reference.train_epoch``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fastmlp import reference as ref
from fastmlp import reference_outputs as outs

OUTPUT_KINDS = list(outs.OUTPUTS)
HIDDEN = ["relu", "tanh", "sigmoid", "identity"]


def network(sizes: list[int], seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 0.6, size=(i, o)) for i, o in itertools.pairwise(sizes)]
    biases = [rng.normal(0, 0.2, size=o) for o in sizes[1:]]
    return weights, biases


def targets_for(output: str, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """Targets (n, k) of the kind each output is trained on."""
    if output == "softmax":
        return np.eye(k)[rng.integers(0, k, size=n)]
    if output == "logistic":
        return rng.integers(0, 2, size=(n, k)).astype(np.float64)
    if output == "identity":
        return rng.normal(size=(n, k))
    return rng.poisson(2.0, size=(n, k)).astype(np.float64)  # exp: counts, some 0


def loss_of(weights, biases, x, y, activation, output, sample_weight):
    out = ref.forward(weights, biases, x, activation, output=output)[-1]
    return ref.output_loss(out, y, output, sample_weight)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("activation", HIDDEN)
@pytest.mark.parametrize("output", OUTPUT_KINDS)
def test_gradient_matches_finite_differences(output, activation, weighted):
    rng = np.random.default_rng(1)
    sizes = [5, 4, 3, 3]
    weights, biases = network(sizes, seed=2)
    x = rng.normal(size=(7, 5))
    y = targets_for(output, 7, 3, rng)
    sample_weight = rng.uniform(0, 3, size=7) if weighted else None
    if weighted:
        sample_weight[2] = 0.0  # a row that must not count

    outputs = ref.forward(weights, biases, x, activation, output=output)
    weight_grads, bias_grads = ref.backward(
        weights, outputs, y, activation, output=output, sample_weight=sample_weight
    )
    h = 1e-6
    for params, grads in ((weights, weight_grads), (biases, bias_grads)):
        for array, grad in zip(params, grads, strict=True):
            numeric = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                saved = array[index]
                array[index] = saved + h
                up = loss_of(weights, biases, x, y, activation, output, sample_weight)
                array[index] = saved - h
                down = loss_of(weights, biases, x, y, activation, output, sample_weight)
                array[index] = saved
                numeric[index] = (up - down) / (2 * h)
            np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("output", OUTPUT_KINDS)
def test_integer_weights_equal_repeated_rows(output):
    """A weight of k is the row k times; 0 is the row left out (loss and gradient)."""
    rng = np.random.default_rng(3)
    weights, biases = network([4, 5, 3], seed=4)
    x = rng.normal(size=(6, 4))
    y = targets_for(output, 6, 3, rng)
    counts = np.array([0, 1, 2, 3, 1, 0])
    repeated_x, repeated_y = x.repeat(counts, axis=0), y.repeat(counts, axis=0)

    weighted = ref.forward(weights, biases, x, "tanh", output=output)
    repeated = ref.forward(weights, biases, repeated_x, "tanh", output=output)
    assert ref.output_loss(weighted[-1], y, output, counts.astype(float)) == pytest.approx(
        ref.output_loss(repeated[-1], repeated_y, output), rel=1e-12
    )
    grads_w = ref.backward(weights, weighted, y, "tanh", output=output, sample_weight=counts)
    grads_r = ref.backward(weights, repeated, repeated_y, "tanh", output=output)
    for a, b in zip(grads_w[0] + grads_w[1], grads_r[0] + grads_r[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_softmax_output_is_the_default_and_unchanged():
    rng = np.random.default_rng(5)
    weights, biases = network([4, 6, 3], seed=6)
    x = rng.normal(size=(9, 4))
    y = targets_for("softmax", 9, 3, rng)
    default = ref.forward(weights, biases, x, "relu")
    explicit = ref.forward(weights, biases, x, "relu", output="softmax")
    np.testing.assert_array_equal(default[-1], explicit[-1])
    np.testing.assert_array_equal(default[-1], ref.softmax(default[1] @ weights[1] + biases[1]))
    assert ref.output_loss(default[-1], y) == ref.cross_entropy(default[-1], y)
    grads = ref.backward(weights, default, y, "relu")
    ones = ref.backward(weights, default, y, "relu", sample_weight=np.ones(9))
    for a, b in zip(grads[0] + grads[1], ones[0] + ones[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=1e-18)


@pytest.mark.parametrize(
    ("output", "sklearn_loss", "targets"),
    [
        ("softmax", "log_loss", "onehot"),
        ("logistic", "binary_log_loss", "indicator"),
        ("identity", "squared_error", "real"),
        ("exp", "poisson", "counts"),
    ],
)
def test_losses_equal_scikit_learns(output, sklearn_loss, targets):
    """scikit-learn's ``LOSS_FUNCTIONS`` computed independently (it clips probabilities at
    eps where the reference clamps at tiny: far from 0 and 1 the two agree)."""
    base = pytest.importorskip("sklearn.neural_network._base")
    rng = np.random.default_rng(7)
    z = rng.normal(size=(11, 3))
    out = outs.output_activation(z, output)
    y = targets_for(output, 11, 3, rng)
    weights = rng.uniform(0.5, 2, size=11)
    theirs = base.LOSS_FUNCTIONS[sklearn_loss](y, out, weights)
    if output == "identity":
        theirs *= 3  # scikit-learn reports the mean over outputs, its gradient is the sum's
    assert outs.output_loss(out, y, output, weights) == pytest.approx(theirs, rel=1e-12)


def test_output_activations():
    z = np.array([[-800.0, 0.0, 3.0], [1.0, 2.0, -1.0]])
    np.testing.assert_array_equal(outs.output_activation(z, "identity"), z)
    logistic = outs.output_activation(z, "logistic")
    assert logistic[0, 0] == 0.0  # exp(-800) underflows: 0, not NaN
    np.testing.assert_allclose(logistic[:, 1:], 1 / (1 + np.exp(-z[:, 1:])), rtol=1e-15)
    assert logistic[1, 0] == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-15)
    softmax = outs.output_activation(z, "softmax")
    np.testing.assert_allclose(softmax.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(outs.output_activation(z[1:], "exp"), np.exp(z[1:]), rtol=1e-15)


def test_losses_are_finite_at_saturated_outputs():
    y = np.array([[1.0, 0.0]])
    for dtype in (np.float32, np.float64):
        p = np.array([[0.0, 1.0]], dtype=dtype)  # everything wrong, probabilities 0 and 1
        assert np.isfinite(outs.output_loss(p, y.astype(dtype), "logistic"))
        assert np.isfinite(outs.output_loss(p, y.astype(dtype), "softmax"))


def test_every_zero_weight_batch_has_no_loss_and_no_gradient():
    out = np.array([[0.2, 0.8], [0.6, 0.4]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert outs.output_loss(out, y, "softmax", np.zeros(2)) == 0.0
    np.testing.assert_array_equal(outs.output_delta(out, y, "softmax", np.zeros(2)), 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("output", OUTPUT_KINDS)
def test_dtype_is_kept(output, dtype):
    rng = np.random.default_rng(8)
    weights, biases = network([4, 3, 2], seed=9)
    weights = [w.astype(dtype) for w in weights]
    biases = [b.astype(dtype) for b in biases]
    x = rng.normal(size=(5, 4)).astype(dtype)
    y = targets_for(output, 5, 2, rng).astype(dtype)
    outputs = ref.forward(weights, biases, x, "relu", output=output)
    assert [o.dtype for o in outputs] == [dtype] * 3
    sample_weight = np.full(5, 2.0, dtype=dtype)
    grads = ref.backward(weights, outputs, y, "relu", output=output, sample_weight=sample_weight)
    assert [g.dtype for g in grads[0] + grads[1]] == [dtype] * 4


def test_unknown_output_is_a_value_error_listing_the_kinds():
    weights, biases = network([3, 2], seed=0)
    x = np.ones((2, 3))
    with pytest.raises(ValueError, match="output: expected one of 'softmax', 'logistic'"):
        ref.forward(weights, biases, x, "relu", output="sigmoid")
    with pytest.raises(ValueError, match="output"):
        ref.train_epoch(
            weights, biases, x, np.zeros((2, 2)), np.arange(2), 0.1, 2, "relu", output="linear"
        )


@pytest.mark.parametrize(
    ("sample_weight", "message"),
    [
        (np.ones(3), r"expected 4 real numbers \(one per row\), got shape \(3,\)"),
        (np.array([1.0, np.nan, 1.0, 1.0]), "NaN or infinite"),
        (np.array([1.0, -1.0, 1.0, 1.0]), "expected weights >= 0"),
        (np.array(["a", "b", "c", "d"]), "real numbers"),
    ],
)
def test_check_sample_weight_names_the_problem(sample_weight, message):
    with pytest.raises(ValueError, match=message):
        outs.check_sample_weight(sample_weight, 4, np.dtype(np.float64))


def test_check_sample_weight_converts_to_the_dtype():
    converted = outs.check_sample_weight([1, 2, 3], 3, np.dtype(np.float32))
    assert converted.dtype == np.float32 and converted.flags.c_contiguous
    assert outs.check_sample_weight(None, 3, np.dtype(np.float32)) is None


@pytest.mark.parametrize("output", OUTPUT_KINDS)
def test_train_epoch_with_each_output_lowers_the_loss(output):
    rng = np.random.default_rng(10)
    x = rng.normal(size=(120, 6))
    teacher_w, teacher_b = network([6, 3], seed=11)
    z = x @ teacher_w[0] + teacher_b[0]
    if output == "softmax":
        labels = z.argmax(axis=1)
    elif output == "logistic":
        labels = (z > 0).astype(np.float64)
    elif output == "identity":
        labels = z
    else:
        labels = rng.poisson(np.exp(np.clip(z, -3, 2))).astype(np.float64)
    weights, biases = network([6, 8, 3], seed=12)
    weights = [w * 0.3 for w in weights]
    lr = 0.05 if output == "exp" else 0.2
    losses = [
        ref.train_epoch(
            weights, biases, x, labels, rng.permutation(120), lr, 16, "tanh", output=output
        )
        for _ in range(30)
    ]
    assert losses[-1] < 0.7 * losses[0]


def test_train_epoch_weighted_rows_match_repeated_rows():
    """One batch per epoch: a row of weight 2 steps like that row twice."""
    rng = np.random.default_rng(13)
    x = rng.normal(size=(6, 4))
    y = rng.normal(size=(6, 2))
    counts = np.array([1, 2, 0, 1, 3, 1])
    weights_a, biases_a = network([4, 5, 2], seed=14)
    weights_b = [w.copy() for w in weights_a]
    biases_b = [b.copy() for b in biases_a]
    for _ in range(3):
        loss_a = ref.train_epoch(
            weights_a,
            biases_a,
            x,
            y,
            np.arange(6),
            0.1,
            6,
            "relu",
            output="identity",
            sample_weight=counts.astype(float),
        )
        repeated = np.arange(6).repeat(counts)
        loss_b = ref.train_epoch(
            weights_b, biases_b, x, y, repeated, 0.1, len(repeated), "relu", output="identity"
        )
        assert loss_a == pytest.approx(loss_b, rel=1e-12)
    for a, b in zip(weights_a + biases_a, weights_b + biases_b, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("output", ["softmax", "logistic", "identity"])
def test_sparse_inputs_train_as_the_dense_ones(output):
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(15)
    dense = rng.normal(size=(40, 12)) * (rng.random((40, 12)) < 0.2)
    matrix = sparse.csr_matrix(dense)
    if output == "softmax":
        labels = rng.integers(0, 3, size=40)
    else:
        labels = targets_for(output, 40, 3, rng)
    runs = []
    for x in (dense, matrix):
        weights, biases = network([12, 6, 3], seed=16)
        order = np.random.default_rng(17).permutation(40)
        loss, correct = ref.train_epoch_stats(
            weights, biases, x, labels, order, 0.1, 8, "relu", output=output
        )
        runs.append((loss, correct, weights + biases))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-12)
    assert runs[0][1] == runs[1][1]
    for a, b in zip(runs[0][2], runs[1][2], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


def test_logistic_correct_counts_rows_with_every_label_right():
    weights = [np.eye(2)]
    biases = [np.zeros(2)]
    x = np.array([[5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])
    y = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    _, correct = ref.train_epoch_stats(
        weights, biases, x, y, np.arange(3), 1e-9, 3, "relu", output="logistic"
    )
    assert correct == 2
