"""The estimators' API: scikit-learn's parameters and defaults, stored untouched; what ``fit``
sets; parameter errors; the lazy import; inputs (lists, DataFrames, dtypes, orders, sparse);
threads."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor
from fastmlp.estimators.params import check_parameters

from .helpers import PLAIN_SGD, blobs

FASTMLP_PARAMETERS = {"dtype": None, "engine": "rust", "input_path": "auto", "n_threads": None}
SGD = {**PLAIN_SGD, "learning_rate_init": 0.1, "hidden_layer_sizes": (8,), "max_iter": 30}


@pytest.mark.parametrize(
    ("ours", "theirs"), [(MLPClassifier, SkMLPClassifier), (MLPRegressor, SkMLPRegressor)]
)
def test_parameters_and_defaults_are_scikit_learns(ours, theirs):
    ours_signature = inspect.signature(ours.__init__).parameters
    theirs_signature = inspect.signature(theirs.__init__).parameters
    assert list(ours_signature)[: len(theirs_signature)] == list(theirs_signature)
    for name, parameter in theirs_signature.items():
        assert ours_signature[name].default == parameter.default, name
        assert ours_signature[name].kind == parameter.kind, name
    ours_only = {k: v.default for k, v in ours_signature.items() if k not in theirs_signature}
    assert ours_only == {"self": inspect.Parameter.empty, **FASTMLP_PARAMETERS} or ours_only == (
        FASTMLP_PARAMETERS
    )
    assert ours().get_params() == {**theirs().get_params(), **FASTMLP_PARAMETERS}


def test_init_stores_the_arguments_untouched():
    sizes = [4, 3]
    generator = np.random.default_rng(0)
    clf = MLPClassifier(hidden_layer_sizes=sizes, random_state=generator, batch_size=7)
    assert clf.hidden_layer_sizes is sizes and clf.random_state is generator
    # Even invalid values: they are checked by fit.
    clf = MLPClassifier(activation="softplus", max_iter=-1)
    assert clf.activation == "softplus" and clf.max_iter == -1
    assert not [k for k in vars(clf) if k.endswith("_")]


def test_fit_returns_self_and_sets_the_fitted_attributes(engine):
    X, y = blobs()
    clf = MLPClassifier(**SGD, engine=engine, random_state=0)
    assert clf.fit(X, y) is clf
    assert clf.n_features_in_ == 5 and clf.n_layers_ == 3 and clf.n_outputs_ == 3
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.out_activation_ == "softmax"
    assert [c.shape for c in clf.coefs_] == [(5, 8), (8, 3)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (3,)]
    assert clf.coefs_[0].dtype == np.float64  # scikit-learn's rule for float64 data
    assert 1 <= clf.n_iter_ <= 30 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.t_ == clf.n_iter_ * len(X)
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert not hasattr(clf, "feature_names_in_")
    assert clf.score(X, y) > 0.9


def test_weights_are_drawn_in_fit_as_scikit_learn_draws_them():
    """Glorot uniform, biases too, in +-sqrt(6 / (fan_in + fan_out)) (2 for logistic)."""
    for activation, factor in (("relu", 6.0), ("logistic", 2.0)):
        clf = MLPClassifier(
            hidden_layer_sizes=(30,), activation=activation, solver="lbfgs", max_iter=1
        )
        clf._initialize(check_parameters(clf), 40, 3, "softmax", np.dtype(np.float64))
        for coef, intercept in zip(clf.coefs_, clf.intercepts_, strict=True):
            bound = np.sqrt(factor / sum(coef.shape))
            assert np.abs(coef).max() <= bound and np.abs(coef).max() > 0.9 * bound
            assert np.abs(intercept).max() <= bound and np.abs(intercept).std() > 0


def test_the_same_random_state_gives_the_same_model(engine):
    X, y = blobs()
    a = MLPClassifier(**SGD, engine=engine, random_state=3).fit(X, y)
    b = MLPClassifier(**SGD, engine=engine, random_state=3).fit(X, y)
    c = MLPClassifier(**SGD, engine=engine, random_state=4).fit(X, y)
    for wa, wb in zip(a.coefs_, b.coefs_, strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    # fit again: idempotent
    a.fit(X, y)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


@pytest.mark.parametrize(
    ("parameter", "value", "error", "message"),
    [
        ("hidden_layer_sizes", (10, 0), ValueError, "hidden_layer_sizes: each size must be >= 1"),
        ("hidden_layer_sizes", "10", TypeError, "hidden_layer_sizes: expected an int"),
        ("activation", "softplus", ValueError, "activation: expected one of 'relu'"),
        ("solver", "newton", ValueError, "solver: expected one of 'lbfgs'"),
        ("alpha", -1.0, ValueError, r"alpha: expected a number in \[0.0, inf\)"),
        ("batch_size", 0, ValueError, "batch_size: expected an integer >= 1"),
        ("batch_size", "full", ValueError, "batch_size: expected 'auto'"),
        ("learning_rate_init", 0.0, ValueError, "learning_rate_init: expected a number in"),
        ("max_iter", 0, ValueError, "max_iter: expected an integer >= 1"),
        ("max_iter", 2.5, TypeError, "max_iter: expected an integer"),
        ("shuffle", "yes", TypeError, "shuffle: expected True or False"),
        ("random_state", "seed", TypeError, "random_state: expected None, an int"),
        ("momentum", 1.5, ValueError, r"momentum: expected a number in \[0.0, 1.0\]"),
        ("validation_fraction", 1.0, ValueError, "validation_fraction: expected a number in"),
        ("beta_2", 1.0, ValueError, "beta_2"),
        ("epsilon", 0.0, ValueError, "epsilon"),
        ("n_iter_no_change", 0, ValueError, "n_iter_no_change: expected an integer >= 1"),
        ("dtype", "float16", ValueError, "dtype: expected None, 'float32' or 'float64'"),
        ("engine", "torch", ValueError, "engine: expected one of 'rust', 'numpy'"),
        ("input_path", "csr", ValueError, "input_path: expected one of"),
        ("n_threads", 0, ValueError, "n_threads: expected an integer >= 1"),
    ],
)
def test_a_bad_parameter_is_named_by_fit(parameter, value, error, message):
    X, y = blobs(n=20)
    clf = MLPClassifier(**{parameter: value})
    with pytest.raises(error, match=message):
        clf.fit(X, y)


def test_a_bad_loss_is_named_by_the_regressor():
    with pytest.raises(ValueError, match="loss: expected one of 'squared_error', 'poisson'"):
        MLPRegressor(loss="huber", engine="numpy").fit(np.ones((4, 2)), np.ones(4))


def test_import_fastmlp_works_without_scikit_learn_and_the_estimators_say_what_to_install():
    script = textwrap.dedent(
        """
        import sys
        sys.modules["sklearn"] = None  # as if scikit-learn were not installed
        import fastmlp
        fastmlp.MLP([4, 2])
        assert "MLPClassifier" in dir(fastmlp)
        try:
            fastmlp.MLPClassifier
        except ImportError as error:
            print(error)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert "pip install 'fastmlp[sklearn]'" in done.stdout


