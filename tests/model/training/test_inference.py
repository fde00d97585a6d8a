"""``MLP`` inference: ``predict_proba``, ``predict``, ``evaluate`` and ``score``, on more rows
than one chunk and stitched in order.

Every behaviour is checked on both engines (``engine="rust"`` and ``"numpy"``) and, where the
dtype matters, in float32 and float64.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, reference
from fastmlp.datasets import one_hot
from tests.support.training import (
    DTYPE_NAMES,
    ENGINE_MODULES,
    ENGINE_NAMES,
    FORWARD_AGREEMENT,
    mnist_sample,
    synthetic,
)

# ---- inference ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained() -> dict[tuple[str, str], MLP]:
    """A small model per (engine, dtype), trained a little on mnist-sample."""
    models = {}
    for engine_name, dtype_name in itertools.product(ENGINE_NAMES, DTYPE_NAMES):
        x, y, _, _ = mnist_sample(dtype_name)
        model = MLP([784, 32, 10], activation="tanh", seed=0, dtype=dtype_name, engine=engine_name)
        model.fit(x[:1000], y[:1000], epochs=2, batch_size=32, lr=0.1)
        models[engine_name, dtype_name] = model
    return models


def test_predict_proba_predict_evaluate_score(
    trained: dict[tuple[str, str], MLP], engine_name: str, dtype_name: str
) -> None:
    model = trained[engine_name, dtype_name]
    _, _, x_test, y_test = mnist_sample(dtype_name)
    p = model.predict_proba(x_test)
    assert p.shape == (len(x_test), 10) and p.dtype == np.dtype(dtype_name)
    assert np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=FORWARD_AGREEMENT[dtype_name]["rtol"])

    predicted = model.predict(x_test)
    assert predicted.shape == (len(x_test),) and predicted.dtype == np.int64
    np.testing.assert_array_equal(predicted, p.argmax(axis=1))

    scores = model.evaluate(x_test, y_test)
    assert set(scores) == {"loss", "accuracy"}
    assert all(isinstance(v, float) for v in scores.values())
    expected_loss = reference.cross_entropy(p, one_hot(y_test, 10, dtype=dtype_name))
    assert scores["loss"] == pytest.approx(
        expected_loss, rel=1e-5 if dtype_name == "float32" else 1e-12
    )
    assert scores["accuracy"] == np.mean(predicted == y_test)
    assert 0.6 < scores["accuracy"] < 1
    assert model.score(x_test, y_test) == scores["accuracy"]

    single = model.predict_proba(x_test[3:4])
    np.testing.assert_allclose(single, p[3:4], **FORWARD_AGREEMENT[dtype_name])


def test_evaluate_loss_is_finite_for_confident_mistakes(engine_name: str) -> None:
    model = MLP([4, 3], seed=0, dtype="float64", engine=engine_name)
    model.weights[0][...] = 0
    model.biases[0][...] = [1000.0, 0.0, 0.0]  # p(class 0) = 1, the others underflow to 0
    x = np.zeros((2, 4))
    scores = model.evaluate(x, np.array([1, 2]))
    assert np.isfinite(scores["loss"]) and scores["loss"] > 700
    assert scores["accuracy"] == 0.0


def test_inference_on_more_rows_than_one_chunk(engine_name: str, dtype_name: str) -> None:
    rows = 16384 + 3000  # more than fastmlp.model._INFERENCE_CHUNK
    rng = np.random.default_rng(0)
    x = rng.random((rows, 20)).astype(dtype_name)
    labels = rng.integers(0, 4, size=rows)
    model = MLP([20, 16, 4], activation="tanh", seed=0, dtype=dtype_name, engine=engine_name)
    whole = ENGINE_MODULES[engine_name].forward(model.weights, model.biases, x, "tanh")[-1]
    p = model.predict_proba(x)
    assert p.shape == whole.shape and p.dtype == whole.dtype
    np.testing.assert_allclose(p, whole, **FORWARD_AGREEMENT[dtype_name])
    np.testing.assert_array_equal(model.predict(x), p.argmax(axis=1))
    scores = model.evaluate(x, labels)
    assert scores["accuracy"] == np.mean(whole.argmax(axis=1) == labels)
    expected = reference.cross_entropy(whole, one_hot(labels, 4, dtype=dtype_name))
    assert scores["loss"] == pytest.approx(expected, rel=1e-5)


def test_inference_chunks_are_stitched_in_order(
    engine_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = synthetic(n=50)
    model = MLP([20, 16, 4], seed=0, engine=engine_name)
    model.fit(x, y, epochs=2, batch_size=8)
    expected_p, expected_scores = model.predict_proba(x), model.evaluate(x, y)
    monkeypatch.setattr(fastmlp.model, "_INFERENCE_CHUNK", 7)
    np.testing.assert_allclose(model.predict_proba(x), expected_p, **FORWARD_AGREEMENT["float32"])
    assert model.evaluate(x, y)["accuracy"] == expected_scores["accuracy"]
