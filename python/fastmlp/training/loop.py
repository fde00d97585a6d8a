"""The training loop: epochs of an engine, the learning-rate schedule, the plateau watch,
early stopping and the best weights. One loop for every model that trains with fastmlp."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastmlp.engine import Engine
from fastmlp.history import History
from fastmlp.optimizers.schedules import MIN_ADAPTIVE_LR
from fastmlp.training.epoch import Network, progress_bar, run_epoch
from fastmlp.training.settings import FitSettings
from fastmlp.training.state import TrainingState
from fastmlp.training.watch import Watch

__all__ = ["train"]


def train(
    network: Network,
    engine: Engine[Any],
    x: Any,
    labels: NDArray,
    train_rows: NDArray[np.int64],
    settings: FitSettings,
    state: TrainingState,
    rng: np.random.Generator,
    validation: tuple[NDArray, NDArray[np.int64]] | None = None,
    progress: bool = False,
    after_epoch: Callable[[History], None] = lambda history: None,
    sample_weight: NDArray | None = None,
) -> History:
    """Train ``network`` with ``engine`` on rows ``train_rows`` of ``(x, labels)`` (``x`` as
    ``engine.training_inputs`` made it) for up to ``settings.epochs``.

    Each epoch visits ``train_rows`` in a fresh order from ``rng`` (or as given, without
    shuffling) with the schedule's learning rate, then measures the validation set, if any.
    The watch follows ``settings.monitor`` on the validation set, or the training loss
    without one. Once more than ``patience`` epochs pass without an improvement of at least
    ``tol``, the adaptive schedule divides the learning rate by 5 (training stops instead when
    it is already at most 1e-6), and otherwise early stopping ends training. With early
    stopping and ``restore_best``, the network ends with the best epoch's weights (kept in
    memory as they come).

    ``state`` must have been prepared for ``settings`` (:meth:`TrainingState.prepare`); it
    is updated as training goes. ``after_epoch`` sees this fit's history after every epoch,
    and ends training by setting its ``stop_reason``. ``sample_weight`` (n,) weighs the rows
    of each batch's loss (or None).
    """
    schedule, optimizer = state.schedule, state.optimizer
    if schedule is None or optimizer is None:
        raise ValueError("state: prepare it for these settings first (TrainingState.prepare)")
    monitor = settings.monitor if validation is not None else "loss"
    watch = Watch(monitor, settings.patience, settings.tol)
    keep_best = settings.early_stopping and settings.restore_best
    best_parameters: list[NDArray] | None = None
    history = History(monitor=monitor)
    for epoch in range(1, settings.epochs + 1):
        if settings.shuffle:
            order = train_rows[rng.permutation(len(train_rows))]
        else:
            order = train_rows
        lr = schedule.lr
        label = f"epoch {epoch}/{settings.epochs}"
        with progress_bar(progress, len(order), label) as report:
            started = time.perf_counter()
            loss, correct = run_epoch(
                network,
                engine,
                x,
                labels,
                order,
                settings.batch_size,
                lr,
                epoch,
                report,
                optimizer,
                state.optimizer_state,
                settings.alpha,
                sample_weight,
            )
            history.seconds.append(time.perf_counter() - started)
            state.rows_seen += len(order)
            # A regression (identity or exp output) has no right answers: NaN accuracy.
            accuracy = correct / len(order) if _classifies(network) else float("nan")
            history.loss.append(loss)
            history.accuracy.append(accuracy)
            history.lr.append(lr)
            measured = {"loss": loss, "accuracy": accuracy}
            if validation is not None:
                scores = network.evaluate(*validation)
                history.val_loss.append(scores["loss"])
                history.val_accuracy.append(scores["accuracy"])
                measured |= {"val_loss": scores["loss"], "val_accuracy": scores["accuracy"]}
            report(0, measured)

        if watch.update(measured[monitor], epoch - 1) and keep_best:
            best_parameters = [a.copy() for a in network.weights + network.biases]
        history.best_epoch = watch.best_epoch
        schedule.epoch_end(state.rows_seen)
        if watch.on_plateau:
            history.stop_reason = _plateau(settings, schedule.lr, watch)
            if history.stop_reason is None and settings.lr_schedule == "adaptive":
                schedule.plateau()
                watch.restart_count()
        after_epoch(history)
        if history.stop_reason is not None:
            break

    if best_parameters is not None:
        for array, best in zip(network.weights + network.biases, best_parameters, strict=True):
            array[...] = best
    return history


def _classifies(network: Network) -> bool:
    """Whether the network's outputs are classes or labels (not a regression's values)."""
    return network.output in ("softmax", "logistic")


def _plateau(settings: FitSettings, lr: float, watch: Watch) -> str | None:
    """Why a plateau ends training, or ``None`` when it does not."""
    stalled = (
        f"{watch.monitor} did not improve by at least tol={settings.tol:g} for more than "
        f"patience={settings.patience} epochs"
    )
    if settings.lr_schedule == "adaptive":
        if lr > MIN_ADAPTIVE_LR:
            return None  # the schedule lowers the learning rate instead
        return f"{stalled} with the adaptive learning rate at {lr:g}, at most {MIN_ADAPTIVE_LR:g}"
    if settings.early_stopping:
        return f"early stopping: {stalled}"
    return None
