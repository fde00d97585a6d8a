"""The optimizers an epoch is timed with: plain SGD, and the optimizer issue's rules.

Plain SGD calls the engines as they always were (no optimizer keywords), so it runs on any
fastmlp. The others go through ``fastmlp.optimizers`` (``make_optimizer`` with
``MLP.fit``'s keywords, ``init_state``) and the engines' ``optimizer=`` and ``state=``
keywords; an engine that lacks them is probed once (:func:`unsupported_reason`) and its
rows for those optimizers are left out with a note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastmlp.engine import FloatArray

__all__ = [
    "OPTIMIZERS",
    "OPTIMIZER_NAMES",
    "PLAIN_SGD",
    "BenchOptimizer",
    "OptimizerUnavailable",
    "optimizer_by_name",
    "optimizer_keywords",
    "unsupported_reason",
]


class OptimizerUnavailable(Exception):
    """The installed fastmlp has no ``fastmlp.optimizers`` (the optimizer issue)."""


@dataclass(frozen=True)
class BenchOptimizer:
    """One optimizer: its learning rate here and ``MLP.fit``'s keywords for it.

    The rates are the usual ones for each rule (those of the optimizer issue's accuracy
    targets): an epoch's cost does not depend on them, as long as training stays finite.
    """

    name: str
    lr: float
    fit_keywords: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """E.g. ``adam (lr 0.001)``."""
        return f"{self.name} (lr {self.lr:g})"


PLAIN_SGD = "sgd"
OPTIMIZERS: tuple[BenchOptimizer, ...] = (
    BenchOptimizer(PLAIN_SGD, 0.1),  # the seeds' rate, the benchmark's LEARNING_RATE
    BenchOptimizer("momentum", 0.01, {"optimizer": "sgd", "momentum": 0.9}),
    BenchOptimizer("nesterov", 0.01, {"optimizer": "sgd", "momentum": 0.9, "nesterov": True}),
    BenchOptimizer("adam", 1e-3, {"optimizer": "adam"}),
)
OPTIMIZER_NAMES = tuple(o.name for o in OPTIMIZERS)


def optimizer_by_name(name: str) -> BenchOptimizer:
    """The optimizer called ``name``; ``ValueError`` listing them for any other."""
    for optimizer in OPTIMIZERS:
        if optimizer.name == name:
            return optimizer
    raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZER_NAMES)}, got {name!r}")


def optimizer_keywords(
    name: str, weights: Sequence[FloatArray], biases: Sequence[FloatArray]
) -> dict[str, Any]:
    """The keywords an engine's ``train_epoch`` takes for optimizer ``name``, with a fresh
    state for these parameters: none for plain SGD.

    Raises:
        OptimizerUnavailable: the installed fastmlp has no ``fastmlp.optimizers``.
    """
    settings = optimizer_by_name(name).fit_keywords
    if not settings:
        return {}
    try:
        from fastmlp import optimizers
    except ImportError as error:
        raise OptimizerUnavailable(
            f"the installed fastmlp has no fastmlp.optimizers (the optimizer issue): {error}"
        ) from None
    optimizer = optimizers.make_optimizer(**settings)
    return {"optimizer": optimizer, "state": optimizers.init_state(optimizer, weights, biases)}


def unsupported_reason(train_epoch: Callable[..., Any], name: str, dtype: str) -> str | None:
    """None if ``train_epoch`` runs optimizer ``name``, else why not: one epoch of a tiny
    network (4-3-2, 4 rows) with that optimizer's keywords."""
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=(3, 2)).astype(dtype)]
    biases = [np.zeros(3, dtype), np.zeros(2, dtype)]
    x = rng.random((4, 4)).astype(dtype)
    labels = np.array([0, 1, 0, 1], dtype=np.int64)
    try:
        keywords = optimizer_keywords(name, weights, biases)
        loss = train_epoch(
            weights, biases, x, labels, np.arange(4, dtype=np.int64), 0.01, 2, "relu", **keywords
        )
    except OptimizerUnavailable as error:
        return str(error)
    except Exception as error:  # any refusal (TypeError, NotImplementedError, ...) says why
        return f"{type(error).__name__}: {error}"
    if not np.isfinite(loss):
        return f"a non-finite loss ({loss})"
    return None
