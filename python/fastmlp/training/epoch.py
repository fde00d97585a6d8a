"""One epoch through an engine: in slices of whole batches (for the progress bar), with
divergence turned into a clear error and Ctrl-C honoured between steps."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from fastmlp.engine import Engine
from fastmlp.errors import TrainingDivergedError
from fastmlp.names import HiddenActivation, InputPath, Output
from fastmlp.optimizers import Optimizer, OptimizerState

__all__ = ["Network", "interrupts_deferred", "progress_bar", "run_epoch"]

# With a progress bar, an engine that checks for Ctrl-C itself is called on about this many
# slices of an epoch.
PROGRESS_UPDATES = 50

Reporter = Callable[[int, dict[str, float]], None]


class Network(Protocol):
    """What the training loop trains: parameters updated in place, and how to run them."""

    weights: list[NDArray]
    biases: list[NDArray]
    activation: HiddenActivation
    input_path: InputPath
    output: Output

    def evaluate(self, x: NDArray, labels: NDArray[np.integer]) -> dict[str, float]: ...


def no_progress(rows: int, metrics: dict[str, float]) -> None:
    """The progress reporter when there is no bar."""


def run_epoch(
    network: Network,
    engine: Engine[Any],
    x: Any,
    labels: NDArray,
    order: NDArray[np.int64],
    batch_size: int,
    lr: float,
    epoch: int,
    report: Reporter,
    optimizer: Optimizer,
    state: OptimizerState | None,
    alpha: float,
    sample_weight: NDArray | None = None,
) -> tuple[float, int]:
    """One epoch over ``order`` with ``engine``, in slices of whole batches; returns
    (mean loss, correct count). ``x`` is what ``engine.training_inputs`` made of the data;
    ``labels`` the targets of the network's ``output``, ``sample_weight`` the rows' weights.

    Raises TrainingDivergedError with the epoch and batch; the parameters (and ``state``) are
    those of the last good step, or of the epoch's start where a step left them non-finite.
    """
    defer_interrupts = not engine.CHECKS_INTERRUPTS
    n_batches = -(-len(order) // batch_size)
    if defer_interrupts:
        batches_per_call = 1  # lets Ctrl-C stop it between steps (see interrupts_deferred)
    elif report is no_progress:
        batches_per_call = n_batches
    else:
        batches_per_call = max(1, -(-n_batches // PROGRESS_UPDATES))
    rows_per_call = batches_per_call * batch_size
    parameters = network.weights + network.biases
    snapshot = [a.copy() for a in parameters]
    state_snapshot = state.copy() if state is not None else None

    def keep_last_good() -> bool:
        """After a divergence: if a step left non-finite values, go back to the epoch's start.

        Returns whether it did.
        """
        if all(np.isfinite(a).all() for a in parameters):
            return False
        for array, saved in zip(parameters, snapshot, strict=True):
            array[...] = saved
        if state is not None and state_snapshot is not None:
            state.assign(state_snapshot)
        return True

    total_loss, total_correct, seen = 0.0, 0, 0
    with interrupts_deferred(defer_interrupts) as interrupted:
        for start in range(0, len(order), rows_per_call):
            part = order[start : start + rows_per_call]
            try:
                loss, correct = engine.train_epoch_stats(
                    network.weights,
                    network.biases,
                    x,
                    labels,
                    part,
                    lr,
                    batch_size,
                    network.activation,
                    input_path=network.input_path,
                    optimizer=optimizer,
                    state=state,
                    alpha=alpha,
                    output=network.output,
                    sample_weight=sample_weight,
                )
            except TrainingDivergedError as error:
                reverted = keep_last_good()
                kept = "at the start of the epoch" if reverted else "before that batch"
                batch = start // batch_size + (error.batch or 0)
                raise TrainingDivergedError(
                    f"training diverged in epoch {epoch}, batch {batch} (0-based): the loss "
                    f"is {error.loss}. The weights are those {kept}. Try a "
                    f"smaller learning rate than lr={lr}.",
                    batch=batch,
                    loss=error.loss,
                    epoch=epoch,
                ) from None
            if not all(np.isfinite(a).all() for a in parameters):
                # A step overflowed although the losses seen so far were finite.
                keep_last_good()
                batch = (start + len(part) - 1) // batch_size
                raise TrainingDivergedError(
                    f"training diverged in epoch {epoch}: by batch {batch} (0-based) a step "
                    "made the weights NaN or infinite. The weights are those at the start of "
                    f"the epoch. Try a smaller learning rate than lr={lr}.",
                    batch=batch,
                    loss=float("nan"),
                    epoch=epoch,
                )
            total_loss += loss * len(part)
            total_correct += correct
            seen += len(part)
            report(len(part), {"loss": total_loss / seen, "accuracy": total_correct / seen})
            if interrupted():
                raise KeyboardInterrupt
    return total_loss / len(order), total_correct


@contextmanager
def progress_bar(enabled: bool, total: int, label: str) -> Iterator[Reporter]:
    """A reporter ``(rows_done, metrics)`` that drives a tqdm bar, or does nothing."""
    if not enabled:
        yield no_progress
        return
    from tqdm import autonotebook, std
    from tqdm.auto import tqdm

    if autonotebook.tqdm is std.tqdm and not _is_terminal(sys.stderr):
        # A log file or a pipe: no redraws, one line per epoch when it ends (rows == 0).
        def line(rows: int, metrics: dict[str, float]) -> None:
            if rows == 0:
                print(f"{label}: {_figures(metrics)}", file=sys.stderr, flush=True)

        yield line
        return
    # What fits 80 columns: the bar takes the width the figures leave (no row counts or
    # rates, which would push the validation figures off the line).
    bar_format = "{percentage:3.0f}%|{bar}| {desc}"
    with tqdm(
        total=total, desc=label, leave=True, bar_format=bar_format, dynamic_ncols=True
    ) as bar:

        def report(rows: int, metrics: dict[str, float]) -> None:
            bar.update(rows)
            bar.set_description_str(f"{label} {_figures(metrics)}", refresh=rows == 0)

        yield report


def _figures(metrics: dict[str, float]) -> str:
    """``"loss 0.4123 acc 0.8812 val_loss 0.3981 val_acc 0.8890"``."""
    short = {"accuracy": "acc", "val_accuracy": "val_acc"}
    return " ".join(f"{short.get(name, name)} {value:.4f}" for name, value in metrics.items())


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@contextmanager
def interrupts_deferred(enabled: bool) -> Iterator[Callable[[], bool]]:
    """While active, Ctrl-C only sets a flag, read between steps: a step is never cut in half.

    Used for engines whose steps are Python code (NumPy); the Rust engine checks for Ctrl-C
    between its batches by itself (``CHECKS_INTERRUPTS``). Only the main thread can install
    signal handlers; elsewhere this does nothing.
    """
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    pressed = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: object) -> None:
        pressed.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield pressed.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
