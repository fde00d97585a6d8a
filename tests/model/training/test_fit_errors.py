"""``MLP`` refusing bad calls (the arguments named, nothing changed) and stopping at
divergence with the epochs it finished.

Every behaviour is checked on both engines (``engine="rust"`` and ``"numpy"``) and, where the
dtype matters, in float32 and float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fastmlp import MLP, TrainingDivergedError, kernels
from tests.support.training import (
    ENGINE_MODULES,
    all_finite,
    assert_identical,
    mnist_sample,
    parameters,
    snapshot,
    synthetic,
)

# ---- argument errors ------------------------------------------------------------------------

N, FEATURES, CLASSES = 200, 20, 4  # N > the default batch_size, 128


def _replace(array: np.ndarray, index: tuple, value: float) -> np.ndarray:
    array = array.copy()
    array[index] = value
    return array


def _bad_calls() -> list[tuple[str, Callable[..., Any], type, list[str]]]:
    """(id, call(model, x, y), exception, fragments of its message)."""
    x_val, y_val = synthetic(n=10, seed=3)
    return [
        # x
        ("x float64", lambda m, x, y: m.fit(x.astype(np.float64), y), TypeError,
         ["x", "float32", "float64"]),
        ("x uint8", lambda m, x, y: m.fit((x * 255).astype(np.uint8), y), TypeError,
         ["x", "float32", "uint8", "prepare"]),
        ("x list", lambda m, x, y: m.fit(x.tolist(), y), TypeError, ["x", "numpy"]),
        ("x features", lambda m, x, y: m.fit(x[:, :-1], y), ValueError,
         ["x", f"(n, {FEATURES})", f"({N}, {FEATURES - 1})"]),
        ("x 1-D", lambda m, x, y: m.fit(x[0], y), ValueError, ["x", f"(n, {FEATURES})"]),
        ("x 3-D", lambda m, x, y: m.fit(x[None], y), ValueError, ["x", f"(1, {N}, {FEATURES})"]),
        ("x no rows", lambda m, x, y: m.fit(x[:0], y[:0]), ValueError, ["x", "row"]),
        ("x NaN", lambda m, x, y: m.fit(_replace(x, (3, 4), np.nan), y), ValueError,
         ["x", "NaN"]),
        ("x inf", lambda m, x, y: m.fit(_replace(x, (0, 0), -np.inf), y), ValueError,
         ["x", "infinite"]),
        # labels
        ("labels short", lambda m, x, y: m.fit(x, y[:-1]), ValueError,
         ["labels", f"({N},)", f"({N - 1},)"]),
        ("labels long", lambda m, x, y: m.fit(x, np.append(y, 0)), ValueError,
         ["labels", f"({N + 1},)"]),
        ("labels one-hot", lambda m, x, y: m.fit(x, np.eye(CLASSES, dtype=int)[y]), ValueError,
         ["labels", f"({N},)", f"({N}, {CLASSES})"]),
        ("labels too big", lambda m, x, y: m.fit(x, _replace(y, (7,), CLASSES)), ValueError,
         ["labels", f"[0, {CLASSES})", str(CLASSES)]),
        ("labels negative", lambda m, x, y: m.fit(x, _replace(y, (7,), -1)), ValueError,
         ["labels", f"[0, {CLASSES})", "-1"]),
        ("labels float", lambda m, x, y: m.fit(x, y.astype(np.float64)), TypeError,
         ["labels", "integer", "float64"]),
        ("labels str", lambda m, x, y: m.fit(x, y.astype(str)), TypeError, ["labels"]),
        ("labels bool", lambda m, x, y: m.fit(x, y > 1), TypeError, ["labels", "bool"]),
        # lr
        ("lr 0", lambda m, x, y: m.fit(x, y, lr=0), ValueError, ["lr", "> 0"]),
        ("lr negative", lambda m, x, y: m.fit(x, y, lr=-0.1), ValueError, ["lr", "-0.1"]),
        ("lr NaN", lambda m, x, y: m.fit(x, y, lr=float("nan")), ValueError, ["lr", "nan"]),
        ("lr inf", lambda m, x, y: m.fit(x, y, lr=float("inf")), ValueError, ["lr", "inf"]),
        ("lr overflows float32", lambda m, x, y: m.fit(x, y, lr=1e39), ValueError,
         ["lr", "float32"]),
        ("lr str", lambda m, x, y: m.fit(x, y, lr="0.1"), TypeError, ["lr"]),
        ("lr None", lambda m, x, y: m.fit(x, y, lr=None), TypeError, ["lr"]),
        # epochs
        ("epochs 0", lambda m, x, y: m.fit(x, y, epochs=0), ValueError, ["epochs", "0"]),
        ("epochs -1", lambda m, x, y: m.fit(x, y, epochs=-1), ValueError, ["epochs"]),
        ("epochs 1.5", lambda m, x, y: m.fit(x, y, epochs=1.5), TypeError, ["epochs", "1.5"]),
        ("epochs True", lambda m, x, y: m.fit(x, y, epochs=True), TypeError, ["epochs"]),
        # batch_size
        ("batch 0", lambda m, x, y: m.fit(x, y, batch_size=0), ValueError, ["batch_size", "0"]),
        ("batch -8", lambda m, x, y: m.fit(x, y, batch_size=-8), ValueError, ["batch_size"]),
        ("batch > n", lambda m, x, y: m.fit(x, y, batch_size=N + 1), ValueError,
         ["batch_size", str(N), str(N + 1), "None"]),
        ("batch 2.5", lambda m, x, y: m.fit(x, y, batch_size=2.5), TypeError, ["batch_size"]),
        # validation_data
        ("val not a pair", lambda m, x, y: m.fit(x, y, validation_data=x_val), TypeError,
         ["validation_data", "pair"]),
        ("val triple", lambda m, x, y: m.fit(x, y, validation_data=(x_val, y_val, y_val)),
         TypeError, ["validation_data", "pair"]),
        ("val features", lambda m, x, y: m.fit(x, y, validation_data=(x_val[:, :5], y_val)),
         ValueError, ["validation_data[0]", f"(n, {FEATURES})", "(10, 5)"]),
        ("val dtype",
         lambda m, x, y: m.fit(x, y, validation_data=(x_val.astype(np.float64), y_val)),
         TypeError, ["validation_data[0]", "float32", "float64"]),
        ("val NaN",
         lambda m, x, y: m.fit(x, y, validation_data=(_replace(x_val, (1, 1), np.nan), y_val)),
         ValueError, ["validation_data[0]", "NaN"]),
        ("val labels short", lambda m, x, y: m.fit(x, y, validation_data=(x_val, y_val[:3])),
         ValueError, ["validation_data[1]", "(10,)", "(3,)"]),
        ("val labels range",
         lambda m, x, y: m.fit(x, y, validation_data=(x_val, _replace(y_val, (0,), 9))),
         ValueError, ["validation_data[1]", f"[0, {CLASSES})"]),
        ("val labels float",
         lambda m, x, y: m.fit(x, y, validation_data=(x_val, y_val.astype(float))),
         TypeError, ["validation_data[1]", "integer"]),
        # partial_fit checks the same way
        ("partial x float64", lambda m, x, y: m.partial_fit(x.astype(np.float64), y),
         TypeError, ["x", "float32", "float64"]),
        ("partial labels", lambda m, x, y: m.partial_fit(x, y[:-2]), ValueError, ["labels"]),
        ("partial lr", lambda m, x, y: m.partial_fit(x, y, lr=0.0), ValueError, ["lr"]),
        ("partial batch", lambda m, x, y: m.partial_fit(x, y, batch_size=0), ValueError,
         ["batch_size"]),
        # inference
        ("predict float64", lambda m, x, y: m.predict(x.astype(np.float64)), TypeError,
         ["x", "float32", "float64"]),
        ("predict_proba features", lambda m, x, y: m.predict_proba(x[:, :3]), ValueError,
         ["x", f"(n, {FEATURES})", f"({N}, 3)"]),
        ("predict_proba NaN", lambda m, x, y: m.predict_proba(_replace(x, (0, 0), np.nan)),
         ValueError, ["x", "NaN"]),
        ("evaluate labels", lambda m, x, y: m.evaluate(x, y[:5]), ValueError, ["labels"]),
        ("score labels range", lambda m, x, y: m.score(x, y + CLASSES), ValueError,
         ["labels", f"[0, {CLASSES})"]),
    ]  # fmt: skip


BAD_CALLS = _bad_calls()


@pytest.mark.parametrize(
    ("call", "error", "fragments"),
    [case[1:] for case in BAD_CALLS],
    ids=[case[0] for case in BAD_CALLS],
)
def test_bad_call_raises_and_changes_nothing(
    engine_name: str, call: Callable[..., Any], error: type, fragments: list[str]
) -> None:
    x, y = synthetic(n=N, features=FEATURES, classes=CLASSES)
    model = MLP([FEATURES, 8, CLASSES], seed=0, engine=engine_name)
    model.fit(x, y, epochs=1, batch_size=10)
    before, history, rng_state = (
        snapshot(model),
        model.history_.as_dict(),
        model._rng.bit_generator.state,
    )
    with pytest.raises(error) as raised:
        call(model, x, y)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert_identical(parameters(model), before)
    assert model.history_.as_dict() == history
    assert model._rng.bit_generator.state == rng_state  # no epoch order was drawn


def test_float32_input_to_a_float64_model_is_refused(engine_name: str) -> None:
    x, y = synthetic()
    model = MLP([20, 16, 4], seed=0, dtype="float64", engine=engine_name)
    before = snapshot(model)
    with pytest.raises(TypeError, match=r"x: expected dtype float64 .* got float32"):
        model.fit(x, y)
    assert_identical(parameters(model), before)


# ---- divergence -----------------------------------------------------------------------------

# float32 ReLU with lr = 1e30: the first step leaves finite but huge weights, whose logits
# overflow at the next batch (NaN loss). sigmoid and tanh do not diverge this way: their hidden
# outputs are bounded and the softmax is stable, so with lr = 1e6 (or even 1e30) their loss
# stays large but finite (measured: about 50-80 per epoch).
DIVERGING_LR = 1e30


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's overflow warnings on the way
def test_divergence_stops_with_a_clear_error(engine_name: str) -> None:
    x, y, _, _ = mnist_sample("float32")
    x, y = x[:512], y[:512]
    model = MLP([784, 32, 10], activation="relu", seed=0, engine=engine_name)
    weights, biases = [w.copy() for w in model.weights], [b.copy() for b in model.biases]
    with pytest.raises(TrainingDivergedError) as raised:
        model.fit(x, y, epochs=3, batch_size=64, lr=DIVERGING_LR, shuffle=False)
    error = raised.value
    assert isinstance(error, FloatingPointError)
    assert (error.epoch, error.batch) == (1, 1)
    assert error.loss is not None and not np.isfinite(error.loss)
    message = str(error)
    assert "epoch 1" in message and "batch 1" in message
    assert "smaller learning rate" in message and "lr=1e+30" in message
    # The weights are the last good ones: after the first batch's step, before the second's.
    assert all_finite(model)
    # Replayed on the input path the fit decided once for all of x (the model's "auto").
    path = kernels.preferred_input_path(x)
    ENGINE_MODULES[engine_name].train_epoch(
        weights, biases, x, y, np.arange(64), DIVERGING_LR, 64, "relu", input_path=path
    )
    assert_identical(parameters(model), weights + biases)
    assert model.history_.epochs == 0  # no epoch finished


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_keeps_the_finished_epochs(engine_name: str) -> None:
    x, y, _, _ = mnist_sample("float32")
    x, y = x[:512], y[:512]
    model = MLP([784, 32, 10], activation="relu", seed=0, engine=engine_name)
    model.fit(x, y, epochs=1, batch_size=64, lr=0.1)
    # Full batch: epoch 1 takes its one step (from a finite loss), epoch 2's loss is NaN.
    with pytest.raises(TrainingDivergedError, match=r"epoch 2, batch 0") as raised:
        model.fit(x, y, epochs=5, batch_size=None, lr=DIVERGING_LR)
    assert (raised.value.epoch, raised.value.batch) == (2, 0)
    assert model.history_.epochs == 2  # the first fit's epoch and this fit's first
    assert all(np.isfinite(model.history_.loss))
    assert all_finite(model)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_last_step_that_overflows_is_divergence_too(engine_name: str) -> None:
    """The last step of a fit can make the weights infinite with every loss still finite:
    fit must not return such a model."""
    x, y = synthetic(n=64)
    x *= 1000  # large inputs -> large gradients -> lr * gradient overflows float32
    model = MLP([20, 16, 4], activation="relu", seed=0, engine=engine_name)
    before = snapshot(model)
    with pytest.raises(TrainingDivergedError, match="smaller learning rate") as raised:
        model.fit(x, y, epochs=1, batch_size=None, lr=1e36)
    assert (raised.value.epoch, raised.value.batch) == (1, 0)
    assert all_finite(model)
    assert_identical(parameters(model), before)  # back to the start of the epoch
    assert model.history_.epochs == 0
