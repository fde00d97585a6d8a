"""``fastmlp.MLPClassifier``: scikit-learn's ``MLPClassifier`` on fastmlp's engines."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from fastmlp.estimators.base import BaseMLP
from fastmlp.estimators.capabilities import engine_computes
from fastmlp.estimators.params import ACTIVATION_TO_ENGINE
from fastmlp.estimators.targets import ClassEncoding

__all__ = ["MLPClassifier"]


def _stochastic(estimator: Any) -> bool:
    """``partial_fit`` exists for the stochastic solvers only (as in scikit-learn)."""
    if estimator.solver not in ("sgd", "adam"):
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {estimator.solver} is "
            "not stochastic."
        )
    return True


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, trained by fastmlp.

    The parameters, their defaults and meanings, the fitted attributes and the methods are
    scikit-learn's (``sklearn.neural_network.MLPClassifier``; see its documentation), with
    these of fastmlp's own:

    Args:
        dtype: the dtype of the weights and of the computations: ``None`` (scikit-learn's
            rule: float32 data stays float32, anything else becomes float64), ``"float32"``
            (about twice as fast) or ``"float64"``. Data are converted to it once per call.
        engine: ``"rust"`` (fast) or ``"numpy"`` (the readable reference).
        input_path: how the Rust engine reads the first layer's inputs: ``"auto"``,
            ``"dense"`` or ``"sparse"`` (see :class:`fastmlp.MLP`).
        n_threads: the Rust engine's threads during ``fit``/``predict`` (None: fastmlp's
            setting, :func:`fastmlp.set_num_threads`). Use 1 when a search runs several
            fits at once (``n_jobs``).

    Differences from scikit-learn, all deliberate:

    - ``random_state`` may also be a ``numpy.random.Generator``; the random streams are
      NumPy Generators, so the same seed gives different (equally random) initial weights and
      orders than scikit-learn's.
    - A single class in ``y`` is a ``ValueError`` (nothing to learn).
    """

    _estimator_kind = "classifier"

    def __init__(
        self,
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

    # ---- training ------------------------------------------------------------------------

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MLPClassifier:
        """Fit the model to ``X`` (n, features) and labels ``y`` (n,), or a multi-label
        indicator matrix (n, k); ``sample_weight`` (n,) weighs the rows' losses. Returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)  # type: ignore[return-value]

    @available_if(_stochastic)
    def partial_fit(
        self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None
    ) -> MLPClassifier:
        """One epoch over ``(X, y)``; ``classes`` (all labels of all calls) is required on the
        first call. Returns self."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True, classes=classes)  # type: ignore[return-value]

    def _training_targets(
        self, y: NDArray, first: bool, incremental: bool, classes: object, dtype: np.dtype
    ) -> tuple[NDArray, str, int, dict[str, Any]]:
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        kind = type_of_target(y)  # once a fit: it is passed on, not recomputed
        multilabel = kind == "multilabel-indicator"
        fitted = getattr(self, "_encoding", None)
        if incremental and fitted is None and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if incremental and classes is not None and fitted is not None:
            if not np.array_equal(np.unique(np.asarray(classes)), fitted.classes):
                raise ValueError(
                    f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                    f"was: {fitted.classes!r}"
                )
        if fitted is None or (not self.warm_start and not incremental):
            if incremental and not multilabel:
                encoding = ClassEncoding.from_classes(classes)
                encoding.check_compatible(y, warm_start=False, kind=kind)
            else:
                encoding = ClassEncoding.from_targets(y, kind)
        else:
            fitted.check_compatible(y, warm_start=self.warm_start and not incremental, kind=kind)
            encoding = fitted
        if not first and self.out_activation_ != encoding.output:
            raise ValueError("y: the targets changed kind since the previous fit")
        fitted = {"_encoding": encoding, "classes_": encoding.classes}
        return encoding.encode(y, dtype), encoding.output, encoding.n_outputs, fitted

    # ---- prediction ----------------------------------------------------------------------

    def predict(self, X: Any) -> NDArray:
        """The predicted class of each row (n,), or the 0/1 matrix (n, k) for multi-label."""
        check_is_fitted(self)
        return self._encoding.decode(self._output_values(X))

    def predict_proba(self, X: Any) -> NDArray:
        """The probability of each class (n, n_classes), in the order of ``classes_``."""
        check_is_fitted(self)
        return self._encoding.probabilities(self._output_values(X))

    def predict_log_proba(self, X: Any) -> NDArray:
        """``log(predict_proba(X))``."""
        probabilities = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(probabilities, out=probabilities)

    def _score_rows(self, x: Any, y: NDArray, sample_weight: NDArray | None) -> float:
        predictions = self._encoding.decode(self._output_values_of_rows(x))
        if y.ndim == 2 and self._encoding.kind == "multilabel":
            y = y.astype(np.int64)
        return float(accuracy_score(y, predictions, sample_weight=sample_weight))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        activation = ACTIVATION_TO_ENGINE.get(self.activation, "relu")
        engine = self.engine if self.engine in ("rust", "numpy") else "rust"
        tags.classifier_tags.multi_label = engine_computes(engine, activation, "logistic", False)
        return tags
