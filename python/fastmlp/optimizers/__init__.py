"""Optimizers: their settings, the state the caller keeps, and learning-rate schedules.

>>> from fastmlp import optimizers, reference
>>> adam = optimizers.Adam(beta1=0.9, beta2=0.999)
>>> state = optimizers.init_state(adam, weights, biases)            # doctest: +SKIP
>>> reference.train_epoch(weights, biases, x, labels, order, 1e-3, 128, "relu",
...                       optimizer=adam, state=state, alpha=1e-4)  # doctest: +SKIP

The rules themselves, in plain NumPy, are in :mod:`fastmlp.optimizers.rules`; the Rust
engine's twins in ``rust/core/src/optimizer``.
"""

from fastmlp.optimizers.schedules import LR_SCHEDULES, LearningRateSchedule
from fastmlp.optimizers.settings import (
    OPTIMIZERS,
    SGD,
    Adam,
    Optimizer,
    check_alpha,
    check_optimizer,
    make_optimizer,
    optimizer_from_dict,
)
from fastmlp.optimizers.state import (
    Moments,
    OptimizerState,
    check_optimizer_arguments,
    check_state,
    init_state,
    state_from_arrays,
)

__all__ = [
    "LR_SCHEDULES",
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "LearningRateSchedule",
    "Moments",
    "Optimizer",
    "OptimizerState",
    "check_alpha",
    "check_optimizer",
    "check_optimizer_arguments",
    "check_state",
    "init_state",
    "make_optimizer",
    "optimizer_from_dict",
    "state_from_arrays",
]