def test_the_estimators_are_fastmlps_names():
    assert fastmlp.MLPClassifier is MLPClassifier
    from fastmlp.estimators import MLPRegressor as regressor

    assert fastmlp.MLPRegressor is regressor
    with pytest.raises(AttributeError, match="no attribute 'MLPRanker'"):
        fastmlp.MLPRanker  # noqa: B018


# ---- inputs -------------------------------------------------------------------------------


def test_lists_and_any_real_dtype_and_order_give_the_same_model():
    X, y = blobs(n=60)
    X = np.round(X * 4)  # values every dtype below holds exactly
    reference = MLPClassifier(**SGD, random_state=0, engine="numpy").fit(X, y)
    variants = [
        (X.tolist(), y.tolist()),
        (np.asfortranarray(X), y),
        (X.astype(np.int64), y.astype(np.int8)),
        (X.astype(np.float32), y.astype(np.uint16)),  # dtype None: float32 data stay float32
    ]
    for X_variant, y_variant in variants:
        clf = MLPClassifier(**SGD, random_state=0, engine="numpy", dtype="float64")
        clf.fit(X_variant, y_variant)
        np.testing.assert_array_equal(clf.coefs_[0], reference.coefs_[0])


@pytest.mark.parametrize(
    ("dtype", "data_dtype", "expected"),
    [
        (None, np.float32, np.float32),
        (None, np.float64, np.float64),
        (None, np.int64, np.float64),
        ("float32", np.float64, np.float32),
        ("float64", np.float32, np.float64),
    ],
)
def test_the_estimators_dtype(dtype, data_dtype, expected, engine):
    X, y = blobs(n=40)
    clf = MLPClassifier(**SGD, dtype=dtype, engine=engine, random_state=0)
    clf.fit((X * 10).astype(data_dtype), y)
    assert {a.dtype for a in clf.coefs_ + clf.intercepts_} == {np.dtype(expected)}
    assert clf.predict_proba(X).dtype == expected
    # Later calls convert to the fitted dtype.
    clf.partial_fit(X.astype(np.float16), y)
    assert clf.coefs_[0].dtype == expected


