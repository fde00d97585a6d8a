"""``fastmlp train``: train an MLP on an MNIST-style dataset, report, save, plot."""

from __future__ import annotations

import argparse
import functools
import time
from typing import Any

import numpy as np

import fastmlp
from fastmlp.history import History
from fastmlp.initializers import check_init
from fastmlp.names import ACTIVATIONS, DTYPES, LR_SCHEDULES, MONITORS, OPTIMIZERS
from fastmlp.optimizers import make_optimizer

from .common import (
    CliError,
    add_data_arguments,
    add_engine_arguments,
    apply_threads,
    check_output_path,
    check_plot_path,
    dataset_reference,
    describe_dataset,
    load_dataset,
    non_negative_int,
    positive_float,
    positive_int,
    prepared,
    thousands,
)

DEFAULT_OUTPUT = "fastmlp-model.npz"
PREDICTION_IMAGES = 16
# --lr when not given: SGD's usual rate, and Adam's (scikit-learn's and Keras' default).
DEFAULT_LR = {"sgd": 0.1, "adam": 0.001}

EXAMPLES = """\
examples:
  fastmlp train                               # MNIST if on disk, else the bundled sample
  fastmlp train --dataset mnist --epochs 10   # downloads MNIST once, into the cache
  fastmlp train --hidden none --init normal:0.02         # softmax regression
  fastmlp train --dataset fashion-mnist --hidden 256,128 --plot history.png
  fastmlp train --dataset my-data.npz --batch-size full --lr 0.5 -o my-model.npz
  fastmlp train --engine numpy --optimizer adam --alpha 1e-4 --early-stopping
  fastmlp train --engine numpy --momentum 0.9 --nesterov --lr 0.01 --lr-schedule adaptive
"""


# ---- argument types -------------------------------------------------------------------------


def hidden_sizes(text: str) -> list[int]:
    """``"128,64"`` -> ``[128, 64]``; ``""``, ``"none"`` or ``"0"`` -> ``[]`` (no hidden layer)."""
    cleaned = text.strip().lower()
    if cleaned in ("", "none", "0"):
        return []
    sizes = []
    for part in cleaned.split(","):
        try:
            size = int(part)
        except ValueError:
            size = 0
        if size < 1:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated positive layer widths like 128 or 256,128 "
                f"(or 'none' for no hidden layer), got {text!r}"
            )
        sizes.append(size)
    return sizes


def init_spec(text: str) -> tuple:
    """``he``, ``xavier``, ``normal:STD`` or ``uniform:LOW,HIGH`` -> the ``MLP`` init tuple."""
    name, _, params = text.strip().lower().partition(":")
    try:
        numbers = [float(p) for p in params.split(",")] if params else []
        return check_init((name, *numbers))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected he, xavier, normal:STD (e.g. normal:0.02) or uniform:LOW,HIGH "
            f"(e.g. uniform:-0.5,0.5), got {text!r}"
        ) from None


def batch_size(text: str) -> int | None:
    """A positive integer, or ``full`` (``None``: one batch of all rows)."""
    if text.strip().lower() == "full":
        return None
    return positive_int(text)


def number_in(low: float, high: float, high_closed: bool) -> Any:
    """An argparse type: a number in [low, high] (or [low, high))."""
    bracket = "]" if high_closed else ")"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (low <= value < high or (high_closed and value == high)):
            raise argparse.ArgumentTypeError(
                f"expected a number in [{low:g}, {high:g}{bracket}, got {text!r}"
            )
        return value

    return parse


