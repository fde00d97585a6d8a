"""``MLP`` with the engine contract's new pieces: other output layers (``output=``), per-row
``sample_weight``, an epoch ``callback``, and scipy.sparse inputs, on both engines.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastmlp import MLP

sparse = pytest.importorskip("scipy.sparse")

ENGINE_NAMES = ["rust", "numpy"]


def regression_data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    y = np.stack([np.sin(x[:, 0]) + 0.5 * x[:, 1], x[:, 2] * x[:, 3]], axis=1)
    return x, y


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_regression_with_an_identity_output_fits(engine):
    x, y = regression_data()
    model = MLP([5, 32, 2], activation="tanh", dtype="float64", seed=0, engine=engine,
                output="identity")  # fmt: skip
    before = model.score(x, y)
    history = model.fit(x, y, epochs=60, batch_size=20, lr=0.05)
    assert history.loss[-1] < 0.3 * history.loss[0]
    assert model.score(x, y) > 0.8 > before
    assert model.predict(x).shape == (200, 2)
    np.testing.assert_array_equal(model.predict(x), model.predict_proba(x))
    assert all(np.isnan(history.accuracy))  # a regression has no accuracy
    assert model.evaluate(x, y)["loss"] == pytest.approx(
        ((model.predict(x) - y) ** 2).sum(axis=1).mean() / 2, rel=1e-12
    )


def test_one_output_unit_is_allowed_except_for_softmax():
    x, y = regression_data()
    model = MLP([5, 8, 1], dtype="float64", engine="numpy", output="identity", seed=0)
    model.fit(x, y[:, 0], epochs=2, batch_size=50, lr=0.01)  # (n,) targets for one output
    assert model.predict(x).shape == (200, 1)
    with pytest.raises(ValueError, match="at least 2 classes"):
        MLP([5, 8, 1])


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_multilabel_with_a_logistic_output_fits(engine):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 6))
    y = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0, x[:, 3] < 0.5], axis=1).astype(int)
    model = MLP([6, 24, 3], dtype="float64", seed=0, engine=engine, output="logistic")
    history = model.fit(x, y, epochs=40, batch_size=30, lr=0.5)
    assert history.accuracy[-1] > 0.85  # every label of the row right
    predictions = model.predict(x)
    assert predictions.dtype == np.int64 and set(np.unique(predictions)) <= {0, 1}
    assert model.score(x, y) == pytest.approx(np.mean((predictions == y).all(axis=1)))


@pytest.mark.parametrize("activation", ["relu", "identity"])
@pytest.mark.parametrize("output", ["logistic", "identity", "exp"])
def test_both_engines_train_each_output_alike(output, activation):
    x, y = regression_data(60)
    targets = (y > 0).astype(int) if output == "logistic" else np.abs(y)
    models = []
    for engine in ENGINE_NAMES:
        model = MLP([5, 4, 2], activation=activation, dtype="float64", seed=0, engine=engine,
                    output=output)  # fmt: skip
        history = model.fit(x, targets, epochs=3, batch_size=8, lr=0.05)
        models.append((model, history))
    (rust, rust_history), (numpy_model, numpy_history) = models
    np.testing.assert_allclose(rust_history.loss, numpy_history.loss, rtol=1e-9)
    for a, b in zip(rust.weights + rust.biases, numpy_model.weights + numpy_model.biases,
                    strict=True):  # fmt: skip
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(rust.predict_proba(x), numpy_model.predict_proba(x), rtol=1e-9)


def test_targets_are_checked():
    x, y = regression_data(10)
    model = MLP([5, 4, 2], dtype="float64", engine="numpy", output="identity")
    with pytest.raises(ValueError, match=r"labels: expected shape \(10, 2\)"):
        model.fit(x, y[:, :1], epochs=1, batch_size=5, lr=0.1)
    with pytest.raises(TypeError, match="labels: expected real targets"):
        model.fit(x, np.array([["a", "b"]] * 10), epochs=1, batch_size=5, lr=0.1)
    y[3, 1] = np.nan
    with pytest.raises(ValueError, match="labels: contains NaN"):
        model.fit(x, y, epochs=1, batch_size=5, lr=0.1)


@pytest.mark.parametrize("output", ["softmax", "identity"])
def test_output_survives_save_and_load(output, tmp_path):
    model = MLP([5, 4, 3], seed=0, engine="numpy", output=output)
    loaded = MLP.load(model.save(tmp_path / "m.npz"), engine="numpy")
    assert loaded.output == output
    assert ("output=" in repr(loaded)) == (output != "softmax")


# ---- sample_weight ------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_integer_weights_equal_repeated_rows_in_full_batch_descent(engine):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 4))
    labels = rng.integers(0, 3, size=30)
    counts = rng.integers(0, 4, size=30)
    weighted = MLP([4, 6, 3], dtype="float64", seed=0, engine=engine)
    repeated = MLP([4, 6, 3], dtype="float64", seed=0, engine=engine)
    h_weighted = weighted.fit(x, labels, epochs=5, batch_size=None, lr=0.3,
                              sample_weight=counts)  # fmt: skip
    h_repeated = repeated.fit(x.repeat(counts, axis=0), labels.repeat(counts), epochs=5,
                              batch_size=None, lr=0.3)  # fmt: skip
    np.testing.assert_allclose(h_weighted.loss, h_repeated.loss, rtol=1e-12)
    for a, b in zip(weighted.weights + weighted.biases, repeated.weights + repeated.biases,
                    strict=True):  # fmt: skip
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_sample_weight_is_checked_alike_in_both_engines(engine):
    x, _ = regression_data(10)
    labels = np.zeros(10, dtype=int)
    model = MLP([5, 2], dtype="float64", engine=engine)
    with pytest.raises(ValueError, match=r"sample_weight: expected 10 real numbers"):
        model.fit(x, labels, sample_weight=np.ones(9))
    with pytest.raises(ValueError, match=r"sample_weight: expected weights >= 0, got -1"):
        model.fit(x, labels, sample_weight=-np.ones(10))
    with pytest.raises(ValueError, match="sample_weight: contains NaN or infinite values"):
        model.fit(x, labels, sample_weight=np.full(10, np.nan))
    history = model.fit(x, labels, epochs=1, batch_size=5, sample_weight=np.ones(10))
    assert np.isfinite(history.loss[-1])


# ---- callback -----------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_a_progress_function_sees_each_epoch_and_can_stop_training(engine):
    """The hook the scikit-learn estimators use for their convergence rule."""
    x, _ = regression_data(50)
    labels = (x[:, 0] > 0).astype(int)
    seen = []

    def stop_after_three(history):
        seen.append((len(history.loss), history.loss[-1]))
        if len(history.loss) == 3:
            history.stop_reason = "three epochs are enough"

    model = MLP([5, 4, 2], dtype="float64", seed=0, engine=engine)
    history = model.fit(x, labels, epochs=10, batch_size=10, lr=0.1, progress=stop_after_three)
    assert [length for length, _ in seen] == [1, 2, 3]
    assert [loss for _, loss in seen] == history.loss
    assert history.stop_reason == "three epochs are enough"
    assert len(model.history_) == 3


# ---- scipy.sparse inputs ------------------------------------------------------------------


@pytest.mark.parametrize("container", ["csr_matrix", "csc_matrix", "csr_array"])
@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_sparse_inputs_fit_and_predict_as_dense(engine, container):
    rng = np.random.default_rng(3)
    dense = (rng.random((90, 30)) * (rng.random((90, 30)) < 0.1)).astype(np.float32)
    labels = rng.integers(0, 3, size=90)
    matrix = getattr(sparse, container)(dense)
    models = []
    for x in (dense, matrix):
        model = MLP([30, 8, 3], seed=0, engine=engine, input_path="dense")
        model.fit(x, labels, epochs=3, batch_size=16, lr=0.2)
        models.append(model)
    for a, b in zip(models[0].weights, models[1].weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)
    np.testing.assert_allclose(
        models[1].predict_proba(matrix), models[1].predict_proba(dense), rtol=1e-5, atol=1e-6
    )


def test_sparse_inputs_are_checked():
    model = MLP([4, 2])
    dense = np.eye(4, dtype=np.float32)
    with pytest.raises(TypeError, match=r"x: expected a scipy.sparse CSR or CSC matrix"):
        model.fit(sparse.coo_matrix(dense), np.zeros(4, dtype=int))
    with pytest.raises(TypeError, match="expected dtype float32"):
        model.fit(sparse.csr_matrix(dense.astype(np.float64)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match=r"expected shape \(n, 4\)"):
        model.predict(sparse.csr_matrix(np.eye(3, dtype=np.float32)))
    bad = sparse.csr_matrix(dense)
    bad.data[0] = np.inf
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        model.predict(bad)


def test_unscaled_sparse_inputs_are_warned_about_by_their_stored_values():
    from fastmlp import TrainingWarning

    rng = np.random.default_rng(4)
    dense = (rng.random((60, 30)) * (rng.random((60, 30)) < 0.2) * 255).astype(np.float32)
    labels = rng.integers(0, 3, size=60)
    with pytest.warns(TrainingWarning, match="1% of the inputs are"):
        MLP([30, 3], seed=0, engine="numpy").fit(
            sparse.csr_matrix(dense), labels, epochs=1, batch_size=20, lr=1e-4
        )