def test_a_dataframe_gives_feature_names_and_they_are_checked():
    pd = pytest.importorskip("pandas")
    X, y = blobs(n=40)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    clf = MLPClassifier(**SGD, random_state=0).fit(frame, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    predictions = clf.predict(frame)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(clf.predict(X), predictions)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(frame.rename(columns={"f0": "other"}))


@pytest.mark.parametrize("container", ["csr_matrix", "csc_matrix", "csr_array", "coo_matrix"])
def test_sparse_inputs_train_as_the_dense_ones_without_densifying(container, engine, monkeypatch):
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(0)
    X = rng.random((90, 50)) * (rng.random((90, 50)) < 0.1)
    y = (X[:, :25].sum(axis=1) > X[:, 25:].sum(axis=1)).astype(int)
    dense = MLPClassifier(**SGD, batch_size=10, random_state=0, engine=engine).fit(X, y)

    densified = []
    real_toarray = sparse.csr_matrix.toarray

    def recording_toarray(self, *args, **kwargs):
        densified.append(self.shape[0])
        return real_toarray(self, *args, **kwargs)

    monkeypatch.setattr(sparse.csr_matrix, "toarray", recording_toarray)
    monkeypatch.setattr(sparse.csr_array, "toarray", recording_toarray)
    matrix = getattr(sparse, container)(X)
    clf = MLPClassifier(**SGD, batch_size=10, random_state=0, engine=engine).fit(matrix, y)
    np.testing.assert_allclose(clf.coefs_[0], dense.coefs_[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(matrix), dense.predict(X))
    assert not densified  # the Rust engine compresses the CSR arrays; the reference multiplies


def test_nan_and_wrong_shapes_are_refused():
    X, y = blobs(n=30)
    clf = MLPClassifier(**SGD)
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(bad, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, y[:-1])
    clf.fit(X, y)
    with pytest.raises(ValueError, match="expecting 5 features"):
        clf.predict(X[:, :4])


# ---- threads ------------------------------------------------------------------------------


def test_n_threads_is_used_during_the_call_and_restored(monkeypatch):
    X, y = blobs(n=60)
    seen = []
    real_train_epoch = fastmlp.kernels._native.train_epoch_stats

    def recording(*args, **kwargs):
        seen.append(fastmlp.get_num_threads())
        return real_train_epoch(*args, **kwargs)

    before = fastmlp.get_num_threads()
    monkeypatch.setattr(fastmlp.kernels._native, "train_epoch_stats", recording)
    MLPClassifier(**SGD, n_threads=1, random_state=0).fit(X, y)
    assert set(seen) == {1}
    assert fastmlp.get_num_threads() == before


def test_clone_keeps_the_parameters_and_drops_the_fit():
    X, y = blobs(n=40)
    clf = MLPClassifier(**SGD, dtype="float32", engine="numpy", n_threads=1).fit(X, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "coefs_")
