"""Output layers and their losses, in plain NumPy: the part of the oracle that ends a network.

Each output kind pairs an output activation with the loss it is meant for (scikit-learn's
choices for its ``MLPClassifier`` and ``MLPRegressor``):

=============  ==========================  ===============================================
``output``     out = act(z)                loss of one row (summed over its outputs j)
=============  ==========================  ===============================================
``softmax``    ``exp(z_j) / sum exp(z)``   cross-entropy ``-sum y_j log p_j`` (one-hot y)
``logistic``   ``1 / (1 + exp(-z_j))``     binary cross-entropy
                                           ``-sum y_j log p_j + (1 - y_j) log(1 - p_j)``
``identity``   ``z_j``                     half squared error ``sum (out_j - y_j)**2 / 2``
``exp``        ``exp(z_j)``                Poisson deviance
                                           ``sum y_j log(y_j / out_j) - y_j + out_j``
=============  ==========================  ===============================================

``softmax`` is for one class per row (multi-class), ``logistic`` for independent yes/no
outputs (multi-label), ``identity`` for regression, ``exp`` for counts (Poisson regression).

The batch loss is the weighted mean of the row losses, with per-row ``sample_weight`` s_i
(all 1 when not given; non-negative)::

    J = sum_i s_i * loss_i / sum_i s_i          (0 when every s_i is 0)

Every pair is a *canonical link*: the derivative of a row's loss with respect to its logits
z is ``out - y``, whatever the kind. The delta the backward pass starts from is therefore::

    delta = s_i * (out_i - y_i) / sum_i s_i          # (n, outputs)

which with no weights is the familiar ``(out - y) / n``.

Note: scikit-learn reports the squared error averaged over the outputs (its gradient is that
of the sum); here the loss is the one whose gradient the delta is, the sum over outputs. The
two agree for one output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from fastmlp.engine import FloatArray
from fastmlp.names import OUTPUTS, Output

__all__ = [
    "OUTPUTS",
    "check_output",
    "check_sample_weight",
    "output_activation",
    "output_delta",
    "output_loss",
    "row_losses",
]


def check_output(output: object) -> Output:
    """``output`` if it is a known output kind (:data:`fastmlp.names.OUTPUTS`, in the order
    of the table above), else a ValueError listing them."""
    if not isinstance(output, str) or output not in OUTPUTS:
        allowed = ", ".join(repr(name) for name in OUTPUTS)
        raise ValueError(f"output: expected one of {allowed}, got {output!r}")
    return cast(Output, output)


def check_sample_weight(sample_weight: object, rows: int, dtype: np.dtype) -> FloatArray | None:
    """Per-row weights as a C-ordered ``(rows,)`` array of ``dtype``, or None.

    Weights must be finite and non-negative. A batch whose weights are all 0 has loss 0 and
    makes no step.
    """
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight)
    if weights.dtype.kind not in "iuf" or weights.ndim != 1 or len(weights) != rows:
        raise ValueError(
            f"sample_weight: expected {rows} real numbers (one per row), got "
            f"shape {weights.shape} of dtype {weights.dtype}"
        )
    if not np.isfinite(weights).all():
        raise ValueError("sample_weight: contains NaN or infinite values")
    if weights.size and weights.min() < 0:
        raise ValueError(f"sample_weight: expected weights >= 0, got {weights.min()}")
    return np.ascontiguousarray(weights, dtype=dtype)


# --------------------------------------------------------------------------
# out = act(z): softmax and the logistic function are the reference's own
# --------------------------------------------------------------------------


def _identity(z: FloatArray) -> FloatArray:
    return z


def _exp(z: FloatArray) -> FloatArray:
    # exp overflows to inf for z > ~88 (float32) / ~709 (float64); the loss then says so.
    with np.errstate(over="ignore"):
        return np.exp(z)


def _activation(output: str) -> Callable[[FloatArray], FloatArray]:
    # Imported here: fastmlp.reference imports this module.
    from fastmlp import reference

    match check_output(output):
        case "softmax":
            return reference.softmax
        case "logistic":
            return reference.sigmoid
        case "identity":
            return _identity
        case "exp":
            return _exp
    raise AssertionError(output)


def output_activation(z: FloatArray, output: str) -> FloatArray:
    """The output layer's values ``act(z)`` for logits ``z`` (n, outputs); same dtype."""
    return _activation(output)(z)


