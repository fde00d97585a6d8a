"""The plain-NumPy engine: the test oracle, and the math written out for reading.

Every function here has a twin with the same name, signature and meaning in the
Rust engine (``fastmlp.kernels``). The Rust engine is fast; this module is
meant to be read and stepped through in a debugger, and the tests compare the
Rust engine against it.

Conventions
-----------
* Rows are samples. ``x`` has shape ``(n, features)``.
* A network with L layers is ``weights[0..L-1]`` and ``biases[0..L-1]``;
  ``weights[l]`` has shape ``(fan_in, fan_out)`` and ``biases[l]`` has shape
  ``(fan_out,)``. The last ``fan_out`` is the number of classes.
* Hidden layers use one activation, ``"relu"``, ``"tanh"``, ``"sigmoid"`` or
  ``"identity"``. The output layer is softmax by default, and the loss is the
  mean cross-entropy over the batch. With a single weight matrix (no hidden
  layer) the network is softmax regression. ``output="logistic"`` (multi-label),
  ``"identity"`` (regression) and ``"exp"`` (Poisson) pair other output layers
  with their losses, and ``sample_weight`` weighs the rows of the mean loss: see
  :mod:`fastmlp.reference_outputs`.
* ``x`` may also be a ``scipy.sparse`` matrix (CSR; CSC and other formats are converted to
  CSR): ``x @ W`` and ``x.T @ delta`` are then sparse products. It is checked as the Rust
  engine checks it (:mod:`fastmlp.sparse_inputs`), with the same errors.
* float32 and float64 are both supported. Every function computes in the
  dtype of its inputs and returns that dtype: nothing is silently upcast.

The math, for one batch of n samples
------------------------------------
Forward (``a_0 = x``)::

    z_l = a_{l-1} @ W_l + b_l
    a_l = act(z_l)            for the hidden layers
    p   = softmax(z_L)        for the output layer

Loss::

    J = -(1/n) * sum_i sum_j y_ij * log(p_ij)

Backward (the delta recursion of Nielsen's ``network.py``, ``delta_l = dJ/dz_l``)::

    delta_L     = (p - y) / n                       # softmax + cross-entropy together
    dJ/dW_l     = a_{l-1}.T @ delta_l
    dJ/db_l     = sum over rows of delta_l
    delta_{l-1} = (delta_l @ W_l.T) * act'(a_{l-1})

The derivative of each activation is written as a function of the layer's
OUTPUT ``a`` (which the forward pass keeps), not of ``z``:
relu' = (a > 0), tanh' = 1 - a**2, sigmoid' = a * (1 - a), identity' = 1.

With another output kind and per-row weights s_i, the output layer and
``delta_L`` change (every pair below is a canonical link, so the form stays)::

    out     = softmax | logistic | identity | exp (z_L)
    J       = sum_i s_i * loss(out_i, y_i) / sum_i s_i
    delta_L = s_i * (out_i - y_i) / sum_i s_i

The step
--------
Plain SGD is ``W -= lr * dJ/dW``. :func:`train_step` and :func:`train_epoch` also take an
``optimizer`` (:class:`fastmlp.optimizers.SGD` with momentum, or
:class:`fastmlp.optimizers.Adam`), its ``state`` (arrays the caller keeps, updated in place)
and an L2 penalty ``alpha``: the rules are written out in :mod:`fastmlp.optimizers.rules`.
With row weights, the L2 term's ``n`` is the sum of the batch's weights (as in
scikit-learn), and a batch whose weights are all 0 makes no step.
"""

from collections.abc import Callable, Sequence
from typing import cast

import numpy as np
from numpy.typing import DTypeLike

