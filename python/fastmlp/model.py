"""``MLP``: the training API, in the manner of scikit-learn's estimators.

The model owns its parameters as NumPy arrays (``weights[l]`` (fan_in, fan_out), ``biases[l]``
(fan_out,)) and a ``numpy.random.Generator`` that draws the initial weights and each epoch's
order. Each epoch is handed to an engine (Rust: :mod:`fastmlp.kernels`, NumPy:
:mod:`fastmlp.reference`) that updates those arrays in place.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastmlp import kernels, reference
from fastmlp.engine import Engine
from fastmlp.errors import TrainingDivergedError
from fastmlp.history import History
from fastmlp.initializers import Init, check_init, initial_parameters
from fastmlp.names import (
    ENGINES,
    HIDDEN_ACTIVATIONS,
    INPUT_PATHS,
    DType,
    EngineName,
    HiddenActivation,
    InputPath,
    Output,
)
from fastmlp.reference_outputs import check_output, check_sample_weight, output_loss
from fastmlp.serialization import load_parameters, save_parameters
from fastmlp.validation import (
    check_choice,
    check_dtype,
    check_inputs,
    check_labels,
    check_layer_sizes,
    check_learning_rate,
    check_positive_int,
    check_targets,
)

__all__ = ["MLP"]

_ENGINE_MODULES: dict[EngineName, Engine[Any]] = {"rust": kernels, "numpy": reference}
# Rows per forward call in predict/evaluate: bounds the hidden activations' memory.
_INFERENCE_CHUNK = 16384
# A scipy.sparse x is predicted on in pieces of at most this many dense values.
_SPARSE_INFERENCE_VALUES = 1 << 22
# After each epoch of fit: ``callback(epoch, history)``; a true result ends the training.
EpochCallback = Callable[[int, History], object]
# With a progress bar, the Rust engine is called on about this many slices of an epoch.
_PROGRESS_UPDATES = 50


class MLP:
    """A multilayer perceptron: dense layers, one hidden activation, softmax output (or another
    output layer, ``output``).

    Args:
        layer_sizes: ``[inputs, hidden..., classes]``, e.g. ``[784, 128, 10]``; ``[784, 10]``
            is softmax regression.
        activation: the hidden layers' activation: ``"relu"``, ``"tanh"`` or ``"sigmoid"``
            (``"identity"``: the NumPy engine only, so far).
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
        output: the output layer and its loss: ``"softmax"`` (classes, cross-entropy),
            ``"logistic"`` (independent 0/1 labels, binary cross-entropy), ``"identity"``
            (regression, squared error) or ``"exp"`` (counts, Poisson deviance); see
            :mod:`fastmlp.reference_outputs`. All but softmax are computed by the NumPy engine
            only, so far.
    """

    def __init__(
        self,
        layer_sizes: list[int],
        activation: HiddenActivation = "relu",
        init: Init = "he",
        dtype: DType | np.dtype | type = "float32",
        seed: int | np.random.Generator | None = None,
        engine: EngineName = "rust",
        input_path: InputPath = "auto",
        output: Output = "softmax",
    ) -> None:
        self.output = check_output(output)
        self.layer_sizes = check_layer_sizes(layer_sizes, 2 if output == "softmax" else 1)
        self.activation = check_choice("activation", activation, HIDDEN_ACTIVATIONS)
        self.init = check_init(init)
        self.dtype = check_dtype(dtype)
        self.engine = check_choice("engine", engine, ENGINES)
        self.input_path = check_choice("input_path", input_path, INPUT_PATHS)
        if seed is not None and not isinstance(seed, (int, np.integer, np.random.Generator)):
            raise TypeError(f"seed: expected an int, None or a numpy Generator, got {seed!r}")
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.weights, self.biases = initial_parameters(
            self.layer_sizes, self.init, self.dtype, self._rng
        )
        self.history_ = History()

    # ---- description ----------------------------------------------------------------------

    def __repr__(self) -> str:
        init = self.init[0] if len(self.init) == 1 else self.init
        output = "" if self.output == "softmax" else f", output={self.output!r}"
        return (
            f"MLP({self.layer_sizes}, activation={self.activation!r}, init={init!r}, "
            f"dtype={self.dtype.name!r}, engine={self.engine!r}{output})"
        )

    @property
    def n_parameters(self) -> int:
        """The number of weights and biases."""
        return sum(w.size + b.size for w, b in zip(self.weights, self.biases, strict=True))

    @property
    def classes(self) -> int:
        return self.layer_sizes[-1]

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
        sample_weight: NDArray | None = None,
        callback: EpochCallback | None = None,
    ) -> History:
        """Train with mini-batch SGD and return this call's :class:`History`.

        Args:
            x: inputs (n, layer_sizes[0]) of the model's dtype, e.g. from
                :func:`fastmlp.datasets.prepare`, or a scipy.sparse CSR/CSC matrix of that
                dtype; never converted.
            labels: integer classes (n,) in [0, classes); for another ``output`` than
                softmax, the targets (n, outputs) (converted to the model's dtype).
            epochs: passes over the data, >= 1.
            batch_size: rows per step, 1..n; ``None`` for full-batch gradient descent.
            lr: learning rate, > 0.
            shuffle: visit the rows in a fresh random order each epoch (from the model's
                generator); else in their given order.
            validation_data: ``(x_val, labels_val)`` evaluated after each epoch.
            progress: show a progress bar per epoch with the running loss and accuracy.
            sample_weight: (n,) non-negative weights of the rows in each batch's mean loss
                (NumPy engine only, so far), or None.
            callback: called after each epoch as ``callback(epoch, history)`` (``epoch``
                counts from 1 in this call, ``history`` is this call's so far); training
                stops after an epoch for which it returns a true value.

        Raises:
            TrainingDivergedError: the loss became non-finite; the weights are those of the
                last good step, ``history_`` holds the finished epochs.
            KeyboardInterrupt: Ctrl-C, within one batch; the weights are those of the last
                finished step.
        """
        x, labels = self._check_data(x, labels)
        sample_weight = check_sample_weight(sample_weight, x.shape[0], self.dtype)
        epochs = check_positive_int("epochs", epochs)
        batch_size = self._check_batch_size(batch_size, x.shape[0])
        lr = check_learning_rate(lr, self.dtype)
        if validation_data is not None:
            validation_data = self._check_validation(validation_data)

        inputs = self._engine().training_inputs(x, self.input_path)
        rows = x.shape[0]
        history = History()
        for epoch in range(1, epochs + 1):
            order = self._rng.permutation(rows) if shuffle else np.arange(rows)
            label = f"epoch {epoch}/{epochs}"
            with _progress_bar(progress, len(order), label) as report:
                started = time.perf_counter()
                loss, correct = self._train_epoch(
                    inputs, labels, order, batch_size, lr, epoch, report, sample_weight
                )
                seconds = time.perf_counter() - started
                history.loss.append(loss)
                history.accuracy.append(self._accuracy(correct, len(order)))
                history.seconds.append(seconds)
                summary = {"loss": loss, "accuracy": correct / len(order)}
                if validation_data is not None:
                    scores = self.evaluate(*validation_data)
                    history.val_loss.append(scores["loss"])
                    history.val_accuracy.append(scores["accuracy"])
                    summary |= {"val_loss": scores["loss"], "val_accuracy": scores["accuracy"]}
                report(0, summary)
            self.history_.extend(History(**{k: v[-1:] for k, v in history.as_dict().items()}))
            if callback is not None and callback(epoch, history):
                break
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
        labels: NDArray,
        order: NDArray[np.int64],
        batch_size: int,
        lr: float,
        epoch: int,
        report: Callable[[int, dict[str, float]], None],
        sample_weight: NDArray | None = None,
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
                        output=self.output,
                        sample_weight=sample_weight,
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
                report(
                    len(part),
                    {"loss": total_loss / seen, "accuracy": self._accuracy(total_correct, seen)},
                )
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

        For the other outputs: the output layer's values (n, outputs), i.e. each label's
        probability (logistic) or the predictions (identity, exp).
        """
        x = check_inputs("x", x, self.layer_sizes[0], self.dtype)
        engine = self._engine()
        rows, features = x.shape
        chunk = _INFERENCE_CHUNK
        if not isinstance(x, np.ndarray):  # scipy.sparse: densified chunk by chunk
            chunk = max(1, min(chunk, _SPARSE_INFERENCE_VALUES // features))
        parts = [
            engine.forward(
                self.weights, self.biases, x[i : i + chunk], self.activation, output=self.output
            )[-1]
            for i in range(0, rows, chunk)
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def predict(self, x: NDArray) -> NDArray:
        """The most probable class (n,) for each row of ``x``.

        For the other outputs: 0/1 per label (logistic, int64), the predicted values (identity,
        exp), (n, outputs).
        """
        out = self.predict_proba(x)
        if self.output == "softmax":
            return out.argmax(axis=1).astype(np.int64)
        if self.output == "logistic":
            return (out > 0.5).astype(np.int64)
        return out

    def evaluate(self, x: NDArray, labels: NDArray[np.integer]) -> dict[str, float]:
        """``{"loss": mean cross-entropy, "accuracy": fraction right}`` on ``(x, labels)``.

        For the other outputs, the mean loss of that output; the accuracy is the fraction of
        rows with every label right (logistic) or NaN (identity, exp).
        """
        if self.output != "softmax":
            x, targets = self._check_data(x, labels)
            out = self.predict_proba(x)
            right = np.count_nonzero(((out > 0.5) == (targets > 0.5)).all(axis=1))
            return {
                "loss": output_loss(out, targets, self.output),
                "accuracy": self._accuracy(int(right), x.shape[0]),
            }
        x, labels = self._check_data(x, labels)
        p = self.predict_proba(x)
        p_true = p[np.arange(len(labels)), labels].astype(np.float64)
        loss = float(np.mean(-np.log(np.maximum(p_true, np.finfo(p.dtype).tiny))))
        accuracy = float(np.mean(p.argmax(axis=1) == labels))
        return {"loss": loss, "accuracy": accuracy}

    def score(self, x: NDArray, labels: NDArray[np.integer]) -> float:
        """Accuracy on ``(x, labels)``, as scikit-learn's ``score``.

        For ``output="identity"`` or ``"exp"``: R^2, averaged over the outputs.
        """
        if self.output in ("identity", "exp"):
            x, targets = self._check_data(x, labels)
            residual = ((targets - self.predict_proba(x)) ** 2).sum(axis=0, dtype=np.float64)
            spread = ((targets - targets.mean(axis=0)) ** 2).sum(axis=0, dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                r2 = np.where(spread > 0, 1 - residual / spread, np.where(residual > 0, 0.0, 1.0))
            return float(r2.mean())
        return self.evaluate(x, labels)["accuracy"]

    def _accuracy(self, correct: int, rows: int) -> float:
        """The fraction right, or NaN for outputs that have no right answer (regressions)."""
        return correct / rows if self.output in ("softmax", "logistic") else float("nan")

    # ---- persistence ----------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to ``path`` (an .npz with JSON metadata), atomically."""
        metadata: dict[str, Any] = {
            "layer_sizes": self.layer_sizes,
            "activation": self.activation,
            "dtype": self.dtype.name,
            "init": list(self.init),
            "output": self.output,
            "history": self.history_.as_dict(),
        }
        return save_parameters(path, self.weights, self.biases, metadata)

    @classmethod
    def load(cls, path: str | os.PathLike[str], engine: EngineName = "rust") -> MLP:
        """A model saved by :meth:`save`; ``ValueError`` for anything else."""
        weights, biases, metadata = load_parameters(path)
        try:
            model = cls(
                metadata["layer_sizes"],
                activation=metadata["activation"],
                init=tuple(metadata.get("init", ["he"])),
                dtype=metadata["dtype"],
                engine=engine,
                output=metadata.get("output", "softmax"),
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
        return model

    # ---- argument checks ------------------------------------------------------------------

    def _check_data(self, x: object, labels: object) -> tuple[NDArray, NDArray]:
        x = check_inputs("x", x, self.layer_sizes[0], self.dtype)
        return x, self._check_labels("labels", labels, x.shape[0])

    def _check_validation(self, data: object) -> tuple[NDArray, NDArray]:
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise TypeError("validation_data: expected a pair (x_val, labels_val)")
        x = check_inputs("validation_data[0]", data[0], self.layer_sizes[0], self.dtype)
        return x, self._check_labels("validation_data[1]", data[1], x.shape[0])

    def _check_labels(self, arg: str, labels: object, rows: int) -> NDArray:
        """Class indices (softmax) or the targets of the other outputs."""
        if self.output == "softmax":
            return check_labels(arg, labels, rows, self.classes)
        return check_targets(arg, labels, rows, self.layer_sizes[-1], self.dtype)

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
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=label, unit="row", unit_scale=True, leave=True) as bar:

        def report(rows: int, metrics: dict[str, float]) -> None:
            bar.update(rows)
            bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()}, refresh=rows == 0)

        yield report


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
