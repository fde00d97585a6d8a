"""The engine contract's output kinds, row weights and scipy.sparse inputs, on both engines.

The reference computes every output kind (``tests/engines/test_reference_outputs.py`` checks the
math); here the Rust engine is held against it on every kind, with and without row weights,
on each entry point, both input paths and every optimizer.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastmlp import TrainingDivergedError, kernels
from fastmlp import reference as ref
from fastmlp.optimizers import SGD, Adam, init_state
from tests.support.networks import ENGINES, EPOCH_TOLERANCE, TOLERANCE, make_params

sparse = pytest.importorskip("scipy.sparse")

KINDS = [
    ("identity", "softmax", False),
    ("relu", "logistic", False),
    ("relu", "identity", False),
    ("relu", "exp", False),
    ("relu", "softmax", True),
    ("tanh", "logistic", True),
    ("sigmoid", "identity", True),
    ("relu", "exp", True),
]
KIND_IDS = [
    "identity-hidden",
    "logistic",
    "identity",
    "exp",
    "sample-weight",
    "weighted-logistic",
    "weighted-identity",
    "weighted-exp",
]


def targets(output: str, n: int, k: int, dtype: type, rng: np.random.Generator) -> np.ndarray:
    if output == "softmax":
        return np.eye(k, dtype=dtype)[rng.integers(0, k, size=n)]
    if output == "logistic":
        return rng.integers(0, 2, size=(n, k)).astype(dtype)
    if output == "exp":
        return rng.poisson(1.5, size=(n, k)).astype(dtype)
    return rng.normal(size=(n, k)).astype(dtype)


@pytest.mark.parametrize(("activation", "output", "weighted"), KINDS, ids=KIND_IDS)
def test_both_engines_compute_each_kind_on_every_entry_point(activation, output, weighted):
    """No engine refuses an output kind, the identity activation or row weights: each entry
    point computes them and changes the parameters."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    y = targets(output, 3, 2, np.float64, rng)
    sample_weight = np.array([1.0, 0.5, 2.0]) if weighted else None
    labels = y.argmax(axis=1) if output == "softmax" else y
    for engine in (kernels, ref):
        weights, biases = make_params([4, 3, 2], np.float64)
        outputs = engine.forward(weights, biases, x, activation, output=output)
        assert outputs[-1].shape == (3, 2)
        grads = engine.backward(
            weights, outputs, y, activation, output=output, sample_weight=sample_weight
        )
        assert all(np.any(g != 0) for g in grads[0])
        loss = engine.output_loss(outputs[-1], y, output, sample_weight)
        before = [w.copy() for w in weights]
        assert engine.sgd_step(
            weights, biases, x, y, 0.1, activation, output=output, sample_weight=sample_weight
        ) == pytest.approx(loss, rel=1e-12)
        assert engine.train_epoch(
            weights, biases, x, labels, np.arange(3), 0.1, 2, activation,
            output=output, sample_weight=sample_weight,
        ) > 0  # fmt: skip
        assert not np.array_equal(weights[0], before[0])


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_an_unknown_output_is_the_same_value_error_in_both_engines(engine_name):
    engine = ENGINES[engine_name]
    weights, biases = make_params([4, 2], np.float64)
    with pytest.raises(ValueError, match="output: expected one of 'softmax', 'logistic'"):
        engine.forward(weights, biases, np.ones((2, 4)), "relu", output="linear")


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_default_keywords_change_nothing(engine_name, dtype):
    engine = ENGINES[engine_name]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 6)).astype(dtype)
    labels = rng.integers(0, 3, size=30)
    order = rng.permutation(30)
    results = []
    for keywords in ({}, {"output": "softmax", "sample_weight": None}):
        weights, biases = make_params([6, 5, 3], dtype)
        loss = engine.train_epoch(weights, biases, x, labels, order, 0.1, 7, "relu", **keywords)
        results.append((loss, weights + biases))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("activation", "output", "weighted"), KINDS, ids=KIND_IDS)
