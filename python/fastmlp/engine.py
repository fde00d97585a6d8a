"""The engine contract, defined once: what :mod:`fastmlp.kernels` (Rust) and
:mod:`fastmlp.reference` (NumPy) both provide, with the same names, parameters and defaults.

``tests/engines/test_engine_contract.py`` checks both modules against :class:`Engine`, at run time
(``inspect.signature``) and with mypy (a module satisfies a ``Protocol`` structurally).
Shapes: ``x`` (n, features), ``weights[l]`` (fan_in, fan_out), ``biases[l]`` (fan_out,),
``y_onehot`` and probabilities (n, classes); one float dtype per call, float32 or float64.

The output layer is softmax + cross-entropy unless ``output`` names another
(:mod:`fastmlp.reference_outputs`), and ``sample_weight`` weighs the rows of the mean loss;
both engines compute every output kind, row weighting and hidden activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from fastmlp.names import HiddenActivation, InputPath, Output
from fastmlp.optimizers import Optimizer, OptimizerState

__all__ = ["Engine", "FloatArray", "Inputs", "IntArray"]

FloatArray = NDArray[np.floating]
IntArray = NDArray[np.integer]

#: What an engine's training functions read as ``x``: a float array (n, features), or the
#: engine's own form of one made by :meth:`Engine.training_inputs` (Rust: ``TrainingInputs``,
#: the rows, compressed or not, and the input path decided for them).
Inputs = TypeVar("Inputs")


@runtime_checkable
class Engine(Protocol[Inputs]):
    """An engine module: the functions of the contract (README, "Engines")."""

    #: True when ``train_epoch`` itself stops between batches on Ctrl-C, keeping the last
    #: finished step (Rust); False when the caller must defer Ctrl-C to keep a step whole
    #: (NumPy: its steps are Python code that an interrupt could cut in half).
    CHECKS_INTERRUPTS: bool

    def matmul(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """``a @ b`` for ``a`` (m, k) and ``b`` (k, n); returns (m, n)."""
        ...

    def relu(self, z: FloatArray) -> FloatArray:
        """``max(z, 0)`` elementwise."""
        ...

    def tanh(self, z: FloatArray) -> FloatArray:
        """``tanh(z)`` elementwise."""
        ...

    def sigmoid(self, z: FloatArray) -> FloatArray:
        """``1 / (1 + exp(-z))`` elementwise, without overflow."""
        ...

    def softmax(self, z: FloatArray) -> FloatArray:
        """Row-wise softmax of logits (n, classes), stable for any finite values."""
        ...

    def cross_entropy(self, p: FloatArray, y_onehot: FloatArray) -> float:
        """Mean over rows of ``-sum(y * log(max(p, tiny)))``; finite for p = 0."""
        ...

    def forward(
        self,
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray],
        x: FloatArray,
        activation: HiddenActivation,
        *,
        output: Output = "softmax",
    ) -> list[FloatArray]:
        """Every layer's output ``[x, a1, ..., aL]``; ``aL`` (n, classes) are probabilities."""
        ...

    def output_loss(
        self,
        out: FloatArray,
        targets: FloatArray,
        output: Output = "softmax",
        sample_weight: FloatArray | None = None,
    ) -> float:
        """The batch's (weighted) mean loss of an output layer's values ``out`` (n, outputs)."""
        ...

    def backward(
        self,
        weights: Sequence[FloatArray],
        outputs: Sequence[FloatArray],
        y_onehot: FloatArray,
        activation: HiddenActivation,
        *,
        output: Output = "softmax",
        sample_weight: FloatArray | None = None,
    ) -> tuple[list[FloatArray], list[FloatArray]]:
        """``(weight_grads, bias_grads)`` of the mean cross-entropy, from ``forward``'s outputs."""
        ...

    def sgd_step(
        self,
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray],
        x: FloatArray,
        y_onehot: FloatArray,
        lr: float,
        activation: HiddenActivation,
        *,
        output: Output = "softmax",
        sample_weight: FloatArray | None = None,
    ) -> float:
        """One step ``W -= lr * dW`` in place; the batch's mean loss before the step."""
        ...

    def train_step(
        self,
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray],
        x: FloatArray,
        y_onehot: FloatArray,
        lr: float,
        activation: HiddenActivation,
        *,
        optimizer: Optimizer | None = None,
        state: OptimizerState | None = None,
        alpha: float = 0.0,
        output: Output = "softmax",
        sample_weight: FloatArray | None = None,
    ) -> float:
        """One step of ``optimizer`` (plain SGD by default) in place, its ``state`` updated in
        place; the batch's loss before the step, with ``alpha / (2 n) * sum(W**2)``."""
        ...

    def training_inputs(
        self,
        x: FloatArray,
        input_path: InputPath = "auto",
        *,
        sparse_work_crossover: float | None = None,
        epochs: int | None = None,
        fan_out: int | None = None,
    ) -> Inputs:
        """``x`` as the training functions should read it over a whole fit, the input path
        (``"auto"`` with ``sparse_work_crossover``) decided once for it; ``epochs`` and
        ``fan_out`` (the first layer's width), where given, say what compressing ``x`` must
        pay for."""
        ...

    def train_epoch(
        self,
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray],
        x: Inputs,
        labels: IntArray | FloatArray,
        order: IntArray,
        lr: float,
        batch_size: int,
        activation: HiddenActivation,
        *,
        input_path: InputPath = "auto",
        optimizer: Optimizer | None = None,
        state: OptimizerState | None = None,
        alpha: float = 0.0,
        output: Output = "softmax",
        sample_weight: FloatArray | None = None,
    ) -> float:
        """Mini-batch training over ``x[order]`` (plain SGD, or ``optimizer`` with its
        ``state`` and L2 ``alpha``), in place; the mean loss before each step."""
        ...

    def train_epoch_stats(
        self,
        weights: Sequence[FloatArray],
        biases: Sequence[FloatArray],
        x: Inputs,
        labels: IntArray | FloatArray,
        order: IntArray,
        lr: float,
        batch_size: int,
        activation: HiddenActivation,
        *,
        input_path: InputPath = "auto",
        optimizer: Optimizer | None = None,
        state: OptimizerState | None = None,
        alpha: float = 0.0,
        output: Output = "softmax",
        sample_weight: FloatArray | None = None,
    ) -> tuple[float, int]:
        """:meth:`train_epoch`, and how many rows were classified right before their step."""
        ...