def nonnegative_float(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def add_parser(subparsers: Any) -> None:
    """Register ``train`` and its options."""
    parser = subparsers.add_parser(
        "train",
        help="train an MLP and save it",
        description=(
            "Train a multilayer perceptron (dense layers, softmax output) with mini-batch\n"
            "SGD on an MNIST-style dataset; show a progress bar per epoch, then the final\n"
            "test accuracy and loss, and save the model."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_arguments(
        parser,
        "Default: mnist if found on disk (never downloaded by default), else mnist-sample "
        "with a one-line notice.",
    )
    model = parser.add_argument_group("model (inputs and classes come from the data)")
    model.add_argument(
        "--hidden",
        type=hidden_sizes,
        default=[128],
        metavar="SIZES",
        help="hidden layer widths, comma-separated: 128 gives 784-128-10, 256,128 gives "
        "784-256-128-10; none for softmax regression (default: 128)",
    )
    model.add_argument(
        "--activation",
        choices=ACTIVATIONS,
        default="relu",
        help="hidden-layer activation (default: %(default)s)",
    )
    model.add_argument(
        "--init",
        type=init_spec,
        default=("he",),
        metavar="SCHEME",
        help="initial weights: he, xavier, normal:STD or uniform:LOW,HIGH (default: he)",
    )
    model.add_argument(
        "--dtype",
        choices=DTYPES,
        default="float32",
        help="parameters and data (default: %(default)s)",
    )
    model.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seeds the initial weights and the shuffling (default: %(default)s)",
    )
    training = parser.add_argument_group("training")
    training.add_argument(
        "--epochs", type=positive_int, default=8, help="passes over the data (default: 8)"
    )
    training.add_argument(
        "--batch-size",
        type=batch_size,
        default=128,
        metavar="N",
        help="rows per SGD step, or full for full-batch gradient descent (default: 128)",
    )
    training.add_argument(
        "--lr",
        type=positive_float,
        help="learning rate (default: 0.1 with sgd, 0.001 with adam)",
    )
    training.add_argument(
        "--no-shuffle",
        dest="shuffle",
        action="store_false",
        help="visit the rows in their stored order every epoch",
    )
    add_optimizer_arguments(parser)
    add_engine_arguments(parser, training=True)
    output = parser.add_argument_group("output")
    output.add_argument(
        "-o",
        "--output",
        default=DEFAULT_OUTPUT,
        metavar="FILE",
        help="where to save the model (default: %(default)s)",
    )
    output.add_argument(
        "--plot", metavar="FILE.png", help="save the loss and accuracy curves (needs matplotlib)"
    )
    output.add_argument(
        "--predictions-plot",
        metavar="FILE.png",
        help=f"save a grid of the first {PREDICTION_IMAGES} test images with their predicted "
        "and true classes (needs matplotlib)",
    )
    output.add_argument(
        "--no-progress", action="store_true", help="no progress bars; a line per epoch instead"
    )
    output.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print only the test accuracy and where the model went",
    )
    parser.set_defaults(run=run)


def add_optimizer_arguments(parser: argparse.ArgumentParser) -> None:
    """The optimizer, L2, schedule and early-stopping flags: ``MLP.fit``'s keywords."""
    optimizer = parser.add_argument_group("optimizer (scikit-learn's rules; see MLP.fit)")
    optimizer.add_argument(
        "--optimizer", choices=OPTIMIZERS, default="sgd", help="(default: %(default)s)"
    )
    optimizer.add_argument(
        "--momentum",
        type=number_in(0, 1, True),
        default=0.0,
        metavar="M",
        help="sgd's momentum in [0, 1]; 0 is plain SGD (default: 0)",
    )
    optimizer.add_argument("--nesterov", action="store_true", help="Nesterov's momentum")
    for name, default, help_text, kind in (
        ("--beta1", 0.9, "adam's first-moment decay in [0, 1)", number_in(0, 1, False)),
        ("--beta2", 0.999, "adam's second-moment decay in [0, 1)", number_in(0, 1, False)),
        ("--epsilon", 1e-8, "adam's epsilon, > 0", positive_float),
    ):
        optimizer.add_argument(
            name, type=kind, default=default, help=f"{help_text} (default: {default:g})"
        )
    optimizer.add_argument(
        "--alpha",
        type=nonnegative_float,
        default=0.0,
        help="L2 penalty on the weights (default: 0)",
    )
    optimizer.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default="constant",
        help="constant; invscaling: lr / (t + 1)^power_t after each epoch, t the rows seen; "
        "adaptive: lr / 5 when the loss stops improving (default: %(default)s)",
    )
    optimizer.add_argument(
        "--power-t",
        type=nonnegative_float,
        default=0.5,
        help="invscaling's exponent (default: 0.5)",
    )
    stopping = parser.add_argument_group("early stopping")
    stopping.add_argument(
        "--early-stopping",
        action="store_true",
        help="hold out --validation-fraction of the training rows (stratified) and stop when "
        "--monitor stops improving; the test split stays unseen",
    )
    stopping.add_argument(
        "--validation-fraction",
        type=fraction,
        default=0.1,
        metavar="F",
        help="rows held out for early stopping (default: 0.1)",
    )
    stopping.add_argument(
        "--monitor", choices=MONITORS, default="val_loss", help="(default: %(default)s)"
    )
    stopping.add_argument(
        "--patience",
        type=positive_int,
        default=10,
        metavar="N",
        help="epochs without improvement tolerated, for early stopping and the adaptive "
        "schedule (default: 10)",
    )
    stopping.add_argument(
        "--tol",
        type=nonnegative_float,
        default=1e-4,
        help="the least improvement that counts (default: 1e-4)",
    )
    stopping.add_argument(
        "--no-restore-best",
        dest="restore_best",
        action="store_false",
        help="keep the last epoch's weights, not the best one's",
    )


