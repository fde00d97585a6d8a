"""Training: against scikit-learn itself from the same initial weights (plain SGD and L-BFGS,
multi-class, multi-label, regression), the convergence rule, warnings, partial_fit, warm_start,
sample_weight, and both engines alike on every setting."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from fastmlp import History, MLPClassifier, MLPRegressor
from fastmlp.estimators.convergence import EpochMonitor

from .helpers import PLAIN_SGD, blobs, start_from_our_weights

# Plain SGD, float64, after 15 epochs from the same weights in the same batch order: the same
# arithmetic but for the order of sums (NumPy's BLAS, the Rust GEMM). Measured differences:
# about 1e-15 (numpy engine) and 1e-14 (rust); the bounds leave a wide margin.
SAME_RUN = {"rtol": 1e-9, "atol": 1e-11}


def sgd_settings(**changes):
    settings = {
        **PLAIN_SGD,
        "hidden_layer_sizes": (7, 5),
        "activation": "tanh",
        "learning_rate_init": 0.05,
        "batch_size": 16,
        "shuffle": False,
        "max_iter": 15,
        "tol": 0.0,
        "n_iter_no_change": 1000,
        "random_state": 0,
    }
    return settings | changes


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_multiclass_sgd_equals_scikit_learns(engine, activation):
    X, y = blobs(n=70, classes=4)
    labels = np.array(["ant", "bee", "cat", "dog"])[y]
    ours = MLPClassifier(**sgd_settings(activation=activation), engine=engine)
    theirs = SkMLPClassifier(**sgd_settings(activation=activation))
    start_from_our_weights(ours, theirs, 5, 4)
    ours.fit(X, labels)
    theirs.fit(X, labels)
    for a, b in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(a, b, **SAME_RUN)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), **SAME_RUN)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.n_iter_ == theirs.n_iter_ == 15 and ours.t_ == theirs.t_


def test_multilabel_sgd_equals_scikit_learns(engine):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 6))
    Y = np.stack([X[:, 0] > 0, X[:, 1] > X[:, 2], X[:, 3] + X[:, 4] > 0.5], axis=1).astype(int)
    ours = MLPClassifier(**sgd_settings(), engine=engine)
    theirs = SkMLPClassifier(**sgd_settings())
    start_from_our_weights(ours, theirs, 6, 3)
    ours.fit(X, Y)
    theirs.fit(X, Y)
    assert ours.out_activation_ == theirs.out_activation_ == "logistic"
    for a, b in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(a, b, **SAME_RUN)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), **SAME_RUN)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_array_equal(ours.classes_, [0, 1, 2])


@pytest.mark.parametrize("targets", [1, 3])
def test_regression_sgd_equals_scikit_learns(engine, targets):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 5))
    Y = np.stack([np.sin(X[:, 0]) + X[:, 1] * (k + 1) for k in range(targets)], axis=1)
    y = Y[:, 0] if targets == 1 else Y
    ours = MLPRegressor(**sgd_settings(learning_rate_init=0.01), engine=engine)
    theirs = SkMLPRegressor(**sgd_settings(learning_rate_init=0.01))
    start_from_our_weights(ours, theirs, 5, targets)
    ours.fit(X, y)
    theirs.fit(X, y)
    for a, b in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(a, b, **SAME_RUN)
    # scikit-learn reports the squared error averaged over the targets (see MLPRegressor).
    np.testing.assert_allclose(np.array(ours.loss_curve_) / targets, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), **SAME_RUN)
    assert ours.predict(X).shape == theirs.predict(X).shape
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-9)


@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "regression"])
def test_lbfgs_equals_scikit_learns(engine, kind):
    """The same objective (loss + alpha L2) and gradient from the same start: L-BFGS-B takes
    the same steps."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 4))
    settings = {"solver": "lbfgs", "hidden_layer_sizes": (6,), "alpha": 1e-3, "max_iter": 25}
    settings["random_state"] = 0
    if kind == "multiclass":
        y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.3)
        ours, theirs = MLPClassifier(**settings, engine=engine), SkMLPClassifier(**settings)
    elif kind == "multilabel":
        y = np.stack([X[:, 0] > 0, X[:, 1] > 0], axis=1).astype(int)
        ours, theirs = MLPClassifier(**settings, engine=engine), SkMLPClassifier(**settings)
    else:
        y = X[:, 0] * X[:, 1] + X[:, 2]
        ours, theirs = MLPRegressor(**settings, engine=engine), SkMLPRegressor(**settings)
    outputs = {"multiclass": 3, "multilabel": 2, "regression": 1}[kind]
    start_from_our_weights(ours, theirs, 4, outputs)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    assert ours.n_iter_ == theirs.n_iter_
    for a, b in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert not hasattr(ours, "loss_curve_")  # as scikit-learn: only the stochastic solvers


