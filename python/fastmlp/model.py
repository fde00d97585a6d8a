"""``MLP``: the training API, in the manner of scikit-learn's estimators.

The model owns its parameters as NumPy arrays (``weights[l]`` (fan_in, fan_out), ``biases[l]``
(fan_out,)) and a ``numpy.random.Generator`` that draws the initial weights and each epoch's
order. Each epoch is handed to an engine (Rust: :mod:`fastmlp.kernels`, NumPy:
:mod:`fastmlp.reference`) that updates those arrays in place.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastmlp import kernels, reference
from fastmlp.diagnostics import check_probabilities, warn_if_exploded, warn_if_unscaled
from fastmlp.engine import Engine
from fastmlp.errors import TrainingDivergedError
from fastmlp.history import History
from fastmlp.initializers import Init, check_init, initial_parameters
from fastmlp.names import (
    ACTIVATIONS,
    ENGINES,
    INPUT_PATHS,
    Activation,
    DType,
    EngineName,
    InputPath,
)
from fastmlp.serialization import load_parameters, save_parameters
from fastmlp.validation import (
    check_choice,
    check_class_names,
    check_dataset_name,
    check_dtype,
    check_inputs,
    check_labels,
    check_layer_sizes,
    check_learning_rate,
    check_positive_int,
)

__all__ = ["MLP"]

_ENGINE_MODULES: dict[EngineName, Engine[Any]] = {"rust": kernels, "numpy": reference}
# Rows per forward call in predict/evaluate: bounds the hidden activations' memory.
_INFERENCE_CHUNK = 16384
# With a progress bar, the Rust engine is called on about this many slices of an epoch.
_PROGRESS_UPDATES = 50
# The loss before training, for the check that it did not explode, is measured on these rows.
_START_ROWS = 1024


class MLP:
    """A multilayer perceptron: dense layers, one hidden activation, softmax output.

    Args:
        layer_sizes: ``[inputs, hidden..., classes]``, e.g. ``[784, 128, 10]``; ``[784, 10]``
            is softmax regression.
        activation: the hidden layers' activation: ``"relu"``, ``"tanh"`` or ``"sigmoid"``.
        init: initial weights: ``"he"`` (N(0, 2/fan_in)), ``"xavier"`` (Glorot uniform),
            ``("normal", std)`` or ``("uniform", low, high)``; biases start at zero.
        dtype: ``"float32"`` or ``"float64"``, for parameters and data alike.
        seed: an int, ``None`` (fresh entropy) or a ``numpy.random.Generator``; draws the
            initial weights, then each epoch's shuffling order.
        engine: ``"rust"`` (fast) or ``"numpy"`` (the readable reference); same results
            within float tolerance.
        input_path: how the Rust engine's first layer reads the inputs: ``"dense"`` (GEMM),
            ``"sparse"`` (only nonzero inputs; faster on MNIST-like data where most pixels
            are 0) or ``"auto"`` (sparse when :func:`fastmlp.kernels.preferred_input_path`
            finds the data sparse enough to be faster there). The NumPy engine always
            computes densely.
    """

    def __init__(
        self,
        layer_sizes: list[int],
        activation: Activation = "relu",
        init: Init = "he",
        dtype: DType | np.dtype | type = "float32",
        seed: int | np.random.Generator | None = None,
        engine: EngineName = "rust",
        input_path: InputPath = "auto",
    ) -> None:
        self._configure(layer_sizes, activation, init, dtype, seed, engine, input_path)
        self.weights, self.biases = initial_parameters(
            self.layer_sizes, self.init, self.dtype, self._rng
        )

    def _configure(
        self,
        layer_sizes: list[int],
        activation: Activation,
        init: Init,
        dtype: DType | np.dtype | type,
        seed: int | np.random.Generator | None,
        engine: EngineName,
        input_path: InputPath,
    ) -> None:
        """Check the settings and set everything but the parameters (``load`` reads those)."""
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.activation = check_choice("activation", activation, ACTIVATIONS)
        self.init = check_init(init)
        self.dtype = check_dtype(dtype)
        self.engine = check_choice("engine", engine, ENGINES)
        self.input_path = check_choice("input_path", input_path, INPUT_PATHS)
        if seed is not None and not isinstance(seed, (int, np.integer, np.random.Generator)):
            raise TypeError(f"seed: expected an int, None or a numpy Generator, got {seed!r}")
        if isinstance(seed, (int, np.integer)) and seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {seed}")
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.history_ = History()
        #: The data it was trained on: a name (``"fashion-mnist"``) or a path; ``None`` if
        #: unknown. Saved with the model; ``fastmlp evaluate`` uses it by default.
        self.dataset: str | None = None
        self._class_names: tuple[str, ...] | None = None

    # ---- description ----------------------------------------------------------------------

    def __repr__(self) -> str:
        init = self.init[0] if len(self.init) == 1 else self.init
        return (
            f"MLP({self.layer_sizes}, activation={self.activation!r}, init={init!r}, "
            f"dtype={self.dtype.name!r}, engine={self.engine!r})"
        )

    @property
    def n_parameters(self) -> int:
        """The number of weights and biases."""
        return sum(w.size + b.size for w, b in zip(self.weights, self.biases, strict=True))

    @property
    def classes(self) -> int:
        return self.layer_sizes[-1]

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """The name of each output class (``class_names[label]``), or ``None`` if unknown.

        Saved with the model; ``fastmlp predict`` prints them. Set it to a sequence of
        ``classes`` strings (e.g. ``dataset.classes``).
        """
        return self._class_names

    @class_names.setter
    def class_names(self, names: object) -> None:
        self._class_names = check_class_names(names, self.classes)

    def _engine(self) -> Engine[Any]:
        return _ENGINE_MODULES[self.engine]

    # ---- training -------------------------------------------------------------------------

    def fit(
        self,
        x: NDArray,
        labels: NDArray[np.integer],
        epochs: int = 10,
        batch_size: int | None = 128,
        lr: float = 0.1,
        shuffle: bool = True,
        validation_data: tuple[NDArray, NDArray[np.integer]] | None = None,
        progress: bool = False,
    ) -> History:
        """Train with mini-batch SGD and return this call's :class:`History`.

        Args:
            x: inputs (n, layer_sizes[0]) of the model's dtype, e.g. from
                :func:`fastmlp.datasets.prepare`; never converted.
            labels: integer classes (n,) in [0, classes).
            epochs: passes over the data, >= 1.
            batch_size: rows per step, 1..n; ``None`` for full-batch gradient descent.
            lr: learning rate, > 0.
            shuffle: visit the rows in a fresh random order each epoch (from the model's
                generator); else in their given order.
            validation_data: ``(x_val, labels_val)`` evaluated after each epoch.
            progress: show a progress bar per epoch with the running loss and accuracy (on
                stderr; when stderr is not a terminal or notebook, a line per epoch instead).

        Warns:
            TrainingWarning: the inputs are far outside the usual range (unscaled pixels), or
                the loss ended far above its value before training (measured on the first
                1,024 rows): the learning rate is too large although the loss stayed finite.

        Raises:
            TrainingDivergedError: the loss became non-finite; the weights are those of the
                last good step, ``history_`` holds the finished epochs.
            KeyboardInterrupt: Ctrl-C, within one batch; the weights are those of the last
                finished step.
            RuntimeError: the model is being trained by another thread.
        """
        with _one_fit_at_a_time(self):
            return self._fit(x, labels, epochs, batch_size, lr, shuffle, validation_data, progress)

    def _fit(
        self,
        x: NDArray,
        labels: NDArray[np.integer],
        epochs: int,
        batch_size: int | None,
        lr: float,
        shuffle: bool,
        validation_data: tuple[NDArray, NDArray[np.integer]] | None,
        progress: bool,
    ) -> History:
        x, labels = self._check_data(x, labels)
        epochs = check_positive_int("epochs", epochs)
        batch_size = self._check_batch_size(batch_size, len(x))
        lr = check_learning_rate(lr, self.dtype)
        if validation_data is not None:
            validation_data = self._check_validation(validation_data)

        warn_if_unscaled("x", x)
        start = self.evaluate(x[:_START_ROWS], labels[:_START_ROWS])["loss"]
        inputs = self._engine().training_inputs(x, self.input_path)
        history = History()
        for epoch in range(1, epochs + 1):
            order = self._rng.permutation(len(x)) if shuffle else np.arange(len(x))
            label = f"epoch {epoch}/{epochs}"
            with _progress_bar(progress, len(order), label) as report:
                started = time.perf_counter()
                loss, correct = self._train_epoch(
                    inputs, labels, order, batch_size, lr, epoch, report
                )
                seconds = time.perf_counter() - started
                history.loss.append(loss)
                history.accuracy.append(correct / len(order))
                history.seconds.append(seconds)
                summary = {"loss": loss, "accuracy": correct / len(order)}
                if validation_data is not None:
                    scores = self.evaluate(*validation_data)
                    history.val_loss.append(scores["loss"])
                    history.val_accuracy.append(scores["accuracy"])
                    summary |= {"val_loss": scores["loss"], "val_accuracy": scores["accuracy"]}
                report(0, summary)
            self.history_.extend(History(**{k: v[-1:] for k, v in history.as_dict().items()}))
        warn_if_exploded(start, history.loss[-1], self.classes, lr)
        return history

    def partial_fit(
        self,
        x: NDArray,
        labels: NDArray[np.integer],
        batch_size: int | None = 128,
        lr: float = 0.1,
        shuffle: bool = True,
    ) -> MLP:
        """One epoch of :meth:`fit`; returns the model (its ``history_`` gains the epoch)."""
        self.fit(x, labels, epochs=1, batch_size=batch_size, lr=lr, shuffle=shuffle)
        return self

    def _train_epoch(
        self,
        x: Any,
        labels: NDArray[np.int64],
        order: NDArray[np.int64],
        batch_size: int,
        lr: float,
        epoch: int,
        report: Callable[[int, dict[str, float]], None],
    ) -> tuple[float, int]:
        """One epoch, in slices of whole batches; returns (mean loss, correct count).

        ``x`` is what the engine's ``training_inputs`` made of the data."""
        engine = self._engine()
        defer_interrupts = not engine.CHECKS_INTERRUPTS
        n_batches = -(-len(order) // batch_size)
        if defer_interrupts:
            batches_per_call = 1  # lets Ctrl-C stop it between steps (see _interrupts_deferred)
        elif report is _no_progress:
            batches_per_call = n_batches
        else:
            batches_per_call = max(1, -(-n_batches // _PROGRESS_UPDATES))
        rows_per_call = batches_per_call * batch_size
        snapshot = [a.copy() for a in self.weights + self.biases]
        total_loss, total_correct, seen = 0.0, 0, 0
        with _interrupts_deferred(defer_interrupts) as interrupted:
            for start in range(0, len(order), rows_per_call):
                part = order[start : start + rows_per_call]
                try:
                    loss, correct = engine.train_epoch_stats(
                        self.weights,
                        self.biases,
                        x,
                        labels,
                        part,
                        lr,
                        batch_size,
                        self.activation,
                        input_path=self.input_path,
                    )
                except TrainingDivergedError as error:
                    reverted = self._keep_last_good(snapshot)
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
                if not all(np.isfinite(a).all() for a in self.weights + self.biases):
                    # A step overflowed although the losses seen so far were finite.
                    self._keep_last_good(snapshot)
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

    def _keep_last_good(self, snapshot: list[NDArray]) -> bool:
        """After a divergence: if a step left non-finite values, go back to the epoch start.

        Returns whether it did.
        """
        parameters = self.weights + self.biases
        if all(np.isfinite(a).all() for a in parameters):
            return False
        for array, saved in zip(parameters, snapshot, strict=True):
            array[...] = saved
        return True

    # ---- inference ------------------------------------------------------------------------

    def predict_proba(self, x: NDArray) -> NDArray:
        """Class probabilities (n, classes) for inputs ``x`` (n, layer_sizes[0]).

        Never NaN: rows whose logits overflow (inputs far larger than any the model was
        trained on) are a ``ValueError`` naming them.
        """
        x = check_inputs("x", x, self.layer_sizes[0], self.dtype)
        engine = self._engine()
        parts = []
        for i in range(0, len(x), _INFERENCE_CHUNK):
            rows = x[i : i + _INFERENCE_CHUNK]
            parts.append(engine.forward(self.weights, self.biases, rows, self.activation)[-1])
            check_probabilities("x", parts[-1], rows, offset=i)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def predict(self, x: NDArray) -> NDArray[np.int64]:
        """The most probable class (n,) for each row of ``x``."""
        return self.predict_proba(x).argmax(axis=1).astype(np.int64)

    def evaluate(self, x: NDArray, labels: NDArray[np.integer]) -> dict[str, float]:
        """``{"loss": mean cross-entropy, "accuracy": fraction right}`` on ``(x, labels)``."""
        x, labels = self._check_data(x, labels)
        p = self.predict_proba(x)
        p_true = p[np.arange(len(labels)), labels].astype(np.float64)
        loss = float(np.mean(-np.log(np.maximum(p_true, np.finfo(p.dtype).tiny))))
        accuracy = float(np.mean(p.argmax(axis=1) == labels))
        return {"loss": loss, "accuracy": accuracy}

    def score(self, x: NDArray, labels: NDArray[np.integer]) -> float:
        """Accuracy on ``(x, labels)``, as scikit-learn's ``score``."""
        return self.evaluate(x, labels)["accuracy"]

    # ---- persistence ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to ``path`` (an .npz with JSON metadata), atomically."""
        metadata: dict[str, Any] = {
            "layer_sizes": self.layer_sizes,
            "activation": self.activation,
            "dtype": self.dtype.name,
            "init": list(self.init),
            "history": self.history_.as_dict(),
            "dataset": self.dataset,
            "class_names": None if self.class_names is None else list(self.class_names),
        }
        return save_parameters(path, self.weights, self.biases, metadata)

    @classmethod
    def load(cls, path: str | os.PathLike[str], engine: EngineName = "rust") -> MLP:
        """A model saved by :meth:`save`; ``ValueError`` for anything else."""
        weights, biases, metadata = load_parameters(path)
        model = cls.__new__(cls)  # built from the file's arrays: no initial weights drawn
        try:
            model._configure(
                metadata["layer_sizes"],
                activation=metadata["activation"],
                init=tuple(metadata.get("init", ["he"])),
                dtype=metadata["dtype"],
                seed=None,
                engine=engine,
                input_path="auto",
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid model metadata: {error}") from None
        model.weights = [np.ascontiguousarray(w) for w in weights]
        model.biases = [np.ascontiguousarray(b) for b in biases]
        history = metadata.get("history") or {}
        try:
            if not isinstance(history, dict):
                raise TypeError(f"expected a mapping, got {type(history).__name__}")
            model.history_ = History(**{k: list(map(float, v)) for k, v in history.items()})
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid training history in the metadata: {error}") from None
        try:  # absent from older model files: None
            model.dataset = check_dataset_name(metadata.get("dataset"))
            model.class_names = metadata.get("class_names")
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid model metadata: {error}") from None
        return model

    # ---- argument checks ------------------------------------------------------------------

    def _check_data(self, x: object, labels: object) -> tuple[NDArray, NDArray[np.int64]]:
        x = check_inputs("x", x, self.layer_sizes[0], self.dtype)
        return x, check_labels("labels", labels, len(x), self.classes)

    def _check_validation(self, data: object) -> tuple[NDArray, NDArray[np.int64]]:
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise TypeError("validation_data: expected a pair (x_val, labels_val)")
        x = check_inputs("validation_data[0]", data[0], self.layer_sizes[0], self.dtype)
        return x, check_labels("validation_data[1]", data[1], len(x), self.classes)

    @staticmethod
    def _check_batch_size(batch_size: object, rows: int) -> int:
        if batch_size is None:
            return rows
        batch_size = check_positive_int("batch_size", batch_size)
        if batch_size > rows:
            raise ValueError(
                f"batch_size: expected at most the {rows} rows of x, got {batch_size} "
                "(batch_size=None trains on the full batch)"
            )
        return batch_size


_FITTING_LOCK = threading.Lock()
_FITTING: weakref.WeakSet[MLP] = weakref.WeakSet()  # models inside fit (not an attribute:
# a copy or pickle of a model taken during fit must not inherit it)


@contextmanager
def _one_fit_at_a_time(model: MLP) -> Iterator[None]:
    """Refuse a second ``fit`` of ``model`` while one runs (from another thread): the engines
    update the weights in place, so two at once would race (NumPy) or collide (Rust)."""
    with _FITTING_LOCK:
        if model in _FITTING:
            raise RuntimeError(
                "this model is already being trained by another thread; fit one model from one "
                "thread at a time (train a copy, copy.deepcopy(model), in each thread)"
            )
        _FITTING.add(model)
    try:
        yield
    finally:
        with _FITTING_LOCK:
            _FITTING.discard(model)


def _no_progress(rows: int, metrics: dict[str, float]) -> None:
    """The progress reporter when there is no bar."""


@contextmanager
def _progress_bar(
    enabled: bool, total: int, label: str
) -> Iterator[Callable[[int, dict[str, float]], None]]:
    """A reporter ``(rows_done, metrics)`` that drives a tqdm bar, or does nothing."""
    if not enabled:
        yield _no_progress
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
def _interrupts_deferred(enabled: bool) -> Iterator[Callable[[], bool]]:
    """While active, Ctrl-C only sets a flag, read between steps: a step is never cut in half.

    Used for the NumPy engine, whose steps are Python code; the Rust engine checks for Ctrl-C
    between its batches by itself. Only the main thread can install signal handlers; elsewhere
    this does nothing.
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
