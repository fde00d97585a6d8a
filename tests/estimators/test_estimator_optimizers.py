"""The solver settings that need issue 11's optimizers in ``MLP.fit``: momentum, Nesterov,
Adam, the L2 penalty ``alpha``, learning-rate schedules, early stopping.

The mapping of scikit-learn's parameters to ``MLP.fit``'s keywords is tested here always. The
training tests need those keywords: each skips (``skip_unless_mlp_fit_accepts``, naming the
missing keywords) until ``MLP.fit`` has them, and then checks the estimators against
scikit-learn itself from the same initial weights and batch order. Until then, asking for
them is a ``NotImplementedError`` that says what is missing (tested while it is missing).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp.estimators.solvers import fit_keywords, missing_fit_keywords

from .helpers import (
    PLAIN_SGD,
    blobs,
    mlp_fit_accepts,
    skip_unless_engine_optimizes,
    skip_unless_mlp_fit_accepts,
    start_from_our_weights,
)

SAME_RUN = {"rtol": 1e-9, "atol": 1e-11}

# (name, scikit-learn settings, every MLP.fit keyword they need)
SETTINGS = [
    ("momentum", {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": False, "alpha": 0.0},
     ["momentum"]),
    ("nesterov", {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": True, "alpha": 0.0},
     ["momentum", "nesterov"]),
    ("adam", {"solver": "adam", "alpha": 0.0}, ["beta1", "beta2", "epsilon", "optimizer"]),
    ("alpha-sgd", {**PLAIN_SGD, "alpha": 1e-2}, ["alpha"]),
    ("alpha-adam", {"solver": "adam", "alpha": 1e-2},
     ["alpha", "beta1", "beta2", "epsilon", "optimizer"]),
    ("invscaling", {**PLAIN_SGD, "learning_rate": "invscaling", "power_t": 0.25},
     ["lr_schedule", "power_t"]),
    ("adaptive", {**PLAIN_SGD, "learning_rate": "adaptive", "tol": 1e-2, "n_iter_no_change": 2},
     ["lr_schedule", "patience", "tol"]),
]  # fmt: skip
SETTING_IDS = [name for name, _, _ in SETTINGS]


# ---- the mapping (no training) -------------------------------------------------------------


def test_scikit_learns_settings_map_to_issue_11s_keywords():
    def keywords(**settings):
        estimator = MLPClassifier(**settings)
        return fit_keywords(estimator, True, float(estimator.n_iter_no_change))

    assert keywords() == {  # scikit-learn's defaults
        "alpha": 1e-4,
        "optimizer": "adam",
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
    }
    assert keywords(solver="sgd") == {
        "alpha": 1e-4,
        "optimizer": "sgd",
        "momentum": 0.9,
        "nesterov": True,
        "lr_schedule": "constant",
    }
    assert keywords(solver="sgd", momentum=0.0)["nesterov"] is False  # no momentum, no Nesterov
    assert keywords(solver="sgd", learning_rate="invscaling", power_t=0.3)["power_t"] == 0.3
    adaptive = keywords(solver="sgd", learning_rate="adaptive", n_iter_no_change=4, tol=0.1)
    assert (adaptive["lr_schedule"], adaptive["patience"], adaptive["tol"]) == ("adaptive", 4, 0.1)
    early = keywords(early_stopping=True, n_iter_no_change=3, tol=0.01)
    assert {k: early[k] for k in ("early_stopping", "monitor", "patience", "tol")} == {
        "early_stopping": True,
        "monitor": "val_accuracy",
        "patience": 3,
        "tol": 0.01,
    }
    assert early["restore_best"] is True
    regressor = MLPRegressor(early_stopping=True)
    assert fit_keywords(regressor, False, 10.0)["monitor"] == "val_loss"
    infinite = MLPClassifier(early_stopping=True, n_iter_no_change=np.inf, max_iter=7)
    assert fit_keywords(infinite, True, np.inf)["patience"] == 8  # never reached


def test_plain_sgd_needs_no_optimizer_keyword():
    estimator = MLPClassifier(**PLAIN_SGD)
    assert missing_fit_keywords(fit_keywords(estimator, True, 10.0)) == []


@pytest.mark.parametrize(("name", "settings", "needs"), SETTINGS, ids=SETTING_IDS)
def test_a_setting_mlp_fit_lacks_is_a_not_implemented_error_naming_it(name, settings, needs):
    if mlp_fit_accepts(*needs):
        pytest.skip("MLP.fit has these keywords (issue 11 has landed)")
    X, y = blobs(n=30)
    estimator = MLPClassifier(**settings, max_iter=2)
    with pytest.raises(NotImplementedError, match=r"needs fastmlp's optimizers \(MLP.fit keyw"):
        estimator.fit(X, y)
    assert not [k for k in vars(estimator) if k.endswith("_")]  # refused before any change
    estimator = MLPClassifier(**settings)
    keywords = fit_keywords(estimator, True, float(estimator.n_iter_no_change))
    assert missing_fit_keywords(keywords) == [k for k in needs if not mlp_fit_accepts(k)]


def test_early_stopping_without_the_keyword_is_a_not_implemented_error():
    if mlp_fit_accepts("early_stopping", "monitor", "patience", "restore_best"):
        pytest.skip("MLP.fit has early stopping (issue 11 has landed)")
    X, y = blobs(n=30)
    with pytest.raises(NotImplementedError, match="early_stopping=True needs fastmlp's"):
        MLPClassifier(**PLAIN_SGD, early_stopping=True).fit(X, y)


# ---- training, once MLP.fit has the keywords ----------------------------------------------


def run_settings(settings):
    return {
        "hidden_layer_sizes": (7,),
        "activation": "tanh",
        "learning_rate_init": 0.02,
        "batch_size": 16,
        "shuffle": False,
        "max_iter": 10,
        "tol": 0.0,
        "n_iter_no_change": 1000,
        "random_state": 0,
    } | settings


@pytest.mark.parametrize(("name", "settings", "needs"), SETTINGS, ids=SETTING_IDS)
def test_each_solver_setting_trains_as_scikit_learns(name, settings, needs, engine):
    skip_unless_mlp_fit_accepts(*needs)
    X, y = blobs(n=70, classes=3)
    ours = MLPClassifier(**run_settings(settings), engine=engine)
    skip_unless_engine_optimizes(engine, ours)
    theirs = SkMLPClassifier(**run_settings(settings))
    start_from_our_weights(ours, theirs, 5, 3)
    ours.fit(X, y)
    theirs.fit(X, y)
    ours_parameters = ours.coefs_ + ours.intercepts_
    for a, b in zip(ours_parameters, theirs.coefs_ + theirs.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, **SAME_RUN)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_regression_with_the_optimizers_trains_as_scikit_learns(solver, engine):
    needs = ["optimizer", "momentum", "nesterov", "alpha", "beta1", "beta2", "epsilon"]
    skip_unless_mlp_fit_accepts(*needs)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 4))
    y = X[:, 0] * X[:, 1] + X[:, 2]
    settings = run_settings({"solver": solver, "alpha": 1e-3, "learning_rate_init": 0.005})
    ours, theirs = MLPRegressor(**settings, engine=engine), SkMLPRegressor(**settings)
    skip_unless_engine_optimizes(engine, ours)
    start_from_our_weights(ours, theirs, 4, 1)
    ours.fit(X, y)
    theirs.fit(X, y)
    for a, b in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(a, b, **SAME_RUN)


def test_partial_fit_keeps_the_optimizer_state(engine):
    """Momentum and Adam's moments carry from one partial_fit to the next, as scikit-learn
    keeps its optimizer between partial_fit calls."""
    skip_unless_mlp_fit_accepts("optimizer", "momentum", "nesterov", "beta1", "beta2")
    X, y = blobs(n=60)
    for solver in ("sgd", "adam"):
        settings = run_settings({"solver": solver, "momentum": 0.9, "alpha": 0.0})
        ours = MLPClassifier(**settings, engine=engine)
        skip_unless_engine_optimizes(engine, ours)
        theirs = SkMLPClassifier(**settings)
        start_from_our_weights(ours, theirs, 5, 3)
        for _ in range(3):
            ours.partial_fit(X, y, classes=[0, 1, 2])
            theirs.partial_fit(X, y, classes=[0, 1, 2])
        for a, b in zip(ours.coefs_, theirs.coefs_, strict=True):
            np.testing.assert_allclose(a, b, **SAME_RUN)


@pytest.mark.parametrize("estimator_type", ["classifier", "regressor"])
def test_early_stopping_keeps_the_best_epoch(estimator_type, engine):
    skip_unless_mlp_fit_accepts("early_stopping", "monitor", "patience", "tol", "restore_best")
    X, y = blobs(n=200, classes=3, seed=6)
    skip_unless_engine_optimizes(engine, MLPClassifier())  # the default solver, adam
    if estimator_type == "classifier":
        estimator = MLPClassifier(
            early_stopping=True, n_iter_no_change=3, max_iter=300, random_state=0, engine=engine
        )
    else:
        y = X[:, 0] - X[:, 1]
        estimator = MLPRegressor(
            early_stopping=True, n_iter_no_change=3, max_iter=300, random_state=0, engine=engine
        )
    estimator.fit(X, y)
    assert estimator.n_iter_ < 300
    assert len(estimator.validation_scores_) == estimator.n_iter_
    assert estimator.best_validation_score_ == max(estimator.validation_scores_)
    assert estimator.best_loss_ is None
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        estimator.partial_fit(X, y)


def test_scikit_learns_defaults_train_well(engine):
    skip_unless_mlp_fit_accepts("optimizer", "beta1", "beta2", "epsilon", "alpha")
    X, y = blobs(n=150)
    skip_unless_engine_optimizes(engine, MLPClassifier())
    ours = MLPClassifier(random_state=0, engine=engine).fit(X, y)
    theirs = SkMLPClassifier(random_state=0).fit(X, y)
    assert ours.score(X, y) >= theirs.score(X, y) - 0.02
