"""What one fit asks for: the keywords of ``MLP.fit`` beyond the data, checked once."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fastmlp.names import LR_SCHEDULES, MONITORS, LRSchedule, Monitor
from fastmlp.optimizers import SGD, Optimizer, check_alpha, make_optimizer
from fastmlp.validation import check_choice, check_positive_int

__all__ = ["MONITORS", "FitSettings", "fit_settings"]


@dataclass(frozen=True)
class FitSettings:
    """One fit's settings (see :meth:`fastmlp.MLP.fit` for their meaning)."""

    epochs: int
    batch_size: int
    lr: float
    shuffle: bool = True
    optimizer: Optimizer = field(default_factory=SGD)
    alpha: float = 0.0
    lr_schedule: LRSchedule = "constant"
    power_t: float = 0.5
    early_stopping: bool = False
    validation_fraction: float = 0.1
    monitor: Monitor = "val_loss"
    patience: int = 10
    tol: float = 1e-4
    restore_best: bool = True


def _flag(arg: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{arg}: expected True or False, got {value!r}")
    return bool(value)


def _real(arg: str, value: object, minimum: float, *, open_low: bool = False) -> float:
    """A finite number >= minimum (> minimum when ``open_low``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{arg}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < minimum or (open_low and number == minimum):
        bound = f"> {minimum:g}" if open_low else f">= {minimum:g}"
        raise ValueError(f"{arg}: expected a finite number {bound}, got {value}")
    return number


def fit_settings(
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    shuffle: bool,
    optimizer: object,
    momentum: object,
    nesterov: object,
    beta1: object,
    beta2: object,
    epsilon: object,
    alpha: object,
    lr_schedule: object,
    power_t: object,
    early_stopping: object,
    validation_fraction: object,
    monitor: object,
    patience: object,
    tol: object,
    restore_best: object,
) -> FitSettings:
    """``MLP.fit``'s keywords checked: a TypeError or ValueError names the first bad one.

    ``epochs``, ``batch_size`` and ``lr`` come checked by the caller (they depend on the data
    and the model's dtype).
    """
    fraction = _real("validation_fraction", validation_fraction, 0.0, open_low=True)
    if fraction >= 1.0:
        raise ValueError(f"validation_fraction: expected a number in (0, 1), got {fraction}")
    return FitSettings(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        shuffle=_flag("shuffle", shuffle),
        optimizer=make_optimizer(
            optimizer,  # type: ignore[arg-type]
            momentum=momentum,  # type: ignore[arg-type]
            nesterov=nesterov,  # type: ignore[arg-type]
            beta1=beta1,  # type: ignore[arg-type]
            beta2=beta2,  # type: ignore[arg-type]
            epsilon=epsilon,  # type: ignore[arg-type]
        ),
        alpha=check_alpha(alpha),
        lr_schedule=check_choice("lr_schedule", lr_schedule, LR_SCHEDULES),
        power_t=_real("power_t", power_t, 0.0),
        early_stopping=_flag("early_stopping", early_stopping),
        validation_fraction=fraction,
        monitor=check_choice("monitor", monitor, MONITORS),
        patience=check_positive_int("patience", patience),
        tol=_real("tol", tol, 0.0),
        restore_best=_flag("restore_best", restore_best),
    )
