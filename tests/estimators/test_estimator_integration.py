"""The estimators inside scikit-learn's machinery: Pipeline, GridSearchCV, cross_val_score,
clone, and pickle / joblib round trips."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastmlp import MLPClassifier, MLPRegressor

from .helpers import PLAIN_SGD, blobs

SGD = {**PLAIN_SGD, "learning_rate_init": 0.1, "hidden_layer_sizes": (8,), "max_iter": 40}


def test_pipeline_with_a_scaler(engine):
    X, y = blobs(n=90)
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(**SGD, engine=engine, random_state=0))
    pipeline.fit(X * 100 + 5, y)
    assert pipeline.score(X * 100 + 5, y) > 0.9
    assert pipeline.predict_proba(X[:3] * 100 + 5).shape == (3, 3)


def test_grid_search_finds_the_better_setting(engine):
    X, y = blobs(n=90)
    search = GridSearchCV(
        MLPClassifier(**SGD, engine=engine, random_state=0),
        {"learning_rate_init": [1e-6, 0.1], "hidden_layer_sizes": [(4,), (8,)]},
        cv=3,
    )
    search.fit(X, y)
    assert search.best_params_["learning_rate_init"] == 0.1
    assert search.best_score_ > 0.9
    assert isinstance(search.best_estimator_, MLPClassifier)
    assert len(search.cv_results_["params"]) == 4


def test_cross_val_score_with_a_regressor():
    X, _ = blobs(n=90)
    y = X[:, 0] - 2 * X[:, 1]
    scores = cross_val_score(
        MLPRegressor(solver="lbfgs", hidden_layer_sizes=(8,), engine="numpy", random_state=0),
        X,
        y,
        cv=3,
    )
    assert scores.shape == (3,) and scores.min() > 0.9


def test_cross_val_score_with_string_labels_and_two_jobs():
    """Two worker processes (joblib's loky): the Rust engine in each, one thread each."""
    X, y = blobs(n=90)
    labels = np.array(["a", "b", "c"])[y]
    clf = MLPClassifier(**SGD, random_state=0, n_threads=1)
    scores = cross_val_score(clf, X, labels, cv=3, n_jobs=2)
    assert scores.mean() > 0.85
    np.testing.assert_array_equal(scores, cross_val_score(clf, X, labels, cv=3))


def test_clone_of_a_fitted_estimator_is_unfitted_with_the_same_parameters(engine):
    X, y = blobs(n=60)
    fitted = MLPClassifier(**SGD, engine=engine, random_state=0).fit(X, y)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "coefs_") and not hasattr(copy, "_mlp")
    copy.fit(X, y)  # and trains to the same model (same random_state)
    np.testing.assert_array_equal(copy.coefs_[0], fitted.coefs_[0])


@pytest.mark.parametrize("kind", ["classifier", "multilabel", "regressor"])
def test_pickle_and_joblib_round_trips(engine, kind, tmp_path):
    X, y = blobs(n=60)
    if kind == "classifier":
        estimator = MLPClassifier(**SGD, engine=engine, random_state=0)
        y = np.array(["x", "y", "z"])[y]
    elif kind == "multilabel":
        estimator = MLPClassifier(**SGD, engine=engine, random_state=0)
        y = np.stack([X[:, 0] > 0, X[:, 1] > 0], axis=1).astype(int)
    else:
        estimator = MLPRegressor(solver="lbfgs", hidden_layer_sizes=(8,), engine=engine)
        y = X[:, 0] + X[:, 1] ** 2
    estimator.fit(X, y)
    expected = estimator.predict(X)
    unpickled = pickle.loads(pickle.dumps(estimator))
    joblib.dump(estimator, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    for copy in (unpickled, loaded):
        np.testing.assert_array_equal(copy.predict(X), expected)
        assert copy.get_params() == estimator.get_params()
        # The copy's coefs_ are its model's weights: training goes on from them.
        if estimator.solver != "lbfgs":
            copy.partial_fit(X, y)
            assert not np.array_equal(copy.coefs_[0], estimator.coefs_[0])
            assert copy._mlp.weights[0] is copy.coefs_[0]


def test_coefs_set_by_hand_are_used_by_predict_and_training():
    X, y = blobs(n=60)
    clf = MLPClassifier(**SGD, random_state=0).fit(X, y)
    clf.coefs_ = [np.zeros_like(w) for w in clf.coefs_]
    clf.intercepts_ = [np.zeros_like(b) for b in clf.intercepts_]
    np.testing.assert_allclose(clf.predict_proba(X), 1 / 3)
    clf.partial_fit(X, y)
    # relu of zeros is 0: only the output biases learn from there.
    np.testing.assert_array_equal(clf.coefs_[0], 0.0)
    assert np.abs(clf.intercepts_[-1]).sum() > 0
