"""scikit-learn estimators: :class:`MLPClassifier` and :class:`MLPRegressor`.

The same constructor parameters, defaults, fitted attributes and methods as
``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``, plus fastmlp's ``dtype``,
``engine``, ``input_path`` and ``n_threads``; trained by :class:`fastmlp.MLP`'s loop on
fastmlp's engines. They need scikit-learn (``pip install fastmlp[sklearn]``); ``import
fastmlp`` does not, and ``fastmlp.MLPClassifier`` imports this package on first use.
"""

from __future__ import annotations

try:
    import sklearn  # noqa: F401
except ImportError as error:  # pragma: no cover - the test extra installs scikit-learn
    raise ImportError(
        "fastmlp.MLPClassifier and fastmlp.MLPRegressor need scikit-learn: "
        "pip install 'fastmlp[sklearn]'"
    ) from error

from fastmlp.estimators.checks import expected_failed_checks
from fastmlp.estimators.classifier import MLPClassifier
from fastmlp.estimators.regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor", "expected_failed_checks"]