# --------------------------------------------------------------------------
# Row losses: (n, outputs) values and targets -> (n,) losses
# --------------------------------------------------------------------------


def _log_clamped(p: FloatArray) -> FloatArray:
    """``log(max(p, tiny))``: finite where a probability underflowed to 0."""
    return np.log(np.maximum(p, np.finfo(p.dtype).tiny))


def row_losses(out: FloatArray, targets: FloatArray, output: str) -> FloatArray:
    """The loss of each row (n,), summed over its outputs, in ``out``'s dtype.

    Args:
        out: the output layer's values (n, outputs) from :func:`output_activation`.
        targets: (n, outputs) in the same dtype: one-hot rows for ``softmax``, 0/1 indicators
            for ``logistic``, real values for ``identity``, non-negative counts for ``exp``.
        output: the output kind.
    """
    match check_output(output):
        case "softmax":
            return -(targets * _log_clamped(out)).sum(axis=1)
        case "logistic":
            return -(targets * _log_clamped(out) + (1 - targets) * _log_clamped(1 - out)).sum(
                axis=1
            )
        case "identity":
            return ((out - targets) ** 2).sum(axis=1) / 2
        case "exp":
            # y log(y / out) with 0 log 0 = 0: the targets' own term makes a perfect fit 0.
            safe_targets = np.where(targets > 0, targets, 1)
            y_log_y = np.where(targets > 0, targets * np.log(safe_targets), 0)
            # An overflowed out (inf) makes the loss inf or NaN: said by the loss, not a warning.
            with np.errstate(invalid="ignore", over="ignore"):
                return (y_log_y - targets * _log_clamped(out) - targets + out).sum(axis=1)
    raise AssertionError(output)


def _weights_and_total(
    sample_weight: FloatArray | None, rows: int, dtype: np.dtype
) -> tuple[FloatArray | None, float]:
    """``(weights or None, their sum)``; the sum of no weights is the row count. Bad weights
    are :func:`check_sample_weight`'s ValueError."""
    weights = check_sample_weight(sample_weight, rows, dtype)
    if weights is None:
        return None, float(rows)
    return weights, float(weights.sum(dtype=np.float64))


def output_loss(
    out: FloatArray,
    targets: FloatArray,
    output: Output = "softmax",
    sample_weight: FloatArray | None = None,
) -> float:
    """The batch loss ``sum_i s_i * loss_i / sum_i s_i`` as a Python float.

    ``out`` and ``targets`` are (n, outputs) in one dtype, ``sample_weight`` (n,) or None
    (every row weighs 1). With ``output="softmax"`` and no weights this is
    :func:`fastmlp.reference.cross_entropy`.
    """
    losses = row_losses(out, targets, output)  # (n,)
    weights, total = _weights_and_total(sample_weight, len(out), out.dtype)
    if weights is None:
        return float(losses.mean())
    if total == 0:
        return 0.0  # no weight, no loss
    return float((weights * losses).sum() / out.dtype.type(total))


def output_delta(
    out: FloatArray,
    targets: FloatArray,
    output: Output = "softmax",
    sample_weight: FloatArray | None = None,
) -> FloatArray:
    """``dJ/dz`` at the output layer, (n, outputs): ``s_i * (out_i - y_i) / sum(s)``.

    The same expression for every output kind, because each pairs its activation with its
    canonical loss (see the module docstring); ``output`` is checked, not used otherwise.
    """
    check_output(output)
    weights, total = _weights_and_total(sample_weight, len(out), out.dtype)
    delta = out - targets  # (n, outputs)
    if weights is not None:
        if total == 0:
            return np.zeros_like(delta)  # no weight, no gradient
        delta = delta * weights[:, None]
    return delta / out.dtype.type(total)