from fastmlp.engine import FloatArray, IntArray
from fastmlp.errors import TrainingDivergedError
from fastmlp.names import (
    HIDDEN_ACTIVATIONS,
    INPUT_PATHS,
    HiddenActivation,
    InputPath,
    Output,
)
from fastmlp.optimizers import Optimizer, OptimizerState, check_optimizer_arguments
from fastmlp.optimizers.rules import apply_optimizer, l2_penalty
from fastmlp.reference_outputs import (
    OUTPUTS,
    check_output,
    check_sample_weight,
    output_activation,
    output_delta,
    output_loss,
)
from fastmlp.sparse_inputs import as_csr, check_csr, check_csr_width, is_scipy_sparse

__all__ = [
    "ACTIVATIONS",
    "CHECKS_INTERRUPTS",
    "OUTPUTS",
    "backward",
    "cross_entropy",
    "forward",
    "identity",
    "identity_derivative_from_output",
    "matmul",
    "output_loss",
    "relu",
    "relu_derivative_from_output",
    "sgd_step",
    "sigmoid",
    "sigmoid_derivative_from_output",
    "softmax",
    "tanh",
    "tanh_derivative_from_output",
    "train_epoch",
    "train_epoch_stats",
    "train_step",
    "training_inputs",
]

#: Ctrl-C could cut a step of this Python code in half: callers defer it (``MLP.fit`` does).
CHECKS_INTERRUPTS = False

ElementwiseFn = Callable[[FloatArray], FloatArray]


# --------------------------------------------------------------------------
# Matrix product
# --------------------------------------------------------------------------


def matmul(a: FloatArray, b: FloatArray) -> FloatArray:
    """Matrix product ``a @ b``.

    Args:
        a: shape (m, k), float32 or float64.
        b: shape (k, n), same dtype as ``a``.

    Returns:
        shape (m, n), same dtype.
    """
    return a @ b


# --------------------------------------------------------------------------
# Hidden-layer activations, each followed by its derivative.
# The derivative takes the activation's OUTPUT a = act(z), because that is
# what forward() keeps for every layer.
# --------------------------------------------------------------------------


def relu(z: FloatArray) -> FloatArray:
    """Rectified linear unit ``max(z, 0)``, elementwise.

    Args:
        z: any shape, float32 or float64.

    Returns:
        same shape and dtype as ``z``.
    """
    return np.maximum(z, 0)


def relu_derivative_from_output(a: FloatArray) -> FloatArray:
    """Return relu's derivative from its output ``a = relu(z)``: 1 where a > 0, else 0.

    At z = 0 (so a = 0) the derivative is taken to be 0.

    Args:
        a: any shape, float32 or float64.

    Returns:
        same shape and dtype as ``a``, values 0 or 1.
    """
    return (a > 0).astype(a.dtype)


def tanh(z: FloatArray) -> FloatArray:
    """Hyperbolic tangent, elementwise.

    Args:
        z: any shape, float32 or float64.

    Returns:
        same shape and dtype as ``z``, values in [-1, 1].
    """
    return np.tanh(z)


def tanh_derivative_from_output(a: FloatArray) -> FloatArray:
    """Return tanh's derivative from its output ``a = tanh(z)``: ``1 - a**2``.

    Note: ``a`` is already tanh(z). Writing ``1 - tanh(a)**2`` would apply tanh
    twice and give wrong gradients (a bug in one of the seed notebooks).

    Args:
        a: any shape, float32 or float64.

    Returns:
        same shape and dtype as ``a``.
    """
    return 1 - a**2


def sigmoid(z: FloatArray) -> FloatArray:
    """Logistic function ``1 / (1 + exp(-z))``, elementwise, without overflow.

    ``exp(-z)`` overflows for large negative z, so we only ever take the
    exponential of ``-|z|``, which lies in (0, 1]. With ``e = exp(-|z|)``::

        sigmoid(z) = 1 / (1 + e)    for z >= 0
        sigmoid(z) = e / (1 + e)    for z < 0     (multiply top and bottom by exp(z))

    Args:
        z: any shape, float32 or float64.

    Returns:
        same shape and dtype as ``z``, values in [0, 1].
    """
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_derivative_from_output(a: FloatArray) -> FloatArray:
    """Return sigmoid's derivative from its output ``a = sigmoid(z)``: ``a * (1 - a)``.

    Args:
        a: any shape, float32 or float64.

    Returns:
        same shape and dtype as ``a``.
    """
    return a * (1 - a)


