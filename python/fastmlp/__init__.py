"""fastmlp: multilayer perceptrons trained by hand-written backprop, fast.

The Rust engine (:mod:`fastmlp.kernels`) and the plain-NumPy reference
(:mod:`fastmlp.reference`) implement the same functions; :class:`MLP` trains with either.
"""

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