def test_rust_matches_the_reference_on_each_output(activation, output, weighted, dtype):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 6)).astype(dtype)
    y = targets(output, 40, 3, dtype, rng)
    labels = y.argmax(axis=1) if output == "softmax" else y
    sample_weight = rng.uniform(0, 2, size=40).astype(dtype) if weighted else None
    order = rng.permutation(40)

    weights, biases = make_params([6, 5, 3], dtype)
    outputs_rust = kernels.forward(weights, biases, x, activation, output=output)
    outputs_ref = ref.forward(weights, biases, x, activation, output=output)
    np.testing.assert_allclose(outputs_rust[-1], outputs_ref[-1], **TOLERANCE[dtype])
    grads_rust = kernels.backward(
        weights, outputs_ref, y, activation, output=output, sample_weight=sample_weight
    )
    grads_ref = ref.backward(
        weights, outputs_ref, y, activation, output=output, sample_weight=sample_weight
    )
    for a, b in zip(grads_rust[0] + grads_rust[1], grads_ref[0] + grads_ref[1], strict=True):
        np.testing.assert_allclose(a, b, **TOLERANCE[dtype])

    runs = []
    for engine in (kernels, ref):
        weights, biases = make_params([6, 5, 3], dtype)
        loss = engine.train_epoch(
            weights,
            biases,
            x,
            labels,
            order,
            0.05,
            8,
            activation,
            output=output,
            sample_weight=sample_weight,
        )
        runs.append((loss, weights + biases))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=EPOCH_TOLERANCE[dtype]["rtol"])
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_allclose(a, b, **EPOCH_TOLERANCE[dtype])


@pytest.mark.parametrize("output", ["softmax", "logistic", "identity"])
@pytest.mark.parametrize("input_path", ["dense", "sparse"])
@pytest.mark.parametrize(
    "optimizer", [SGD(momentum=0.9, nesterov=True), Adam()], ids=["nesterov", "adam"]
)
def test_weighted_epochs_agree_on_each_input_path_and_optimizer(
    output, input_path, optimizer, dtype
):
    """Row weights (some 0) with an optimizer's rule and L2 (whose n is the weights' sum), on
    the dense and the sparse first layer, two epochs: the Rust engine against the reference."""
    rng = np.random.default_rng(6)
    x = (rng.random((48, 30)) * (rng.random((48, 30)) < 0.2)).astype(dtype)
    y = targets(output, 48, 4, dtype, rng)
    labels = y.argmax(axis=1) if output == "softmax" else y
    sample_weight = (rng.integers(0, 3, size=48) * rng.uniform(0.5, 1.5, size=48)).astype(dtype)
    sample_weight[:6] = 0  # the first batch of the order weighs nothing: no step
    order = np.concatenate([np.arange(6), rng.permutation(np.arange(6, 48))])
    runs = []
    for engine in (kernels, ref):
        weights, biases = make_params([30, 7, 4], dtype)
        state = init_state(optimizer, weights, biases)
        keywords = {
            "input_path": input_path,
            "optimizer": optimizer,
            "state": state,
            "alpha": 1e-2,
            "output": output,
            "sample_weight": sample_weight,
        }
        losses = [
            engine.train_epoch_stats(weights, biases, x, labels, order, 0.01, 6, "tanh", **keywords)
            for _ in range(2)
        ]
        runs.append((losses, weights + biases, int(state.step[0])))
    (rust_losses, rust_params, rust_steps), (ref_losses, ref_params, ref_steps) = runs
    assert rust_steps == ref_steps == 2 * 7  # 8 batches an epoch, the first without a step
    for (rust_loss, rust_correct), (ref_loss, ref_correct) in zip(
        rust_losses, ref_losses, strict=True
    ):
        assert rust_loss == pytest.approx(ref_loss, rel=EPOCH_TOLERANCE[dtype]["rtol"])
        assert abs(rust_correct - ref_correct) <= 1  # a tie at 0.5 may round either way
    for a, b in zip(rust_params, ref_params, strict=True):
        np.testing.assert_allclose(a, b, **EPOCH_TOLERANCE[dtype])


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_bad_row_weights_are_the_same_error_in_both_engines(engine_name):
    engine = ENGINES[engine_name]
    weights, biases = make_params([4, 2], np.float64)
    x, y = np.ones((3, 4)), np.eye(2)[[0, 1, 0]]
    for bad, message in [
        (np.ones(2), r"sample_weight: expected 3 real numbers \(one per row\), got shape \(2,\)"),
        (np.array([1.0, -1.0, 2.0]), "sample_weight: expected weights >= 0, got -1.0"),
        (np.array([1.0, np.nan, 2.0]), "sample_weight: contains NaN or infinite values"),
    ]:
        with pytest.raises(ValueError, match=message):
            engine.backward(
                weights, engine.forward(weights, biases, x, "relu"), y, "relu",
                sample_weight=bad,
            )  # fmt: skip


# ---- scipy.sparse inputs ------------------------------------------------------------------


def sparse_data(n: int, features: int, dtype: type, seed: int = 3):
    rng = np.random.default_rng(seed)
    dense = (rng.random((n, features)) * (rng.random((n, features)) < 0.15)).astype(dtype)
    return dense, rng.integers(0, 3, size=n)