def identity(z: FloatArray) -> FloatArray:
    """No activation: ``z`` itself (a linear layer, e.g. a bottleneck).

    Args:
        z: any shape, float32 or float64.

    Returns:
        ``z`` (not a copy).
    """
    return z


def identity_derivative_from_output(a: FloatArray) -> FloatArray:
    """Return identity's derivative: 1 everywhere.

    Args:
        a: any shape, float32 or float64.

    Returns:
        ones of the same shape and dtype as ``a``.
    """
    return np.ones_like(a)


# name (each of fastmlp.names.ACTIVATIONS, and "identity", the reference's own so far) ->
# (activation, its derivative from its output)
ACTIVATIONS: dict[HiddenActivation, tuple[ElementwiseFn, ElementwiseFn]] = {
    "relu": (relu, relu_derivative_from_output),
    "tanh": (tanh, tanh_derivative_from_output),
    "sigmoid": (sigmoid, sigmoid_derivative_from_output),
    "identity": (identity, identity_derivative_from_output),
}


def _lookup_activation(activation: str) -> tuple[ElementwiseFn, ElementwiseFn]:
    """Return ``(act, act_derivative_from_output)`` for a name, or raise ValueError."""
    if activation not in ACTIVATIONS:
        _refuse_choice("activation", activation, tuple(ACTIVATIONS))
    return ACTIVATIONS[cast(HiddenActivation, activation)]


# --------------------------------------------------------------------------
# Argument checks: the same exception types and messages as the Rust engine,
# so that both engines refuse the same bad input alike.
# --------------------------------------------------------------------------


def _refuse_choice(arg: str, value: object, allowed: Sequence[str]) -> None:
    names = ", ".join(f'"{name}"' for name in allowed)
    raise ValueError(f'{arg}: expected one of [{names}], got "{value}"')


def _checked_step(lr: object, dtype: np.dtype) -> np.floating:
    """``lr`` in the weights' dtype, finite and > 0 there."""
    try:
        with np.errstate(over="ignore"):  # too large for the dtype: inf, refused below
            step = dtype.type(lr)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"lr: expected a number, got {type(lr).__name__}") from None
    if not (np.isfinite(step) and step > 0):
        text = "NaN" if np.isnan(step) else np.format_float_positional(step, trim="-")
        raise ValueError(f"lr: expected a finite number > 0, got {text}")
    return step


def _checked_indices(arg: str, values: object) -> IntArray:
    """An integer 1-D array (labels, order), not yet range-checked."""
    array = np.asarray(values)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{arg}: expected an integer array, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{arg}: expected a 1-D array, got shape {array.shape}")
    return array


def _check_in_range(arg: str, values: IntArray, limit: int, what: str) -> None:
    bad = np.flatnonzero((values < 0) | (values >= limit))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{arg}: expected {what} in [0, {limit}), got {values[i]} at position {i}")


