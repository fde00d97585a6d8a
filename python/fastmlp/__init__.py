"""fastmlp: multilayer perceptrons trained by hand-written backprop, fast.

The Rust engine (:mod:`fastmlp.kernels`) and the plain-NumPy reference
(:mod:`fastmlp.reference`) implement the same functions; :class:`MLP` trains with either.
``fastmlp.MLPClassifier`` and ``fastmlp.MLPRegressor`` are scikit-learn estimators
(:mod:`fastmlp.estimators`), imported on first use: they need scikit-learn.
"""

from typing import Any

from fastmlp import datasets, kernels, optimizers, reference
from fastmlp._native import __version__ as __version__
from fastmlp._native import get_num_threads, max_num_threads, set_num_threads
from fastmlp.datasets import one_hot
from fastmlp.errors import TrainingDivergedError, TrainingWarning
from fastmlp.history import History
from fastmlp.model import MLP

__all__ = [
    "MLP",
    "History",
    "TrainingDivergedError",
    "TrainingWarning",
    "__version__",
    "datasets",
    "get_num_threads",
    "kernels",
    "max_num_threads",
    "one_hot",
    "optimizers",
    "reference",
    "set_num_threads",
]

# Imported on first use (module __getattr__, PEP 562): they need scikit-learn, fastmlp does not.
_ESTIMATORS = ("MLPClassifier", "MLPRegressor")


def __getattr__(name: str) -> Any:
    if name in _ESTIMATORS:
        from fastmlp import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'fastmlp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_ESTIMATORS])