def optimizer_keywords(args: argparse.Namespace) -> dict[str, Any]:
    """The ``MLP.fit`` keywords the optimizer and early-stopping flags ask for."""
    return {
        "lr": args.lr if args.lr is not None else DEFAULT_LR[args.optimizer],
        "optimizer": args.optimizer,
        "momentum": args.momentum,
        "nesterov": args.nesterov,
        "beta1": args.beta1,
        "beta2": args.beta2,
        "epsilon": args.epsilon,
        "alpha": args.alpha,
        "lr_schedule": args.lr_schedule,
        "power_t": args.power_t,
        "early_stopping": args.early_stopping,
        "validation_fraction": args.validation_fraction,
        "monitor": args.monitor,
        "patience": args.patience,
        "tol": args.tol,
        "restore_best": args.restore_best,
    }


def check_optimizer_flags(args: argparse.Namespace) -> None:
    """--optimizer, --momentum and --nesterov checked before any data is loaded."""
    try:
        make_optimizer(args.optimizer, args.momentum, args.nesterov)
    except (TypeError, ValueError) as error:
        raise CliError(option_named(error)) from None


# ---- the run --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say; return the exit code."""
    started = time.perf_counter()
    output = check_output_path("--output", args.output)
    plot = check_plot_path("--plot", args.plot) if args.plot else None
    grid = (
        check_plot_path("--predictions-plot", args.predictions_plot)
        if args.predictions_plot
        else None
    )
    check_optimizer_flags(args)
    apply_threads(args.threads, args.engine)
    data = load_dataset(args.dataset, args.data_dir, download=not args.no_download)
    # flushed: the lines before a long training must not wait in a pipe's buffer
    say = (lambda line: None) if args.quiet else functools.partial(print, flush=True)
    say(describe_dataset(data))
    n_train, n_test = len(data.x_train), len(data.x_test)
    if n_train == 0:
        raise CliError(f"{data.name}: the training split is empty")
    if args.batch_size is not None and args.batch_size > n_train:
        raise CliError(
            f"--batch-size {args.batch_size}: more than the {thousands(n_train)} training rows "
            "(--batch-size full trains on all of them at once)"
        )
    layers = [784, *args.hidden, data.num_classes]
    try:
        model = fastmlp.MLP(
            layers,
            activation=args.activation,
            init=args.init,
            dtype=args.dtype,
            seed=args.seed,
            engine=args.engine,
            input_path=args.input_path,
        )
    except (TypeError, ValueError) as error:
        raise CliError(option_named(error)) from None
    except MemoryError:
        size = "-".join(map(str, layers))
        raise CliError(
            f"--hidden {','.join(map(str, args.hidden)) or 'none'}: a {size} network's "
            "parameters are more than can be allocated"
        ) from None
    model.dataset = dataset_reference(args.dataset, data)
    model.class_names = data.classes
    say(describe_model(model, args))

    x = prepared(data.x_train, model)
    x_test = prepared(data.x_test, model) if n_test else None
    # Early stopping watches rows held out of the training split, never the test split.
    validation = (x_test, data.y_test) if x_test is not None and not args.early_stopping else None
    fit_args = {
        "batch_size": args.batch_size,
        "shuffle": args.shuffle,
        "validation_data": validation,
        **optimizer_keywords(args),
    }
    try:
        history = fit(model, x, data.y_train, args, fit_args)
    except fastmlp.TrainingDivergedError as error:
        raise CliError(f"{error} No model saved.", code=1) from None
    except (TypeError, ValueError) as error:  # a setting the model refuses, e.g. --lr
        raise CliError(option_named(error)) from None
    train_seconds = sum(history.seconds)
    if history.stop_reason is not None:
        say(f"stopped after {len(history)} epochs: {history.stop_reason}")
    if args.early_stopping and history.best_epoch is not None:
        kept = "kept" if args.restore_best else "not kept (--no-restore-best)"
        say(f"best epoch: {history.best_epoch + 1} ({history.monitor}), its weights {kept}")

    if x_test is not None:
        scores = model.evaluate(x_test, data.y_test)
        right = round(scores["accuracy"] * n_test)
        print(
            f"test accuracy {scores['accuracy']:.4f} ({thousands(right)} of "
            f"{thousands(n_test)}), loss {scores['loss']:.4f}"
        )
    else:
        print(f"{data.name} has no test split: test accuracy not measured")
    say(
        f"time: {train_seconds:.2f} s training ({train_seconds / len(history):.2f} s/epoch), "
        f"{time.perf_counter() - started:.2f} s in all"
    )
    try:
        model.save(output)
    except OSError as error:
        raise CliError(f"--output {args.output}: cannot save the model: {error}", code=1) from None
    print(f"model saved to {output}")
    save_plots(model, history, data, x_test, plot, grid, say)
    return 0


