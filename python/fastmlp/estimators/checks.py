"""The scikit-learn estimator checks an estimator is known to fail, each with its reason.

scikit-learn (>= 1.6) takes these as ``check_estimator(est, expected_failed_checks=...)`` and
``parametrize_with_checks(..., expected_failed_checks=...)``: its tags no longer carry them.
The goal is an empty dict; what remains depends on what this build's engines and ``MLP.fit``
compute, so it is worked out from them rather than listed by hand.
"""

from __future__ import annotations

from typing import Any

from fastmlp.estimators.capabilities import engine_computes
from fastmlp.estimators.params import ACTIVATION_TO_ENGINE
from fastmlp.estimators.solvers import supported_fit_keywords

__all__ = ["expected_failed_checks"]

# The checks that fit with row weights other than all 1.
_WEIGHTED_CHECKS = (
    "check_sample_weights_list",
    "check_sample_weights_not_overwritten",
    "check_sample_weight_equivalence_on_dense_data",
    "check_sample_weight_equivalence_on_sparse_data",
    "check_classifiers_one_label_sample_weights",
)


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    """``{check name: reason}`` for the checks ``estimator`` (as configured) cannot pass."""
    failing: dict[str, str] = {}
    stochastic = estimator.solver in ("sgd", "adam")
    activation = ACTIVATION_TO_ENGINE.get(estimator.activation, "relu")
    if not hasattr(estimator, "loss"):
        output = "softmax"  # a classifier
    else:
        output = "exp" if estimator.loss == "poisson" else "identity"
    if not engine_computes(estimator.engine, activation, output, True):
        for check in _WEIGHTED_CHECKS:
            failing[check] = (
                f"per-row sample_weight is not in the {estimator.engine!r} engine; "
                "engine='numpy' passes this check"
            )
    if hasattr(estimator, "loss") and stochastic and "alpha" not in supported_fit_keywords():
        failing["check_regressors_train"] = (
            "it sets alpha=0.01: the L2 penalty of the stochastic solvers is MLP.fit(alpha=...) "
            "(issue 11), not in this build; solver='lbfgs' passes this check"
        )
    return failing