def test_lbfgs_fits_well_and_warns_when_it_runs_out_of_iterations(engine):
    X, y = blobs(n=90)
    clf = MLPClassifier(solver="lbfgs", hidden_layer_sizes=(10,), engine=engine, random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.95
    assert 1 <= clf.n_iter_ <= 200 and clf.t_ == 0
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge after 2 iteration"):
        MLPClassifier(solver="lbfgs", max_iter=2, engine=engine, random_state=0).fit(X, y)


# ---- the convergence rule -----------------------------------------------------------------


class Bookkeeping:
    """The attributes EpochMonitor updates, as after an estimator's _initialize."""

    verbose = False

    def __init__(self, tol: float) -> None:
        self.tol = tol
        self.n_iter_ = self.t_ = self._no_improvement_count = 0
        self.loss_curve_: list[float] = []
        self.best_loss_ = np.inf


def test_training_stops_as_scikit_learns_rule_says():
    """Stop once the loss has not improved by tol for more than n_iter_no_change epochs."""
    losses = [1.0, 0.5, 0.45, 0.4495, 0.4493, 0.3, 0.29995, 0.29994, 0.29993, 0.29992]
    monitor = EpochMonitor(Bookkeeping(tol=1e-3), rows=10, n_iter_no_change=2, stop_on_plateau=True)
    history = History()
    stops = []
    for loss in losses:
        history.loss.append(loss)
        monitor(history)
        stops.append(history.stop_reason is not None)
    # Epochs 4 and 5 do not improve by 1e-3 (count 2, not > 2); epoch 6 does; 7, 8, 9 do
    # not: count 3 > 2 at epoch 9 (and 4 at epoch 10, had training gone on).
    assert stops == [False] * 8 + [True, True]
    assert monitor.converged and monitor.estimator.n_iter_ == 10
    assert history.stop_reason.startswith("Training loss did not improve more than tol=0.001")
    assert monitor.estimator.best_loss_ == 0.29992
    assert monitor.estimator.t_ == 100


def test_fit_stops_on_a_plateau_and_says_so_when_verbose(capsys):
    X, y = blobs(n=60)
    clf = MLPClassifier(
        **PLAIN_SGD, learning_rate_init=0.2, tol=0.05, n_iter_no_change=3, max_iter=500,
        verbose=True, random_state=0,
    )  # fmt: skip
    clf.fit(X, y)
    assert clf.n_iter_ < 500
    output = capsys.readouterr().out
    assert f"Iteration {clf.n_iter_}, loss = {clf.loss_:.8f}" in output
    assert "Training loss did not improve more than tol=0.050000 for 3 consecutive epochs" in output


def test_running_out_of_epochs_is_a_convergence_warning():
    X, y = blobs(n=60)
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        MLPClassifier(**PLAIN_SGD, max_iter=3, random_state=0).fit(X, y)


# ---- partial_fit and warm_start -----------------------------------------------------------


def test_partial_fit_is_one_epoch_and_needs_the_classes_first(engine):
    X, y = blobs(n=60)
    labels = np.array(["no", "yes", "maybe"])[y]
    clf = MLPClassifier(**PLAIN_SGD, learning_rate_init=0.1, engine=engine, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, labels)
    for call in range(1, 4):
        clf.partial_fit(X[:30], labels[:30], classes=["maybe", "no", "yes"])
        assert clf.n_iter_ == 1 and clf.t_ == 30 * call and len(clf.loss_curve_) == call
    np.testing.assert_array_equal(clf.classes_, ["maybe", "no", "yes"])
    with pytest.raises(ValueError, match="is not the same as on last call"):
        clf.partial_fit(X, labels, classes=["no", "yes"])
    with pytest.raises(ValueError, match=r"`y` has classes not in `self\.classes_`"):
        clf.partial_fit(X, np.where(y == 0, "other", labels))
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")


def test_partial_fit_continues_the_same_optimizer_and_generator(engine):
    """Three partial_fits from one estimator equal a fit of three epochs (same shuffles)."""
    X, y = blobs(n=60)
    settings = {**PLAIN_SGD, "learning_rate_init": 0.1, "random_state": 0, "engine": engine}
    stepwise = MLPClassifier(**settings)
    for _ in range(3):
        stepwise.partial_fit(X, y, classes=[0, 1, 2])
    whole = MLPClassifier(**settings, max_iter=3, tol=0.0).fit(X, y)
    # whole drew its weights with fit; stepwise with its first partial_fit: same stream.
    for a, b in zip(stepwise.coefs_, whole.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_warm_start_continues_and_checks_the_classes():
    X, y = blobs(n=60)
    clf = MLPClassifier(**PLAIN_SGD, learning_rate_init=0.1, max_iter=5, warm_start=True)
    clf.fit(X, y)
    first = clf.coefs_[0].copy()
    clf.fit(X, y)
    assert len(clf.loss_curve_) == 10 and clf.n_iter_ == 5
    assert not np.array_equal(first, clf.coefs_[0])
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same"):
        clf.fit(X, np.minimum(y, 1))


def test_a_warm_start_may_switch_from_lbfgs_to_sgd():
    X, y = blobs(n=60)
    clf = MLPClassifier(solver="lbfgs", max_iter=5, warm_start=True, random_state=0).fit(X, y)
    assert not hasattr(clf, "loss_curve_")
    start = clf.coefs_[0].copy()
    clf.set_params(**PLAIN_SGD, max_iter=3).fit(X, y)
    assert len(clf.loss_curve_) == 3 and clf.n_iter_ == 3
    assert not np.array_equal(clf.coefs_[0], start)


def test_binary_labels_use_one_logistic_output(engine):
    X, y = blobs(n=60, classes=2)
    labels = np.where(y == 1, "spam", "ham")
    clf = MLPClassifier(**PLAIN_SGD, learning_rate_init=0.1, random_state=0, engine=engine)
    clf.fit(X, labels)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.coefs_[-1].shape == (100, 1) and clf.intercepts_[-1].shape == (1,)
    probabilities = clf.predict_proba(X)
    assert probabilities.shape == (60, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[probabilities.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(probabilities))
    assert clf.score(X, labels) > 0.9


def test_binary_sgd_equals_scikit_learns(engine):
    """One logistic output, as scikit-learn's: the same weights, losses and probabilities."""
    X, y = blobs(n=70, classes=2, seed=3)
    labels = np.where(y == 1, "yes", "no")
    ours = MLPClassifier(**sgd_settings(), engine=engine)
    theirs = SkMLPClassifier(**sgd_settings())
    start_from_our_weights(ours, theirs, 5, 1)
    ours.fit(X, labels)
    theirs.fit(X, labels)
    assert ours.out_activation_ == theirs.out_activation_ == "logistic"
    for a, b in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(a, b, **SAME_RUN)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), **SAME_RUN)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_one_class_is_a_value_error_naming_the_class():
    X, _ = blobs(n=10)
    with pytest.raises(ValueError, match="at least 2 classes to learn, got 1 class"):
        MLPClassifier(**PLAIN_SGD).fit(X, np.ones(10))
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier(**PLAIN_SGD).fit(X, np.linspace(0, 1, 10))


# ---- sample_weight ------------------------------------------------------------------------


def test_integer_weights_equal_repeated_rows_with_lbfgs(engine):
    X, y = blobs(n=40)
    counts = np.random.default_rng(4).integers(0, 4, size=40)
    settings = {"solver": "lbfgs", "hidden_layer_sizes": (6,), "random_state": 0}
    weighted = MLPClassifier(**settings, engine=engine).fit(X, y, sample_weight=counts)
    repeated = MLPClassifier(**settings, engine=engine).fit(
        X.repeat(counts, axis=0), y.repeat(counts)
    )
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-6)


