"""scikit-learn's stochastic-solver parameters -> the keywords of :meth:`fastmlp.MLP.fit`.

The optimizers (momentum, Nesterov, Adam, the L2 penalty ``alpha``, learning-rate schedules,
early stopping) belong to ``MLP.fit`` (issue 11), with the keywords that issue names. This
module is the one place that translates scikit-learn's names and meanings into them. A
setting that equals plain SGD needs no keyword; one that needs a keyword this build's
``MLP.fit`` does not accept is a ``NotImplementedError`` saying which parameters need it.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from fastmlp.model import MLP

__all__ = ["PLAIN_SGD", "fit_keywords", "missing_fit_keywords", "supported_fit_keywords"]

#: The values of the optimizer keywords at which MLP.fit is plain SGD (no keyword needed).
PLAIN_SGD: dict[str, Any] = {
    "optimizer": "sgd",
    "momentum": 0.0,
    "nesterov": False,
    "alpha": 0.0,
    "lr_schedule": "constant",
    "early_stopping": False,
}


@functools.cache
def supported_fit_keywords() -> frozenset[str]:
    """The keyword parameters of this build's ``MLP.fit`` (read once: every ``fit`` and
    ``partial_fit`` asks)."""
    return frozenset(inspect.signature(MLP.fit).parameters)


def fit_keywords(estimator: Any, is_classifier: bool, n_iter_no_change: float) -> dict[str, Any]:
    """Every issue-11 keyword of ``MLP.fit`` for the estimator's solver settings.

    scikit-learn's meanings, mapped one to one:

    - ``solver="sgd"``: ``momentum``; ``nesterovs_momentum`` -> ``nesterov`` (only with
      ``momentum > 0``); ``learning_rate`` -> ``lr_schedule`` (``"constant"``,
      ``"invscaling"`` with ``power_t``, ``"adaptive"``); Adam's settings unused.
    - ``solver="adam"``: ``beta_1``, ``beta_2``, ``epsilon`` -> ``beta1``, ``beta2``,
      ``epsilon``; no momentum, a constant rate (scikit-learn's Adam has no schedule).
    - ``alpha`` -> ``alpha`` (L2 on the weights, ``alpha * W / n_batch`` in each gradient).
    - ``early_stopping`` -> ``early_stopping`` with the estimator's own held-out split passed
      as ``validation_data``; ``monitor`` is ``"val_accuracy"`` for classifiers (scikit-learn
      scores accuracy) and ``"val_loss"`` for regressors (scikit-learn scores R^2, which on a
      fixed validation set orders epochs as the squared error does; ``tol`` applies to the
      loss instead); ``n_iter_no_change`` -> ``patience``, ``tol`` -> ``tol``, and the best
      weights are restored (``restore_best=True``), as scikit-learn does.
    - ``learning_rate="adaptive"`` uses ``patience`` and ``tol`` as well.

    ``n_iter_no_change=inf`` becomes a patience longer than ``max_iter``.
    """
    e = estimator
    patience = int(min(n_iter_no_change, e.max_iter + 1))
    keywords: dict[str, Any] = {"alpha": float(e.alpha)}
    if e.solver == "adam":
        keywords |= {
            "optimizer": "adam",
            "beta1": float(e.beta_1),
            "beta2": float(e.beta_2),
            "epsilon": float(e.epsilon),
        }
    else:
        keywords |= {
            "optimizer": "sgd",
            "momentum": float(e.momentum),
            "nesterov": bool(e.nesterovs_momentum) and e.momentum > 0,
            "lr_schedule": e.learning_rate,
        }
        if e.learning_rate == "invscaling":
            keywords["power_t"] = float(e.power_t)
        if e.learning_rate == "adaptive":
            keywords |= {"patience": patience, "tol": float(e.tol)}
    if e.early_stopping:
        keywords |= {
            "early_stopping": True,
            "monitor": "val_accuracy" if is_classifier else "val_loss",
            "patience": patience,
            "tol": float(e.tol),
            "restore_best": True,
        }
    return keywords


def _needed(keywords: dict[str, Any]) -> dict[str, Any]:
    """The keywords that differ from plain SGD, with the settings they depend on."""
    differs = {k for k, v in keywords.items() if k in PLAIN_SGD and PLAIN_SGD[k] != v}
    if not differs:
        return {}
    # A keyword that only qualifies another (beta1 for Adam, patience for early stopping)
    # is needed with it.
    return {k: v for k, v in keywords.items() if k not in PLAIN_SGD or k in differs}


def missing_fit_keywords(keywords: dict[str, Any]) -> list[str]:
    """The needed keywords (see :func:`fit_keywords`) this build's ``MLP.fit`` lacks."""
    supported = supported_fit_keywords()
    return sorted(k for k in _needed(keywords) if k not in supported)


def check_fit_keywords(keywords: dict[str, Any], settings: str) -> dict[str, Any]:
    """The keywords to pass to ``MLP.fit``: the needed ones; NotImplementedError when this
    build's ``MLP.fit`` lacks any of them (``settings`` names the estimator's parameters)."""
    missing = missing_fit_keywords(keywords)
    if missing:
        raise NotImplementedError(
            f"{settings} needs fastmlp's optimizers (MLP.fit keywords {', '.join(missing)}; "
            "issue 11), which this build does not have yet. Without them: solver='sgd' with "
            "momentum=0, alpha=0, learning_rate='constant' and early_stopping=False, or "
            "solver='lbfgs'."
        )
    return _needed(keywords)