#: The library's argument names and the options that set them.
OPTIONS = {
    "lr": "--lr",
    "batch_size": "--batch-size",
    "epochs": "--epochs",
    "seed": "--seed",
    "init": "--init",
    "layer_sizes": "--hidden",
    "momentum": "--momentum",
    "beta1": "--beta1",
    "beta2": "--beta2",
    "epsilon": "--epsilon",
    "alpha": "--alpha",
    "lr_schedule": "--lr-schedule",
    "power_t": "--power-t",
    "validation_fraction": "--validation-fraction",
    "monitor": "--monitor",
    "patience": "--patience",
    "tol": "--tol",
}


def option_named(error: Exception) -> str:
    """The library's message with its leading argument name replaced by the option's."""
    message = str(error)
    argument, colon, rest = message.partition(":")
    if colon and argument in OPTIONS:
        return f"{OPTIONS[argument]}:{rest}"
    return message


def architecture(model: fastmlp.MLP) -> str:
    """``"784-128-10 relu"``, or ``"784-10 softmax regression"`` without hidden layers."""
    sizes = "-".join(map(str, model.layer_sizes))
    hidden = len(model.layer_sizes) > 2
    return f"{sizes} {model.activation if hidden else 'softmax regression'}"


def describe_model(model: fastmlp.MLP, args: argparse.Namespace) -> str:
    """One line: architecture, init, dtype, size, engine, and the training settings."""
    init = model.init[0] + (
        ":" + ",".join(f"{p:g}" for p in model.init[1:]) if model.init[1:] else ""
    )
    threads = (
        f", {fastmlp.get_num_threads()} threads, input path {model.input_path}"
        if model.engine == "rust"
        else ""
    )
    batch = "full batch" if args.batch_size is None else f"batch {args.batch_size}"
    return (
        f"model: {architecture(model)}, {init} init, "
        f"{model.dtype.name}, {thousands(model.n_parameters)} parameters; engine "
        f"{model.engine}{threads}; {args.epochs} epochs, {batch}, {describe_optimizer(args)}, "
        f"{'shuffled' if args.shuffle else 'not shuffled'}, seed {args.seed}"
    )


