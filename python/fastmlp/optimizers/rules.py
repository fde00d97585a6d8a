"""The optimizer rules in plain NumPy: what ``fastmlp.reference`` applies after each backward pass.

Each rule updates one parameter and its state arrays in place, from ``grad``, the gradient of
the batch's mean loss. The operations and their order are scikit-learn's
(``sklearn/neural_network/_stochastic_optimizers.py``) and the Rust engine's
(``rust/core/src/optimizer``): fed the same gradients, the three agree bit for bit in float64,
and this module and the Rust engine in float32 too. Every scalar is converted to the
parameter's dtype first, so float32 stays float32.

The L2 penalty ``alpha`` acts on the weights only: the batch's loss gains
``alpha / (2 n) * sum(W**2)`` over every weight matrix and each weight gradient
``alpha / n * W``, ``n`` the batch's rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from fastmlp.optimizers.settings import SGD, Adam, Optimizer
from fastmlp.optimizers.state import OptimizerState

__all__ = [
    "adam_update",
    "apply_optimizer",
    "l2_gradient",
    "l2_penalty",
    "momentum_update",
    "sgd_update",
]

FloatArray = NDArray[np.floating]


def l2_penalty(weights: Sequence[FloatArray], alpha: float, batch_rows: float) -> float:
    """The loss's L2 term ``alpha / (2 n) * sum over layers of sum(W**2)``, summed in float64.

    ``n`` (``batch_rows``) is the batch's rows, or the sum of their weights when the rows are
    weighted (scikit-learn's convention)."""
    if alpha == 0.0:
        return 0.0
    squares = sum(float(np.sum(w.astype(np.float64) ** 2)) for w in weights)
    return alpha / (2 * batch_rows) * squares


def l2_gradient(grad_w: FloatArray, w: FloatArray, alpha: float, batch_rows: float) -> FloatArray:
    """``grad_w + alpha / n * w``: the weight gradient with the L2 term (a new array)."""
    return grad_w + w.dtype.type(alpha / batch_rows) * w


def sgd_update(param: FloatArray, grad: FloatArray, lr: float) -> None:
    """Plain SGD, in place: ``param -= lr * grad``."""
    param -= param.dtype.type(lr) * grad


def momentum_update(
    param: FloatArray,
    grad: FloatArray,
    velocity: FloatArray,
    lr: float,
    momentum: float,
    nesterov: bool,
) -> None:
    """SGD with momentum, in place (``velocity`` has param's shape)::

    v = momentum * v - lr * grad
    param += v                              (nesterov: param += momentum * v - lr * grad)

    Written with in-place operations (fewer temporary arrays), each rounding as the formula's.
    """
    mu = param.dtype.type(momentum)
    scaled_grad = param.dtype.type(lr) * grad
    velocity *= mu  # v = momentum * v - lr * grad
    velocity -= scaled_grad
    if nesterov:
        step = mu * velocity  # the new v
        step -= scaled_grad
        param += step
    else:
        param += velocity


def adam_update(
    param: FloatArray,
    grad: FloatArray,
    m: FloatArray,
    v: FloatArray,
    lr: float,
    beta1: float,
    beta2: float,
    epsilon: float,
    t: int,
) -> None:
    """One Adam step, in place, ``t`` the step's number counting from 1::

    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)        (in float64)
    param += -lr_t * m / (sqrt(v) + epsilon)

    Written with in-place operations (fewer temporary arrays), each rounding as the formula's.
    """
    dtype = param.dtype.type
    m *= dtype(beta1)  # m = beta1 * m + (1 - beta1) * grad
    m += dtype(1 - beta1) * grad
    squared = grad * grad  # v = beta2 * v + (1 - beta2) * grad**2
    squared *= dtype(1 - beta2)
    v *= dtype(beta2)
    v += squared
    lr_t = lr * np.sqrt(1 - beta2**t) / (1 - beta1**t)
    denominator = np.sqrt(v)  # param += -lr_t * m / (sqrt(v) + epsilon)
    denominator += dtype(epsilon)
    step = m * dtype(-lr_t)
    step /= denominator
    param += step


def apply_optimizer(
    optimizer: Optimizer,
    state: OptimizerState | None,
    weights: Sequence[FloatArray],
    biases: Sequence[FloatArray],
    weight_grads: Sequence[FloatArray],
    bias_grads: Sequence[FloatArray],
    lr: float,
    alpha: float,
    batch_rows: float,
) -> None:
    """One step of ``optimizer`` on every parameter, in place, from the batch's gradients.

    The weight gradients gain the L2 term first; ``state.step`` counts the step (before Adam
    reads it, as its t). ``state`` may be ``None`` for plain SGD only.
    """
    if state is not None:
        state.step[0] += 1
    weight_grads = [
        l2_gradient(g, w, alpha, batch_rows) if alpha else g
        for w, g in zip(weights, weight_grads, strict=True)
    ]
    params = [*weights, *biases]
    grads = [*weight_grads, *bias_grads]
    if isinstance(optimizer, SGD) and not optimizer.slots:
        for param, grad in zip(params, grads, strict=True):
            sgd_update(param, grad, lr)
    elif isinstance(optimizer, SGD):
        assert state is not None and state.velocity is not None  # check_state made sure
        velocities = state.velocity.arrays()
        for param, grad, velocity in zip(params, grads, velocities, strict=True):
            momentum_update(param, grad, velocity, lr, optimizer.momentum, optimizer.nesterov)
    elif isinstance(optimizer, Adam):
        assert state is not None and state.m is not None and state.v is not None
        t = int(state.step[0])
        betas = optimizer.beta1, optimizer.beta2
        moments = zip(state.m.arrays(), state.v.arrays(), strict=True)
        for param, grad, (m, v) in zip(params, grads, moments, strict=True):
            adam_update(param, grad, m, v, lr, *betas, optimizer.epsilon, t)
