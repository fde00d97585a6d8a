"""``solver="lbfgs"``: scipy's L-BFGS-B over the engine's full-batch loss and gradient.

The objective is scikit-learn's: the (weighted) mean loss over all rows plus the L2 penalty
``alpha / 2 * sum(W**2) / S`` on the weights (not the biases), ``S`` the number of rows or the
sum of the row weights; its gradient comes from the engine contract's ``forward`` and
``backward``, so either engine computes it. Rows are taken in chunks (a scipy.sparse ``x`` is
densified one chunk at a time): each chunk's mean loss and gradient count in proportion to its
share of ``S``. The parameters travel to scipy as one float64 vector, every weight matrix then
every bias vector (scikit-learn's packing), and come back into the model's own arrays in place.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
import scipy.optimize
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning

__all__ = ["fit_lbfgs", "full_batch_loss_and_gradient", "pack", "unpack"]

# Rows per forward/backward call: at most this many values in the widest layer of a chunk.
_CHUNK_VALUES = 1 << 22


def pack(arrays: Sequence[NDArray]) -> NDArray[np.float64]:
    """The arrays flattened into one float64 vector, in order."""
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def unpack(vector: NDArray, arrays: Sequence[NDArray]) -> None:
    """Write ``vector`` back into ``arrays`` (in place, cast to their dtype)."""
    start = 0
    for array in arrays:
        array[...] = vector[start : start + array.size].reshape(array.shape)
        start += array.size


def full_batch_loss_and_gradient(
    engine: ModuleType,
    weights: list[NDArray],
    biases: list[NDArray],
    x: Any,
    targets: NDArray,
    sample_weight: NDArray | None,
    activation: str,
    output: str,
    alpha: float,
) -> tuple[float, list[NDArray], list[NDArray]]:
    """The regularised mean loss over all rows and its gradient ``(loss, dW, db)``.

    ``targets`` are what the engine's ``backward`` takes: (n, outputs) in the weights' dtype
    (one-hot rows for softmax). ``sample_weight`` (n,) or None.
    """
    rows = x.shape[0]
    widest = max([x.shape[1], *(w.shape[1] for w in weights)])
    chunk = max(1, min(rows, _CHUNK_VALUES // widest))
    total = float(rows if sample_weight is None else sample_weight.sum(dtype=np.float64))
    loss = 0.0
    weight_grads = [np.zeros(w.shape, np.float64) for w in weights]
    bias_grads = [np.zeros(b.shape, np.float64) for b in biases]
    keywords: dict[str, Any] = {} if output == "softmax" else {"output": output}
    for start in range(0, rows, chunk):
        part = slice(start, min(start + chunk, rows))
        part_weight = None if sample_weight is None else sample_weight[part]
        part_total = part.stop - part.start if part_weight is None else float(part_weight.sum())
        share = part_total / total
        if share == 0:
            continue  # rows of weight 0: no loss, no gradient
        weighted = {} if part_weight is None else {"sample_weight": part_weight}
        outputs = engine.forward(weights, biases, x[part], activation, **keywords)
        loss += share * engine.output_loss(outputs[-1], targets[part], output, part_weight)
        grads_w, grads_b = engine.backward(
            weights, outputs, targets[part], activation, **keywords, **weighted
        )
        for into, grad in zip(weight_grads + bias_grads, grads_w + grads_b, strict=True):
            into += share * grad
    # L2 on the weights: alpha/2 * sum(W**2) / S, gradient alpha * W / S.
    loss += 0.5 * alpha * sum(float(np.vdot(w, w)) for w in weights) / total
    for grad, w in zip(weight_grads, weights, strict=True):
        grad += (alpha / total) * w
    return loss, weight_grads, bias_grads


def fit_lbfgs(
    engine: ModuleType,
    weights: list[NDArray],
    biases: list[NDArray],
    x: Any,
    targets: NDArray,
    sample_weight: NDArray | None,
    activation: str,
    output: str,
    alpha: float,
    max_iter: int,
    max_fun: int,
    tol: float,
    verbose: bool,
) -> tuple[float, int]:
    """Minimise the full-batch objective from the current parameters, which end in place at
    the optimum found. Returns ``(final loss, iterations)``; a ``ConvergenceWarning`` when
    L-BFGS-B stopped before converging (as scikit-learn's)."""
    parameters = [*weights, *biases]

    def objective(vector: NDArray) -> tuple[float, NDArray]:
        unpack(vector, parameters)
        loss, grads_w, grads_b = full_batch_loss_and_gradient(
            engine, weights, biases, x, targets, sample_weight, activation, output, alpha
        )
        return loss, pack([*grads_w, *grads_b])

    iteration = 0

    def report(intermediate_result: scipy.optimize.OptimizeResult) -> None:
        nonlocal iteration
        iteration += 1
        if verbose:
            print(f"Iteration {iteration}, loss = {intermediate_result.fun:.8f}")

    result = scipy.optimize.minimize(
        objective,
        pack(parameters),
        method="L-BFGS-B",
        jac=True,
        options={"maxfun": max_fun, "maxiter": max_iter, "gtol": tol},
        callback=report,
    )
    unpack(result.x, parameters)
    if result.status != 0:
        message = result.message.decode() if isinstance(result.message, bytes) else result.message
        warnings.warn(
            f"lbfgs failed to converge after {result.nit} iteration(s) (status="
            f"{result.status}): {message}. Increase the number of iterations (max_iter), "
            "the number of loss evaluations (max_fun), or scale the data.",
            ConvergenceWarning,
            stacklevel=5,
        )
    return float(result.fun), int(result.nit)
