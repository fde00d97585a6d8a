"""What :class:`MLPClassifier` and :class:`MLPRegressor` share: fitting and predicting.

``fit`` checks the parameters, converts the data once (:mod:`.inputs`), draws the initial
weights as scikit-learn does (Glorot uniform, biases too, from ``random_state``) and trains
through :meth:`fastmlp.MLP.fit`, the one training loop, on an ``MLP`` whose ``weights`` and
``biases`` are the estimator's ``coefs_`` and ``intercepts_`` (the same arrays, updated in
place). The solver settings become ``MLP.fit``'s keywords in :mod:`.solvers`; scikit-learn's
per-epoch bookkeeping and stopping rule run as the loop's callback (:mod:`.convergence`).
``solver="lbfgs"`` minimises the full-batch objective with scipy (:mod:`.lbfgs`).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from fastmlp import _native, kernels, reference
from fastmlp.estimators.capabilities import engine_optimizes, require
from fastmlp.estimators.convergence import EpochMonitor
from fastmlp.estimators.inputs import (
    dtype_for,
    validate_sample_weight,
    validate_x,
    validate_x_y,
)
from fastmlp.estimators.lbfgs import fit_lbfgs
from fastmlp.estimators.params import Parameters, check_parameters, generator_from
from fastmlp.estimators.solvers import check_fit_keywords, fit_keywords
from fastmlp.model import MLP
from fastmlp.reference_outputs import check_output

__all__ = ["BaseMLP", "engine_threads"]

_ENGINE_MODULES = {"rust": kernels, "numpy": reference}


@contextmanager
def engine_threads(n_threads: int | None) -> Iterator[None]:
    """The Rust engine's thread count set to ``n_threads`` for a block (None: unchanged).

    The count is process-wide (:func:`fastmlp.set_num_threads`): the previous one is restored
    afterwards.
    """
    if n_threads is None:
        yield
        return
    previous = _native.get_num_threads()
    if previous != n_threads:
        _native.set_num_threads(n_threads)
    try:
        yield
    finally:
        if previous != n_threads:
            _native.set_num_threads(previous)


class BaseMLP(BaseEstimator):
    """The shared machinery; the subclasses define ``__init__``, targets and predictions."""

    _estimator_kind: str  # "classifier" or "regressor"

    # ---- what the subclasses provide -----------------------------------------------------

    def _training_targets(
        self, y: NDArray, first: bool, incremental: bool, classes: object, dtype: np.dtype
    ) -> tuple[NDArray, str, int, dict[str, Any]]:
        """``(targets for MLP.fit, output layer, its width, attributes to set)`` from the
        validated ``y``; the attributes (``classes_``, ...) are set once the fit goes ahead."""
        raise NotImplementedError

    def _score_rows(self, x: Any, y: NDArray, sample_weight: NDArray | None) -> float:
        """scikit-learn's validation score on checked rows (accuracy or R^2)."""
        raise NotImplementedError

    # ---- fit -----------------------------------------------------------------------------

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        incremental: bool = False,
        classes: object = None,
    ) -> BaseMLP:
        params = check_parameters(self)
        # What this build cannot do is refused before the estimator changes.
        keywords: dict[str, Any] = {}
        if self.solver != "lbfgs":
            keywords = check_fit_keywords(
                fit_keywords(self, self._estimator_kind == "classifier", params.n_iter_no_change),
                self._solver_text(),
            )
            if self.early_stopping and incremental:
                raise ValueError("partial_fit does not support early_stopping=True")
            self._require_optimizer(keywords)
        first = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        dtype = params.dtype if first else self.coefs_[0].dtype
        x, y = validate_x_y(
            self,
            X,
            y,
            dtype=dtype_for(dtype),
            reset=first,
            y_numeric=self._estimator_kind == "regressor",
        )
        targets, output, n_outputs, fitted = self._training_targets(
            y, first, incremental, classes, x.dtype
        )
        weights = validate_sample_weight(sample_weight, x.shape[0], x.dtype)
        try:
            require(
                self.engine,
                params.engine_activation,
                output,
                weights is not None,
                self._settings_text(params.engine_activation, output, weights is not None),
            )
        except NotImplementedError:
            if first:  # validate_data set these; the estimator stays as it was
                for name in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(name, None)
            raise
        for name, value in fitted.items():
            setattr(self, name, value)
        if first:
            self._initialize(params, x.shape[1], n_outputs, output, x.dtype)
        with engine_threads(self.n_threads):
            if self.solver == "lbfgs":
                self._fit_lbfgs(params, x, targets, weights)
            else:
                self._fit_stochastic(params, keywords, x, targets, y, weights, incremental)
        if not all(np.isfinite(a).all() for a in self.coefs_ + self.intercepts_):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed."
            )
        return self

    def _require_optimizer(self, keywords: dict[str, Any]) -> None:
        """``NotImplementedError`` when the engine cannot take this solver's steps (asked of
        the engine itself: both take every solver's steps since issue 11's phase 2)."""
        if engine_optimizes(
            self.engine,
            keywords.get("optimizer", "sgd"),
            keywords.get("momentum", 0.0),
            keywords.get("nesterov", False),
            keywords.get("alpha", 0.0),
        ):
            return
        raise NotImplementedError(
            f"{type(self).__name__}({self._solver_text()}) with engine={self.engine!r}: the "
            "engine cannot take this solver's steps; engine='numpy' runs every solver"
        )

    def _settings_text(self, activation: str, output: str, weighted: bool) -> str:
        """The estimator's settings an engine may lack, for error messages."""
        parts = [f"{type(self).__name__}"]
        if activation == "identity":
            parts.append("activation='identity'")
        if output != "softmax":
            parts.append(f"an output layer {output!r}")
        if weighted:
            parts.append("sample_weight")
        return ", ".join(parts)

    def _initialize(
        self, params: Parameters, n_features: int, n_outputs: int, output: str, dtype: np.dtype
    ) -> None:
        """Fresh fitted attributes and initial weights, as scikit-learn's ``_initialize``."""
        self._rng = generator_from(self.random_state)
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = n_outputs
        layer_units = [n_features, *params.hidden_layer_sizes, n_outputs]
        self.n_layers_ = len(layer_units)
        self.out_activation_ = output
        # Glorot uniform, scikit-learn's variant: factor 2 for the logistic activation, else
        # 6; the biases are drawn from the same interval.
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_: list[NDArray] = []
        self.intercepts_: list[NDArray] = []
        for fan_in, fan_out in itertools.pairwise(layer_units):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coef = self._rng.uniform(-bound, bound, (fan_in, fan_out))
            intercept = self._rng.uniform(-bound, bound, fan_out)
            self.coefs_.append(np.ascontiguousarray(coef, dtype=dtype))
            self.intercepts_.append(np.ascontiguousarray(intercept, dtype=dtype))
        if self.solver != "lbfgs":
            self._initialize_stochastic()
        self._mlp: MLP | None = None

    def _initialize_stochastic(self) -> None:
        """The attributes only the stochastic solvers keep (also when a warm start switches
        from L-BFGS to them)."""
        self.loss_curve_: list[float] = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_: list[float] | None = []
            self.best_validation_score_: float | None = -np.inf
            self.best_loss_: float | None = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _network(self, params: Parameters, fresh: bool) -> MLP:
        """The ``MLP`` that trains and predicts, on the estimator's own arrays.

        A fresh one (new optimizer state) for ``fit``; ``partial_fit`` goes on with the last
        one, as scikit-learn keeps its optimizer between ``partial_fit`` calls.
        """
        network = getattr(self, "_mlp", None)
        if (
            fresh
            or network is None
            or (network.engine, network.input_path) != (self.engine, self.input_path)
        ):
            network = MLP(
                [w.shape[0] for w in self.coefs_] + [self.coefs_[-1].shape[1]],
                activation=params.engine_activation,
                dtype=self.coefs_[0].dtype,
                seed=self._rng,
                engine=self.engine,
                input_path=self.input_path,
                output=check_output(self.out_activation_),
            )
            # scikit-learn's t_ goes on over warm starts (invscaling reads it); so do these rows.
            network.training_state_.rows_seen = int(getattr(self, "t_", 0))
            self._mlp = network
        # The estimator's arrays are the model's: coefs_ may have been set by hand.
        self.coefs_ = [_trainable(w, network.dtype) for w in self.coefs_]
        self.intercepts_ = [_trainable(b, network.dtype) for b in self.intercepts_]
        network.weights, network.biases = self.coefs_, self.intercepts_
        return network

    def _fit_stochastic(
        self,
        params: Parameters,
        keywords: dict[str, Any],
        x: Any,
        targets: NDArray,
        y: NDArray,
        sample_weight: NDArray | None,
        incremental: bool,
    ) -> None:
        """Train with ``solver="sgd"``/``"adam"`` through :meth:`fastmlp.MLP.fit`, with the
        optimizer ``keywords`` of :mod:`.solvers`."""
        network = self._network(params, fresh=not incremental)
        if not hasattr(self, "loss_curve_"):
            self._initialize_stochastic()

        validation_data = validation_score = None
        if self.early_stopping:
            train, held_out = self._validation_split(y)
            x_val, y_val = x[held_out], y[held_out]
            weights_val = None if sample_weight is None else sample_weight[held_out]
            validation_data = (x_val, targets[held_out])
            x, targets = x[train], targets[train]
            sample_weight = None if sample_weight is None else sample_weight[train]

            def validation_score() -> float:
                return self._score_rows(x_val, y_val, weights_val)

        rows = x.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, rows)
        else:
            if self.batch_size > rows:
                warnings.warn(
                    "Got `batch_size` less than 1 or larger than sample size. It is going to "
                    "be clipped",
                    stacklevel=4,
                )
            batch_size = int(np.clip(self.batch_size, 1, rows))
        adaptive = self.solver == "sgd" and self.learning_rate == "adaptive"
        monitor = EpochMonitor(
            self,
            rows,
            params.n_iter_no_change,
            stop_on_plateau=not self.early_stopping and not adaptive,
            validation_score=validation_score,
        )
        self.n_iter_ = 0
        stopped = False
        try:
            history = network.fit(
                x,
                targets,
                epochs=1 if incremental else self.max_iter,
                batch_size=batch_size,
                lr=self.learning_rate_init,
                shuffle=self.shuffle,
                validation_data=validation_data,
                sample_weight=sample_weight,
                progress=monitor,
                **keywords,
            )
            stopped = history.stop_reason is not None  # converged, or early stopping
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=4)
        finally:
            # The loop may hand back other arrays (restored best weights).
            self.coefs_, self.intercepts_ = network.weights, network.biases
        if not incremental and not stopped and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                "optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _validation_split(self, y: NDArray) -> tuple[NDArray, NDArray]:
        """Rows to train on and rows held out for early stopping, as scikit-learn splits them
        (stratified for single-output classification)."""
        rows = np.arange(len(y))
        stratify = y if self._estimator_kind == "classifier" and y.ndim == 1 else None
        train, held_out = train_test_split(
            rows,
            random_state=int(self._rng.integers(2**32)),
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if len(held_out) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        return train, held_out

    def _solver_text(self) -> str:
        """The solver settings, for the error when MLP.fit lacks an optimizer keyword."""
        if self.solver == "adam":
            text = "solver='adam'"
        else:
            text = f"solver='sgd' with momentum={self.momentum}"
            if self.learning_rate != "constant":
                text += f", learning_rate={self.learning_rate!r}"
        if self.alpha:
            text += f", alpha={self.alpha}"
        if self.early_stopping:
            text += ", early_stopping=True"
        return text

    def _fit_lbfgs(
        self, params: Parameters, x: Any, targets: NDArray, sample_weight: NDArray | None
    ) -> None:
        """Train with ``solver="lbfgs"`` on the full batch."""
        network = self._network(params, fresh=True)
        if self.out_activation_ == "softmax":
            onehot = np.zeros((len(targets), self.n_outputs_), dtype=network.dtype)
            onehot[np.arange(len(targets)), targets] = 1
            targets = onehot
        self.loss_, self.n_iter_ = fit_lbfgs(
            _ENGINE_MODULES[self.engine],
            self.coefs_,
            self.intercepts_,
            x,
            targets,
            sample_weight,
            params.engine_activation,
            self.out_activation_,
            float(self.alpha),
            self.max_iter,
            self.max_fun,
            float(self.tol),
            bool(self.verbose),
        )

    # ---- predict -------------------------------------------------------------------------

    def _output_values(self, X: Any) -> NDArray:
        """The output layer's values (n, n_outputs_) for new rows ``X``."""
        check_is_fitted(self)
        x = validate_x(self, X, self.coefs_[0].dtype)
        return self._output_values_of_rows(x)

    def _output_values_of_rows(self, x: Any) -> NDArray:
        """The output layer's values for rows already checked and converted."""
        network = self._mlp
        assert network is not None, "fit makes the network"
        network.weights, network.biases = self.coefs_, self.intercepts_
        with engine_threads(self.n_threads):
            return network.predict_proba(x)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _trainable(array: NDArray, dtype: np.dtype) -> NDArray:
    """``array`` as the engines update it: C-ordered, writeable, of ``dtype`` (a copy if not)."""
    if array.dtype == dtype and array.flags.c_contiguous and array.flags.writeable:
        return array
    return np.array(array, dtype=dtype, order="C")
