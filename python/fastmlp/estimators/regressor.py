"""``fastmlp.MLPRegressor``: scikit-learn's ``MLPRegressor`` on fastmlp's engines.

Regression trains the identity output with squared error (``loss="poisson"``: the exp output
and Poisson deviance), on either engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import column_or_1d

from fastmlp.estimators.base import BaseMLP

__all__ = ["MLPRegressor"]

#: scikit-learn's ``loss`` -> the output layer that pairs with it.
LOSS_OUTPUTS = {"squared_error": "identity", "poisson": "exp"}


def _stochastic(estimator: Any) -> bool:
    """``partial_fit`` exists for the stochastic solvers only (as in scikit-learn)."""
    if estimator.solver not in ("sgd", "adam"):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {estimator.solver} is "
            "not stochastic."
        )
    return True


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, trained by fastmlp.

    The parameters (``loss`` first, as scikit-learn's), their defaults and meanings, the fitted
    attributes and the methods are scikit-learn's (``sklearn.neural_network.MLPRegressor``),
    plus fastmlp's ``dtype``, ``engine``, ``input_path`` and ``n_threads`` (see
    :class:`fastmlp.MLPClassifier`). One target or several (``y`` of shape (n, outputs)).

    ``loss_`` and ``loss_curve_`` are half the squared error summed over the outputs (the loss
    whose gradient is trained on); scikit-learn reports it averaged over the outputs, so the
    two differ by the factor ``n_outputs_`` when there are several targets.
    """

    _estimator_kind = "regressor"

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        dtype: Any = None,
        engine: str = "rust",
        input_path: str = "auto",
        n_threads: int | None = None,
    ) -> None:
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.engine = engine
        self.input_path = input_path
        self.n_threads = n_threads

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """Fit the model to ``X`` (n, features) and targets ``y`` (n,) or (n, outputs);
        ``sample_weight`` (n,) weighs the rows' losses. Returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)  # type: ignore[return-value]

    @available_if(_stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPRegressor:
        """One epoch over ``(X, y)``. Returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)  # type: ignore[return-value]

    def _training_targets(
        self, y: NDArray, first: bool, incremental: bool, classes: object, dtype: np.dtype
    ) -> tuple[NDArray, str, int, dict[str, Any]]:
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        targets = np.ascontiguousarray(y.reshape(len(y), -1), dtype=dtype)  # (n, outputs)
        if not np.isfinite(targets).all():
            raise ValueError(f"y: does not fit in {dtype.name} (values too large)")
        output = LOSS_OUTPUTS.get(self.loss, "identity")
        if output == "exp" and (targets < 0).any():
            raise ValueError(
                "Some value(s) of y are negative which is not allowed for Poisson regression."
            )
        if not first and targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y: expected {self.n_outputs_} targets per row as in the previous fit, got "
                f"{targets.shape[1]}"
            )
        return targets, output, targets.shape[1], {}

    def predict(self, X: Any) -> NDArray:
        """The predictions (n,) for one target, (n, outputs) for several."""
        values = self._output_values(X)
        return values.ravel() if values.shape[1] == 1 else values

    def _score_rows(self, x: Any, y: NDArray, sample_weight: NDArray | None) -> float:
        values = self._output_values_of_rows(x)
        predictions = values.ravel() if values.shape[1] == 1 else values
        if not np.isfinite(predictions).all():
            return float("nan")
        return float(r2_score(y, predictions, sample_weight=sample_weight))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags
