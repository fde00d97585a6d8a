"""What a training run measured, epoch by epoch."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["History"]


@dataclass
class History:
    """Per-epoch training record, as returned by :meth:`fastmlp.MLP.fit`.

    ``loss`` and ``accuracy`` are measured on the training batches as they are seen (each
    batch before its step; the loss with its L2 term when ``alpha`` > 0), ``val_loss`` and
    ``val_accuracy`` on the validation set after the epoch (empty without one), ``seconds`` is
    each epoch's training time and ``lr`` the learning rate it trained with (the schedule's;
    Adam's base rate).

    ``best_epoch`` is the index (0-based, into these lists) of the epoch with the best
    ``monitor`` value: ``"val_loss"`` or ``"val_accuracy"`` when there was a validation set,
    else the training ``"loss"``; with early stopping and ``restore_best`` the model keeps
    that epoch's weights. ``stop_reason`` says why training ended before its epochs (early
    stopping, or the adaptive schedule's learning rate at its floor), else is ``None``. In a
    model's ``history_``, which accumulates every fit, the three are those of the latest fit.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    monitor: str | None = None
    stop_reason: str | None = None

    #: The per-epoch lists.
    CURVES: ClassVar[tuple[str, ...]] = (
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "seconds",
        "lr",
    )
    MONITORS: ClassVar[tuple[str, ...]] = ("loss", "val_loss", "val_accuracy")

    @property
    def epochs(self) -> int:
        """The number of epochs recorded."""
        return len(self.loss)

    def __len__(self) -> int:
        return self.epochs

    def extend(self, other: History) -> None:
        """Append ``other``'s epochs to this record; its best epoch (moved past this record's
        epochs), monitor and stop reason, when it has them, become this record's."""
        first = self.epochs
        for name in self.CURVES:
            getattr(self, name).extend(getattr(other, name))
        if other.best_epoch is not None:
            self.best_epoch = first + other.best_epoch
            self.monitor = other.monitor
        if other.stop_reason is not None:
            self.stop_reason = other.stop_reason

    def append_last_epoch(self, run: History, first: int) -> None:
        """Append ``run``'s last epoch, ``run`` being a fit whose first epoch is this record's
        epoch ``first``: ``run``'s best epoch, monitor and stop reason become this record's."""
        for name in self.CURVES:
            getattr(self, name).extend(getattr(run, name)[-1:])
        if run.best_epoch is not None:
            self.best_epoch = first + run.best_epoch
            self.monitor = run.monitor
        self.stop_reason = run.stop_reason

    def as_dict(self) -> dict[str, Any]:
        """The record as plain lists and values (JSON-friendly)."""
        record: dict[str, Any] = {name: list(getattr(self, name)) for name in self.CURVES}
        record.update(
            best_epoch=self.best_epoch, monitor=self.monitor, stop_reason=self.stop_reason
        )
        return record

    @classmethod
    def from_dict(cls, record: object) -> History:
        """The inverse of :meth:`as_dict`; TypeError or ValueError for anything else.

        Records written before ``lr`` was kept have it NaN for each of their epochs."""
        if not isinstance(record, Mapping):
            raise TypeError(f"expected a mapping, got {type(record).__name__}")
        unknown = sorted(set(record) - set(cls.CURVES) - {"best_epoch", "monitor", "stop_reason"})
        if unknown:
            raise ValueError(f"unknown entries {unknown}")
        curves = {}
        for name in cls.CURVES:
            values = record.get(name, [])
            if not isinstance(values, list):
                raise TypeError(f"{name}: expected a list of numbers, got {values!r}")
            curves[name] = [float(v) for v in values]
        if "lr" not in record:
            curves["lr"] = [math.nan] * len(curves["loss"])
        history = cls()
        for name, values in curves.items():
            setattr(history, name, values)
        best, monitor, reason = (record.get(k) for k in ("best_epoch", "monitor", "stop_reason"))
        if best is not None and not (
            isinstance(best, int) and not isinstance(best, bool) and 0 <= best < history.epochs
        ):
            raise ValueError(f"best_epoch: expected an epoch index below {history.epochs}")
        if monitor is not None and monitor not in cls.MONITORS:
            raise ValueError(f"monitor: expected one of {cls.MONITORS}, got {monitor!r}")
        if reason is not None and not isinstance(reason, str):
            raise TypeError(f"stop_reason: expected a string, got {reason!r}")
        history.best_epoch, history.monitor, history.stop_reason = best, monitor, reason
        return history
