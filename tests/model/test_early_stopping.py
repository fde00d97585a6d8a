"""Early stopping, the plateau watch and the learning-rate schedules of ``MLP.fit``.

The loop's decisions (when the learning rate drops, when training stops, which epoch is
best) are checked against scikit-learn's own code fed the same losses and scores; the
weights early stopping restores against a replay, epoch by epoch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

import fastmlp.training.loop
from fastmlp import MLP, reference
from fastmlp.training import TrainingState, Watch, fit_settings, stratified_holdout, train


@pytest.fixture(params=["rust", "numpy"])
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


def noisy_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs with random labels: a model can only memorise them, so its validation
    loss soon rises while the training loss falls."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 10), dtype=np.float32), rng.integers(0, 3, n)


def settings(**changes: Any):
    keywords = dict(
        epochs=30,
        batch_size=8,
        lr=0.1,
        shuffle=True,
        optimizer="sgd",
        momentum=0.0,
        nesterov=False,
        beta1=0.9,
        beta2=0.999,
        epsilon=1e-8,
        alpha=0.0,
        lr_schedule="constant",
        power_t=0.5,
        early_stopping=False,
        validation_fraction=0.1,
        monitor="val_loss",
        patience=10,
        tol=1e-4,
        restore_best=True,
    )
    keywords.update(changes)
    return fit_settings(**keywords)


# ---- the loop's decisions against scikit-learn's, for the same losses and scores ------------


class ScriptedNetwork:
    """A network whose epochs report scripted losses (``run_epoch`` is replaced) and whose
    validation reports scripted accuracies and losses."""

    def __init__(self, val_scores: list[float]) -> None:
        self.weights = [np.zeros((2, 2))]
        self.biases = [np.zeros(2)]
        self.activation, self.input_path, self.output = "relu", "dense", "softmax"
        self.val_scores = iter(val_scores)

    def evaluate(self, x: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        score = next(self.val_scores)
        return {"loss": -score, "accuracy": score}


@pytest.fixture
def scripted_losses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    losses: list[float] = []
    supply = iter(losses)
    monkeypatch.setattr(fastmlp.training.loop, "run_epoch", lambda *a: (next(supply), 0))
    yield losses


def sklearn_run(
    losses: list[float],
    scores: list[float] | None,
    schedule: str,
    lr: float,
    patience: int,
    tol: float,
    rows: int,
) -> tuple[list[float], int, int | None]:
    """scikit-learn's loop body (``_fit_stochastic``) over scripted losses and validation
    scores: the learning rate of each epoch, the epochs run and the best epoch."""
    clf = MLPClassifier(n_iter_no_change=patience, tol=tol, early_stopping=scores is not None)
    clf.loss_curve_, clf._no_improvement_count = [], 0
    clf.coefs_, clf.intercepts_ = [np.zeros(1)], [np.zeros(1)]
    if scores is not None:
        clf.validation_scores_, clf.best_validation_score_ = [], -np.inf
        supply = iter(scores)
        clf._score = lambda *a, **k: next(supply)
    else:
        clf.best_loss_ = np.inf
    optimizer = SGDOptimizer([np.zeros(1)], lr, schedule, 0.0, False, 0.5)
    rates, best_epoch, t = [], None, 0
    for epoch, loss in enumerate(losses):
        rates.append(optimizer.learning_rate)
        clf.loss_curve_.append(loss)
        t += rows
        before = clf.best_validation_score_ if scores is not None else clf.best_loss_
        clf._update_no_improvement_count(scores is not None, None, None, None)
        after = clf.best_validation_score_ if scores is not None else clf.best_loss_
        if after != before:
            best_epoch = epoch
        optimizer.iteration_ends(t)
        if clf._no_improvement_count > patience:
            if optimizer.trigger_stopping("", False):
                return rates, epoch + 1, best_epoch
            clf._no_improvement_count = 0
    return rates, len(losses), best_epoch


SCRIPTS = {
    "falling": [2.0, 1.5, 1.2, 1.0, 0.9, 0.85, 0.84, 0.83],
    "plateaus": [2.0, 1.0, 1.0, 0.99995, 1.0, 0.5, 0.5, 0.5, 0.5, 0.49, 0.6, 0.6, 0.6, 0.6],
    "noisy": [1.0, 1.2, 0.9, 0.95, 0.91, 0.8, 0.85, 0.81, 0.9, 0.79, 0.795, 0.82, 0.83, 0.9],
    "flat": [1.0] * 40,
}


@pytest.mark.parametrize("script", list(SCRIPTS))
@pytest.mark.parametrize("schedule", ["constant", "invscaling", "adaptive"])
@pytest.mark.parametrize("patience", [1, 2])
@pytest.mark.parametrize("early_stopping", [False, True], ids=["train-loss", "early-stopping"])
def test_loop_decides_as_scikit_learn(
    scripted_losses: list[float], script: str, schedule: str, patience: int, early_stopping: bool
) -> None:
    losses = SCRIPTS[script]
    scores = [1 / (1 + v) for v in losses[::-1]] if early_stopping else None
    rows, tol, lr = 12, 0.02, 0.1
    expected_rates, expected_epochs, expected_best = sklearn_run(
        losses, scores, schedule, lr, patience, tol, rows
    )
    scripted_losses.extend(losses)
    network = ScriptedNetwork(scores or [])
    fit = settings(
        epochs=len(losses),
        lr=lr,
        lr_schedule=schedule,
        patience=patience,
        tol=tol,
        early_stopping=early_stopping,
        monitor="val_accuracy",
        restore_best=False,
    )
    state = TrainingState()
    state.prepare(fit, network.weights, network.biases)
    validation = (np.zeros((2, 2)), np.zeros(2, np.int64)) if early_stopping else None
    history = train(
        network,
        reference,
        np.zeros((rows, 2)),
        np.zeros(rows, np.int64),
        np.arange(rows),
        fit,
        state,
        np.random.default_rng(0),
        validation,
    )
    stops_without_early_stopping = not early_stopping and schedule != "adaptive"
    if stops_without_early_stopping:
        # scikit-learn also stops when the training loss stalls; MLP.fit runs its epochs.
        assert len(history) == len(losses) and history.stop_reason is None
        n = expected_epochs
        assert history.lr[:n] == pytest.approx(expected_rates[:n], rel=1e-15)
        # The best over all epochs: scikit-learn's run without its stop.
        expected_best = sklearn_run(losses, scores, schedule, lr, 10**6, tol, rows)[2]
    else:
        assert len(history) == expected_epochs
        assert history.lr == pytest.approx(expected_rates, rel=1e-15)
        assert (history.stop_reason is not None) == (expected_epochs < len(losses))
    assert history.best_epoch == expected_best
    assert history.monitor == ("val_accuracy" if early_stopping else "loss")
    assert state.rows_seen == rows * len(history)


def test_adaptive_divides_by_five_then_stops_below_1e_6(scripted_losses: list[float]) -> None:
    scripted_losses.extend([1.0] * 60)
    network = ScriptedNetwork([])
    fit = settings(epochs=60, lr=1e-4, lr_schedule="adaptive", patience=1)
    state = TrainingState()
    state.prepare(fit, network.weights, network.biases)
    history = train(
        network,
        reference,
        np.zeros((4, 2)),
        np.zeros(4, np.int64),
        np.arange(4),
        fit,
        state,
        np.random.default_rng(0),
    )
    # Epoch 1 sets the best; each later one counts; a count of 2 (> patience) divides by 5.
    assert history.lr == pytest.approx([1e-4] * 3 + [2e-5] * 2 + [4e-6] * 2 + [8e-7] * 2, rel=1e-12)
    assert "adaptive learning rate at 8e-07" in history.stop_reason
    assert state.schedule.lr == pytest.approx(8e-7)


# ---- schedules in a real fit ----------------------------------------------------------------


def test_each_schedule_sets_the_rate_of_each_epoch(engine_name: str) -> None:
    x, labels = noisy_data(60, seed=1)
    for schedule in ("constant", "invscaling"):
        model = MLP([10, 8, 3], engine=engine_name, seed=0)
        history = model.fit(
            x, labels, epochs=4, batch_size=16, lr=0.2, lr_schedule=schedule, power_t=0.25
        )
        if schedule == "constant":
            assert history.lr == [0.2] * 4
        else:
            # lr_init / (t + 1) ** power_t after each epoch, t the rows trained on so far.
            assert history.lr == [0.2] + [0.2 / (60 * k + 1) ** 0.25 for k in (1, 2, 3)]
            more = model.fit(
                x, labels, epochs=2, batch_size=16, lr=0.2, lr_schedule="invscaling", power_t=0.25
            )
            assert more.lr == [0.2 / (60 * k + 1) ** 0.25 for k in (4, 5)]
            assert model.training_state_.rows_seen == 360
        assert model.history_.lr[:4] == history.lr


def test_the_adaptive_schedule_lowers_the_rate_on_a_plateau(engine_name: str) -> None:
    x, labels = noisy_data(60, seed=2)
    model = MLP([10, 8, 3], engine=engine_name, seed=0)
    # tol larger than any change: every epoch after the first counts as no improvement.
    history = model.fit(
        x, labels, epochs=7, batch_size=20, lr=0.1, lr_schedule="adaptive", patience=1, tol=100.0
    )
    assert history.lr == pytest.approx([0.1] * 3 + [0.02] * 2 + [0.004] * 2)
    assert history.stop_reason is None and history.monitor == "loss"


def test_a_new_lr_restarts_the_schedule_and_the_same_continues_it(engine_name: str) -> None:
    x, labels = noisy_data(60, seed=2)
    model = MLP([10, 8, 3], engine=engine_name, seed=0)
    model.fit(
        x, labels, epochs=3, batch_size=20, lr=0.1, lr_schedule="adaptive", patience=1, tol=100.0
    )
    assert model.training_state_.schedule.lr == pytest.approx(0.02)
    same = model.fit(x, labels, epochs=1, batch_size=20, lr=0.1, lr_schedule="adaptive")
    assert same.lr == pytest.approx([0.02])
    other = model.fit(x, labels, epochs=1, batch_size=20, lr=0.05, lr_schedule="adaptive")
    assert other.lr == [0.05]


# ---- early stopping ---------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_early_stopping_restores_the_best_weights(engine_name: str, optimizer: str) -> None:
    x, labels = noisy_data(80, seed=3)
    validation = noisy_data(40, seed=5)
    lr = 0.5 if optimizer == "sgd" else 0.01
    model = MLP([10, 32, 3], engine=engine_name, seed=4)
    history = model.fit(
        x,
        labels,
        epochs=40,
        batch_size=8,
        lr=lr,
        validation_data=validation,
        early_stopping=True,
        patience=3,
        tol=0.0,
        optimizer=optimizer,
    )
    # Replayed epoch by epoch (continuing fits are one long fit), without early stopping.
    replay = MLP([10, 32, 3], engine=engine_name, seed=4)
    kept, val_losses = [], []
    for _ in range(len(history)):
        one = replay.fit(
            x,
            labels,
            epochs=1,
            batch_size=8,
            lr=lr,
            validation_data=validation,
            optimizer=optimizer,
        )
        kept.append([a.copy() for a in replay.weights + replay.biases])
        val_losses.append(one.val_loss[0])
    assert history.val_loss == val_losses
    best = int(np.argmin(val_losses))
    assert history.best_epoch == best < len(history) - 1, "the run should have overfitted"
    assert len(history) == best + 1 + 4, "stopped after patience + 1 epochs without a new best"
    assert history.stop_reason.startswith("early stopping: val_loss did not improve")
    for restored, expected in zip(model.weights + model.biases, kept[best], strict=True):
        np.testing.assert_array_equal(restored, expected)
    assert model.evaluate(*validation)["loss"] == pytest.approx(val_losses[best], rel=1e-12)
    assert model.history_.best_epoch == best and model.history_.stop_reason == history.stop_reason


def test_without_restore_best_the_last_weights_stay(engine_name: str) -> None:
    x, labels = noisy_data(80, seed=3)
    validation = noisy_data(40, seed=5)
    fits = {}
    for restore in (True, False):
        model = MLP([10, 32, 3], engine=engine_name, seed=4)
        history = model.fit(
            x,
            labels,
            epochs=40,
            batch_size=8,
            lr=0.5,
            validation_data=validation,
            early_stopping=True,
            patience=3,
            tol=0.0,
            restore_best=restore,
        )
        fits[restore] = (history, model.evaluate(*validation)["loss"])
    (with_restore, best_loss), (without, last_loss) = fits[True], fits[False]
    assert with_restore.val_loss == without.val_loss
    assert best_loss == pytest.approx(min(without.val_loss), rel=1e-12)
    assert last_loss == pytest.approx(without.val_loss[-1], rel=1e-12) and last_loss > best_loss


def test_monitor_val_accuracy_with_a_held_out_fraction(engine_name: str) -> None:
    x, labels = noisy_data(200, seed=6)
    model = MLP([10, 16, 3], engine=engine_name, seed=1)
    history = model.fit(
        x,
        labels,
        epochs=50,
        batch_size=16,
        lr=0.3,
        early_stopping=True,
        validation_fraction=0.2,
        monitor="val_accuracy",
        patience=2,
    )
    assert history.monitor == "val_accuracy"
    assert len(history.val_accuracy) == len(history) < 50
    best = history.best_epoch
    assert history.val_accuracy[best] == max(history.val_accuracy)
    assert history.val_accuracy.index(max(history.val_accuracy)) == best  # the first best


def test_the_holdout_comes_from_the_models_generator(engine_name: str) -> None:
    """The held-out rows are drawn from the model's generator, after its initial weights and
    before the epochs: replayed by hand, the same split gives the same model."""
    x, labels = noisy_data(100, seed=7)
    model = MLP([10, 8, 3], engine=engine_name, seed=3)
    history = model.fit(x, labels, epochs=2, batch_size=10, early_stopping=True, shuffle=False)
    rng = np.random.default_rng(3)
    replay = MLP([10, 8, 3], engine=engine_name, seed=rng)  # draws the initial weights
    train_rows, held = stratified_holdout(labels, 0.1, rng)
    assert len(held) == 10 and len(train_rows) == 90
    replayed = replay.fit(
        x[train_rows],
        labels[train_rows],
        epochs=2,
        batch_size=10,
        shuffle=False,
        validation_data=(x[held], labels[held]),
    )
    assert history.val_loss == replayed.val_loss and history.loss == replayed.loss
    for a, b in zip(model.weights + model.biases, replay.weights + replay.biases, strict=True):
        np.testing.assert_array_equal(a, b)


def test_stratified_holdout() -> None:
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    train_rows, held = stratified_holdout(labels, 0.1, np.random.default_rng(0))
    assert len(held) == 10 and len(train_rows) == 90
    assert np.array_equal(np.sort(np.concatenate([train_rows, held])), np.arange(100))
    assert np.bincount(labels[held], minlength=4).tolist() == [5, 3, 2, 0]  # 1.5 and 0.5 tie
    again = stratified_holdout(labels, 0.1, np.random.default_rng(0))[1]
    assert np.array_equal(held, again)
    other = stratified_holdout(labels, 0.1, np.random.default_rng(1))[1]
    assert not np.array_equal(held, other)
    assert len(stratified_holdout(labels, 0.25, np.random.default_rng(0))[1]) == 25
    with pytest.raises(ValueError, match="at least 2"):
        stratified_holdout(labels[:10], 0.1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="no row to train on"):
        stratified_holdout(labels[:3], 0.9, np.random.default_rng(0))


def test_watch_counts_as_scikit_learn_does() -> None:
    watch = Watch("val_loss", patience=2, tol=0.1)
    steps = [
        (1.0, 0, 1.0),
        (0.95, 1, 0.95),
        (0.9, 2, 0.9),
        (0.85, 3, 0.85),
        (0.7, 0, 0.7),
        (0.75, 1, 0.7),
        (2.0, 2, 0.7),
        (3.0, 3, 0.7),
    ]
    for epoch, (value, count, best) in enumerate(steps):
        watch.update(value, epoch)
        assert (watch.epochs_without_improvement, watch.best) == (count, best)
        assert watch.on_plateau == (count > 2)
    assert watch.best_epoch == 4
    assert watch.on_plateau
    accuracy = Watch("val_accuracy", patience=1, tol=0.0)
    assert accuracy.update(0.5, 0) and not accuracy.update(0.5, 1)
    assert accuracy.epochs_without_improvement == 0  # equal counts as improvement with tol 0


@pytest.mark.parametrize(
    ("keywords", "error", "fragment"),
    [
        ({"early_stopping": 1}, TypeError, "early_stopping"),
        ({"validation_fraction": 0.0}, ValueError, "validation_fraction"),
        ({"validation_fraction": 1.0}, ValueError, "validation_fraction"),
        ({"monitor": "loss"}, ValueError, "monitor"),
        ({"patience": 0}, ValueError, "patience"),
        ({"tol": -1e-3}, ValueError, "tol"),
        ({"restore_best": "yes"}, TypeError, "restore_best"),
        ({"lr_schedule": "cosine"}, ValueError, "lr_schedule"),
        ({"power_t": -0.5}, ValueError, "power_t"),
        ({"early_stopping": True, "validation_fraction": 0.01}, ValueError, "at least 2"),
        ({"early_stopping": True, "batch_size": 95}, ValueError, "rows left to train on"),
    ],
)
def test_bad_early_stopping_arguments(keywords: dict, error: type, fragment: str) -> None:
    x, labels = noisy_data(100, seed=8)
    model = MLP([10, 8, 3], engine="numpy", seed=0)
    before = [a.copy() for a in model.weights]
    with pytest.raises(error, match=fragment):
        model.fit(x, labels, epochs=2, **{"batch_size": 10, **keywords})
    for a, b in zip(model.weights, before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(model.history_) == 0
