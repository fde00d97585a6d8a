"""``MLP``: the training API, in the manner of scikit-learn's estimators.

The model owns its parameters as NumPy arrays (``weights[l]`` (fan_in, fan_out), ``biases[l]``
(fan_out,)) and a ``numpy.random.Generator`` that draws the initial weights and each epoch's
order. Each epoch is handed to an engine (Rust: :mod:`fastmlp.kernels`, NumPy:
:mod:`fastmlp.reference`) that updates those arrays in place.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastmlp import kernels, reference
from fastmlp.diagnostics import check_probabilities, warn_if_exploded, warn_if_unscaled
from fastmlp.engine import Engine
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
    LRSchedule,
    Monitor,
    OptimizerName,
    Output,
)
from fastmlp.optimizers import Optimizer
from fastmlp.optimizers.rules import l2_penalty
from fastmlp.reference_outputs import check_output, check_sample_weight, output_loss
from fastmlp.serialization import load_parameters, save_parameters
from fastmlp.training import (
    FitSettings,
    TrainingState,
    fit_settings,
    generator_from_json,
    generator_to_json,
    stratified_holdout,
    train,
)
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
    check_targets,
)

__all__ = ["MLP"]

_ENGINE_MODULES: dict[EngineName, Engine[Any]] = {"rust": kernels, "numpy": reference}
# Rows per forward call in predict/evaluate: bounds the hidden activations' memory.
_INFERENCE_CHUNK = 16384
# The loss before training, for the check that it did not explode, is measured on these rows.
_START_ROWS = 1024


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
            predicts it at most 0.75 of the dense path's time, compressing ``x`` once for the
            fit's epochs included), decided once per fit (each ``partial_fit`` is a fit of one
            epoch). The NumPy engine always computes densely.
        sparse_work_crossover: the work (:func:`fastmlp.kernels.sparse_plan`) at which the
            sparse path's epoch takes as long as the dense one's; ``None`` for the default
            measured on the project's machine (:func:`fastmlp.kernels.sparse_work_crossover`).
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
        sparse_work_crossover: float | None = None,
    ) -> None:
        self._configure(layer_sizes, activation, init, dtype, seed, engine, input_path, output)
        self.sparse_work_crossover: float | None = _check_crossover(sparse_work_crossover)
        self.weights, self.biases = initial_parameters(
            self.layer_sizes, self.init, self.dtype, self._rng
        )

    def _configure(
        self,
        layer_sizes: list[int],
        activation: HiddenActivation,
        init: Init,
        dtype: DType | np.dtype | type,
        seed: int | np.random.Generator | None,
        engine: EngineName,
        input_path: InputPath,
        output: Output = "softmax",
    ) -> None:
        """Check the settings and set everything but the parameters (``load`` reads those)."""
        self.output = check_output(output)
        self.layer_sizes = check_layer_sizes(layer_sizes, 2 if output == "softmax" else 1)
        self.activation = check_choice("activation", activation, HIDDEN_ACTIVATIONS)
        self.init = check_init(init)
        self.dtype = check_dtype(dtype)
        self.engine = check_choice("engine", engine, ENGINES)
        self.input_path = check_choice("input_path", input_path, INPUT_PATHS)
        self.sparse_work_crossover = None
        if seed is not None and not isinstance(seed, (int, np.integer, np.random.Generator)):
            raise TypeError(f"seed: expected an int, None or a numpy Generator, got {seed!r}")
        if isinstance(seed, (int, np.integer)) and seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {seed}")
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.history_ = History()
        #: The optimizer's state, the schedule and the rows trained on: what the next fit
        #: (and a saved model) continues from.
        self.training_state_ = TrainingState()
        #: The data it was trained on: a name (``"fashion-mnist"``) or a path; ``None`` if
        #: unknown. Saved with the model; ``fastmlp evaluate`` uses it by default.
        self.dataset: str | None = None
        self._class_names: tuple[str, ...] | None = None

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
        progress: bool | Callable[[History], None] = False,
        *,
        optimizer: OptimizerName | Optimizer = "sgd",
        momentum: float = 0.0,
        nesterov: bool = False,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        alpha: float = 0.0,
        lr_schedule: LRSchedule = "constant",
        power_t: float = 0.5,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        monitor: Monitor = "val_loss",
        patience: int = 10,
        tol: float = 1e-4,
        restore_best: bool = True,
        sample_weight: NDArray | None = None,
    ) -> History:
        """Train and return this call's :class:`History`.

        The optimizer's rules, the L2 penalty and the schedules are scikit-learn's
        (``MLPClassifier``'s ``solver``, ``alpha``, ``learning_rate``, ...). Repeated calls
        continue where the last one stopped: the optimizer's state, the learning rate the
        schedule reached and the rows trained on carry over (``training_state_``, also saved
        with the model), so ``fit(epochs=2)`` twice is ``fit(epochs=4)``. Early stopping and
        the adaptive schedule watch each call afresh.

        Args:
            x: inputs (n, layer_sizes[0]) of the model's dtype, e.g. from
                :func:`fastmlp.datasets.prepare`, or a scipy.sparse CSR/CSC matrix of that
                dtype; never converted.
            labels: integer classes (n,) in [0, classes); for another ``output`` than
                softmax, the targets (n, outputs) (converted to the model's dtype).
            epochs: passes over the data, >= 1 (fewer when early stopping ends training).
            batch_size: rows per step, 1..n; ``None`` for full-batch gradient descent.
            lr: learning rate, > 0 (Adam's base rate, e.g. 1e-3).
            shuffle: visit the rows in a fresh random order each epoch (from the model's
                generator); else in their given order.
            validation_data: ``(x_val, labels_val)`` evaluated after each epoch.
            progress: ``True`` shows a progress bar per epoch with the running loss and
                accuracy (on stderr; when stderr is not a terminal or notebook, a line per
                epoch instead); a function is called after each epoch with this call's
                :class:`History` so far (e.g. to print a line), and ends training by setting
                its ``stop_reason`` (a sentence saying why).
            optimizer: ``"sgd"`` (with ``momentum``, ``nesterov``), ``"adam"`` (with
                ``beta1``, ``beta2``, ``epsilon``), or a :class:`fastmlp.optimizers.SGD` /
                :class:`~fastmlp.optimizers.Adam` object.
            momentum: SGD's momentum in [0, 1]; 0 is plain SGD.
            nesterov: Nesterov's momentum.
            beta1, beta2, epsilon: Adam's moment decays, in [0, 1), and its epsilon, > 0.
            alpha: L2 penalty on the weights (not the biases), >= 0: each batch's loss gains
                ``alpha / (2 n) * sum(W**2)``.
            lr_schedule: ``"constant"``; ``"invscaling"``, ``lr / (t + 1) ** power_t`` from
                the end of each epoch, ``t`` the rows trained on so far; ``"adaptive"``,
                ``lr`` divided by 5 each time more than ``patience`` epochs pass without an
                improvement of at least ``tol`` (training stops when that would start from
                ``lr <= 1e-6``).
            power_t: ``invscaling``'s exponent, >= 0.
            early_stopping: stop once more than ``patience`` epochs pass without ``monitor``
                improving by at least ``tol``. The validation set is ``validation_data``,
                else a stratified ``validation_fraction`` of the rows, held out (drawn from
                the model's generator before the epochs).
            validation_fraction: the rows held out for early stopping, in (0, 1).
            monitor: ``"val_loss"`` or ``"val_accuracy"``: what early stopping and the
                adaptive schedule watch when there is a validation set (without one: the
                training loss).
            patience: epochs without improvement tolerated, >= 1 (scikit-learn's
                ``n_iter_no_change``).
            tol: the least change of ``monitor`` that counts as an improvement, >= 0.
            restore_best: with early stopping, end with the weights of the best epoch
                (``History.best_epoch``), not the last one.
            sample_weight: (n,) non-negative weights of the rows in each batch's mean loss
                (and ``n`` of the L2 term their sum, as scikit-learn's); NumPy engine only,
                so far.

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
            settings = {
                "optimizer": optimizer,
                "momentum": momentum,
                "nesterov": nesterov,
                "beta1": beta1,
                "beta2": beta2,
                "epsilon": epsilon,
                "alpha": alpha,
                "lr_schedule": lr_schedule,
                "power_t": power_t,
                "early_stopping": early_stopping,
                "validation_fraction": validation_fraction,
                "monitor": monitor,
                "patience": patience,
                "tol": tol,
                "restore_best": restore_best,
            }
            return self._fit(
                x,
                labels,
                epochs,
                batch_size,
                lr,
                shuffle,
                validation_data,
                progress,
                settings,
                sample_weight,
            )

    def _fit(
        self,
        x: NDArray,
        labels: NDArray[np.integer],
        epochs: int,
        batch_size: int | None,
        lr: float,
        shuffle: bool,
        validation_data: tuple[NDArray, NDArray[np.integer]] | None,
        progress: bool | Callable[[History], None],
        keywords: dict[str, Any],
        sample_weight: NDArray | None = None,
    ) -> History:
        x, labels = self._check_data(x, labels)
        rows = x.shape[0]
        sample_weight = check_sample_weight(sample_weight, rows, self.dtype)
        epochs = check_positive_int("epochs", epochs)
        batch = self._check_batch_size(batch_size, rows)
        settings = fit_settings(
            epochs=epochs,
            batch_size=batch,
            lr=check_learning_rate(lr, self.dtype),
            shuffle=shuffle,
            **keywords,
        )
        validation = None
        if validation_data is not None:
            validation = self._check_validation(validation_data)
        train_rows = np.arange(rows, dtype=np.int64)
        if settings.early_stopping and validation is None:
            fraction = settings.validation_fraction
            # Targets of the other outputs are not classes: a plain random split.
            strata = np.asarray(labels if self.output == "softmax" else np.zeros(rows), np.int64)
            train_rows, held_out = stratified_holdout(strata, fraction, self._rng)
            validation = (x[held_out], labels[held_out])
            settings = self._fit_batches_to(settings, batch_size, len(train_rows))

        warn_if_unscaled("x", x)
        # One step over all of x measures its loss before the step on the rows the start
        # would be measured on: the two are equal and the check cannot fire. Skipping it saves
        # a forward pass per partial_fit of a single batch.
        one_step = settings.epochs == 1 and len(train_rows) == rows <= settings.batch_size
        start = None
        if not (one_step and rows <= _START_ROWS):
            start = self.evaluate(x[:_START_ROWS], labels[:_START_ROWS])["loss"]
            # With the L2 term, as the batches' losses have it.
            start += l2_penalty(self.weights, settings.alpha, settings.batch_size)
        self.training_state_.prepare(settings, self.weights, self.biases)
        first = len(self.history_)

        def after_epoch(history: History) -> None:
            self.history_.append_last_epoch(history, first)
            if callable(progress):
                progress(history)

        engine = self._engine()
        history = train(
            self,
            engine,
            engine.training_inputs(
                x,
                self.input_path,
                sparse_work_crossover=self.sparse_work_crossover,
                # Compressing x for the sparse path must pay for itself within this fit.
                epochs=settings.epochs,
                fan_out=self.layer_sizes[1],
            ),
            labels,
            train_rows,
            settings,
            self.training_state_,
            self._rng,
            validation,
            bool(progress) and not callable(progress),
            after_epoch=after_epoch,
            sample_weight=sample_weight,
        )
        if start is not None:
            warn_if_exploded(start, history.loss[-1], self.classes, history.lr[-1])
        return history

    def partial_fit(
        self,
        x: NDArray,
        labels: NDArray[np.integer],
        batch_size: int | None = 128,
        lr: float = 0.1,
        shuffle: bool = True,
        *,
        optimizer: OptimizerName | Optimizer = "sgd",
        momentum: float = 0.0,
        nesterov: bool = False,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        alpha: float = 0.0,
        lr_schedule: LRSchedule = "constant",
        power_t: float = 0.5,
    ) -> MLP:
        """One epoch of :meth:`fit`; returns the model (its ``history_`` gains the epoch).

        The optimizer's state and the schedule continue from call to call as in :meth:`fit`;
        the adaptive schedule watches each call afresh, so it never lowers the rate here.
        """
        self.fit(
            x,
            labels,
            epochs=1,
            batch_size=batch_size,
            lr=lr,
            shuffle=shuffle,
            optimizer=optimizer,
            momentum=momentum,
            nesterov=nesterov,
            beta1=beta1,
            beta2=beta2,
            epsilon=epsilon,
            alpha=alpha,
            lr_schedule=lr_schedule,
            power_t=power_t,
        )
        return self

    @staticmethod
    def _fit_batches_to(settings: FitSettings, batch_size: int | None, rows: int) -> FitSettings:
        """``settings`` with its batch size checked against the ``rows`` left to train on."""
        if batch_size is None:
            return replace(settings, batch_size=rows)
        if settings.batch_size > rows:
            raise ValueError(
                f"batch_size: expected at most the {rows} rows left to train on after "
                f"holding out validation_fraction={settings.validation_fraction}, got "
                f"{settings.batch_size}"
            )
        return settings

    # ---- inference ------------------------------------------------------------------------

    def predict_proba(self, x: NDArray) -> NDArray:
        """Class probabilities (n, classes) for inputs ``x`` (n, layer_sizes[0]).

        Never NaN: rows whose logits overflow (inputs far larger than any the model was
        trained on) are a ``ValueError`` naming them. For the other outputs: the output
        layer's values (n, outputs), i.e. each label's probability (logistic) or the
        predictions (identity, exp).
        """
        # The Rust engine checks a dense x's values in its own pass over them.
        native = self.engine == "rust" and isinstance(x, np.ndarray)
        x = check_inputs("x", x, self.layer_sizes[0], self.dtype, finite=not native)
        forward = kernels._forward_of_finite if native else self._engine().forward
        chunk = _INFERENCE_CHUNK  # scipy.sparse too: the engines never densify it
        if not isinstance(x, np.ndarray) and x.format != "csr":
            x = x.tocsr()  # CSC: rows sliced from CSR, converted once (sparse to sparse)
        parts = []
        for i in range(0, x.shape[0], chunk):
            rows = x[i : i + chunk]
            try:
                out = forward(self.weights, self.biases, rows, self.activation, output=self.output)
            except ValueError:
                if native:  # the count over all of x, as check_inputs gives it
                    check_inputs("x", x, self.layer_sizes[0], self.dtype)
                raise
            parts.append(out[-1])
            if self.output in ("softmax", "logistic"):
                check_probabilities("x", parts[-1], rows, offset=i)
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
        """Write the model to ``path`` (an .npz with JSON metadata), atomically.

        With the parameters go the training history, the optimizer's settings and state, the
        schedule and the random generator's state: a loaded model trains on exactly as this
        one would."""
        metadata: dict[str, Any] = {
            "layer_sizes": self.layer_sizes,
            "activation": self.activation,
            "dtype": self.dtype.name,
            "init": list(self.init),
            "output": self.output,
            "history": self.history_.as_dict(),
            "dataset": self.dataset,
            "class_names": None if self.class_names is None else list(self.class_names),
            "training": self.training_state_.metadata(),
            "generator": generator_to_json(self._rng),
        }
        return save_parameters(
            path, self.weights, self.biases, metadata, self.training_state_.arrays()
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], engine: EngineName = "rust") -> MLP:
        """A model saved by :meth:`save`; ``ValueError`` for anything else."""
        weights, biases, metadata, extra_arrays = load_parameters(path)
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
                output=metadata.get("output", "softmax"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid model metadata: {error}") from None
        model.weights = [np.ascontiguousarray(w) for w in weights]
        model.biases = [np.ascontiguousarray(b) for b in biases]
        try:
            model.history_ = History.from_dict(metadata.get("history") or {})
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid training history in the metadata: {error}") from None
        try:
            model.training_state_ = TrainingState.from_saved(
                metadata.get("training") or {}, extra_arrays, model.weights, model.biases
            )
            if metadata.get("generator") is not None:
                model._rng = generator_from_json(metadata["generator"])
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid training state in the metadata: {error}") from None
        try:  # absent from older model files: None
            model.dataset = check_dataset_name(metadata.get("dataset"))
            model.class_names = metadata.get("class_names")
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid model metadata: {error}") from None
        return model

    # ---- argument checks ------------------------------------------------------------------

    def _check_data(self, x: object, labels: object) -> tuple[NDArray, NDArray]:
        x = check_inputs("x", x, self.layer_sizes[0], self.dtype)
        return x, self._check_labels("labels", labels, x.shape[0])

    def _check_validation(self, data: object) -> tuple[NDArray, NDArray]:
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise TypeError("validation_data: expected a pair (x_val, labels_val)")
        x = check_inputs("validation_data[0]", data[0], self.layer_sizes[0], self.dtype)
        if isinstance(x, np.ndarray):  # read every epoch: C-ordered once, not per call
            x = np.require(x, requirements=["C", "A"])
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


_FITTING_LOCK = threading.Lock()
_FITTING: weakref.WeakSet[MLP] = weakref.WeakSet()  # models inside fit (not an attribute:
# a copy or pickle of a model taken during fit must not inherit it)


def _check_crossover(value: object) -> float | None:
    """``sparse_work_crossover``: ``None`` or a finite number >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"sparse_work_crossover: expected None or a number, got {value!r}")
    if not 0 <= value < np.inf:
        raise ValueError(f"sparse_work_crossover: expected a finite number >= 0, got {value}")
    return float(value)


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
