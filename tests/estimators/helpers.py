"""Shared helpers of the estimator tests: data, settings, and the skips for what this build
does not have yet (issue 11's optimizers in ``MLP.fit``).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pytest

from fastmlp import MLP

#: Plain mini-batch SGD in scikit-learn's parameters: what MLP.fit does without issue 11.
PLAIN_SGD: dict[str, Any] = {
    "solver": "sgd",
    "momentum": 0.0,
    "alpha": 0.0,
    "learning_rate": "constant",
}


def mlp_fit_accepts(*keywords: str) -> bool:
    """Whether this build's ``MLP.fit`` has these keyword parameters (issue 11's)."""
    return set(keywords) <= set(inspect.signature(MLP.fit).parameters)


def skip_unless_mlp_fit_accepts(*keywords: str) -> None:
    """Skip a test of a feature whose MLP.fit keywords (issue 11) this build lacks."""
    missing = sorted(set(keywords) - set(inspect.signature(MLP.fit).parameters))
    if missing:
        pytest.skip(f"MLP.fit has no {', '.join(missing)} yet (issue 11's optimizers)")


def skip_unless_engine_optimizes(engine: str, estimator: Any) -> None:
    """Skip a test of a solver setting the engine cannot step yet (the Rust engine: plain SGD
    only until issue 11's phase 2)."""
    from fastmlp.estimators.capabilities import engine_optimizes
    from fastmlp.estimators.solvers import fit_keywords

    keywords = fit_keywords(estimator, True, 10.0)
    if not engine_optimizes(
        engine,
        keywords.get("optimizer", "sgd"),
        keywords.get("momentum", 0.0),
        keywords.get("nesterov", False),
        keywords.get("alpha", 0.0),
    ):
        pytest.skip(
            f"the {engine} engine takes plain SGD steps only so far (issue 11 phase 2), not "
            f"{keywords.get('optimizer', 'sgd')} with momentum/alpha"
        )


def blobs(n: int = 120, features: int = 5, classes: int = 3, seed: int = 0):
    """Separable Gaussian blobs: X (n, features) float64, y (n,) ints 0..classes-1."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(classes, features))
    y = np.arange(n) % classes
    return centers[y] + rng.normal(size=(n, features)), y


def start_from_our_weights(ours: Any, theirs: Any, n_features: int, n_outputs: int) -> None:
    """Make scikit-learn's estimator ``theirs`` draw the initial weights ``ours`` will draw.

    Ours are worked out by initialising a clone (the same random_state gives the same draws
    in fit); scikit-learn's ``_init_coef`` then hands them out layer by layer. With
    ``shuffle=False`` both then see the same batches in the same order.
    """
    from sklearn.base import clone

    from fastmlp.estimators.params import check_parameters

    probe = clone(ours)
    output = "softmax"  # only the shapes and the draws matter here
    probe._initialize(check_parameters(probe), n_features, n_outputs, output, np.dtype("float64"))
    layers = iter(list(zip(probe.coefs_, probe.intercepts_, strict=True)))

    def init_coef(fan_in: int, fan_out: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        coef, intercept = next(layers)
        assert coef.shape == (fan_in, fan_out)
        return coef.astype(dtype), intercept.astype(dtype)

    theirs._init_coef = init_coef
