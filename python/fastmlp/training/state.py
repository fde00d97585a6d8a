"""What carries over from one fit to the next, and into the model file.

A model trained with ``fit(epochs=2)`` twice, or saved and loaded in between, ends where
``fit(epochs=4)`` would have: the optimizer's arrays, the learning rate the schedule reached,
the rows trained on so far (``invscaling``'s t) and the random generator all continue. The
plateau watch (early stopping, the adaptive schedule's count) starts afresh with each fit,
as Keras' callbacks do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastmlp.names import LR_SCHEDULES
from fastmlp.optimizers import (
    LearningRateSchedule,
    Optimizer,
    OptimizerState,
    init_state,
    optimizer_from_dict,
    state_from_arrays,
)
from fastmlp.training.settings import FitSettings

__all__ = ["TrainingState", "generator_from_json", "generator_to_json"]

ARRAY_PREFIX = "optimizer."
SCHEDULE_KEYS = {"kind", "lr_init", "power_t", "lr"}


@dataclass(eq=False)
class TrainingState:
    """The optimizer's settings and arrays, the schedule, and the rows trained on so far.

    Attributes:
        optimizer: the settings ``optimizer_state`` was made for (``None`` before any fit).
        optimizer_state: its arrays; ``None`` for plain SGD, which keeps none.
        schedule: the learning-rate schedule and the rate it reached.
        rows_seen: rows trained on over every epoch so far (scikit-learn's ``t_``).
    """

    optimizer: Optimizer | None = None
    optimizer_state: OptimizerState | None = None
    schedule: LearningRateSchedule | None = None
    rows_seen: int = 0

    def prepare(
        self, settings: FitSettings, weights: Sequence[NDArray], biases: Sequence[NDArray]
    ) -> None:
        """Ready the state for a fit with ``settings``: kept where it still applies.

        The optimizer's arrays are kept while the new optimizer keeps the same ones (so
        changing the momentum or Adam's betas between fits continues from them), otherwise
        made afresh. The schedule continues while its kind, initial rate and power are
        those of the last fit, otherwise starts again at ``settings.lr``.
        """
        optimizer = settings.optimizer
        same_arrays = (
            self.optimizer is not None
            and type(self.optimizer) is type(optimizer)
            and self.optimizer.slots == optimizer.slots
        )
        if not same_arrays:
            self.optimizer_state = (
                init_state(optimizer, weights, biases) if optimizer.slots else None
            )
        self.optimizer = optimizer
        kind, lr, power_t = settings.lr_schedule, settings.lr, settings.power_t
        if self.schedule is None or not self.schedule.same_settings(kind, lr, power_t):
            self.schedule = LearningRateSchedule(kind, lr, power_t)  # type: ignore[arg-type]

    # ---- in model files ------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The JSON part: the optimizer's settings, the schedule, the rows seen."""
        schedule = self.schedule
        return {
            "optimizer": None if self.optimizer is None else self.optimizer.as_dict(),
            "schedule": None
            if schedule is None
            else {
                "kind": schedule.kind,
                "lr_init": schedule.lr_init,
                "power_t": schedule.power_t,
                "lr": schedule.lr,
            },
            "rows_seen": self.rows_seen,
        }

    def arrays(self) -> dict[str, NDArray]:
        """The optimizer's arrays under their names in the file (``optimizer.m.W0``, ...)."""
        if self.optimizer_state is None:
            return {}
        return {ARRAY_PREFIX + k: v for k, v in self.optimizer_state.arrays().items()}

    @classmethod
    def from_saved(
        cls,
        metadata: object,
        arrays: dict[str, NDArray],
        weights: Sequence[NDArray],
        biases: Sequence[NDArray],
    ) -> TrainingState:
        """The inverse of :meth:`metadata` and :meth:`arrays`; TypeError/ValueError if they
        are malformed or do not fit the parameters."""
        if not isinstance(metadata, dict):
            raise TypeError(f"expected a mapping, got {type(metadata).__name__}")
        state = cls()
        if metadata.get("optimizer") is not None:
            state.optimizer = optimizer_from_dict(metadata["optimizer"])
        schedule = metadata.get("schedule")
        if schedule is not None:
            if not isinstance(schedule, dict) or set(schedule) != SCHEDULE_KEYS:
                raise ValueError(f"schedule: expected {sorted(SCHEDULE_KEYS)}, got {schedule}")
            state.schedule = LearningRateSchedule(
                schedule["kind"], float(schedule["lr_init"]), float(schedule["power_t"])
            )
            state.schedule.lr = float(schedule["lr"])
            if state.schedule.kind not in LR_SCHEDULES or not (
                np.isfinite(state.schedule.lr) and state.schedule.lr > 0
            ):
                raise ValueError(f"schedule: invalid {schedule}")
        rows_seen = metadata.get("rows_seen", 0)
        if not isinstance(rows_seen, int) or isinstance(rows_seen, bool) or rows_seen < 0:
            raise ValueError(f"rows_seen: expected an integer >= 0, got {rows_seen!r}")
        state.rows_seen = rows_seen
        named = {k[len(ARRAY_PREFIX) :]: v for k, v in arrays.items()}
        if state.optimizer is not None and state.optimizer.slots:
            state.optimizer_state = state_from_arrays(state.optimizer, named, weights, biases)
        elif named:
            raise ValueError(f"optimizer arrays {sorted(arrays)} without an optimizer keeping them")
        return state


def _to_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"ndarray", "dtype"}:
        return np.array(value["ndarray"], dtype=np.dtype(value["dtype"]))
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    return value


GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def generator_to_json(rng: np.random.Generator) -> dict[str, Any] | None:
    """The generator's state as JSON values (``None`` for a bit generator NumPy does not
    name)."""
    state = rng.bit_generator.state
    if state.get("bit_generator") not in GENERATORS:
        return None
    return _to_json(state)


def generator_from_json(saved: object) -> np.random.Generator:
    """A generator in the state :func:`generator_to_json` saved; ValueError if malformed."""
    if not isinstance(saved, dict) or saved.get("bit_generator") not in GENERATORS:
        raise ValueError(f"generator: expected the state of one of {GENERATORS}")
    bit_generator = getattr(np.random, saved["bit_generator"])()
    try:
        bit_generator.state = _from_json(saved)
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise ValueError(f"generator: invalid {saved['bit_generator']} state: {error}") from None
    return np.random.Generator(bit_generator)
