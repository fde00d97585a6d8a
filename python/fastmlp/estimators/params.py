"""The estimators' constructor parameters: their checks, run at the start of each ``fit``.

``__init__`` stores its arguments untouched (scikit-learn's rule); :func:`check_parameters`
checks them all at once and gives each in its working form. A failure is a ``ValueError`` (bad
value) or ``TypeError`` (bad type) naming the parameter, what was expected and what was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from fastmlp.names import HiddenActivation

__all__ = [
    "ACTIVATION_TO_ENGINE",
    "Parameters",
    "check_parameters",
    "generator_from",
]

#: scikit-learn's hidden activation names -> fastmlp's.
ACTIVATION_TO_ENGINE: dict[str, HiddenActivation] = {
    "relu": "relu",
    "tanh": "tanh",
    "logistic": "sigmoid",
    "identity": "identity",
}
SOLVERS = ("lbfgs", "sgd", "adam")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
ENGINES = ("rust", "numpy")
INPUT_PATHS = ("auto", "dense", "sparse")
LOSSES = ("squared_error", "poisson")


@dataclass(frozen=True)
class Parameters:
    """The checked parameters in the form the estimator uses them."""

    hidden_layer_sizes: tuple[int, ...]
    engine_activation: HiddenActivation
    dtype: np.dtype | None  # None: scikit-learn's rule (float32 stays, anything else float64)
    n_iter_no_change: float  # an int, or inf


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def _integer(name: str, value: object, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise TypeError(f"{name}: expected an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value}")
    return int(value)


def _real(
    name: str,
    value: object,
    low: float,
    high: float = np.inf,
    low_open: bool = False,
    high_open: bool = True,
) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected a real number, got {value!r}")
    value = float(value)
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (np.isfinite(value) and above and below):
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name}: expected a number in {left}{low}, {high}{right}, got {value}")
    return value


def _hidden_layer_sizes(value: object) -> tuple[int, ...]:
    """An int, or a sequence of ints, each >= 1 (an empty sequence: no hidden layer)."""
    if isinstance(value, Integral) and not isinstance(value, (bool, np.bool_)):
        sizes: list[object] = [value]
    elif isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"hidden_layer_sizes: expected an int or a sequence of ints like (100,), got {value!r}"
        )
    else:
        sizes = list(value)  # type: ignore[call-overload]
    for size in sizes:
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, Integral):
            raise TypeError(f"hidden_layer_sizes: expected integers, got {value!r}")
        if size < 1:
            raise ValueError(f"hidden_layer_sizes: each size must be >= 1, got {value!r}")
    return tuple(int(size) for size in sizes)  # type: ignore[call-overload]


def _dtype(value: object) -> np.dtype | None:
    if value is None:
        return None
    try:
        resolved = np.dtype(value)  # type: ignore[call-overload]
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in ("float32", "float64"):
        raise ValueError(f"dtype: expected None, 'float32' or 'float64', got {value!r}")
    return resolved


def _random_state(value: object) -> None:
    if value is None or isinstance(value, (np.random.RandomState, np.random.Generator)):
        return
    if isinstance(value, Integral) and not isinstance(value, (bool, np.bool_)):
        if not 0 <= int(value) < 2**32:
            raise ValueError(f"random_state: expected an int in [0, 2**32), got {value}")
        return
    raise TypeError(
        f"random_state: expected None, an int, a numpy RandomState or Generator, got {value!r}"
    )


def check_parameters(estimator: Any) -> Parameters:
    """Check every constructor parameter of ``estimator``; return the derived ones."""
    p = estimator
    hidden = _hidden_layer_sizes(p.hidden_layer_sizes)
    activation = _choice("activation", p.activation, tuple(ACTIVATION_TO_ENGINE))
    _choice("solver", p.solver, SOLVERS)
    _real("alpha", p.alpha, 0.0)
    if not (isinstance(p.batch_size, str) and p.batch_size == "auto"):
        if isinstance(p.batch_size, str):
            raise ValueError(
                f"batch_size: expected 'auto' or an integer >= 1, got {p.batch_size!r}"
            )
        _integer("batch_size", p.batch_size, 1)
    _choice("learning_rate", p.learning_rate, LEARNING_RATES)
    _real("learning_rate_init", p.learning_rate_init, 0.0, low_open=True)
    _real("power_t", p.power_t, 0.0)
    _integer("max_iter", p.max_iter, 1)
    _bool("shuffle", p.shuffle)
    _random_state(p.random_state)
    _real("tol", p.tol, 0.0)
    if isinstance(p.verbose, (bool, np.bool_)):
        pass
    else:
        _integer("verbose", p.verbose, 0)
    _bool("warm_start", p.warm_start)
    _real("momentum", p.momentum, 0.0, 1.0, high_open=False)
    _bool("nesterovs_momentum", p.nesterovs_momentum)
    _bool("early_stopping", p.early_stopping)
    _real("validation_fraction", p.validation_fraction, 0.0, 1.0)
    _real("beta_1", p.beta_1, 0.0, 1.0)
    _real("beta_2", p.beta_2, 0.0, 1.0)
    _real("epsilon", p.epsilon, 0.0, low_open=True)
    if isinstance(p.n_iter_no_change, Real) and p.n_iter_no_change == np.inf:
        n_iter_no_change = np.inf
    else:
        n_iter_no_change = float(_integer("n_iter_no_change", p.n_iter_no_change, 1))
    _integer("max_fun", p.max_fun, 1)
    dtype = _dtype(p.dtype)
    _choice("engine", p.engine, ENGINES)
    _choice("input_path", p.input_path, INPUT_PATHS)
    if p.n_threads is not None:
        _integer("n_threads", p.n_threads, 1)
    if hasattr(p, "loss"):
        _choice("loss", p.loss, LOSSES)
    return Parameters(hidden, ACTIVATION_TO_ENGINE[activation], dtype, n_iter_no_change)


def generator_from(random_state: object) -> np.random.Generator:
    """A NumPy Generator for one fit: from a seed, a Generator (used as is), a RandomState (a
    seed drawn from it, which advances it, as scikit-learn's estimators do) or None (fresh)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)  # type: ignore[arg-type]
