"""Every set of names the API accepts, each written once: a ``Literal`` type and its tuple.

A new choice (an activation, an input path, an optimizer, ...) is added to its ``Literal``
here; the tuple, the argument checks, the CLI's ``choices=`` and the engines' tests follow.
The Rust core keeps its own list (``Activation::NAMES``, ``InputPath::NAMES``, exposed as
``fastmlp._native.ACTIVATIONS`` and ``INPUT_PATHS``); a test checks the two languages agree.
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
    "REFERENCE_ONLY_ACTIVATIONS",
    "Activation",
    "DType",
    "EngineName",
    "HiddenActivation",
    "InputPath",
    "LRSchedule",
    "Monitor",
    "OptimizerName",
    "Output",
    "ReferenceOnlyActivation",
]

#: The hidden layers' activation.
Activation = Literal["relu", "tanh", "sigmoid"]
ACTIVATIONS: tuple[Activation, ...] = get_args(Activation)

#: Hidden activations only the NumPy reference computes so far (the Rust engine raises
#: NotImplementedError for them until issue 12's phase 2; the Rust core's list is the above).
ReferenceOnlyActivation = Literal["identity"]
REFERENCE_ONLY_ACTIVATIONS: tuple[ReferenceOnlyActivation, ...] = get_args(ReferenceOnlyActivation)

#: The engine contract's hidden activations: both of the above.
HiddenActivation = Activation | ReferenceOnlyActivation
HIDDEN_ACTIVATIONS: tuple[HiddenActivation, ...] = ACTIVATIONS + REFERENCE_ONLY_ACTIVATIONS

#: The output layer and its loss (fastmlp.reference_outputs): softmax + cross-entropy,
#: logistic + binary cross-entropy, identity + squared error, exp + Poisson deviance. The Rust
#: engine computes "softmax" so far.
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