def test_weights_of_one_are_no_weights(engine):
    X, y = blobs(n=40)
    plain = MLPClassifier(**PLAIN_SGD, random_state=0, engine=engine).fit(X, y)
    ones = MLPClassifier(**PLAIN_SGD, random_state=0, engine=engine)
    ones.fit(X, y, sample_weight=np.ones(40))
    np.testing.assert_array_equal(plain.coefs_[0], ones.coefs_[0])


def test_sample_weight_errors():
    X, y = blobs(n=20)
    clf = MLPClassifier(**PLAIN_SGD, engine="numpy")
    with pytest.raises(ValueError, match="all zero"):
        clf.fit(X, y, sample_weight=np.zeros(20))
    with pytest.raises(ValueError, match="expected 20 real numbers"):
        clf.fit(X, y, sample_weight=np.ones(19))
    with pytest.raises(ValueError, match=">= 0"):
        clf.fit(X, y, sample_weight=-np.ones(20))


@pytest.mark.parametrize(
    "estimator",
    [
        MLPClassifier(**PLAIN_SGD, hidden_layer_sizes=(6,), random_state=0),
        MLPClassifier(**PLAIN_SGD, hidden_layer_sizes=(6,), activation="identity", random_state=0),
        MLPRegressor(**PLAIN_SGD, hidden_layer_sizes=(6,), random_state=0),
        MLPRegressor(loss="poisson", **PLAIN_SGD, hidden_layer_sizes=(6,), random_state=0),
    ],
    ids=["weighted", "identity-hidden", "regressor", "poisson"],
)
def test_both_engines_fit_each_setting_alike(estimator):
    """Row weights, the identity activation and the regressors' outputs on the Rust engine
    (the default) train as on the NumPy engine."""
    X, y = blobs(n=40)
    if isinstance(estimator, MLPRegressor):
        y = np.abs(X[:, 0] + X[:, 1]) / 4
    sample_weight = np.arange(40) % 3 + 0.5
    fitted = [
        clone(estimator).set_params(engine=engine, learning_rate_init=0.01, max_iter=20)
        .fit(X, y, sample_weight=sample_weight)
        for engine in ("rust", "numpy")
    ]  # fmt: skip
    rust, numpy_estimator = fitted
    np.testing.assert_allclose(rust.loss_curve_, numpy_estimator.loss_curve_, rtol=1e-9)
    for a, b in zip(rust.coefs_, numpy_estimator.coefs_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-11)
