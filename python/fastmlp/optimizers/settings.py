"""Optimizer settings: :class:`SGD` (with momentum, Nesterov) and :class:`Adam`.

Each is a frozen dataclass checked on construction, named and ranged as scikit-learn's
``MLPClassifier`` parameters. ``slots`` names the state arrays it keeps per parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from fastmlp.names import OPTIMIZERS, OptimizerName

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "Optimizer",
    "check_alpha",
    "check_optimizer",
    "make_optimizer",
    "optimizer_from_dict",
]


def _number(arg: str, value: object, low: float, high: float, high_closed: bool) -> float:
    """``value`` as a float in [low, high] or [low, high), else TypeError/ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{arg}: expected a number, got {value!r}")
    number = float(value)
    inside = low <= number < high or (high_closed and number == high)
    if not inside:
        bracket = "]" if high_closed else ")"
        raise ValueError(f"{arg}: expected a number in [{low:g}, {high:g}{bracket}, got {value}")
    return number


def _flag(arg: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{arg}: expected True or False, got {value!r}")
    return bool(value)


@dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent, with momentum and Nesterov's variant (scikit-learn's rule)::

        v = momentum * v - lr * g;   W += v                         (momentum > 0)
        v = momentum * v - lr * g;   W += momentum * v - lr * g     (nesterov)
        W -= lr * g                                                (momentum = 0: plain SGD)

    Args:
        momentum: in [0, 1]. 0 (the default) is plain SGD, which keeps no state.
        nesterov: Nesterov's momentum (changes nothing when momentum is 0).
    """

    momentum: float = 0.0
    nesterov: bool = False

    name: ClassVar[OptimizerName] = "sgd"

    def __post_init__(self) -> None:
        object.__setattr__(self, "momentum", _number("momentum", self.momentum, 0.0, 1.0, True))
        object.__setattr__(self, "nesterov", _flag("nesterov", self.nesterov))

    @property
    def slots(self) -> tuple[str, ...]:
        """The state arrays kept per parameter: ``("velocity",)``, or none for plain SGD."""
        return ("velocity",) if self.momentum > 0 else ()

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "momentum": self.momentum, "nesterov": self.nesterov}


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma and Ba, 2014), as scikit-learn's ``AdamOptimizer`` computes it::

        t += 1
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        W += -lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m / (sqrt(v) + epsilon)

    Args:
        beta1: decay of the first moment, in [0, 1).
        beta2: decay of the second moment, in [0, 1).
        epsilon: added to sqrt(v), > 0.
    """

    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8

    name: ClassVar[OptimizerName] = "adam"

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta1", _number("beta1", self.beta1, 0.0, 1.0, False))
        object.__setattr__(self, "beta2", _number("beta2", self.beta2, 0.0, 1.0, False))
        epsilon = _number("epsilon", self.epsilon, 0.0, math.inf, False)
        if epsilon == 0.0:
            raise ValueError(f"epsilon: expected a number > 0, got {self.epsilon}")
        object.__setattr__(self, "epsilon", epsilon)

    @property
    def slots(self) -> tuple[str, ...]:
        """The state arrays kept per parameter: the moments ``("m", "v")``."""
        return ("m", "v")

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "beta1": self.beta1,
            "beta2": self.beta2,
            "epsilon": self.epsilon,
        }


Optimizer = SGD | Adam

_DEFAULTS = {"momentum": 0.0, "nesterov": False, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


def make_optimizer(
    optimizer: OptimizerName | Optimizer | None = "sgd",
    momentum: float = 0.0,
    nesterov: bool = False,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
) -> Optimizer:
    """The optimizer that ``MLP.fit``'s keywords describe.

    ``optimizer`` is ``"sgd"`` (with ``momentum``, ``nesterov``), ``"adam"`` (with ``beta1``,
    ``beta2``, ``epsilon``), ``None`` (plain SGD) or an :class:`SGD` / :class:`Adam` object,
    whose settings are then given by the object alone. As scikit-learn does, every setting is
    checked, and the other optimizer's settings are ignored.
    """
    given = {
        "momentum": momentum,
        "nesterov": nesterov,
        "beta1": beta1,
        "beta2": beta2,
        "epsilon": epsilon,
    }
    if isinstance(optimizer, (SGD, Adam)):
        changed = sorted(k for k, v in given.items() if v != _DEFAULTS[k])
        if changed:
            raise ValueError(
                f"{', '.join(changed)}: give the settings either in the optimizer object "
                f"({optimizer!r}) or as keywords with optimizer={optimizer.name!r}, not both"
            )
        return optimizer
    if optimizer is None:
        optimizer = "sgd"
    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(
            "optimizer: expected 'sgd', 'adam' or a fastmlp.optimizers.SGD/Adam object, "
            f"got {optimizer!r}"
        )
    sgd = SGD(momentum=momentum, nesterov=nesterov)
    adam = Adam(beta1=beta1, beta2=beta2, epsilon=epsilon)
    return sgd if optimizer == "sgd" else adam


def check_optimizer(optimizer: object) -> Optimizer:
    """The engine functions' ``optimizer`` argument: ``None`` is plain SGD."""
    if optimizer is None:
        return SGD()
    if not isinstance(optimizer, (SGD, Adam)):
        raise TypeError(
            "optimizer: expected None or a fastmlp.optimizers.SGD or Adam object, "
            f"got {type(optimizer).__name__}"
        )
    return optimizer


def check_alpha(alpha: object) -> float:
    """The L2 penalty ``alpha``: a finite number >= 0."""
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"alpha: expected a number >= 0, got {alpha!r}")
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha: expected a finite number >= 0, got {alpha}")
    return float(alpha)


def optimizer_from_dict(settings: object) -> Optimizer:
    """The inverse of ``as_dict`` (for model files); TypeError/ValueError if malformed."""
    if not isinstance(settings, dict):
        raise TypeError(f"expected a mapping, got {type(settings).__name__}")
    values = dict(settings)
    name = values.pop("name", None)
    kinds: dict[Any, type[SGD] | type[Adam]] = {"sgd": SGD, "adam": Adam}
    if name not in kinds:
        raise ValueError(f"unknown optimizer {name!r}")
    return kinds[name](**values)
