"""What a training run measured, epoch by epoch."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["History"]


@dataclass
class History:
    """Per-epoch training record, as returned by :meth:`fastmlp.MLP.fit`.

    ``loss`` and ``accuracy`` are measured on the training batches as they are seen (each
    batch before its step), ``val_loss`` and ``val_accuracy`` on ``validation_data`` after the
    epoch (empty without it), ``seconds`` is each epoch's training time.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """The number of epochs recorded."""
        return len(self.loss)

    def __len__(self) -> int:
        return self.epochs

    def extend(self, other: History) -> None:
        """Append ``other``'s epochs to this record."""
        for name in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"):
            getattr(self, name).extend(getattr(other, name))

    def as_dict(self) -> dict[str, list[float]]:
        """The record as plain lists (JSON-friendly)."""
        return {
            "loss": list(self.loss),
            "accuracy": list(self.accuracy),
            "val_loss": list(self.val_loss),
            "val_accuracy": list(self.val_accuracy),
            "seconds": list(self.seconds),
        }
