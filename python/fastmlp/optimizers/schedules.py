"""Learning-rate schedules, as scikit-learn's code applies them (``SGDOptimizer``).

* ``"constant"``: ``lr`` throughout.
* ``"invscaling"``: at the end of each epoch, ``lr = lr_init / (t + 1) ** power_t``, ``t`` the
  rows trained on so far (over all epochs and calls).
* ``"adaptive"``: ``lr`` until the watched quantity stops improving (see
  :mod:`fastmlp.training.watch`): then ``lr /= 5``; on a plateau with ``lr`` already at most
  1e-6, training stops instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastmlp.names import LR_SCHEDULES, LRSchedule

__all__ = ["LR_SCHEDULES", "MIN_ADAPTIVE_LR", "LearningRateSchedule"]

#: ``"adaptive"`` stops training rather than divide a learning rate at or below this.
MIN_ADAPTIVE_LR = 1e-6
#: ``"adaptive"`` divides the learning rate by this on each plateau.
ADAPTIVE_DIVISOR = 5.0


@dataclass
class LearningRateSchedule:
    """The learning rate of each epoch, and its updates between epochs.

    Attributes:
        kind: ``"constant"``, ``"invscaling"`` or ``"adaptive"``.
        lr_init: the learning rate it starts from.
        power_t: ``invscaling``'s exponent.
        lr: the learning rate of the next epoch.
    """

    kind: LRSchedule
    lr_init: float
    power_t: float = 0.5
    lr: float = field(init=False)

    def __post_init__(self) -> None:
        self.lr = float(self.lr_init)

    def same_settings(self, kind: str, lr_init: float, power_t: float) -> bool:
        """Whether a new fit asks for this schedule, so that it continues where it was."""
        return (kind, lr_init, power_t) == (self.kind, self.lr_init, self.power_t)

    def epoch_end(self, rows_seen: int) -> None:
        """After an epoch: ``invscaling`` sets ``lr = lr_init / (rows_seen + 1) ** power_t``."""
        if self.kind == "invscaling":
            self.lr = float(self.lr_init) / (rows_seen + 1) ** self.power_t

    def plateau(self) -> bool:
        """The watched quantity stopped improving: whether training goes on.

        ``adaptive`` divides ``lr`` by 5 and goes on, unless ``lr`` is already at most 1e-6;
        the other schedules do not go on (early stopping decides whether that ends training).
        """
        if self.kind != "adaptive" or self.lr <= MIN_ADAPTIVE_LR:
            return False
        self.lr /= ADAPTIVE_DIVISOR
        return True