@pytest.mark.parametrize("container", ["csr_matrix", "csr_array", "csc_matrix"])
@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_a_sparse_matrix_trains_as_its_dense_rows(engine_name, container, dtype):
    """The Rust engine bit for bit (its dense path expands the compressed rows batch by batch:
    tests/engines/test_sparse_matrices.py); the reference within the epoch tolerance."""
    engine = ENGINES[engine_name]
    dense, labels = sparse_data(70, 20, dtype)
    matrix = getattr(sparse, container)(dense)
    order = np.random.default_rng(4).permutation(70)
    runs = []
    for x in (dense, matrix):
        weights, biases = make_params([20, 6, 3], dtype)
        loss, correct = engine.train_epoch_stats(
            weights, biases, x, labels, order, 0.1, 8, "tanh", input_path="dense"
        )
        runs.append((loss, correct, weights + biases))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=EPOCH_TOLERANCE[dtype]["rtol"])
    assert runs[0][1] == runs[1][1]
    for a, b in zip(runs[0][2], runs[1][2], strict=True):
        np.testing.assert_allclose(a, b, **EPOCH_TOLERANCE[dtype])
        if engine_name == "rust":
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_forward_on_a_sparse_batch_equals_dense(engine_name, dtype):
    engine = ENGINES[engine_name]
    dense, _ = sparse_data(9, 20, dtype)
    weights, biases = make_params([20, 6, 3], dtype)
    expected = engine.forward(weights, biases, dense, "relu")[-1]
    got = engine.forward(weights, biases, sparse.csr_matrix(dense), "relu")[-1]
    np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])


def test_sparse_order_and_labels_are_checked_as_for_dense():
    dense, labels = sparse_data(10, 20, np.float32)
    matrix = sparse.csr_matrix(dense)
    weights, biases = make_params([20, 3], np.float32)
    for x in (dense, matrix):
        with pytest.raises(ValueError, match=r"order: expected row indices in \[0, 10\), got 10"):
            kernels.train_epoch(weights, biases, x, labels, np.array([0, 10]), 0.1, 2, "relu")
        with pytest.raises(ValueError, match=r"order: expected row indices in \[0, 10\), got -1"):
            kernels.train_epoch(weights, biases, x, labels, np.array([-1]), 0.1, 2, "relu")
        with pytest.raises(ValueError, match=r"labels: expected shape \(10,\)"):
            kernels.train_epoch(weights, biases, x, labels[:9], np.arange(3), 0.1, 2, "relu")
    with pytest.raises(TypeError, match="float64"):
        kernels.train_epoch(
            weights, biases, matrix.astype(np.float64), labels, np.arange(3), 0.1, 2, "relu"
        )


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_divergence_on_a_sparse_matrix_names_the_batch_of_the_epoch(engine_name):
    dense, labels = sparse_data(40, 20, np.float64)
    weights, biases = make_params([20, 3], np.float64)
    weights[0][:, :] = 0.0
    dense[25] = 1e200  # finite, but its logits overflow: batch 6 (rows 24..27)
    with pytest.raises(TrainingDivergedError) as caught:
        ENGINES[engine_name].train_epoch(
            weights, biases, sparse.csr_matrix(dense), labels, np.arange(40), 1e200, 4, "relu"
        )
    assert caught.value.batch == 6
    assert "batch 6" in str(caught.value)


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_exp_overflow_is_the_same_divergence_in_both_engines(engine_name, dtype):
    """exp of a logit past the dtype's range is inf: the batch's loss is not finite, and the
    epoch stops before that batch's step, naming it."""
    engine = ENGINES[engine_name]
    weights, biases = make_params([4, 2], dtype)
    x = np.ones((6, 4), dtype=dtype)
    x[4], x[5] = 1e6, -1e6  # logits far past exp's range, one sign or the other (batch 2)
    y = np.ones((6, 2), dtype=dtype)
    with pytest.raises(TrainingDivergedError) as caught:
        engine.train_epoch(
            weights, biases, x, y, np.arange(6), 1e-3, 2, "relu", output="exp"
        )  # fmt: skip
    assert caught.value.batch == 2
    assert not np.isfinite(caught.value.loss)


@pytest.mark.parametrize("engine_name", list(ENGINES))
def test_an_infinite_value_in_a_sparse_matrix_is_refused(engine_name):
    """Unlike a dense array's (which diverges), a stored value is checked when the matrix is
    compressed: tests/engines/test_sparse_matrices.py has every such error."""
    dense, labels = sparse_data(40, 20, np.float64)
    dense[25, 3] = np.inf
    weights, biases = make_params([20, 3], np.float64)
    with pytest.raises(ValueError, match=r"x: the stored value at row 25, column 3 is NaN or inf"):
        ENGINES[engine_name].train_epoch(
            weights, biases, sparse.csr_matrix(dense), labels, np.arange(40), 0.1, 4, "relu"
        )
