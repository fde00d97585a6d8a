"""Every set of names the API accepts, each written once: a ``Literal`` type and its tuple.

A new choice (an activation, an input path, an optimizer, ...) is added to its ``Literal``
here; the tuple, the argument checks, the CLI's ``choices=`` and the engines' tests follow.
The Rust core keeps its own lists (``Activation::NAMES``, ``InputPath::NAMES``,
``Output::NAMES``, exposed as ``fastmlp._native.ACTIVATIONS``, ``INPUT_PATHS`` and ``OUTPUTS``);
a test checks the two languages agree.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ACTIVATIONS",
    "DTYPES",
    "ENGINES",
    "HIDDEN_ACTIVATIONS",
    "INPUT_PATHS",
    "LR_SCHEDULES",
    "MONITORS",
    "OPTIMIZERS",
    "OUTPUTS",
    "Activation",
    "DType",
    "EngineName",
    "HiddenActivation",
    "InputPath",
    "LRSchedule",
    "Monitor",
    "OptimizerName",
    "Output",
]

#: The hidden layers' activation ("identity": none, the layer stays linear).
Activation = Literal["relu", "tanh", "sigmoid", "identity"]
ACTIVATIONS: tuple[Activation, ...] = get_args(Activation)

#: The engine contract's hidden activations: the same names (both engines compute each).
HiddenActivation = Activation
HIDDEN_ACTIVATIONS: tuple[HiddenActivation, ...] = ACTIVATIONS

#: The output layer and its loss (fastmlp.reference_outputs): softmax + cross-entropy,
#: logistic + binary cross-entropy, identity + squared error, exp + Poisson deviance; both
#: engines compute each (the Rust core's list: ``fastmlp._native.OUTPUTS``).
Output = Literal["softmax", "logistic", "identity", "exp"]
OUTPUTS: tuple[Output, ...] = get_args(Output)

#: Which engine trains a model: the Rust one (``fastmlp.kernels``) or the NumPy reference.
EngineName = Literal["rust", "numpy"]
ENGINES: tuple[EngineName, ...] = get_args(EngineName)

#: How the Rust engine's first layer reads the inputs (the NumPy engine is always dense).
InputPath = Literal["auto", "dense", "sparse"]
INPUT_PATHS: tuple[InputPath, ...] = get_args(InputPath)

#: The float types of parameters and data.
DType = Literal["float32", "float64"]
DTYPES: tuple[DType, ...] = get_args(DType)

#: The optimizer ``MLP.fit`` trains with (scikit-learn's ``solver``).
OptimizerName = Literal["sgd", "adam"]
OPTIMIZERS: tuple[OptimizerName, ...] = get_args(OptimizerName)

#: How the learning rate changes between epochs (scikit-learn's ``learning_rate``).
LRSchedule = Literal["constant", "invscaling", "adaptive"]
LR_SCHEDULES: tuple[LRSchedule, ...] = get_args(LRSchedule)

#: What early stopping watches on the validation set.
Monitor = Literal["val_loss", "val_accuracy"]
MONITORS: tuple[Monitor, ...] = get_args(Monitor)
