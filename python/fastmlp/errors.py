"""Exceptions of fastmlp that are not plain ``ValueError``/``TypeError``."""

from __future__ import annotations

__all__ = ["TrainingDivergedError", "TrainingWarning"]


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite.

    Training stops at the first such batch, before its step: the weights are those of the last
    finished step. ``epoch`` (1-based, when known), ``batch`` (0-based within the epoch) and
    ``loss`` say where it happened. A smaller learning rate is the usual remedy.
    """

    def __init__(
        self,
        message: str,
        batch: int | None = None,
        loss: float | None = None,
        epoch: int | None = None,
    ) -> None:
        super().__init__(message)
        self.batch = batch
        self.loss = loss
        self.epoch = epoch


class TrainingWarning(UserWarning):
    """Training finished, but the evidence says it went wrong: a loss that ended far above its
    starting value (a learning rate too large, though the loss stayed finite), or inputs far
    outside the range networks train well on (unscaled 0..255 pixels)."""