def describe_optimizer(args: argparse.Namespace) -> str:
    """``"lr 0.1"``, or e.g. ``"adam lr 0.001, alpha 0.0001, early stopping on val_loss"``."""
    keywords = optimizer_keywords(args)
    if args.optimizer == "adam":
        name = "adam "
    elif args.momentum > 0:
        name = f"{'nesterov' if args.nesterov else 'sgd'} momentum {args.momentum:g}, "
    else:
        name = ""
    parts = [f"{name}lr {keywords['lr']:g}"]
    if args.lr_schedule != "constant":
        parts[0] += f" {args.lr_schedule}"
    if args.alpha:
        parts.append(f"alpha {args.alpha:g}")
    if args.early_stopping:
        parts.append(f"early stopping on {args.monitor} (patience {args.patience})")
    return ", ".join(parts)


def fit(
    model: fastmlp.MLP,
    x: np.ndarray,
    labels: np.ndarray,
    args: argparse.Namespace,
    fit_args: dict[str, Any],
) -> History:
    """Train, showing bars (then the epoch table), live epoch lines, or nothing (--quiet).

    One fit call however the run is shown (the lines come from its per-epoch callback), so
    early stopping watches the whole run and the result does not depend on the display.
    """
    validated = fit_args["validation_data"] is not None or fit_args["early_stopping"]
    name = "val" if fit_args["early_stopping"] else "test"
    if args.quiet:
        return model.fit(x, labels, epochs=args.epochs, **fit_args)
    if not args.no_progress:
        history = model.fit(x, labels, epochs=args.epochs, progress=True, **fit_args)
        print(table_header(validated, name))
        for epoch in range(len(history)):
            print(table_row(history, epoch, args.epochs))
        return history
    print(table_header(validated, name), flush=True)

    def print_epoch(history: History) -> None:
        print(table_row(history, len(history) - 1, args.epochs), flush=True)

    return model.fit(x, labels, epochs=args.epochs, progress=print_epoch, **fit_args)


def table_header(validated: bool, name: str = "test") -> str:
    """The per-epoch table's header; the validation columns are the test split (``name``
    "test") or early stopping's held-out rows ("val")."""
    header = f"{'epoch':>9}  {'loss':>7}  {'accuracy':>8}"
    if validated:
        header += f"  {name + ' loss':>9}  {name + ' acc':>8}"
    return header + f"  {'seconds':>7}"


def table_row(history: History, epoch: int, epochs: int) -> str:
    """Epoch ``epoch`` (0-based) of ``history`` as a row of the table."""
    row = (
        f"{f'{epoch + 1}/{epochs}':>9}  {history.loss[epoch]:7.4f}  {history.accuracy[epoch]:8.4f}"
    )
    if history.val_loss:
        row += f"  {history.val_loss[epoch]:9.4f}  {history.val_accuracy[epoch]:8.4f}"
    return row + f"  {history.seconds[epoch]:7.2f}"


def save_plots(
    model: fastmlp.MLP,
    history: History,
    data: fastmlp.datasets.Dataset,
    x_test: np.ndarray | None,
    plot: Any,
    grid: Any,
    say: Any,
) -> None:
    """Write ``--plot`` (curves) and ``--predictions-plot`` (a grid of test images)."""
    from fastmlp import plots

    name = f"{architecture(model)} on {data.name}"
    if plot is not None:
        plots.plot_history(history, plot, title=name, val_label="test")
        print(f"curves saved to {plot}")
    if grid is not None:
        if x_test is None:
            say(f"--predictions-plot: {data.name} has no test split; not drawn")
            return
        shown = min(PREDICTION_IMAGES, len(x_test))
        predicted = model.predict(x_test[:shown])
        plots.plot_predictions(
            data.x_test[:shown],
            predicted,
            data.y_test[:shown],
            grid,
            n=shown,
            class_names=data.classes,
            title=f"{name}: {int(np.sum(predicted == data.y_test[:shown]))} of {shown} right",
        )
        print(f"predictions saved to {grid}")
