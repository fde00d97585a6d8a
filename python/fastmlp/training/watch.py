"""Watching one quantity for improvement, as scikit-learn's ``_update_no_improvement_count``.

After each epoch the watched value (a validation loss or accuracy, or the training loss) is
compared with the best so far: an epoch that does not beat it by at least ``tol`` counts as
one without improvement (any that does resets the count), and a value strictly better than
the best becomes the best. Once more than ``patience`` epochs in a row went without
improvement, the watch is on a plateau: the adaptive schedule divides the learning rate, and
early stopping ends training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Watch"]

#: Quantities where higher is better; the others are losses.
HIGHER_IS_BETTER = ("val_accuracy",)


@dataclass
class Watch:
    """The state of the watch over one fit.

    Attributes:
        monitor: ``"loss"`` (training), ``"val_loss"`` or ``"val_accuracy"``.
        patience: epochs without improvement tolerated; one more is a plateau.
        tol: the least change that counts as an improvement.
        best: the best value so far (starts at -inf or inf).
        best_epoch: the epoch (0-based, in this fit) where it was reached.
        epochs_without_improvement: the current count.
    """

    monitor: str
    patience: int
    tol: float
    best: float = field(init=False)
    best_epoch: int | None = field(default=None, init=False)
    epochs_without_improvement: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.best = -math.inf if self.higher_is_better else math.inf

    @property
    def higher_is_better(self) -> bool:
        return self.monitor in HIGHER_IS_BETTER

    def update(self, value: float, epoch: int) -> bool:
        """Record epoch ``epoch``'s value; returns whether it is the new best."""
        if self.higher_is_better:
            improved_enough = not value < self.best + self.tol
            better = value > self.best
        else:
            improved_enough = not value > self.best - self.tol
            better = value < self.best
        if improved_enough:
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        if better:
            self.best, self.best_epoch = value, epoch
        return better

    @property
    def on_plateau(self) -> bool:
        """More than ``patience`` epochs in a row without improvement."""
        return self.epochs_without_improvement > self.patience

    def restart_count(self) -> None:
        """After the learning rate was lowered: count afresh (the best stays)."""
        self.epochs_without_improvement = 0
