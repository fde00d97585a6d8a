"""Which engine computes what: asked of the engine itself, once per combination.

Both engines compute every hidden activation, output layer, row weighting and optimizer of
the engine contract. An engine that lacked one would raise ``NotImplementedError``: asking
it on a one-row network keeps the estimators honest about any engine (a third one, or a
build of this one) without a list to keep in step.
"""

from __future__ import annotations

import functools

import numpy as np

from fastmlp import kernels, reference
from fastmlp.optimizers import init_state, make_optimizer

__all__ = ["engine_computes", "engine_optimizes", "require"]

_ENGINES = {"rust": kernels, "numpy": reference}


@functools.cache
def engine_computes(engine: str, activation: str, output: str, weighted: bool) -> bool:
    """Whether ``engine`` trains a network with this hidden activation and output layer
    (with per-row weights if ``weighted``)."""
    module = _ENGINES[engine]
    weights = [np.full((1, 2), 0.5), np.full((2, 2), 0.5)]
    biases = [np.zeros(2), np.zeros(2)]
    x = np.ones((1, 1))
    try:
        outputs = module.forward(weights, biases, x, activation, output=output)
        module.backward(
            weights,
            outputs,
            np.ones((1, 2)),
            activation,
            output=output,
            sample_weight=np.ones(1) if weighted else None,
        )
    except NotImplementedError:
        return False
    return True


@functools.cache
def engine_optimizes(
    engine: str,
    optimizer: str,
    momentum: float,
    nesterov: bool,
    alpha: float,
) -> bool:
    """Whether ``engine`` takes steps of this optimizer (``"sgd"`` with ``momentum`` and
    ``nesterov``, or ``"adam"``) with the L2 penalty ``alpha``."""
    module = _ENGINES[engine]
    weights = [np.full((1, 2), 0.5)]
    biases = [np.zeros(2)]
    rule = make_optimizer(optimizer, momentum=momentum, nesterov=nesterov)  # type: ignore[arg-type]
    state = init_state(rule, weights, biases) if rule.slots else None
    try:
        module.train_step(
            weights,
            biases,
            np.ones((1, 1)),
            np.array([[1.0, 0.0]]),
            0.1,
            "relu",
            optimizer=rule,
            state=state,
            alpha=alpha,
        )
    except NotImplementedError:
        return False
    return True


def require(engine: str, activation: str, output: str, weighted: bool, settings: str) -> None:
    """``NotImplementedError`` naming the estimator's settings when the engine lacks them."""
    if engine_computes(engine, activation, output, weighted):
        return
    raise NotImplementedError(
        f"{settings} with engine={engine!r}: this engine does not compute it; engine='numpy' does"
    )