def _check_epoch_arguments(
    weights: Sequence[FloatArray],
    x: FloatArray,
    labels: object,
    order: object,
    lr: object,
    batch_size: object,
    activation: str,
    input_path: str,
    output: str = "softmax",
) -> tuple[IntArray | FloatArray, IntArray, np.floating]:
    """What :func:`train_epoch` checks before its first step, in the Rust engine's order.

    For other outputs than softmax, ``labels`` are the target rows (n, outputs) in x's dtype.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size: expected an int, got {type(batch_size).__name__}")
    if batch_size < 1:
        raise ValueError(f"batch_size: expected a positive integer, got {batch_size}")
    if output != "softmax":
        return _check_target_epoch(weights, x, labels, order, lr, activation, input_path)
    labels = _checked_indices("labels", labels)
    order = _checked_indices("order", order)
    if activation not in HIDDEN_ACTIVATIONS:
        _refuse_choice("activation", activation, HIDDEN_ACTIVATIONS)
    if input_path not in INPUT_PATHS:
        _refuse_choice("input_path", input_path, INPUT_PATHS)
    step = _checked_step(lr, weights[0].dtype)
    rows = x.shape[0]
    if len(labels) != rows:
        raise ValueError(
            f"labels: expected shape ({rows},) (one per row of x), got shape ({len(labels)},)"
        )
    if len(order) == 0:
        raise ValueError("order: expected at least one row index, got none")
    _check_in_range("labels", labels, weights[-1].shape[1], "class indices")
    _check_in_range("order", order, rows, "row indices")
    return labels, order, step


def _check_target_epoch(
    weights: Sequence[FloatArray],
    x: FloatArray,
    targets: object,
    order: object,
    lr: object,
    activation: str,
    input_path: str,
) -> tuple[FloatArray, IntArray, np.floating]:
    """:func:`_check_epoch_arguments` for target rows (outputs other than softmax)."""
    array = np.asarray(targets)
    expected = (x.shape[0], weights[-1].shape[1])
    if array.dtype != x.dtype or array.shape != expected:
        raise ValueError(
            f"labels: expected the targets, shape {expected} of dtype {x.dtype} (rows of x, "
            f"outputs), got shape {array.shape} of dtype {array.dtype}"
        )
    order = _checked_indices("order", order)
    if activation not in HIDDEN_ACTIVATIONS:
        _refuse_choice("activation", activation, HIDDEN_ACTIVATIONS)
    if input_path not in INPUT_PATHS:
        _refuse_choice("input_path", input_path, INPUT_PATHS)
    step = _checked_step(lr, weights[0].dtype)
    if len(order) == 0:
        raise ValueError("order: expected at least one row index, got none")
    _check_in_range("order", order, x.shape[0], "row indices")
    return array, order, step


# --------------------------------------------------------------------------
# Output layer: softmax and cross-entropy
# --------------------------------------------------------------------------


def softmax(z: FloatArray) -> FloatArray:
    """Row-wise softmax: ``p[i, j] = exp(z[i, j]) / sum_k exp(z[i, k])``.

    Subtracting each row's maximum first does not change the result (it
    cancels between top and bottom) but keeps every exponent <= 0, so
    ``exp`` cannot overflow, and the largest term is exp(0) = 1, so the sum
    is at least 1. This makes it stable for any finite logits.

    Args:
        z: logits, shape (n, classes), float32 or float64.

    Returns:
        probabilities, shape (n, classes), same dtype; each row sums to 1.
    """
    shifted = z - z.max(axis=1, keepdims=True)  # (n, classes), every row's max is 0
    e = np.exp(shifted)  # (n, classes), values in (0, 1]
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(p: FloatArray, y_onehot: FloatArray) -> float:
    """Mean cross-entropy over the rows: ``-(1/n) sum_i sum_j y_ij * log(p_ij)``.

    A probability can be exactly 0 (softmax underflows for very negative
    logits), and log(0) = -inf, so p is clamped from below at the smallest
    positive normal number of its dtype, ``np.finfo(p.dtype).tiny``. The loss
    is then always finite (and 0 * log(tiny) = 0 for the classes that are not
    the target).

    Args:
        p: probabilities, shape (n, classes), float32 or float64.
        y_onehot: targets, shape (n, classes), same dtype as ``p``.

    Returns:
        the mean loss as a Python float (computed in p's dtype).
    """
    tiny = np.finfo(p.dtype).tiny
    log_p = np.log(np.maximum(p, tiny))  # (n, classes), finite
    loss_per_row = -(y_onehot * log_p).sum(axis=1)  # (n,)
    return float(loss_per_row.mean())


# --------------------------------------------------------------------------
# The network: forward and backward
# --------------------------------------------------------------------------


def forward(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    x: FloatArray,
    activation: HiddenActivation,
    *,
    output: Output = "softmax",
) -> list[FloatArray]:
    """Run the network on a batch and keep every layer's output.

    Args:
        weights: L arrays, ``weights[l]`` of shape (fan_in, fan_out).
        biases: L arrays, ``biases[l]`` of shape (fan_out,).
        x: inputs, shape (n, features), features = weights[0].shape[0].
        activation: hidden-layer activation, "relu", "tanh", "sigmoid" or "identity".
        output: the output layer, "softmax" (class probabilities), "logistic",
            "identity" or "exp" (:mod:`fastmlp.reference_outputs`).

    Returns:
        ``outputs``, a list of L + 1 arrays, all in x's dtype:
        ``outputs[0]`` is ``x`` itself (not a copy), ``outputs[l]`` of shape
        (n, weights[l-1].shape[1]) is the output of layer l, and
        ``outputs[L]`` of shape (n, classes) holds the class probabilities
        (with ``output="softmax"``).

    Raises:
        ValueError: if ``activation`` or ``output`` is not a known name.
    """
    act, _ = _lookup_activation(activation)
    check_output(output)
    if is_scipy_sparse(x):
        _check_sparse_x(x, weights)
    last = len(weights) - 1
    outputs = [x]
    for layer, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = outputs[-1] @ w + b  # (n, fan_out)
        if layer == last:
            outputs.append(output_activation(z, output))  # (n, classes)
        else:
            outputs.append(act(z))  # (n, fan_out)
    return outputs


def backward(
    weights: Sequence[FloatArray],
    outputs: Sequence[FloatArray],
    y_onehot: FloatArray,
    activation: HiddenActivation,
    *,
    output: Output = "softmax",
    sample_weight: FloatArray | None = None,
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Gradients of the mean cross-entropy with respect to every weight and bias.

    ``delta`` is dJ/dz for the current layer, shape (n, fan_out). For softmax
    followed by cross-entropy it is simply (p - y) / n at the output layer.
    Going down one layer multiplies by W.T and by the activation's derivative,
    which is computed from that layer's output ``outputs[layer]``.

    Args:
        weights: L arrays, ``weights[l]`` of shape (fan_in, fan_out).
        outputs: the L + 1 arrays returned by :func:`forward` for this batch.
        y_onehot: targets, shape (n, classes), same dtype as the outputs (for other
            outputs than softmax: the targets of :mod:`fastmlp.reference_outputs`).
        activation: the hidden-layer activation used in the forward pass.
        output: the output layer used in the forward pass; its loss is differentiated.
        sample_weight: (n,) non-negative row weights of the mean loss, or None (all 1).

    Returns:
        ``(weight_grads, bias_grads)``: two lists of L arrays with the same
        shapes and dtype as ``weights`` and the biases.

    Raises:
        ValueError: if ``activation`` or ``output`` is not a known name.
    """
    _, act_derivative = _lookup_activation(activation)
    weight_grads: list[FloatArray] = []  # filled from the last layer down,
    bias_grads: list[FloatArray] = []  # reversed at the end

    p = outputs[-1]  # (n, classes)
    delta = output_delta(p, y_onehot, output, sample_weight)  # (p - y) / n: (n, classes)
    for layer in reversed(range(len(weights))):
        a_in = outputs[layer]  # (n, fan_in): the input of this layer
        weight_grads.append(a_in.T @ delta)  # (fan_in, fan_out)
        bias_grads.append(delta.sum(axis=0))  # (fan_out,)
        if layer > 0:
            # a_in is the output of the hidden layer below: step down through it.
            delta = (delta @ weights[layer].T) * act_derivative(a_in)  # (n, fan_in)
    weight_grads.reverse()
    bias_grads.reverse()
    return weight_grads, bias_grads


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------


def sgd_step(
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
    """One step of gradient descent on one batch, updating the arrays in place.

    All gradients are computed first (with the weights as they were), then
    every ``weights[l]`` and ``biases[l]`` is updated in place:
    ``W -= lr * dJ/dW``. The caller's arrays change; no new arrays are made.
    (:func:`train_step` with its default optimizer.)

    Args:
        weights: L arrays, ``weights[l]`` of shape (fan_in, fan_out); updated in place.
        biases: L arrays, ``biases[l]`` of shape (fan_out,); updated in place.
        x: inputs, shape (n, features), same dtype as the weights.
        y_onehot: targets, shape (n, classes), same dtype.
        lr: learning rate; it is converted to the weights' dtype first.
        activation: hidden-layer activation, "relu", "tanh", "sigmoid" or "identity".
        output: the output layer and its loss (:mod:`fastmlp.reference_outputs`).
        sample_weight: (n,) non-negative row weights of the mean loss, or None.

    Returns:
        the mean loss of the batch BEFORE the step, as a Python float.

    Raises:
        ValueError: if ``activation`` or ``output`` is not a known name, ``lr`` is not finite
            and > 0 in the weights' dtype, or ``y_onehot`` is not (rows of x, classes).
    """
    return train_step(
        weights, biases, x, y_onehot, lr, activation, output=output, sample_weight=sample_weight
    )


def train_step(
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
    """One step of ``optimizer`` on one batch, updating the parameters and ``state`` in place.

    Forward, loss, backward with the parameters as they were; then the update of
    :func:`fastmlp.optimizers.rules.apply_optimizer` (plain SGD ``W -= lr * dJ/dW`` by default).

    Args:
        weights: L arrays, ``weights[l]`` of shape (fan_in, fan_out); updated in place.
        biases: L arrays, ``biases[l]`` of shape (fan_out,); updated in place.
        x: inputs, shape (n, features), same dtype as the weights.
        y_onehot: targets, shape (n, classes), same dtype.
        lr: learning rate (Adam's base rate).
        activation: hidden-layer activation, "relu", "tanh" or "sigmoid".
        optimizer: ``None`` (plain SGD), :class:`fastmlp.optimizers.SGD` or
            :class:`fastmlp.optimizers.Adam`.
        state: the optimizer's :class:`fastmlp.optimizers.OptimizerState` (from
            ``init_state``), updated in place; ``None`` for plain SGD only.
        alpha: L2 penalty on the weights (not the biases), >= 0.
        output: the output layer and its loss (:mod:`fastmlp.reference_outputs`); for
            other outputs than softmax, ``y_onehot`` holds the targets (n, outputs).
        sample_weight: (n,) non-negative row weights of the mean loss, or None; ``n`` of
            the L2 term is then their sum.

    Returns:
        the batch's loss BEFORE the step: the mean cross-entropy (or ``output``'s loss) plus
        ``alpha / (2 n) * sum(W**2)``, as a Python float.

    Raises:
        ValueError: if ``activation`` is not a known name, ``lr`` is not finite and > 0 in
            the weights' dtype, ``y_onehot`` is not (rows of x, classes), or a bad
            optimizer, state or alpha (TypeError for one of the wrong type).
    """
    _lookup_activation(activation)
    _checked_step(lr, weights[0].dtype)
    expected = (x.shape[0], weights[-1].shape[1])
    if y_onehot.shape != expected:
        raise ValueError(
            f"y_onehot: expected shape {expected} (rows of x, classes), got {y_onehot.shape}"
        )
    optimizer, state, alpha = check_optimizer_arguments(optimizer, state, alpha, weights, biases)
    sample_weight = check_sample_weight(sample_weight, x.shape[0], x.dtype)
    outputs = forward(weights, biases, x, activation, output=output)
    n = _l2_rows(x.shape[0], sample_weight)
    loss = output_loss(outputs[-1], y_onehot, output, sample_weight)
    if n > 0:
        loss += l2_penalty(weights, alpha, n)
    _descend(
        weights, biases, outputs, y_onehot, lr, activation, optimizer, state, alpha, output,
        sample_weight,
    )  # fmt: skip
    return loss


def _descend(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    outputs: Sequence[FloatArray],
    y_onehot: FloatArray,
    lr: float,
    activation: HiddenActivation,
    optimizer: Optimizer,
    state: OptimizerState | None,
    alpha: float,
    output: Output = "softmax",
    sample_weight: FloatArray | None = None,
) -> None:
    """The update of :func:`train_step` from a finished forward pass."""
    weight_grads, bias_grads = backward(
        weights, outputs, y_onehot, activation, output=output, sample_weight=sample_weight
    )
    l2_rows = _l2_rows(outputs[0].shape[0], sample_weight)
    if l2_rows == 0:
        return  # every row of the batch weighs 0: no data, no step
    # The parameters are the caller's arrays: the rules change them in place.
    apply_optimizer(optimizer, state, weights, biases, weight_grads, bias_grads, lr, alpha, l2_rows)


def _l2_rows(rows: int, sample_weight: FloatArray | None) -> float:
    """The ``n`` of a batch's L2 term: its rows, or the sum of their weights."""
    return float(rows) if sample_weight is None else float(sample_weight.sum(dtype=np.float64))


def training_inputs(
    x: FloatArray,
    input_path: InputPath = "auto",
    *,
    sparse_work_crossover: float | None = None,
    epochs: int | None = None,
    fan_out: int | None = None,
) -> FloatArray:
    """``x`` itself: this engine always reads the inputs densely (``input_path``,
    ``sparse_work_crossover``, ``epochs`` and ``fan_out`` are accepted for the same signature
    as :func:`fastmlp.kernels.training_inputs`)."""
    return x


def _check_sparse_x(x: object, weights: Sequence[FloatArray]) -> FloatArray:
    """A scipy.sparse ``x`` as CSR, with the Rust engine's checks and messages
    (:mod:`fastmlp.sparse_inputs`): the same bad matrix is the same error in both engines."""
    csr = as_csr(x)
    check_csr(csr)
    check_csr_width(csr, weights[0].shape[0])
    return cast(FloatArray, csr)


def _one_hot(labels: IntArray, n_classes: int, dtype: DTypeLike) -> FloatArray:
    """Return one-hot rows for class indices: (len(labels), n_classes) in ``dtype``."""
    y = np.zeros((len(labels), n_classes), dtype=dtype)
    y[np.arange(len(labels)), labels] = 1
    return y


def train_epoch(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    x: FloatArray,
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
    """One epoch of mini-batch training over the rows of ``x`` listed in ``order``.

    The batches are ``order[i : i + batch_size]`` for i = 0, batch_size,
    2 * batch_size, ...; the last batch may be shorter. Each batch makes one
    :func:`train_step` with one-hot targets built from ``labels``: plain SGD by
    default, else ``optimizer`` with its ``state`` (updated in place, so the
    next call continues where this one stopped) and the L2 penalty ``alpha``.

    Args:
        weights: L arrays, ``weights[l]`` of shape (fan_in, fan_out); updated in place.
        biases: L arrays, ``biases[l]`` of shape (fan_out,); updated in place.
        x: inputs, shape (n, features), same dtype as the weights.
        labels: class indices, shape (n,), integers in [0, classes), where
            classes = weights[-1].shape[1]. For any other ``output`` than
            softmax: the target rows (n, outputs) in x's dtype.
        order: int64 row indices into ``x``, shape (m,), m >= 1: a permutation,
            a subset, repeats allowed; each in [0, n) (checked: NumPy would quietly
            read a negative index from the end).
        lr: learning rate.
        batch_size: rows per batch, >= 1.
        activation: hidden-layer activation, "relu", "tanh", "sigmoid" or "identity".
        optimizer, state, alpha: as for :func:`train_step`.
        output: the output layer and its loss (:mod:`fastmlp.reference_outputs`).
        sample_weight: (n,) non-negative row weights, or None; each batch's loss is
            the weighted mean over its rows.

    Returns:
        the mean loss per sample over the epoch, as a Python float: each
        batch's loss (with its L2 term) is taken before its step and weighted by
        the batch's length, ``sum(batch_loss * len(batch)) / len(order)``.

    Raises:
        ValueError: ``order`` empty or out of range, labels out of [0, classes) or
            not one per row, ``batch_size`` < 1, ``lr`` not finite and > 0, or an
            unknown ``activation``/``input_path``; the same messages as the Rust
            engine's, before any step.
        TypeError: non-integer ``labels``, ``order`` or ``batch_size``.
        ValueError, TypeError: a bad optimizer, state or alpha.
        TrainingDivergedError: a batch's cross-entropy is not finite; the
            parameters and ``state`` are those before that batch.
    """
    return train_epoch_stats(
        weights,
        biases,
        x,
        labels,
        order,
        lr,
        batch_size,
        activation,
        input_path=input_path,
        optimizer=optimizer,
        state=state,
        alpha=alpha,
        output=output,
        sample_weight=sample_weight,
    )[0]


def train_epoch_stats(
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    x: FloatArray,
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
    """:func:`train_epoch`, also returning how many rows were classified right before their step.

    ``input_path`` ("auto", "dense" or "sparse") is accepted for the same signature as
    :func:`fastmlp.kernels.train_epoch_stats`; this reference always computes ``x @ W`` densely.
    ``optimizer``, ``state`` and ``alpha`` are :func:`train_step`'s.

    Returns:
        ``(mean_loss, correct)``: the mean loss of :func:`train_epoch`, and the number of rows
        of ``order`` whose largest probability was at their label when their batch was seen
        (``output="logistic"``: whose every output was on the right side of 0.5;
        ``"identity"`` and ``"exp"``: 0).
    """
    check_output(output)
    if is_scipy_sparse(x):
        x = _check_sparse_x(x, weights)
    labels, order, _ = _check_epoch_arguments(
        weights, x, labels, order, lr, batch_size, activation, input_path, output
    )
    optimizer, state, alpha = check_optimizer_arguments(optimizer, state, alpha, weights, biases)
    sample_weight = check_sample_weight(sample_weight, x.shape[0], x.dtype)

    n_classes = weights[-1].shape[1]
    total_loss = 0.0  # a Python float: the sum is kept in double precision
    correct = 0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]  # (batch,)
        x_batch = x[rows]  # (batch, features)
        if output == "softmax":
            y_batch = _one_hot(cast(IntArray, labels)[rows], n_classes, x.dtype)  # (batch, classes)
        else:
            y_batch = np.asarray(labels[rows], dtype=x.dtype)  # (batch, outputs): the targets
        w_batch = None if sample_weight is None else sample_weight[rows]  # (batch,)
        outputs = forward(weights, biases, x_batch, activation, output=output)
        batch_loss = output_loss(outputs[-1], y_batch, output, w_batch)
        if not np.isfinite(batch_loss):
            # Stop before this batch's step: the weights stay those of the last good step.
            batch = start // batch_size
            raise TrainingDivergedError(
                f"training diverged: the loss of batch {batch} (0-based, within this epoch) is "
                f"{batch_loss}; the weights are those before that batch; try a smaller learning "
                "rate",
                batch=batch,
                loss=batch_loss,
            )
        correct += _count_correct(outputs[-1], y_batch, labels[rows], output)
        l2_rows = _l2_rows(len(rows), w_batch)
        if l2_rows > 0:  # a batch of weight 0 has no loss and takes no step
            batch_loss += l2_penalty(weights, alpha, l2_rows)  # before the step
        _descend(
            weights, biases, outputs, y_batch, lr, activation, optimizer, state, alpha, output,
            w_batch,
        )  # fmt: skip
        total_loss += batch_loss * len(rows)
    return total_loss / len(order), correct


def _count_correct(
    out: FloatArray, targets: FloatArray, labels: IntArray | FloatArray, output: str
) -> int:
    """Rows predicted right: the class with the largest probability (softmax), every output
    on the right side of 0.5 (logistic); regressions count none."""
    if output == "softmax":
        return int(np.count_nonzero(out.argmax(axis=1) == labels))
    if output == "logistic":
        return int(np.count_nonzero(((out > 0.5) == (targets > 0.5)).all(axis=1)))
    return 0
